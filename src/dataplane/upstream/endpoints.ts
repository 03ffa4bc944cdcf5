// A cluster's endpoints: DNS discovery (STRICT_DNS, LOGICAL_DNS), load balancing and outlier
// detection. The HTTP/TCP layers pick a target here and report each request's outcome back.

import type { Cluster, OutlierDetection } from '../../proxyconfig/types.js';
import { Resolver, ipLiteral, DnsError } from '../dns/resolver.js';
import { joinHostPort } from '../../proxyconfig/authority.js';

export interface UpstreamTarget {
  /** IP address. */
  readonly address: string;
  readonly port: number;
  /** For DNS clusters and ORIGINAL_DST targets: the name the address came from. */
  readonly hostname?: string;
  /** `address:port` (IPv6 in brackets), when the target keeps it (a cluster's hosts do). */
  readonly hostPort?: string;
}

/** The target as UPSTREAM_HOST prints it: `address:port`, IPv6 in brackets; one string per host, not one per request. */
export function upstreamHostOf(t: UpstreamTarget): string {
  return t.hostPort ?? joinHostPort(t.address, t.port);
}

export type RequestOutcome = 'success' | '5xx' | 'gateway-error' | 'connect-failure';

export interface EndpointSnapshot {
  address: string;
  port: number;
  hostname?: string;
  healthy: boolean;
  /** Requests in flight. */
  active: number;
  /** Requests started. */
  total: number;
  /** Requests that ended in a 5xx, gateway error or connect failure. */
  failures: number;
}

/** Lower bound between DNS refreshes, ms, so a TTL of 0 or 1 s cannot turn into a query storm. */
const MIN_REFRESH_MS = 250;
/** Refresh interval when neither a TTL nor dnsRefreshRateMs is known, ms. */
const DEFAULT_REFRESH_MS = 5_000;
/** Envoy's default max_ejection_time: the cap on baseEjectionTime × ejections. */
const MAX_EJECTION_MS = 300_000;

/** One endpoint with its load and health; handed out by pick() as an UpstreamTarget. */
class Host implements UpstreamTarget {
  readonly address: string;
  readonly port: number;
  readonly hostname: string | undefined;
  readonly weight: number;
  readonly key: string;
  readonly hostPort: string;
  active = 0;
  total = 0;
  failures = 0;
  consecutive5xx = 0;
  consecutiveGateway = 0;
  /** Epoch ms until which the host is ejected; 0 = not ejected. */
  ejectedUntil = 0;
  ejections = 0;
  /** Smooth weighted round-robin state. */
  currentWeight = 0;

  constructor(address: string, port: number, hostname: string | undefined, weight: number) {
    this.address = address;
    this.port = port;
    this.hostname = hostname;
    this.weight = weight > 0 ? weight : 1;
    this.key = `${address}|${port}|${hostname ?? ''}`;
    this.hostPort = joinHostPort(address, port);
  }
}

interface NameState {
  readonly name: string;
  readonly port: number;
  readonly weight: number;
  /** Last good addresses; kept when a refresh fails. */
  addresses: readonly string[];
}

export class ClusterEndpoints {
  readonly cluster: Cluster;
  readonly #resolver: Resolver;
  /** All endpoints; replaced, never mutated, on a DNS update. */
  #hosts: readonly Host[] = [];
  /** Endpoints not ejected; rebuilt on ejection changes. */
  #healthy: readonly Host[] = [];
  #healthyWeight = 0;
  #equalWeights = true;
  #rr = 0;
  #ejectedCount = 0;
  #nextUneject = Infinity;
  #names: NameState[] = [];
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #generation = 0;
  readonly #ready: Promise<void>;
  readonly #outlier: OutlierDetection | undefined;
  readonly #rand: () => number;

  constructor(cluster: Cluster, resolver: Resolver, opts: { random?: () => number } = {}) {
    this.cluster = cluster;
    this.#resolver = resolver;
    this.#rand = opts.random ?? Math.random;
    const od = cluster.outlierDetection;
    this.#outlier = od && ((od.consecutive5xxErrors ?? 0) > 0 || (od.consecutiveGatewayErrors ?? 0) > 0) ? od : undefined;
    switch (cluster.type) {
      case 'STATIC':
        this.#setHosts(cluster.endpoints.map((e) => new Host(ipLiteral(e.address) ?? e.address, e.port, undefined, e.weight ?? 1)));
        this.#ready = Promise.resolve();
        break;
      case 'STRICT_DNS':
      case 'LOGICAL_DNS': {
        const eps = cluster.type === 'LOGICAL_DNS' ? cluster.endpoints.slice(0, 1) : cluster.endpoints;
        this.#names = eps.map((e) => ({ name: e.address, port: e.port, weight: e.weight ?? 1, addresses: [] }));
        this.#ready = this.#refresh();
        break;
      }
      case 'ORIGINAL_DST':
        this.#ready = Promise.resolve();
        break;
      default:
        this.#ready = Promise.resolve();
    }
  }

