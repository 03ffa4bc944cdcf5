// The proxy: applies ProxyConfigs (compile aside, bind, swap one reference; NACK on failure) and
// owns the listeners, the resolver, the access log, the metrics and the admin endpoint.
import type { ProxyConfig } from '../proxyconfig/types.js';
import { compileConfig, listenerKey, type CompiledConfig } from './config/compile.js';
import { Resolver, type ResolverOptions } from './dns/resolver.js';
import { createAccessLogger, type AccessLogger } from './telemetry/accesslog.js';
import { ProxyMetrics } from './telemetry/metrics.js';
import { ListenerManager } from './listeners/manager.js';
import { DEFAULT_LIMITS, type HttpLimits } from './listeners/http-servers.js';
import type { ProxyRuntime } from './runtime.js';
import { AdminServer, type AdminView, type ClusterStat } from './admin.js';
import { log } from './log.js';
import { WorkloadIdentity } from './identity/workload-identity.js';

export interface ProxyOptions {
  readonly resolver?: ResolverOptions;
  /** Admin endpoint (loopback); absent: no admin server. */
  readonly adminAddress?: string;
  readonly adminPort?: number;
  /** Needed (as a bearer token) for admin calls that change something. */
  readonly adminToken?: string;
  /** The admin endpoint also on this Unix socket (a proxy inside a pod's network namespace). */
  readonly adminSocket?: string;
  /** HTTP/1.1 limits (header timeout, keep-alive, header size). */
  readonly http?: Partial<HttpLimits>;
  /** Time a TLS client gets to send its ClientHello, ms. Default 5000. */
  readonly helloTimeoutMs?: number;
  /** How long connections of a removed listener may finish, ms. Default 5000. */
  readonly drainMs?: number;
  /** The workload identity directory (cert-chain.pem, key.pem, root-cert.pem); absent: no mesh mTLS. */
  readonly identityDir?: string;
}

export interface Nack {
  readonly version: string;
  readonly error: string;
  /** Epoch ms. */
  readonly time: number;
}

