// Keeps the state dir private to the user who runs the mesh: umask 077 for everything `up` and its
// proxies create, and existing entries (from an older outpost, or made by hand) brought to 0700/0600.
import { chmodSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** No group or other bits on anything this process (and the proxies it spawns) creates from now on. */
export function privateUmask(): void {
  process.umask(0o077);
}

/**
 * Directories 0700 and files 0600 under `dir` (the dir itself included), leaving symlinks and
 * sockets alone. Returns how many modes it narrowed, for the log.
 */
export function securePrivateTree(dir: string): number {
  let fixed = 0;
  const walk = (path: string): void => {
    let st;
    try {
      st = lstatSync(path);
    } catch {
      return; // removed meanwhile
    }
    const want = st.isDirectory() ? 0o700 : st.isFile() ? 0o600 : undefined;
    if (want === undefined) return;
    if ((st.mode & 0o777) !== want && (st.mode & 0o077) !== 0) {
      chmodSync(path, (st.mode & 0o777 & ~0o077) | (st.isDirectory() ? 0o700 : 0o600));
      fixed++;
    }
    if (st.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  walk(dir);
  return fixed;
}
