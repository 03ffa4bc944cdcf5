// One proxy process of the local mesh: spawned from a bootstrap file (or adopted from a previous
// `outpost up`), its output appended to the workload's log, restarted with backoff when it dies,
// stopped with SIGTERM. A proxy does not depend on the process that started it: it outlives a
// crashed control plane and keeps serving its last config, as Envoy outlives istiod.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, openSync, readSync, fstatSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProxyIdentity } from '../proxyconfig/types.js';
import { isPidAlive } from './state-dir.js';
import { adminGet } from './pods/admin-client.js';

/** The bootstrap the proxy reads (`outpost proxy --bootstrap FILE`); H2's src/dataplane/bootstrap.ts is the reference. */
export interface ProxyBootstrapFile {
  identity: ProxyIdentity;
  admin: { address: string; port: number; tokenFile?: string; socket?: string };
  controlPlane?: { url: string; token?: string };
  resolver?: { server?: string; hostsFile?: string };
  /** The workload identity dir (mutual TLS to distribution, and to peers). */
  identityDir?: string;
}

export const ADMIN_PORT = 15000;

/**
 * Node flags for proxy processes. A proxy is one event loop per process (`--concurrency` adds
 * processes, as Envoy adds worker threads), given its own core: V8's parallel GC helper threads
 * would only compete with it (and with sibling workers) for that core; one-threaded collection cut
 * the young-generation GC time per request by a quarter under load. A request's garbage dies
 * young, so semi-spaces of 8 MB (V8 grows them to 16) collect as often in practice and keep
 * ~11 MB less resident under load (bench/README.md).
 */
export const PROXY_NODE_FLAGS: readonly string[] = ['--single-threaded-gc', '--max-semi-space-size=8'];

const OUTPOST_BIN = fileURLToPath(new URL('../../bin/outpost', import.meta.url));

/** The bootstrap file's text as ProxyProcess writes it: an adopted proxy must have been started with exactly this. */
export function bootstrapText(b: ProxyBootstrapFile): string {
  return JSON.stringify(b, null, 2) + '\n';
}

/**
 * Failed readiness probes in a row before a ready proxy counts as not ready (Kubernetes'
 * readiness failureThreshold): one slow answer on a busy machine must not take its Pod's
 * endpoints out of every other proxy's config.
 */
const READY_FAILURE_THRESHOLD = 3;

/** One run of the proxy: a child of this process, or one adopted from a previous `outpost up`. */
interface Run {
  pid: number;
  child?: ChildProcess;
  /** Where this run's output starts in the log file. */
  logOffset: number;
}

export interface ProxyProcessOptions {
  key: string;
  bootstrap: ProxyBootstrapFile;
  bootstrapFile: string;
  logFile: string;
  pidFile: string;
  log: (line: string) => void;
  /** Run inside this network namespace (`ip netns exec`): the proxy of a pod with its own network. */
  netns?: string;
  /** The proxy's group id (its sockets are exempt from the pod's capture by it). */
  gid?: number;
  /** Called when readiness changes (admin /ready answers 200, or the process died). */
  onReadyChange: (ready: boolean) => void;
}

export type ProxyState = 'starting' | 'ready' | 'failed' | 'stopped';

export class ProxyProcess {
  state: ProxyState = 'starting';
  restarts = 0;
  pid: number | undefined;
  /** Why the last run ended, for `outpost up` and Pod status. */
  lastError: string | undefined;
  /** The running proxy was started by an earlier `outpost up` and taken over. */
  adopted = false;
  private run: Run | undefined;
  private stopping = false;
  private backoffMs = 250;
  private restartTimer: NodeJS.Timeout | undefined;
  private readyTimer: NodeJS.Timeout | undefined;
  private readonly readyWaiters: (() => void)[] = [];

  constructor(readonly opts: ProxyProcessOptions) {}

  get adminUrl(): string {
    const a = this.opts.bootstrap.admin;
    return `http://${a.address}:${a.port}`;
  }

  start(): void {
    mkdirSync(dirname(this.opts.bootstrapFile), { recursive: true });
    mkdirSync(dirname(this.opts.logFile), { recursive: true });
    // The bootstrap holds the distribution token: for the mesh's user only.
    writeFileSync(this.opts.bootstrapFile, bootstrapText(this.opts.bootstrap), { mode: 0o600 });
    chmodSync(this.opts.bootstrapFile, 0o600);
    this.spawnOnce();
  }

