// `outpost dashboard [--no-open]`: prints the running mesh's egress dashboard address with a
// one-time login link, and opens it in a browser when one is at hand (xdg-open and a display).
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Command } from 'commander';
import { ControlError } from '../../runtime/control-server.js';
import { connect, withStateDir } from '../connect.js';
import { CliError } from '../errors.js';

/** xdg-open's path when it is installed and there is a display to open a browser on. */
export function browserOpener(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (!env.DISPLAY && !env.WAYLAND_DISPLAY) return undefined;
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, 'xdg-open');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

export function registerDashboard(program: Command): void {
  withStateDir(
    program
      .command('dashboard')
      .description("Print the egress dashboard's address with a one-time login link, and open it in a browser")
      .option('--no-open', 'only print the address and the link'),
  ).action(async (opts: { open: boolean; stateDir?: string }) => {
    const mesh = await connect(opts.stateDir);
    let link: { url: string; login: string };
    try {
      link = await mesh.control.postJson<{ url: string; login: string }>('/v1/dashboard-login');
    } catch (err) {
      if (err instanceof ControlError && err.status === 404) throw new CliError(`outpost dashboard: ${err.message}`, 1);
      throw err;
    }
    process.stdout.write(`Dashboard: ${link.url}\n`);
    process.stdout.write(`Login link (works once, for 2 minutes): ${link.login}\n`);
    process.stdout.write(`Or sign in there with the mesh's token (${mesh.paths.token}).\n`);
    const opener = opts.open ? browserOpener() : undefined;
    if (opener) {
      const child = spawn(opener, [link.login], { stdio: 'ignore', detached: true });
      child.on('error', (e) => process.stderr.write(`outpost dashboard: could not open a browser: ${e.message}\n`));
      child.unref();
    }
  });
}
