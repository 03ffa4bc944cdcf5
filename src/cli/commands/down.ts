// `outpost down`: stop the mesh on a state dir (graceful, then forced) and remove its api.json.
import type { Command } from 'commander';
import { ControlClient } from '../../runtime/control-server.js';
import { cleanStaleState, probeRunningMesh } from '../../runtime/mesh.js';
import { displayStateDir, isPidAlive, readEndpoint, removeEndpoint, resolveStateDir, statePaths } from '../../runtime/state-dir.js';
import { withStateDir } from '../connect.js';

async function waitExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isPidAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !isPidAlive(pid);
}

export function registerDown(program: Command): void {
  withStateDir(program.command('down').description('Stop the local mesh')).action(async (opts: { stateDir?: string }) => {
    const paths = statePaths(resolveStateDir(opts.stateDir));
    const where = displayStateDir(opts.stateDir);
    const live = await probeRunningMesh(paths);
    const ep = live ?? readEndpoint(paths);
    if (!ep || !isPidAlive(ep.pid)) {
      cleanStaleState(paths, (line) => process.stderr.write(`outpost: ${line}\n`));
      process.stdout.write(`outpost: the mesh is not running (state dir ${where})\n`);
      return;
    }
    if (live) {
      try {
        await new ControlClient(live.controlUrl, live.token).post('/v1/shutdown');
      } catch {
        process.kill(ep.pid, 'SIGTERM');
      }
    } else {
      process.kill(ep.pid, 'SIGTERM');
    }
    if (!(await waitExit(ep.pid, 15_000))) {
      process.stderr.write(`outpost: pid ${ep.pid} did not stop in 15s; killing it\n`);
      process.kill(ep.pid, 'SIGKILL');
      await waitExit(ep.pid, 5000);
    }
    removeEndpoint(paths);
    cleanStaleState(paths, (line) => process.stderr.write(`outpost: ${line}\n`));
    process.stdout.write(`outpost: the mesh stopped (state dir ${where})\n`);
  });
}