  /**
   * Takes over a proxy a previous `outpost up` started with this same bootstrap (the caller checked
   * the pid is that proxy): it is watched and stopped as a child is, and replaced if it dies. It
   * comes in ready when it answers ready, so that its Pod never flaps to not ready (which would
   * take its endpoints out of every other proxy's config).
   */
  async adopt(pid: number): Promise<void> {
    this.adopted = true;
    // A mesh that stopped while rotating its log (./log-rotation.ts holds the group still for
    // that moment) must not leave it stopped.
    try {
      process.kill(-pid, 'SIGCONT');
    } catch {
      // Not a group leader, or gone: nothing was held.
    }
    let logOffset = 0;
    try {
      const fd = openSync(this.opts.logFile, 'a');
      logOffset = fstatSync(fd).size;
      closeSync(fd);
    } catch {
      // No log yet: the tail starts at 0.
    }
    const ready = await this.probeReady();
    // Stopped while we asked: it is still ours to stop.
    if (this.stopping) return stopPid(pid, 5000);
    this.begin({ pid, logOffset }, ready ? 'ready' : 'starting');
  }

  private spawnOnce(): void {
    if (this.stopping) return;
    this.adopted = false;
    const fd = openSync(this.opts.logFile, 'a');
    const logOffset = fstatSync(fd).size;
    let child: ChildProcess;
    try {
      const argv = [...PROXY_NODE_FLAGS, OUTPOST_BIN, 'proxy', '--bootstrap', this.opts.bootstrapFile];
      // `ip netns exec` execs node in place: the pid stays the proxy's.
      const [cmd, args] = this.opts.netns ? ['ip', ['netns', 'exec', this.opts.netns, process.execPath, ...argv]] : [process.execPath, argv];
      child = spawn(cmd, args, {
        stdio: ['ignore', fd, fd],
        // Its own process group: a Ctrl-C meant for `outpost up` (or a signal to its group) does
        // not reach the proxy; the mesh stops it, or it outlives a control plane that died.
        detached: true,
        ...(this.opts.gid !== undefined ? { gid: this.opts.gid } : {}),
        // Proxies log warnings and errors only unless asked, as istio-proxy does by default.
        env: { OUTPOST_LOG_LEVEL: 'warning', ...process.env, OUTPOST_PROXY_KEY: this.opts.key },
      });
    } finally {
      closeSync(fd);
    }
    child.on('error', (err) => {
      this.lastError = err.message;
    });
    if (child.pid === undefined) {
      // Spawning failed ('error' follows): retry as after an exit.
      this.onExit({ pid: -1, child, logOffset }, null, null);
      return;
    }
    // The mesh must not wait on a proxy to exit: it may outlive us.
    child.unref();
    const run: Run = { pid: child.pid, child, logOffset };
    child.on('exit', (code, signal) => this.onExit(run, code, signal));
    this.begin(run);
  }

  private begin(run: Run, state: ProxyState = 'starting'): void {
    this.run = run;
    this.pid = run.pid;
    writeFileSync(this.opts.pidFile, `${run.pid}\n${this.opts.bootstrapFile}\n`);
    this.setState(state);
    this.pollReady(run);
  }

  /** Whether the admin endpoint answers /ready with 200. */
  private async probeReady(): Promise<boolean> {
    try {
      // Through the admin socket when the proxy's admin port is inside its pod's network namespace.
      return (await adminGet(this.opts.bootstrap.admin, '/ready', 1000)).status === 200;
    } catch {
      return false;
    }
  }

