// The local mesh's state directory: where the store, the API endpoint file, logs and pids live.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** What a running mesh publishes for the CLI (api.json). */
export interface MeshEndpoint {
  /** Kubernetes API (kubectl-compatible) base URL. */
  url: string;
  token: string;
  /** The mesh's own control endpoint (proxy-status, proxy-config, logs, workloads). */
  controlUrl: string;
  /** Process id of the `outpost up` that serves it. */
  pid: number;
  /** Where the state dir is, as resolved by that process. */
  stateDir: string;
  startedAt: string;
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
  };
}

export function ensureStateDir(paths: StatePaths): void {
  mkdirSync(paths.dir, { recursive: true });
  mkdirSync(paths.logs, { recursive: true });
  mkdirSync(paths.runtime, { recursive: true });
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
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Pid files of proxy processes, so `down` after a crash of `up` can still stop them. */
export function proxyPidFile(paths: StatePaths, key: string): string {
  return join(paths.runtime, `${key.replace(/[^a-zA-Z0-9_.-]/g, '_')}.pid`);
}
