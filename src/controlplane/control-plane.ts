// ControlPlane: watches the store, rebuilds the snapshot, runs the deployer and status, and pushes configs to subscribed proxies.
import type { ProxyConfig, ProxyIdentity } from '../proxyconfig/types.js';
import type { Store, WatchEvent } from '../store/types.js';
import { groupOf } from '../api/object.js';
import { reconcileGatewayDeployments } from './deployer/index.js';
import { DistributionServer, type DistributionTls, type DistributionTokenAuth } from './distribution/server.js';
import type { ProxyStatusRow } from '../proxyconfig/distribution/protocol.js';
import { isSnapshotKind, snapshotFromStore, type MeshSnapshot } from './snapshot.js';
import { reconcileStatus } from './status/index.js';
import { reportTlsMaterialProblems } from './status/tls-problems.js';
import { canonicalJson, readPemFromFs, translate } from './translate/index.js';
import type { PemReader } from './translate/tls-material.js';
import type { SsrfGuardContext } from './translate/ssrf-guard.js';

export interface ControlPlaneOptions {
  readonly store: Store;
  readonly host?: string;
  /** Distribution port; 0 = ephemeral (default). */
  readonly port?: number;
  readonly token: string;
  /** Quiet period before a push, ms (Istio's PILOT_DEBOUNCE_AFTER, 100). */
  readonly debounceMs?: number;
  /** Longest a burst of changes can delay a push, ms (PILOT_DEBOUNCE_MAX, 10 s). */
  readonly debounceMaxMs?: number;
  readonly log?: (line: string) => void;
  /** Mutual TLS on distribution: proxies authenticate with their workload certificates. */
  readonly distributionTls?: DistributionTls;
  /** Reads TLS files named in resources (default: the local file system). */
  readonly readPem?: PemReader;
  /**
   * Whether this replica writes (status, the deployer's objects, Events): with several controllers,
   * only the elected leader does; every replica serves distribution. Default: always.
   */
  readonly leading?: () => boolean;
  /** On a cluster: proxies authenticate to distribution with their service-account tokens. */
  readonly tokenAuth?: DistributionTokenAuth;
  /** On a cluster: distribution over TLS with this certificate (no client certificates). */
  readonly serverTls?: { readonly cert: string; readonly key: string };
  /** The mesh's networks and control endpoints for proxies' SSRF guard (see setSsrfGuardContext). */
  readonly ssrfGuard?: SsrfGuardContext;
  /** Runs before each config is sent to its proxy (see DistributionServerOptions.beforeSend). */
  readonly beforeSend?: (identity: ProxyIdentity, config: ProxyConfig) => Promise<void>;
}

export class ControlPlane {
  private snapshot?: MeshSnapshot;
  private readonly server: DistributionServer;
  private unwatch?: () => void;
  private timer?: NodeJS.Timeout;
  private burstStart = 0;
  private running = false;
  private flushing = false;
  private dirtyWhileFlushing = false;
  private pushedRevision = '0';
  private readonly configCache = new Map<string, ProxyConfig>();
  private cacheSnapshot?: MeshSnapshot;
  private tlsReported: ReadonlySet<string> = new Set();
  private ssrfGuard: SsrfGuardContext | undefined;

  constructor(private readonly opts: ControlPlaneOptions) {
    this.ssrfGuard = opts.ssrfGuard;
    this.server = new DistributionServer({
      host: opts.host ?? '127.0.0.1',
      port: opts.port ?? 0,
      token: opts.token,
      configFor: (identity) => this.configFor(identity),
      ...(opts.log ? { log: opts.log } : {}),
      ...(opts.distributionTls ? { tls: opts.distributionTls } : {}),
      ...(opts.tokenAuth ? { tokenAuth: opts.tokenAuth } : {}),
      ...(opts.serverTls ? { serverTls: opts.serverTls } : {}),
      ...(opts.beforeSend ? { beforeSend: opts.beforeSend } : {}),
    });
  }

  get distributionUrl(): string {
    return this.server.url;
  }

  /** The store revision whose state has been reconciled and pushed. */
  revision(): string {
    return this.pushedRevision;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.reconcile();
    this.pushedRevision = this.snapshot!.revision;
    this.watchFrom(this.snapshot!.revision);
    await this.server.start();
    this.opts.log?.(`control plane: distribution on ${this.server.url}`);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.unwatch?.();
    this.unwatch = undefined;
    await this.server.stop();
  }