  /** Why a DNS cluster has no endpoints: its names did not resolve (requests then get 503 DF, not UH). */
  dnsFailure: DnsError | undefined = undefined;

  /** Resolves once the first resolution is done (at once for STATIC); never rejects. */
  ready(): Promise<void> {
    return this.#ready;
  }

  /** Bumped whenever the endpoint list changes. */
  get generation(): number {
    return this.#generation;
  }

  /** An endpoint by the cluster's lbPolicy, skipping ejected ones; undefined: no healthy upstream (UH). Not for ORIGINAL_DST. */
  pick(avoid?: ReadonlySet<UpstreamTarget>): UpstreamTarget | undefined {
    if (this.#ejectedCount > 0 && Date.now() >= this.#nextUneject) this.#unejectExpired();
    const hosts = this.#healthy;
    const n = hosts.length;
    if (n === 0) return undefined;
    if (n === 1) return hosts[0];
    if (avoid !== undefined && avoid.size > 0) {
      // Envoy's previous_hosts retry predicate (Istio's retryIgnorePreviousHosts, on by default):
      // a retry picks again, up to 5 times, to land on a host it has not tried.
      let h = this.#pickBy(hosts);
      for (let i = 0; i < 4 && avoid.has(h); i++) h = this.#pickBy(hosts);
      return h;
    }
    return this.#pickBy(hosts);
  }

  #pickBy(hosts: readonly Host[]): Host {
    switch (this.cluster.lbPolicy) {
      case 'RANDOM':
        return this.#pickRandom(hosts);
      case 'LEAST_REQUEST':
        return this.#pickLeastRequest(hosts);
      default:
        return this.#pickRoundRobin(hosts);
    }
  }

  /**
   * ORIGINAL_DST (PassthroughCluster, forward-proxy targets): the request's own destination,
   * resolved through the resolver. Rejects with DnsError (flag DF).
   */
  async resolveOriginal(host: string, port: number): Promise<UpstreamTarget> {
    const ip = ipLiteral(host);
    if (ip !== undefined) return { address: ip, port };
    const r = await this.#resolver.lookup(host);
    const address = r.addresses[0];
    if (address === undefined) throw new DnsError('ENODATA', host);
    return { address, port, hostname: host };
  }

  requestStarted(t: UpstreamTarget): void {
    if (!(t instanceof Host)) return;
    t.active++;
    t.total++;
  }

  requestFinished(t: UpstreamTarget, outcome: RequestOutcome): void {
    if (!(t instanceof Host)) return;
    if (t.active > 0) t.active--;
    if (outcome === 'success') {
      t.consecutive5xx = 0;
      t.consecutiveGateway = 0;
      return;
    }
    t.failures++;
    // Envoy: every 5xx counts toward consecutive_5xx; only 502/503/504 and connect failures
    // toward consecutive_gateway_failure (a plain 500 resets that one).
    t.consecutive5xx++;
    if (outcome === '5xx') t.consecutiveGateway = 0;
    else t.consecutiveGateway++;
    const od = this.#outlier;
    if (od === undefined || t.ejectedUntil !== 0) return;
    const c5 = od.consecutive5xxErrors ?? 0;
    const cg = od.consecutiveGatewayErrors ?? 0;
    if ((c5 > 0 && t.consecutive5xx >= c5) || (cg > 0 && t.consecutiveGateway >= cg)) this.#eject(t, od);
  }

