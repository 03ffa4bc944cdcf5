// The local mesh's state directory: where the store, the API endpoint file, logs and pids live.
import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** What a running mesh publishes for the CLI (api.json). */
export interface MeshEndpoint {
  /** Kubernetes API (kubectl-compatible) base URL. */
  url: string;
  token: string;
  /** The mesh's own control endpoint (proxy-status, proxy-config, logs, workloads). */
  controlUrl: string;
  /** The egress dashboard (`outpost dashboard`), when the mesh serves one. */
  dashboardUrl?: string;
  /** Process id of the `outpost up` that serves it. */
  pid: number;
  /** The `outpost up` supervising it, which restarts it after a crash. */
  supervisorPid?: number;
  /** Where the state dir is, as resolved by that process. */
  stateDir: string;
  startedAt: string;
  /** What the start wants its user told (objects `--example` left as they were). */
  notes?: string[];
}

export interface StatePaths {
  dir: string;
  store: string;
  api: string;
  token: string;
  kubeconfig: string;
  logs: string;
  runtime: string;
  addresses: string;
  /** The control plane's distribution port, kept so proxies that outlive it find the next one. */
  distributionPort: string;
  /** Held (pid inside) by the one `outpost up` serving this state dir, from before it starts until it has stopped. */
  upLock: string;
}

/** `--state-dir`, else OUTPOST_STATE_DIR, else ./.outpost; returned absolute. */
export function resolveStateDir(flag?: string): string {
  return resolve(flag ?? process.env.OUTPOST_STATE_DIR ?? '.outpost');
}

/** The name a user sees in messages: what they typed, or the default. */
export function displayStateDir(flag?: string): string {
  return flag ?? process.env.OUTPOST_STATE_DIR ?? './.outpost';
}

export function statePaths(dir: string): StatePaths {
  return {
    dir,
    store: join(dir, 'store.db'),
    api: join(dir, 'api.json'),
    token: join(dir, 'token'),
    kubeconfig: join(dir, 'kubeconfig'),
    logs: join(dir, 'logs'),
    runtime: join(dir, 'run'),
    addresses: join(dir, 'addresses.json'),
    distributionPort: join(dir, 'distribution-port'),
    upLock: join(dir, 'up.lock'),
  };
}

export function ensureStateDir(paths: StatePaths): void {
  // 0700: the store, token, keys and logs inside are the mesh owner's alone.
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  mkdirSync(paths.logs, { recursive: true, mode: 0o700 });
  mkdirSync(paths.runtime, { recursive: true, mode: 0o700 });
}

export function readDistributionPort(paths: StatePaths): number | undefined {
  try {
    const port = Number(readFileSync(paths.distributionPort, 'utf8').trim());
    return Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined;
  } catch {
    return undefined;
  }
}

export function writeDistributionPort(paths: StatePaths, port: number): void {
  writeFileSync(paths.distributionPort, `${port}\n`);
}

export function readEndpoint(paths: StatePaths): MeshEndpoint | undefined {
  if (!existsSync(paths.api)) return undefined;
  try {
    const parsed = JSON.parse(readFileSync(paths.api, 'utf8')) as MeshEndpoint;
    if (typeof parsed.url !== 'string' || typeof parsed.pid !== 'number') return undefined;
    return parsed;
  } catch {
    return undefined;
  }
}