  /** The control plane's own certificate was rotated. */
  setDistributionCertificate(cert: string, key: string): void {
    this.server.setServerCertificate(cert, key);
  }

  /** Reconcile soon (e.g. this replica just became the leader and may now write). */
  resync(): void {
    this.schedule();
  }

  /** The mesh's own addresses changed (an endpoint learnt after start): every proxy's guard is rebuilt and pushed. */
  setSsrfGuardContext(ctx: SsrfGuardContext): void {
    this.ssrfGuard = ctx;
    this.configCache.clear();
    this.cacheSnapshot = undefined;
    if (this.running) this.server.push();
  }

  proxyStatus(): ProxyStatusRow[] {
    return this.server.status();
  }

  /** The config a proxy with this identity gets now (for `proxy-config`). */
  configFor(identity: ProxyIdentity): ProxyConfig {
    const snapshot = this.snapshot ?? snapshotFromStore(this.opts.store);
    if (this.cacheSnapshot !== snapshot) {
      this.configCache.clear();
      this.cacheSnapshot = snapshot;
    }
    const key = canonicalJson(identity);
    let cfg = this.configCache.get(key);
    if (!cfg) {
      cfg = translate(snapshot, identity, {
        ...(this.opts.readPem ? { readPem: this.opts.readPem } : {}),
        ...(this.ssrfGuard ? { ssrfGuard: this.ssrfGuard } : {}),
      });
      this.configCache.set(key, cfg);
    }
    return cfg;
  }

  private watchFrom(revision: string): void {
    // Only kinds that feed the snapshot wake the control plane (not Events, its own status writes…).
    const onEvent = (ev: WatchEvent): void => {
      const obj = ev.object;
      if (isSnapshotKind(groupOf(obj.apiVersion), obj.kind)) this.schedule();
    };
    try {
      this.unwatch = this.opts.store.watch(revision, onEvent);
    } catch (err) {
      // History compacted ("Gone"): take a fresh snapshot and watch from its revision.
      this.opts.log?.(`control plane: watch from ${revision} failed (${(err as Error).message}); resyncing`);
      this.reconcile();
      this.unwatch = this.opts.store.watch(this.snapshot!.revision, onEvent);
    }
  }

  private schedule(): void {
    if (!this.running) return;
    if (this.flushing) {
      this.dirtyWhileFlushing = true;
      return;
    }
    const now = Date.now();
    const quiet = this.opts.debounceMs ?? 100;
    const max = this.opts.debounceMaxMs ?? 10_000;
    if (!this.timer) this.burstStart = now;
    else clearTimeout(this.timer);
    const delay = Math.max(0, Math.min(quiet, this.burstStart + max - now));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, delay);
  }

  private flush(): void {
    if (!this.running) return;
    this.flushing = true;
    this.dirtyWhileFlushing = false;
    try {
      this.reconcile();
      this.server.push();
      this.pushedRevision = this.snapshot!.revision;
    } catch (err) {
      this.opts.log?.(`control plane: reconcile failed: ${(err as Error).stack ?? String(err)}`);
    } finally {
      this.flushing = false;
    }
    if (this.dirtyWhileFlushing) this.schedule();
  }

  /** New snapshot; deployer and status write back (their own writes come back as watch events and settle). */
  private reconcile(): void {
    const store = this.opts.store;
    let snapshot = snapshotFromStore(store);
    const log = this.opts.log;
    if (this.opts.leading && !this.opts.leading()) {
      this.snapshot = snapshot;
      return;
    }
    const deployed = reconcileGatewayDeployments(store, snapshot, log);
    for (const id of deployed.created) log?.(`deployer: created ${id}`);
    for (const id of deployed.updated) log?.(`deployer: updated ${id}`);
    for (const id of deployed.deleted) log?.(`deployer: deleted ${id}`);
    // Deployments change proxies' configs: read again so this round's pushes see them.
    if (deployed.created.length || deployed.updated.length || deployed.deleted.length) snapshot = snapshotFromStore(store);
    reconcileStatus(store, snapshot, log ? { log } : {});
    this.tlsReported = reportTlsMaterialProblems(store, snapshot, this.opts.readPem ?? readPemFromFs, this.tlsReported, log ? { log } : {});
    // Status writes come back as watch events after this revision and settle in one more (write-free) round.
    this.snapshot = snapshot;
  }
}
