// Stopping a mesh on a state dir (`outpost down`): the supervisor first (so that it restarts
// nothing), then every `up` serving the state dir (asked over the control endpoint, SIGTERM,
// SIGKILL after a grace period), then every proxy it recorded that still runs (proxies outlive a
// control plane that died, by design), then the node network it left.
import { ControlClient } from './control-server.js';
import { cleanStaleState, probeRunningMesh } from './mesh.js';
import {
  isOurProxy,
  isOutpostPid,
  isPidAlive,
  readEndpoint,
  readProxyPids,
  removeEndpoint,
  upLockHolder,
  type ProxyPidRecord,
  type StatePaths,
} from './state-dir.js';
import { nodeNetworkNames, removeNodeNetwork } from './pods/node-network.js';

const UP_GRACE_MS = 15_000;
const PROXY_GRACE_MS = 5_000;

export type ShutdownResult =
  | { readonly outcome: 'not-running' }
  /** The control plane had died and left this many proxies serving; they are stopped. */
  | { readonly outcome: 'orphans-stopped'; readonly proxies: number }
  | { readonly outcome: 'stopped' }
  /** These pids would not stop. */
  | { readonly outcome: 'left'; readonly pids: readonly number[] };

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

/** Stops everything the mesh on `paths` runs; `warn` gets one line per thing worth telling. */
export async function shutdownMesh(paths: StatePaths, warn: (line: string) => void): Promise<ShutdownResult> {
  const live = await probeRunningMesh(paths);
  const ep = live ?? readEndpoint(paths);
  // Every `up` that may serve this state dir: the one in api.json and the lock's holder (one still starting).
  // The supervisor (which restarts a crashed mesh) is stopped first, so that it restarts nothing.
  const supervisor = isOutpostPid(ep?.supervisorPid) ? ep!.supervisorPid! : undefined;
  if (supervisor !== undefined) kill(supervisor, 'SIGTERM');
  const ups = [...new Set([supervisor, ep?.pid, upLockHolder(paths)].filter((p): p is number => p !== undefined && isPidAlive(p)))];
  const proxies = new Map<number, ProxyPidRecord>(
    readProxyPids(paths)
      .filter(isOurProxy)
      .map((r) => [r.pid, r]),
  );
  const removeNetwork = async (): Promise<void> => {
    for (const what of await removeNodeNetwork(nodeNetworkNames(paths.dir))) warn(`removed ${what} left over from a previous run`);
  };
  if (ups.length === 0) {
    const orphans = cleanStaleState(paths, warn);
    if (orphans.length === 0) {
      await removeNetwork();
      return { outcome: 'not-running' };
    }
    // The control plane died and left its proxies serving: stop them as the mesh would.
    await stopProxies(orphans, warn);
    cleanStaleState(paths, warn);
    await removeNetwork();
    const left = orphans.filter(isOurProxy).map((r) => r.pid);
    if (left.length > 0) return { outcome: 'left', pids: left };
    return { outcome: 'orphans-stopped', proxies: orphans.length };
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
  if (left.length > 0) return { outcome: 'left', pids: left };
  return { outcome: 'stopped' };
}