  snapshot(): EndpointSnapshot[] {
    const now = Date.now();
    return this.#hosts.map((h) => {
      const s: EndpointSnapshot = {
        address: h.address,
        port: h.port,
        healthy: h.ejectedUntil === 0 || h.ejectedUntil <= now,
        active: h.active,
        total: h.total,
        failures: h.failures,
      };
      if (h.hostname !== undefined) s.hostname = h.hostname;
      return s;
    });
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  // -------------------------------------------------------------------------------------------

  #pickRoundRobin(hosts: readonly Host[]): Host {
    if (this.#equalWeights) {
      const i = this.#rr++ % hosts.length;
      if (this.#rr >= 0x3fffffff) this.#rr = 0;
      return hosts[i]!;
    }
    // Smooth weighted round-robin: the same proportions as Envoy's EDF scheduler, interleaved.
    let best = hosts[0]!;
    for (let i = 0; i < hosts.length; i++) {
      const h = hosts[i]!;
      h.currentWeight += h.weight;
      if (h.currentWeight > best.currentWeight) best = h;
    }
    best.currentWeight -= this.#healthyWeight;
    return best;
  }

  #pickRandom(hosts: readonly Host[]): Host {
    if (this.#equalWeights) return hosts[Math.floor(this.#rand() * hosts.length)] ?? hosts[0]!;
    let r = this.#rand() * this.#healthyWeight;
    for (let i = 0; i < hosts.length; i++) {
      const h = hosts[i]!;
      if (r < h.weight) return h;
      r -= h.weight;
    }
    return hosts[hosts.length - 1]!;
  }

  /** Envoy's power of two choices: the less loaded (by active / weight) of two random hosts. */
  #pickLeastRequest(hosts: readonly Host[]): Host {
    const n = hosts.length;
    const i = Math.floor(this.#rand() * n) % n;
    let j = Math.floor(this.#rand() * (n - 1)) % (n - 1);
    if (j >= i) j++;
    const a = hosts[i]!;
    const b = hosts[j]!;
    if (this.#equalWeights) return b.active < a.active ? b : a;
    return (b.active + 1) / b.weight < (a.active + 1) / a.weight ? b : a;
  }

  #eject(h: Host, od: OutlierDetection): void {
    const n = this.#hosts.length;
    // Envoy: no ejection past maxEjectionPercent of the hosts.
    if (((this.#ejectedCount + 1) * 100) / n > od.maxEjectionPercent) return;
    h.ejections++;
    const ms = Math.min(od.baseEjectionTimeMs * h.ejections, Math.max(MAX_EJECTION_MS, od.baseEjectionTimeMs));
    h.ejectedUntil = Date.now() + ms;
    h.consecutive5xx = 0;
    h.consecutiveGateway = 0;
    this.#rebuildHealthy();
  }

  #unejectExpired(): void {
    const now = Date.now();
    for (const h of this.#hosts) if (h.ejectedUntil !== 0 && h.ejectedUntil <= now) h.ejectedUntil = 0;
    this.#rebuildHealthy();
  }

  #rebuildHealthy(): void {
    const healthy: Host[] = [];
    let weight = 0;
    let ejected = 0;
    let next = Infinity;
    for (const h of this.#hosts) {
      if (h.ejectedUntil !== 0) {
        ejected++;
        if (h.ejectedUntil < next) next = h.ejectedUntil;
        continue;
      }
      healthy.push(h);
      weight += h.weight;
      h.currentWeight = 0;
    }
    this.#healthy = healthy;
    this.#healthyWeight = weight;
    this.#ejectedCount = ejected;
    this.#nextUneject = next;
    this.#equalWeights = healthy.every((h) => h.weight === healthy[0]!.weight);
  }

  #setHosts(hosts: Host[]): void {
    this.#hosts = hosts;
    this.#generation++;
    this.#rebuildHealthy();
  }

  /** Resolves every endpoint name once, swaps the list, and schedules the next refresh. */
  async #refresh(): Promise<void> {
    if (this.#closed) return;
    let minTtl = Infinity;
    let failed = false;
    let dnsError: DnsError | undefined;
    await Promise.all(
      this.#names.map(async (n) => {
        try {
          const r = await this.#resolver.lookup(n.name);
          n.addresses = this.cluster.type === 'LOGICAL_DNS' ? r.addresses.slice(0, 1) : r.addresses;
          if (r.ttlMs < minTtl) minTtl = r.ttlMs;
        } catch (err) {
          // Keep the last good addresses (Envoy keeps its hosts when a refresh fails).
          failed = true;
          if (err instanceof DnsError) dnsError = err;
        }
      }),
    );
    if (this.#closed) return;
    this.#applyNames();
    this.dnsFailure = this.#hosts.length === 0 ? dnsError : undefined;
    const base = this.cluster.dnsRefreshRateMs ?? DEFAULT_REFRESH_MS;
    let delay = Number.isFinite(minTtl) && minTtl > 0 ? minTtl : base;
    if (failed) delay = Math.min(delay, base);
    delay = Math.max(MIN_REFRESH_MS, Math.min(delay, 0x7fffffff));
    if (!failed && !Number.isFinite(minTtl) && this.#names.every((n) => ipLiteral(n.name) !== undefined)) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#refresh();
    }, delay);
    this.#timer.unref();
  }

  #applyNames(): void {
    const old = new Map<string, Host>();
    for (const h of this.#hosts) old.set(h.key, h);
    const next: Host[] = [];
    const seen = new Set<string>();
    for (const n of this.#names) {
      const literal = ipLiteral(n.name);
      for (const a of n.addresses) {
        const hostname = literal === undefined ? n.name : undefined;
        const key = `${a}|${n.port}|${hostname ?? ''}`;
        if (seen.has(key)) continue;
        seen.add(key);
        // Keep load and health for endpoints that survive the update.
        next.push(old.get(key) ?? new Host(a, n.port, hostname, n.weight));
      }
    }
    if (next.length === this.#hosts.length && next.every((h, i) => h === this.#hosts[i])) return;
    this.#setHosts(next);
  }
}
