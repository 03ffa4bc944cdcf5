// A running mesh's processes as tests watch them: the `up` process and its supervisor (api.json),
// the proxies (their pid files), and whether a pid still runs.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Running, not a zombie waiting for its reaper (per /proc). */
export function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The pids api.json names: the mesh process and its supervisor; undefined while there is none. */
export function meshEndpoint(stateDir: string): { pid: number; supervisorPid?: number } | undefined {
  try {
    return JSON.parse(readFileSync(join(stateDir, 'api.json'), 'utf8')) as { pid: number; supervisorPid?: number };
  } catch {
    return undefined;
  }
}

/** The proxies' pids, from their pid files, sorted. */
export function proxyPids(stateDir: string): number[] {
  const dir = join(stateDir, 'run');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.pid'))
    .map((f) => Number(readFileSync(join(dir, f), 'utf8').split('\n')[0]))
    .sort();
}
