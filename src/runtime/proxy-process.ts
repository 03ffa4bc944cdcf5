// One proxy process of the local mesh: spawned from a bootstrap file, its output appended to
// the workload's log, restarted with backoff when it dies, stopped with SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readSync, fstatSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProxyIdentity } from '../proxyconfig/types.js';
import { PARENT_PIPE_ENV } from './parent-watch-env.js';
import { adminGet } from './pods/admin-client.js';

/** The bootstrap the proxy reads (`outpost proxy --bootstrap FILE`); H2's src/dataplane/bootstrap.ts is the reference. */
export interface ProxyBootstrapFile {
  identity: ProxyIdentity;
  admin: { address: string; port: number; socket?: string };
  controlPlane?: { url: string; token?: string };
  resolver?: { server?: string; hostsFile?: string };
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
// The compiled preload; the same relative path works from src/runtime and dist/runtime.
const PARENT_WATCH = new URL('../../dist/runtime/parent-watch.js', import.meta.url);
const PARENT_PIPE_FD = 3;

export interface ProxyProcessOptions {
  key: string;
  bootstrap: ProxyBootstrapFile;
  bootstrapFile: string;
  logFile: string;
  pidFile: string;
  log: (line: string) => void;
  /** Run inside this network namespace (`ip netns exec`): the proxy of a pod with its own network. */
  netns?: string;
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
  private child: ChildProcess | undefined;
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
    writeFileSync(this.opts.bootstrapFile, JSON.stringify(this.opts.bootstrap, null, 2) + '\n');
    this.spawnOnce();
  }

  private spawnOnce(): void {
    if (this.stopping) return;
    const fd = openSync(this.opts.logFile, 'a');
    const startOffset = fstatSync(fd).size;
    let child: ChildProcess;
    try {
      const watch = existsSync(fileURLToPath(PARENT_WATCH));
      const argv = [...PROXY_NODE_FLAGS, ...(watch ? ['--import', PARENT_WATCH.href] : []), OUTPOST_BIN, 'proxy', '--bootstrap', this.opts.bootstrapFile];
      // `ip netns exec` execs node in place: the pid stays the proxy's, fd 3 stays the parent pipe.
      const [cmd, args] = this.opts.netns ? ['ip', ['netns', 'exec', this.opts.netns, process.execPath, ...argv]] : [process.execPath, argv];
      child = spawn(cmd, args, {
        // fd 3: a pipe whose far end only this process holds; the proxy exits when it closes.
        stdio: ['ignore', fd, fd, 'pipe'],
        // Proxies log warnings and errors only unless asked, as istio-proxy does by default.
        env: {
          OUTPOST_LOG_LEVEL: 'warning',
          ...process.env,
          OUTPOST_PROXY_KEY: this.opts.key,
          ...(watch ? { [PARENT_PIPE_ENV]: String(PARENT_PIPE_FD) } : {}),
        },
      });
    } finally {
      closeSync(fd);
    }
    // Our end of the parent pipe: kept open for the child's life, its errors are not ours to crash on.
    child.stdio[PARENT_PIPE_FD]?.on('error', () => undefined);
    this.child = child;
    this.pid = child.pid;
    if (child.pid) writeFileSync(this.opts.pidFile, `${child.pid}\n${this.opts.bootstrapFile}\n`);
    this.setState('starting');
    this.pollReady(child);
    child.on('error', (err) => {
      this.lastError = err.message;
    });
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = undefined;
      this.pid = undefined;
      clearTimeout(this.readyTimer);
      if (this.stopping) {
        this.setState('stopped');
        return;
      }
      this.lastError = explainExit(this.opts.logFile, startOffset, code, signal);
      this.opts.log(`proxy ${this.opts.key} exited (${this.lastError}); restarting in ${this.backoffMs} ms`);
      this.setState('failed');
      this.restarts++;
      this.restartTimer = setTimeout(() => this.spawnOnce(), this.backoffMs);
      this.backoffMs = Math.min(this.backoffMs * 2, 10_000);
    });
  }

  private pollReady(child: ChildProcess): void {
    const check = async (): Promise<void> => {
      if (this.child !== child || this.stopping) return;
      let ok = false;
      try {
        ok = (await adminGet(this.opts.bootstrap.admin, '/ready', 1000)).status === 200;
      } catch {
        ok = false;
      }
      if (this.child !== child || this.stopping) return;
      if (ok && this.state !== 'ready') {
        this.backoffMs = 250;
        this.setState('ready');
      } else if (!ok && this.state === 'ready') {
        this.setState('starting');
      }
      // Keep watching while running: readiness can drop (a proxy losing its listeners).
      this.readyTimer = setTimeout(() => void check(), this.state === 'ready' ? 1000 : 100);
    };
    this.readyTimer = setTimeout(() => void check(), 50);
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
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    }
    this.setState('stopped');
    rmSync(this.opts.pidFile, { force: true });
  }
}

/** A short reason from the tail of what the process wrote, with the fix for privileged ports. */
function explainExit(logFile: string, fromOffset: number, code: number | null, signal: NodeJS.Signals | null): string {
  const tail = readTail(logFile, fromOffset, 4096);
  const eacces = /EACCES[^\n]*?(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}):(\d+)/.exec(tail) ?? /listen EACCES[^\n]*:(\d+)/.exec(tail);
  if (eacces) {
    const port = eacces[2] ?? eacces[1];
    return `cannot bind port ${port}: ports below 1024 need privileges; run outpost as root or allow them with \`sudo sysctl net.ipv4.ip_unprivileged_port_start=0\``;
  }
  const lastLine = tail.trim().split('\n').filter(Boolean).pop();
  const how = signal ? `signal ${signal}` : `exit code ${code}`;
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
