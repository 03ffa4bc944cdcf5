// `outpost down`: stop the mesh on a state dir and every process it started (src/runtime/mesh-shutdown.ts).
import type { Command } from 'commander';
import { shutdownMesh } from '../../runtime/mesh-shutdown.js';
import { displayStateDir, resolveStateDir, statePaths } from '../../runtime/state-dir.js';
import { withStateDir } from '../connect.js';

export function registerDown(program: Command): void {
  withStateDir(program.command('down').description('Stop the local mesh')).action(async (opts: { stateDir?: string }) => {
    const paths = statePaths(resolveStateDir(opts.stateDir));
    const where = displayStateDir(opts.stateDir);
    const warn = (line: string): void => void process.stderr.write(`outpost: ${line}\n`);
    const result = await shutdownMesh(paths, warn);
    switch (result.outcome) {
      case 'not-running':
        process.stdout.write(`outpost: the mesh is not running (state dir ${where})\n`);
        return;
      case 'orphans-stopped':
        process.stdout.write(
          `outpost: the control plane was not running; stopped ${result.proxies} prox${result.proxies === 1 ? 'y' : 'ies'} it left serving (state dir ${where})\n`,
        );
        return;
      case 'left':
        process.stdout.write(`outpost: could not stop pid(s) ${result.pids.join(', ')} (state dir ${where})\n`);
        process.exitCode = 1;
        return;
      case 'stopped':
        process.stdout.write(`outpost: the mesh stopped (state dir ${where})\n`);
    }
  });
}
