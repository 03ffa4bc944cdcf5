// `--concurrency N`: N worker processes (node:cluster) share the listening sockets, as Envoy's
// worker threads do. The primary carries no traffic: it owns the admin endpoint, hands every
// ProxyConfig to all workers (ACK once each worker applied it, NACK if any refused it), adds up
// the workers' metrics for /stats/prometheus, restarts a worker that dies and stops them all on
// SIGTERM. Each worker is an ordinary Proxy without an admin endpoint.
//
// Connections are spread by node:cluster's round-robin (the primary accepts and passes each new
// connection to the next worker): on Linux the kernel's own spreading of one shared accept queue
// piles connections onto one or two workers, and keep-alive connections make the primary's
// per-connection work negligible.
import cluster, { type Worker } from 'node:cluster';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProxyConfig } from '../proxyconfig/types.js';
import { AdminServer, type AdminView, type ClusterStat } from './admin.js';
import type { Nack, ProxyOptions } from './proxy.js';
import { ProxyMetrics, type MetricsSnapshot } from './telemetry/metrics.js';
import { log, setLogLevel, type LogLevel } from './log.js';

/** The environment variable that carries a worker's ProxyOptions (JSON). */
export const WORKER_ENV = 'OUTPOST_PROXY_WORKER';

/** Primary → worker. */
export type ToWorker =
  | { t: 'apply'; id: number; cfg: ProxyConfig }
  | { t: 'stats'; id: number }
  | { t: 'clusters'; id: number }
  | { t: 'log-level'; level: LogLevel }
  | { t: 'stop'; graceMs: number };

/** Worker → primary. */
export type FromWorker = { t: 'started' } | { t: 'reply'; id: number; ok: boolean; error?: string; data?: unknown };

/** How long a worker may take to answer (apply binds sockets; stats are immediate). */
const REPLY_TIMEOUT_MS = 30_000;

interface Slot {
  worker: Worker;
  started: Promise<void>;
  /** The config version this worker runs. */
  version: string | undefined;
}

export interface ProxyClusterOptions extends ProxyOptions {
  readonly workers: number;
}

export class ProxyCluster implements AdminView {
  readonly #opts: ProxyClusterOptions;
  readonly #admin: AdminServer | undefined;
  readonly #slots: Slot[] = [];
  readonly #pending = new Map<number, { resolve: (v: FromWorker & { t: 'reply' }) => void; timer: NodeJS.Timeout }>();
  #nextId = 1;
  #config: ProxyConfig | undefined;
  #lastNack: Nack | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #closing = false;

  constructor(opts: ProxyClusterOptions) {
    if (!cluster.isPrimary) throw new Error('ProxyCluster runs in the primary process');
    if (!Number.isInteger(opts.workers) || opts.workers < 1) throw new Error(`concurrency must be a positive integer (got ${opts.workers})`);
    this.#opts = opts;
    if (opts.adminPort !== undefined) this.#admin = new AdminServer(this, opts.adminAddress ?? '127.0.0.1', opts.adminPort, opts.adminToken, opts.adminSocket);
  }

  get adminPort(): number | undefined {
    return this.#admin?.port;
  }

  get workerPids(): number[] {
    return this.#slots.map((s) => s.worker.process.pid ?? 0).filter((p) => p > 0);
  }