export function writeEndpoint(paths: StatePaths, ep: MeshEndpoint): void {
  const tmp = `${paths.api}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(ep, null, 2) + '\n', { mode: 0o600 });
  // rename is atomic: a reader never sees half a file.
  renameSync(tmp, paths.api);
}

export function removeEndpoint(paths: StatePaths, pid?: number): void {
  const ep = readEndpoint(paths);
  if (pid !== undefined && ep && ep.pid !== pid) return;
  rmSync(paths.api, { force: true });
}

export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // A zombie (exited, not yet reaped, e.g. under a PID 1 that does not reap) answers kill(0) but runs nothing.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return process.platform !== 'linux';
  }
}

function cmdlineOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return undefined;
  }
}

/** Whether pid is alive and runs outpost (not a recycled pid). */
export function isOutpostPid(pid: number | undefined): pid is number {
  if (pid === undefined || !Number.isInteger(pid) || pid <= 0 || !isPidAlive(pid)) return false;
  const cmd = cmdlineOf(pid);
  return cmd === undefined || cmd.includes('outpost');
}

/** The pid in the up lock, if that process is alive and is an outpost (not a recycled pid). */
export function upLockHolder(paths: StatePaths): number | undefined {
  let text: string;
  try {
    text = readFileSync(paths.upLock, 'utf8');
  } catch {
    return undefined;
  }
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0 || !isPidAlive(pid)) return undefined;
  const cmd = cmdlineOf(pid);
  return cmd === undefined || cmd.includes('outpost') ? pid : undefined;
}

/**
 * Takes the state dir's up lock for this process. Returns undefined when taken, else the pid of
 * the live `outpost up` that holds it. A lock left by a dead process is taken over.
 */
export function acquireUpLock(paths: StatePaths): number | undefined {
  for (let attempt = 0; attempt < 5; attempt++) {
    // Created with its content in one step (a hard link of a written temp file): a lock file seen
    // empty between create and write would look stale to a racing `up`, which would take it too.
    const mine = `${paths.upLock}.${process.pid}.new`;
    writeFileSync(mine, `${process.pid}\n`);
    try {
      linkSync(mine, paths.upLock);
      return undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      rmSync(mine, { force: true });
    }
    const holder = upLockHolder(paths);
    if (holder === process.pid) return undefined;
    if (holder !== undefined) return holder;
    // Stale: move it aside (atomic, so two takers cannot both remove it), then try again.
    let stale: string;
    try {
      stale = readFileSync(paths.upLock, 'utf8');
    } catch {
      continue;
    }
    const aside = `${paths.upLock}.${process.pid}.stale`;
    try {
      renameSync(paths.upLock, aside);
    } catch {
      continue;
    }
    // Another taker replaced it between our read and rename: put theirs back.
    if (readFileSync(aside, 'utf8') !== stale) renameSync(aside, paths.upLock);
    else rmSync(aside, { force: true });
  }
  const holder = upLockHolder(paths);
  if (holder === undefined) throw new Error(`cannot take the lock ${paths.upLock}`);
  return holder;
}

export function releaseUpLock(paths: StatePaths): void {
  try {
    if (Number(readFileSync(paths.upLock, 'utf8').trim()) === process.pid) rmSync(paths.upLock, { force: true });
  } catch {
    // Not ours or already gone.
  }
}

/** A proxy process the mesh recorded (run/*.pid: its pid and the bootstrap file on its command line). */
export interface ProxyPidRecord {
  file: string;
  pid: number;
  bootstrap: string;
}

export function readProxyPids(paths: StatePaths): ProxyPidRecord[] {
  if (!existsSync(paths.runtime)) return [];
  const out: ProxyPidRecord[] = [];
  for (const f of readdirSync(paths.runtime)) {
    if (!f.endsWith('.pid')) continue;
    const file = join(paths.runtime, f);
    try {
      const [pidText, bootstrap] = readFileSync(file, 'utf8').split('\n');
      out.push({ file, pid: Number(pidText), bootstrap: bootstrap ?? '' });
    } catch {
      // Removed meanwhile.
    }
  }
  return out;
}

/** Whether pid is alive and is the proxy started with that bootstrap (not a recycled pid). */
export function isOurProxy(rec: Pick<ProxyPidRecord, 'pid' | 'bootstrap'>): boolean {
  if (!Number.isInteger(rec.pid) || rec.pid <= 0 || !isPidAlive(rec.pid) || rec.bootstrap === '') return false;
  const cmd = cmdlineOf(rec.pid);
  return cmd === undefined ? true : cmd.includes(rec.bootstrap);
}

/** Pid files of proxy processes, so `down` after a crash of `up` can still stop them. */
export function proxyPidFile(paths: StatePaths, key: string): string {
  return join(paths.runtime, `${key.replace(/[^a-zA-Z0-9_.-]/g, '_')}.pid`);
}