export class Proxy implements ProxyRuntime, AdminView {
  readonly #resolver: Resolver;
  /** The resolution bound when the mesh config sets none (ProxyOptions, else Envoy's 5 s). */
  readonly #defaultDnsTimeoutMs: number;
  readonly #listeners: ListenerManager;
  readonly #admin: AdminServer | undefined;
  readonly helloTimeoutMs: number;
  readonly identity: WorkloadIdentity | undefined;
  #compiled: CompiledConfig | undefined;
  #accessLog: AccessLogger | undefined;
  #accessLogKey = '';
  #metrics: ProxyMetrics | undefined;
  #lastNack: Nack | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(opts: ProxyOptions = {}) {
    this.#resolver = new Resolver(opts.resolver ?? {});
    this.#defaultDnsTimeoutMs = this.#resolver.resolutionTimeoutMs;
    this.helloTimeoutMs = opts.helloTimeoutMs ?? 5000;
    // Throws IdentityError (naming the file) when the directory does not hold a usable identity.
    this.identity = opts.identityDir === undefined ? undefined : WorkloadIdentity.load(opts.identityDir);
    this.#listeners = new ListenerManager(this, { ...DEFAULT_LIMITS, ...(opts.http ?? {}) }, opts.drainMs ?? 5000);
    if (opts.adminPort !== undefined) this.#admin = new AdminServer(this, opts.adminAddress ?? '127.0.0.1', opts.adminPort, opts.adminToken, opts.adminSocket);
  }

  // ---- ProxyRuntime

  get current(): CompiledConfig {
    return this.#compiled!;
  }

  get accessLog(): AccessLogger | undefined {
    return this.#accessLog;
  }

  get metrics(): ProxyMetrics {
    return this.#metrics!;
  }

  // ---- state for the admin endpoint and callers

  /** The ProxyConfig in force, if any. */
  get config(): ProxyConfig | undefined {
    return this.#compiled?.config;
  }

  get lastNack(): Nack | undefined {
    return this.#lastNack;
  }

  /** True once a config is applied and its listeners are bound. */
  get ready(): boolean {
    return this.#compiled !== undefined && !this.#closed;
  }

  // ---- AdminView

  prometheus(): Promise<string> {
    return Promise.resolve(this.#metrics?.render() ?? '');
  }

  clusterStats(): Promise<ClusterStat[]> {
    const cs = this.#compiled === undefined ? [] : [...this.#compiled.clusters.values()];
    return Promise.resolve(cs.map((c) => ({ name: c.name, type: c.cluster.type, activeRequests: c.active, endpoints: c.endpoints.snapshot() })));
  }

  get resolver(): Resolver {
    return this.#resolver;
  }

  /** The port a bound listener got (useful when the config asks for port 0). */
  listenerPort(name: string): number | undefined {
    const l = this.#compiled?.byName.get(name)?.listener;
    if (l === undefined || !l.bindToPort) return undefined;
    return this.#listeners.boundPort(listenerKey(l.address, l.port));
  }

  /** The admin endpoint's port, once started. */
  get adminPort(): number | undefined {
    return this.#admin?.port;
  }

  /** Starts the admin endpoint (before any config: /ready answers 503 until one is applied). */
  async start(): Promise<void> {
    await this.#admin?.start();
  }

  /**
   * Applies a config. Resolves once it is in force; rejects with the reason (a NACK) while the
   * previous config keeps serving. Calls are serialised.
   */
  apply(cfg: ProxyConfig): Promise<void> {
    const p = this.#queue.then(() => this.#apply(cfg));
    this.#queue = p.catch(() => {});
    return p;
  }

  async #apply(cfg: ProxyConfig): Promise<void> {
    if (this.#closed) throw new Error('proxy is closed');
    const version = typeof cfg?.version === 'string' ? cfg.version : '?';
    let next: CompiledConfig | undefined;
    let newLog: AccessLogger | undefined;
    let logKey: string;
    const prevDnsTimeout = this.#resolver.resolutionTimeoutMs;
    try {
      const dnsMs = cfg.mesh?.dnsResolutionTimeoutMs;
      if (dnsMs !== undefined && !(typeof dnsMs === 'number' && Number.isFinite(dnsMs) && dnsMs >= 0)) {
        throw new Error(`mesh.dnsResolutionTimeoutMs: must be a number of milliseconds >= 0, got ${JSON.stringify(dnsMs)}`);
      }
      // Before compiling: new DNS clusters start resolving under the new bound.
      this.#resolver.setResolutionTimeout(dnsMs ?? this.#defaultDnsTimeoutMs);
      next = compileConfig(cfg, this.#compiled?.clusters, this.#resolver, this.identity);
      logKey = JSON.stringify(cfg.mesh?.accessLog ?? null);
      if (logKey !== this.#accessLogKey || this.#compiled === undefined) newLog = createAccessLogger(cfg.mesh?.accessLog);
      await this.#listeners.bindNew(next);
    } catch (err) {
      // Clusters compiled for this attempt and not in force are dropped.
      const msg = err instanceof Error ? err.message : String(err);
      this.#resolver.setResolutionTimeout(prevDnsTimeout);
      this.#lastNack = { version, error: msg, time: Date.now() };
      log('warning', `config ${version} rejected: ${msg}`);
      await newLog?.close().catch(() => {});
      if (next !== undefined) for (const [name, cr] of next.clusters) if (this.#compiled?.clusters.get(name) !== cr) cr.close();
      throw err instanceof Error ? err : new Error(msg);
    }
    const prev = this.#compiled;
    const prevLog = this.#accessLog;
    this.#metrics ??= new ProxyMetrics(cfg.proxy);
    // The swap: one reference; requests already running keep the config they read.
    this.#compiled = next;
    if (newLog !== undefined || logKey !== this.#accessLogKey) {
      this.#accessLog = newLog;
      this.#accessLogKey = logKey;
      if (prevLog !== undefined && prevLog !== newLog) prevLog.close().catch(() => {});
    }
    this.#listeners.commit(next);
    if (prev !== undefined) this.#dropUnused(prev);
    log('info', `config ${version} applied (${next.byName.size} listeners, ${next.clusters.size} clusters)`);
  }

  /** Closes cluster runtimes of `prev` that the config in force does not carry over. */
  #dropUnused(prev: CompiledConfig): void {
    const live = this.#compiled?.clusters;
    for (const [name, cr] of prev.clusters) {
      if (live?.get(name) !== cr) cr.close();
    }
  }

  /** Stops accepting, lets open requests finish (up to graceMs), flushes the access log. */
  async close(graceMs = 5000): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue.catch(() => {});
    await this.#listeners.close(graceMs);
    if (this.#compiled !== undefined) for (const cr of this.#compiled.clusters.values()) cr.close();
    await this.#accessLog?.close().catch(() => {});
    await this.#admin?.close();
    this.#resolver.close();
    this.identity?.close();
  }
}
