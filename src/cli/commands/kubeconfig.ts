// `outpost kubeconfig [--path]`: the kubeconfig that points kubectl at the running mesh.
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { resolveStateDir, statePaths } from '../../runtime/state-dir.js';
import { connect, withStateDir } from '../connect.js';

export function registerKubeconfig(program: Command): void {
  withStateDir(
    program
      .command('kubeconfig')
      .description('Print the kubeconfig for kubectl (or its path with --path)')
      .option('--path', 'print only the file path (for KUBECONFIG=)'),
  ).action(async (opts: { stateDir?: string; path?: boolean }) => {
    const paths = statePaths(resolveStateDir(opts.stateDir));
    if (!existsSync(paths.kubeconfig)) await connect(opts.stateDir);
    if (opts.path) process.stdout.write(`${paths.kubeconfig}\n`);
    else process.stdout.write(readFileSync(paths.kubeconfig, 'utf8'));
  });
}