  private onExit(run: Run, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.run !== undefined && this.run !== run) return;
    this.run = undefined;
    this.pid = undefined;
    clearTimeout(this.readyTimer);
    if (this.stopping) {
      this.setState('stopped');
      return;
    }
    this.lastError = explainExit(this.opts.logFile, run.logOffset, code, signal, run.child === undefined);
    this.opts.log(`proxy ${this.opts.key} exited (${this.lastError}); restarting in ${this.backoffMs} ms`);
    this.setState('failed');
    this.restarts++;
    this.restartTimer = setTimeout(() => this.spawnOnce(), this.backoffMs);
    this.backoffMs = Math.min(this.backoffMs * 2, 10_000);
  }

  private pollReady(run: Run): void {
    let failures = 0;
    const check = async (): Promise<void> => {
      if (this.run !== run || this.stopping) return;
      // An adopted proxy is not our child: no 'exit' event tells us it died.
      if (!run.child && !isPidAlive(run.pid)) return this.onExit(run, null, null);
      const ok = await this.probeReady();
      if (this.run !== run || this.stopping) return;
      failures = ok ? 0 : failures + 1;
      if (ok && this.state !== 'ready') {
        this.backoffMs = 250;
        this.setState('ready');
      } else if (failures >= READY_FAILURE_THRESHOLD && this.state === 'ready') {
        this.setState('starting');
      }
      // Keep watching while running: readiness can drop (a proxy losing its listeners).
      this.readyTimer = setTimeout(() => void check(), this.state === 'ready' ? 1000 : 100);
    };
    this.readyTimer = setTimeout(() => void check(), run.child ? 50 : this.state === 'ready' ? 1000 : 100);
  }

  private setState(state: ProxyState): void {
    const wasReady = this.state === 'ready';
    this.state = state;
    const isReady = state === 'ready';
    if (isReady) for (const w of this.readyWaiters.splice(0)) w();
    if (wasReady !== isReady) this.opts.onReadyChange(isReady);
  }

  /** Resolves when ready, or after timeoutMs with false. */
  waitReady(timeoutMs: number): Promise<boolean> {
    if (this.state === 'ready') return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        const i = this.readyWaiters.indexOf(done);
        if (i >= 0) this.readyWaiters.splice(i, 1);
        resolve(false);
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(t);
        resolve(true);
      };
      this.readyWaiters.push(done);
    });
  }

  /** SIGTERM, then SIGKILL after graceMs. */
  async stop(graceMs = 5000): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    clearTimeout(this.readyTimer);
    const run = this.run;
    if (run) await stopPid(run.pid, graceMs, run.child);
    this.run = undefined;
    this.pid = undefined;
    this.setState('stopped');
    rmSync(this.opts.pidFile, { force: true });
  }
}

/** SIGTERM (the proxy drains), SIGKILL after graceMs; resolves once the process is gone. */
export async function stopPid(pid: number, graceMs: number, child?: ChildProcess): Promise<void> {
  const gone = (): boolean => (child ? child.exitCode !== null || child.signalCode !== null : !isPidAlive(pid));
  if (gone()) return;
  const exited = child
    ? new Promise<void>((resolve) => child.once('exit', () => resolve()))
    : new Promise<void>((resolve) => {
        const poll = setInterval(() => {
          if (gone()) {
            clearInterval(poll);
            resolve();
          }
        }, 25);
      });
  const signal = (sig: NodeJS.Signals): void => {
    try {
      process.kill(pid, sig);
    } catch {
      // Gone meanwhile.
    }
  };
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** A short reason from the tail of what the process wrote, with the fix for privileged ports. */
function explainExit(logFile: string, fromOffset: number, code: number | null, signal: NodeJS.Signals | null, adopted = false): string {
  const tail = readTail(logFile, fromOffset, 4096);
  const eacces = /EACCES[^\n]*?(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}):(\d+)/.exec(tail) ?? /listen EACCES[^\n]*:(\d+)/.exec(tail);
  if (eacces) {
    const port = eacces[2] ?? eacces[1];
    return `cannot bind port ${port}: ports below 1024 need privileges; run outpost as root or allow them with \`sudo sysctl net.ipv4.ip_unprivileged_port_start=0\``;
  }
  const lastLine = tail.trim().split('\n').filter(Boolean).pop();
  // An adopted proxy is not our child: its exit status is its old parent's to read.
  const how = adopted ? 'exited' : signal ? `signal ${signal}` : `exit code ${code}`;
  return lastLine ? `${how}: ${lastLine.slice(0, 300)}` : how;
}

function readTail(file: string, fromOffset: number, maxBytes: number): string {
  try {
    const fd = openSync(file, 'r');
    try {
      const size = fstatSync(fd).size;
      const start = Math.max(fromOffset, size - maxBytes);
      const buf = Buffer.alloc(Math.max(0, size - start));
      readSync(fd, buf, 0, buf.length, start);
      return buf.toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return '';
  }
}