  /** Starts the admin endpoint and the workers (which serve nothing until a config is applied). */
  async start(): Promise<void> {
    await this.#admin?.start();
    cluster.setupPrimary({
      exec: workerEntry(),
      // The primary's own node flags (tsx's loader in tests, --cpu-prof …), without an -e script.
      execArgv: workerExecArgv(process.execArgv),
      // Round-robin: see the header comment.
      schedulingPolicy: cluster.SCHED_RR,
    } as Parameters<typeof cluster.setupPrimary>[0]);
    for (let i = 0; i < this.#opts.workers; i++) this.#slots.push(this.#fork(i));
    try {
      await Promise.all(this.#slots.map((s) => s.started));
    } catch (err) {
      await this.close(0);
      throw err;
    }
    log('info', `${this.#opts.workers} worker processes started`);
  }

  #fork(index: number): Slot {
    const env = { [WORKER_ENV]: JSON.stringify({ ...this.#opts, adminPort: undefined, adminToken: undefined, adminSocket: undefined, index }) };
    const worker = cluster.fork(env);
    let started!: () => void;
    let failed!: (err: Error) => void;
    let up = false;
    const slot: Slot = {
      worker,
      started: new Promise<void>((res, rej) => {
        started = res;
        failed = rej;
      }),
      version: undefined,
    };
    slot.started.catch(() => {});
    const bornAt = Date.now();
    worker.on('message', (m: FromWorker) => {
      if (m?.t === 'started') {
        up = true;
        started();
        return;
      }
      if (m?.t === 'reply') {
        const p = this.#pending.get(m.id);
        if (p === undefined) return;
        this.#pending.delete(m.id);
        clearTimeout(p.timer);
        p.resolve(m);
      }
    });
    worker.on('error', () => {});
    worker.once('exit', (code, signal) => {
      if (!up) {
        // Never came up (a broken install, a bad flag): restarting would loop.
        failed(new Error(`worker ${index} exited (${signal ?? code}) before it started`));
        return;
      }
      if (this.#closing) return;
      log('warning', `worker ${index} (pid ${worker.process.pid}) exited (${signal ?? code}); starting another`);
      // A worker that dies at once again and again is restarted at most once a second.
      const delay = Date.now() - bornAt < 1000 ? 1000 : 0;
      setTimeout(() => {
        if (!this.#closing) this.#replace(index);
      }, delay).unref();
    });
    return slot;
  }

  #replace(index: number): void {
    {
      const next = this.#fork(index);
      this.#slots[index] = next;
      // The replacement gets the config in force before it takes connections.
      const cfg = this.#config;
      if (cfg !== undefined) {
        void next.started
          .then(() => this.#ask(next, { t: 'apply', id: 0, cfg }))
          .then(
            (r) => {
              if (r.ok) next.version = cfg.version;
              else log('error', `worker ${index}: config ${cfg.version} rejected: ${r.error ?? '?'}`);
            },
            () => {},
          );
      }
    }
  }

  #ask(slot: Slot, msg: ToWorker & { id: number }): Promise<FromWorker & { t: 'reply' }> {
    const id = this.#nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        resolve({ t: 'reply', id, ok: false, error: `worker pid ${slot.worker.process.pid} did not answer in ${REPLY_TIMEOUT_MS / 1000} s` });
      }, REPLY_TIMEOUT_MS);
      this.#pending.set(id, { resolve, timer });
      try {
        slot.worker.send({ ...msg, id });
      } catch (err) {
        this.#pending.delete(id);
        clearTimeout(timer);
        resolve({ t: 'reply', id, ok: false, error: `worker pid ${slot.worker.process.pid}: ${(err as Error).message}` });
      }
      slot.worker.once('exit', () => {
        const p = this.#pending.get(id);
        if (p === undefined) return;
        this.#pending.delete(id);
        clearTimeout(timer);
        resolve({ t: 'reply', id, ok: false, error: `worker pid ${slot.worker.process.pid} exited` });
      });
    });
  }

  // ---- config

  /** Applies a config in every worker; rejects (a NACK) if any worker refused it. Serialised. */
  apply(cfg: ProxyConfig): Promise<void> {
    const p = this.#queue.then(() => this.#apply(cfg));
    this.#queue = p.catch(() => {});
    return p;
  }

  async #apply(cfg: ProxyConfig): Promise<void> {
    if (this.#closing) throw new Error('proxy is closed');
    const version = typeof cfg?.version === 'string' ? cfg.version : '?';
    const slots = [...this.#slots];
    const replies = await Promise.all(slots.map((s) => this.#ask(s, { t: 'apply', id: 0, cfg })));
    const failed = replies.map((r, i) => ({ r, i })).filter((x) => !x.r.ok);
    if (failed.length === 0) {
      for (const s of slots) s.version = version;
      this.#config = cfg;
      log('info', `config ${version} applied in ${slots.length} workers`);
      return;
    }
    // Workers that took it go back to the previous config, so all workers serve the same one.
    const prev = this.#config;
    if (prev !== undefined) {
      await Promise.all(slots.filter((_, i) => replies[i]!.ok).map((s) => this.#ask(s, { t: 'apply', id: 0, cfg: prev })));
    }
    const error = failed[0]!.r.error ?? 'rejected';
    this.#lastNack = { version, error, time: Date.now() };
    log('warning', `config ${version} rejected by ${failed.length} of ${slots.length} workers: ${error}`);
    throw new Error(error);
  }

  // ---- AdminView

  get ready(): boolean {
    return this.#config !== undefined && !this.#closing;
  }

  get config(): ProxyConfig | undefined {
    return this.#config;
  }

  get lastNack(): Nack | undefined {
    return this.#lastNack;
  }

  async prometheus(): Promise<string> {
    const cfg = this.#config;
    if (cfg === undefined) return '';
    const replies = await Promise.all(this.#slots.map((s) => this.#ask(s, { t: 'stats', id: 0 })));
    const sum = new ProxyMetrics(cfg.proxy);
    for (const r of replies) if (r.ok && r.data !== undefined) sum.absorb(r.data as MetricsSnapshot);
    return sum.render();
  }

  async clusterStats(): Promise<ClusterStat[]> {
    const replies = await Promise.all(this.#slots.map((s) => this.#ask(s, { t: 'clusters', id: 0 })));
    const byName = new Map<string, ClusterStat>();
    for (const r of replies) {
      if (!r.ok || !Array.isArray(r.data)) continue;
      for (const c of r.data as ClusterStat[]) {
        const have = byName.get(c.name);
        if (have === undefined) {
          byName.set(c.name, c);
          continue;
        }
        have.activeRequests += c.activeRequests;
        for (const e of c.endpoints) {
          const h = have.endpoints.find((x) => x.address === e.address && x.port === e.port);
          if (h === undefined) {
            have.endpoints.push(e);
            continue;
          }
          h.active += e.active;
          h.total += e.total;
          h.failures += e.failures;
          h.healthy = h.healthy && e.healthy;
        }
      }
    }
    return [...byName.values()];
  }

  onLogLevel(level: LogLevel): void {
    for (const s of this.#slots) {
      try {
        s.worker.send({ t: 'log-level', level } satisfies ToWorker);
      } catch {
        /* exiting */
      }
    }
  }

  /** Stops every worker (each drains its requests and flushes its access log), then the admin endpoint. */
  async close(graceMs = 5000): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    await this.#queue.catch(() => {});
    const exits = this.#slots.map(
      (s) =>
        new Promise<void>((resolve) => {
          if (s.worker.isDead()) {
            resolve();
            return;
          }
          s.worker.once('exit', () => resolve());
          try {
            s.worker.send({ t: 'stop', graceMs } satisfies ToWorker);
          } catch {
            s.worker.process.kill('SIGTERM');
          }
          // A worker that hangs is killed after its grace period (and some).
          setTimeout(() => {
            if (!s.worker.isDead()) s.worker.process.kill('SIGKILL');
          }, graceMs + 5000).unref();
        }),
    );
    await Promise.all(exits);
    await this.#admin?.close();
  }
}

/** The worker's entry module, next to this one (.ts under tsx in tests, .js in dist). */
function workerEntry(): string {
  const here = fileURLToPath(import.meta.url);
  return here.slice(0, -extname(here).length).replace(/workers$/, 'worker-main') + extname(here);
}

/** node flags for workers: the primary's, without `-e/--eval/-p` and their script. */
export function workerExecArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-e' || a === '--eval' || a === '-p' || a === '--print') {
      i++;
      continue;
    }
    if (a.startsWith('--eval=') || a.startsWith('--print=')) continue;
    out.push(a);
  }
  return out;
}

/** Worker side: runs a Proxy driven by the primary's messages until told to stop. */
export async function runWorker(): Promise<void> {
  const { Proxy } = await import('./proxy.js');
  const opts = JSON.parse(process.env[WORKER_ENV] ?? '{}') as ProxyOptions & { index?: number };
  const proxy = new Proxy({ ...opts, adminPort: undefined });
  let stopping = false;
  const reply = (id: number, ok: boolean, extra: { error?: string; data?: unknown } = {}): void => {
    try {
      process.send?.({ t: 'reply', id, ok, ...extra } satisfies FromWorker);
    } catch {
      /* primary gone */
    }
  };
  const stop = async (graceMs: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await proxy.close(graceMs);
    process.disconnect?.();
    process.exit(0);
  };
  process.on('message', (m: ToWorker) => {
    switch (m?.t) {
      case 'apply':
        proxy.apply(m.cfg).then(
          () => reply(m.id, true),
          (err: Error) => reply(m.id, false, { error: err.message }),
        );
        return;
      case 'stats':
        reply(m.id, true, { data: proxy.ready ? proxy.metrics.snapshot() : { http: [], tcp: [] } });
        return;
      case 'clusters':
        proxy.clusterStats().then(
          (data) => reply(m.id, true, { data }),
          (err: Error) => reply(m.id, false, { error: err.message }),
        );
        return;
      case 'log-level':
        setLogLevel(m.level);
        return;
      case 'stop':
        void stop(m.graceMs);
        return;
    }
  });
  // Ctrl-C reaches the whole process group: the primary coordinates the stop. A primary that
  // vanished (the IPC channel closed) leaves no orphaned worker behind.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => {});
  process.on('disconnect', () => {
    void stop(opts.drainMs ?? 5000);
  });
  process.send?.({ t: 'started' } satisfies FromWorker);
}
