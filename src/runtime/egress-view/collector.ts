// The dashboard's aggregator: while someone watches, it reads every proxy's metrics through its
// admin endpoint and the new lines of its access log, and, whenever the store changes, the
// objects, their status and the analyzers' findings; then it builds the egress view and hands it
// to the subscribers (the page's server-sent events).
import type { KubeObject } from '../../api/object.js';
import { KINDS } from '../../api/kinds.js';
import type { Finding } from '../../analyze/finding.js';
import type { ProxyStatusRow } from '../../proxyconfig/distribution/protocol.js';
import type { Store } from '../../store/types.js';
import { adminGet } from '../pods/admin-client.js';
import type { WorkloadInfo } from '../workloads.js';
import { LogTail, parseAccessLogLine, problemOf } from './access-log.js';
import { parsePrometheus } from './prometheus.js';
import { buildView, type EgressView, type ProxyInput, type RateMemory, type RecentRequest } from './view.js';

export interface CollectorSources {
  store: Store;
  workloads(): WorkloadInfo[];
  proxyStatus(): ProxyStatusRow[];
  log?: (line: string) => void;
}

export interface CollectorOptions {
  /** How often metrics and logs are read while someone watches, ms (default 2000). */
  intervalMs?: number;
  /** How many problem requests the list keeps (default 200). */
  recentLimit?: number;
}

const WANTED_METRICS = new Set(['istio_requests_total', 'istio_request_duration_milliseconds_bucket', 'istio_tcp_connections_opened_total']);
/** Kinds the view never needs (Events churn; Pods are shown through their proxies). */
const SKIPPED_KINDS = new Set(['Event', 'Pod']);
const SCRAPE_TIMEOUT_MS = 2000;

export class EgressViewCollector {
  readonly #src: CollectorSources;
  readonly #intervalMs: number;
  readonly #recentLimit: number;
  readonly #subscribers = new Set<(view: EgressView) => void>();
  readonly #tails = new Map<string, LogTail>();
  #recent: RecentRequest[] = [];
  #rates: RateMemory = new Map();
  #objects: KubeObject[] = [];
  #findings: Finding[] = [];
  #objectsDirty = true;
  #timer: NodeJS.Timeout | undefined;
  #storeTimer: NodeJS.Timeout | undefined;
  #unwatch: (() => void) | undefined;
  #running: Promise<EgressView> | undefined;
  #last: EgressView | undefined;
  #lastKey = '';
  #stopped = false;

  constructor(src: CollectorSources, opts: CollectorOptions = {}) {
    this.#src = src;
    this.#intervalMs = opts.intervalMs ?? 2000;
    this.#recentLimit = opts.recentLimit ?? 200;
  }

  /** The view now (collected afresh unless a collection is under way). */
  view(): Promise<EgressView> {
    this.#running ??= this.#collect().finally(() => (this.#running = undefined));
    return this.#running;
  }

