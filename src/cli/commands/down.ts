// `outpost down`: stop the mesh on a state dir and every process it started. Asks the `up`
// process to stop, waits until it has exited (SIGKILL after a grace period), then stops every
// proxy it recorded that still runs (proxies outlive a control plane that died, by design).
import type { Command } from 'commander';
import { ControlClient } from '../../runtime/control-server.js';
import { cleanStaleState, probeRunningMesh } from '../../runtime/mesh.js';
import {
  displayStateDir,
  isOurProxy,
  isOutpostPid,
  isPidAlive,
  readEndpoint,
  readProxyPids,
  removeEndpoint,
  resolveStateDir,
  statePaths,
  upLockHolder,
  type ProxyPidRecord,
} from '../../runtime/state-dir.js';
import { nodeNetworkNames, removeNodeNetwork } from '../../runtime/pods/node-network.js';
import { withStateDir } from '../connect.js';

const UP_GRACE_MS = 15_000;
const PROXY_GRACE_MS = 5_000;

async function waitGone(alive: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!alive()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !alive();
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

/** SIGTERM (they drain), SIGKILL whatever still runs after the grace period. */
async function stopProxies(recs: ProxyPidRecord[], warn: (line: string) => void): Promise<void> {
  const live = recs.filter(isOurProxy);
  if (live.length === 0) return;
  for (const r of live) kill(r.pid, 'SIGTERM');
  const alive = (): boolean => live.some(isOurProxy);
  if (await waitGone(alive, PROXY_GRACE_MS)) return;
  for (const r of live.filter(isOurProxy)) {
    warn(`proxy pid ${r.pid} did not stop; killing it`);
    kill(r.pid, 'SIGKILL');
  }
  await waitGone(alive, 5000);
}

export function registerDown(program: Command): void {
  withStateDir(program.command('down').description('Stop the local mesh')).action(async (opts: { stateDir?: string }) => {
    const paths = statePaths(resolveStateDir(opts.stateDir));
    const where = displayStateDir(opts.stateDir);
    const warn = (line: string): void => void process.stderr.write(`outpost: ${line}\n`);
    const live = await probeRunningMesh(paths);
    const ep = live ?? readEndpoint(paths);
    // Every `up` that may serve this state dir: the one in api.json and the lock's holder (one still starting).
    // The supervisor (which restarts a crashed mesh) is stopped first, so that it restarts nothing.
    const supervisor = isOutpostPid(ep?.supervisorPid) ? ep!.supervisorPid! : undefined;
    if (supervisor !== undefined) kill(supervisor, 'SIGTERM');
    const ups = [...new Set([supervisor, ep?.pid, upLockHolder(paths)].filter((p): p is number => p !== undefined && isPidAlive(p)))];
    const proxies = new Map<number, ProxyPidRecord>(readProxyPids(paths).filter(isOurProxy).map((r) => [r.pid, r]));
    const removeNetwork = async (): Promise<void> => {
      for (const what of await removeNodeNetwork(nodeNetworkNames(paths.dir))) warn(`removed ${what} left over from a previous run`);
    };
    if (ups.length === 0) {
      const orphans = cleanStaleState(paths, warn);
      if (orphans.length === 0) {
        await removeNetwork();
        process.stdout.write(`outpost: the mesh is not running (state dir ${where})\n`);
        return;
      }
      // The control plane died and left its proxies serving: stop them as the mesh would.
      await stopProxies(orphans, warn);
      cleanStaleState(paths, warn);
      await removeNetwork();
      const left = orphans.filter(isOurProxy).map((r) => r.pid);
      if (left.length > 0) {
        process.stdout.write(`outpost: could not stop pid(s) ${left.join(', ')} (state dir ${where})\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(`outpost: the control plane was not running; stopped ${orphans.length} prox${orphans.length === 1 ? 'y' : 'ies'} it left serving (state dir ${where})\n`);
      return;
    }
    let asked = false;
    if (live) {
      try {
        await new ControlClient(live.controlUrl, live.token).post('/v1/shutdown');
        asked = true;
      } catch {
        asked = false;
      }
    }
    for (const pid of ups) if (!(asked && pid === live?.pid)) kill(pid, 'SIGTERM');
    const upsAlive = (): boolean => ups.some(isPidAlive);
    if (!(await waitGone(upsAlive, UP_GRACE_MS))) {
      for (const pid of ups.filter(isPidAlive)) {
        warn(`pid ${pid} did not stop in ${UP_GRACE_MS / 1000}s; killing it`);
        kill(pid, 'SIGKILL');
      }
      await waitGone(upsAlive, 5000);
    }
    // Proxies started after we looked are in the pid files too.
    for (const r of readProxyPids(paths).filter(isOurProxy)) proxies.set(r.pid, r);
    // An `up` that stopped cleanly stopped its proxies; one that was killed left them serving.
    await stopProxies([...proxies.values()], warn);
    removeEndpoint(paths);
    cleanStaleState(paths, warn);
    await removeNetwork();
    const left = [...ups.filter(isPidAlive), ...[...proxies.values()].filter(isOurProxy).map((r) => r.pid)];
    if (left.length > 0) {
      process.stdout.write(`outpost: could not stop pid(s) ${left.join(', ')} (state dir ${where})\n`);
      process.exitCode = 1;
      return;
    }
    process.stdout.write(`outpost: the mesh stopped (state dir ${where})\n`);
  });
}