  /** Calls `fn` with each new view until the returned function is called; collection runs only while someone subscribes. */
  subscribe(fn: (view: EgressView) => void): () => void {
    this.#subscribers.add(fn);
    // The newest view at once; the next one when something changed.
    if (this.#last) fn(this.#last);
    if (this.#subscribers.size === 1) this.#startLoop();
    return () => {
      this.#subscribers.delete(fn);
      if (this.#subscribers.size === 0) this.#stopLoop();
    };
  }

  stop(): void {
    this.#stopped = true;
    this.#subscribers.clear();
    this.#stopLoop();
  }

  #startLoop(): void {
    if (this.#stopped) return;
    this.#watchStore();
    const tick = (): void => {
      this.view()
        .then((v) => this.#publish(v))
        .catch((err: unknown) => this.#src.log?.(`dashboard: collection failed: ${(err as Error).message}`))
        .finally(() => {
          if (this.#subscribers.size > 0 && !this.#stopped) this.#timer = setTimeout(tick, this.#intervalMs);
        });
    };
    tick();
  }

  #stopLoop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#storeTimer) clearTimeout(this.#storeTimer);
    this.#timer = this.#storeTimer = undefined;
    this.#unwatch?.();
    this.#unwatch = undefined;
    // Without a watch the objects may change unseen: read them again next time.
    this.#objectsDirty = true;
  }

  /** A store change is shown at once (debounced), not at the next tick. */
  #watchStore(): void {
    if (this.#unwatch) return;
    const onChange = (): void => {
      this.#objectsDirty = true;
      if (this.#storeTimer || this.#subscribers.size === 0) return;
      this.#storeTimer = setTimeout(() => {
        this.#storeTimer = undefined;
        this.view()
          .then((v) => this.#publish(v))
          .catch(() => undefined);
      }, 300);
    };
    try {
      this.#unwatch = this.#src.store.watch(this.#src.store.revision(), (ev) => {
        if (!SKIPPED_KINDS.has(ev.object.kind)) onChange();
      });
    } catch (err) {
      this.#src.log?.(`dashboard: cannot watch the store: ${(err as Error).message}`);
    }
  }

  /** Hands a view to the subscribers when it says something new (its time aside). */
  #publish(view: EgressView): void {
    const key = JSON.stringify({ ...view, generatedAt: '' });
    if (key === this.#lastKey) return;
    this.#lastKey = key;
    this.#last = view;
    for (const fn of this.#subscribers) fn(view);
  }

  async #collect(): Promise<EgressView> {
    const workloads = this.#src.workloads();
    if (this.#objectsDirty) await this.#readObjects();
    const proxies = await Promise.all(workloads.map((w) => this.#scrape(w)));
    this.#readLogs(workloads);
    const { view, rates } = buildView(
      {
        now: Date.now(),
        revision: this.#src.store.revision(),
        proxies,
        status: this.#src.proxyStatus(),
        objects: this.#objects,
        findings: this.#findings,
        recent: this.#recent,
      },
      this.#rates,
    );
    this.#rates = rates;
    return view;
  }

  async #readObjects(): Promise<void> {
    this.#objectsDirty = false;
    const objects: KubeObject[] = [];
    for (const k of KINDS) {
      if (SKIPPED_KINDS.has(k.kind)) continue;
      for (const o of this.#src.store.list({ group: k.group, kind: k.kind }).items) objects.push(o);
    }
    // Secrets are read for the analyzers (a credentialName that exists) and never leave this process.
    const { analyze } = await import('../../analyze/index.js');
    this.#findings = analyze(objects);
    this.#objects = objects.filter((o) => o.kind !== 'Secret');
  }

  async #scrape(w: WorkloadInfo): Promise<ProxyInput> {
    const base: ProxyInput = { id: w.proxyId, role: w.role, namespace: w.namespace, workload: w.workload, labels: w.labels, ready: w.ready, state: w.state };
    try {
      const res = await adminGet(w.admin, '/stats/prometheus', SCRAPE_TIMEOUT_MS);
      if (res.status !== 200) return { ...base, scrapeError: `admin /stats/prometheus answered ${res.status}` };
      return { ...base, samples: parsePrometheus(res.body, (n) => WANTED_METRICS.has(n)) };
    } catch (err) {
      return { ...base, scrapeError: (err as Error).message };
    }
  }

  #readLogs(workloads: WorkloadInfo[]): void {
    const fresh: RecentRequest[] = [];
    // Tails of workloads that are gone go with them.
    const live = new Set(workloads.map((w) => w.logFile));
    for (const file of this.#tails.keys()) if (!live.has(file)) this.#tails.delete(file);
    for (const w of workloads) {
      let tail = this.#tails.get(w.logFile);
      if (!tail) this.#tails.set(w.logFile, (tail = new LogTail(w.logFile)));
      for (const line of tail.read()) {
        const l = parseAccessLogLine(line);
        const problem = l && problemOf(l);
        if (!l || !problem) continue;
        fresh.push({
          time: l.time,
          proxy: w.proxyId,
          problem,
          code: l.code,
          flags: l.flags,
          details: l.details,
          authority: l.authority,
          cluster: l.cluster,
          route: l.route,
          line: l.line,
        });
      }
    }
    if (fresh.length > 0) this.#recent = [...this.#recent, ...fresh].sort((a, b) => a.time - b.time).slice(-this.#recentLimit);
  }
}
