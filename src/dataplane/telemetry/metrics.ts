// Istio's standard metrics (istio_requests_total, durations, sizes, TCP bytes and connections) as
// Prometheus text, with Istio's names, label order and Envoy's default histogram buckets.
// The hot path is a Map lookup by a short key and a few array increments.

import { readFileSync } from 'node:fs';
import type { Cluster, ProxyIdentity } from '../../proxyconfig/types.js';
import { PASSTHROUGH_CLUSTER, BLACKHOLE_CLUSTER } from '../../proxyconfig/types.js';
import { parseClusterName } from '../../proxyconfig/naming.js';

/** Envoy's default histogram buckets (ms for durations, bytes for sizes). */
export const ENVOY_DEFAULT_BUCKETS: readonly number[] = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
];
/** The `le` values as Envoy prints them (six significant digits, like %g). */
const BUCKET_LABELS = ENVOY_DEFAULT_BUCKETS.map(formatG);

const UNKNOWN = 'unknown';

export interface RequestRecord {
  cluster: Cluster | undefined;
  clusterName: string;
  protocol: 'http' | 'grpc';
  responseCode: number;
  responseFlags: string;
  durationMs: number;
  requestBytes: number;
  responseBytes: number;
  grpcStatus?: string | undefined;
  /** The caller's SPIFFE ID when the request came over mesh mTLS. */
  peerUriSan?: string | undefined;
}

/** Envoy's RBAC filter outcomes (HTTP filter `http`, network filter `tcp`). */
export type RbacOutcome = 'allowed' | 'denied' | 'logged' | 'shadow_denied';

class Histogram {
  /** Per-bucket counts (not cumulative); the last slot is +Inf. */
  readonly counts = new Float64Array(ENVOY_DEFAULT_BUCKETS.length + 1);
  sum = 0;
  count = 0;

  observe(v: number): void {
    const b = ENVOY_DEFAULT_BUCKETS;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }
}

class HttpSeries {
  requests = 0;
  readonly duration = new Histogram();
  readonly requestBytes = new Histogram();
  readonly responseBytes = new Histogram();
  constructor(readonly labels: string) {}
}

class TcpSeries {
  opened = 0;
  closed = 0;
  sent = 0;
  received = 0;
  constructor(readonly labels: string) {}
}

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/** %g with six significant digits, as Envoy prints bucket bounds (`1.8e+06`). */
export function formatG(x: number): string {
  if (x === 0) return '0';
  const exp = Math.floor(Math.log10(Math.abs(x)));
  if (exp < -4 || exp >= 6) {
    const [mant, e] = x.toExponential(5).split('e');
    const m = mant!.replace(/\.?0+$/, '');
    const n = Number(e);
    return `${m}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  }
  return String(Number(x.toPrecision(6)));
}

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? UNKNOWN;
  } catch {
    return UNKNOWN;
  }
}

/** A histogram as plain data (IPC between worker processes). */
export interface HistogramData {
  counts: number[];
  sum: number;
  count: number;
}

/** The series of one process, as plain data: workers send it, the primary adds them up. */
export interface MetricsSnapshot {
  http: Array<{ labels: string; requests: number; duration: HistogramData; requestBytes: HistogramData; responseBytes: HistogramData }>;
  tcp: Array<{ labels: string; opened: number; closed: number; sent: number; received: number }>;
  rbac?: Record<string, number>;
  /** Labelled counters by series text (`name{labels}`). */
  counters?: Record<string, number>;
}

function histData(h: Histogram): HistogramData {
  return { counts: Array.from(h.counts), sum: h.sum, count: h.count };
}

function addHist(h: Histogram, d: HistogramData): void {
  for (let i = 0; i < h.counts.length && i < d.counts.length; i++) h.counts[i]! += d.counts[i]!;
  h.sum += d.sum;
  h.count += d.count;
}

export class ProxyMetrics {
  readonly #source: string;
  /** #source with source_principal set to a caller's SPIFFE ID, by ID (bounded). */
  readonly #sourceByPeer = new Map<string, string>();
  readonly #rbac = new Map<string, number>();
  /** Labelled counters of outpost's own (SSRF guard) by series text. */
  readonly #counters = new Map<string, number>();
  readonly #tag: string;
  /** Per cluster name: the destination labels up to request_protocol. */
  readonly #destLabels = new Map<string, string>();
  readonly #http = new Map<string, HttpSeries>();
  /**
   * The common case (HTTP, no flags, no gRPC status) by cluster, then the peer's URI SAN ('' in
   * plain text), then code: no key string per request (the names are the config's and the
   * connection's own strings, whose hashes V8 keeps).
   */
  readonly #plain = new Map<string, Map<string, Map<number, HttpSeries>>>();
  readonly #tcp = new Map<string, TcpSeries>();

  constructor(identity: ProxyIdentity, opts: { tag?: string } = {}) {
    this.#tag = opts.tag ?? readVersion();
    const labels = identity.labels ?? {};
    const app = labels['app'] ?? labels['app.kubernetes.io/name'];
    const version = labels['version'] ?? labels['app.kubernetes.io/version'];
    const canonical = labels['service.istio.io/canonical-name'] ?? app ?? identity.workload;
    const revision = labels['service.istio.io/canonical-revision'] ?? version ?? 'latest';
    this.#source =
      `reporter="source",source_workload="${esc(identity.workload)}",source_workload_namespace="${esc(identity.namespace)}",` +
      `source_principal="${UNKNOWN}",source_app="${esc(app ?? UNKNOWN)}",source_version="${esc(version ?? UNKNOWN)}",` +
      `source_canonical_service="${esc(canonical)}",source_canonical_revision="${esc(revision)}",source_cluster="Kubernetes"`;
  }

  /** The source labels: the proxy's own, with the mTLS caller's principal when there is one. */
  #sourceFor(peer: string | undefined): string {
    if (peer === undefined) return this.#source;
    let s = this.#sourceByPeer.get(peer);
    if (s === undefined) {
      s = this.#source.replace(`source_principal="${UNKNOWN}"`, `source_principal="${esc(peer)}"`);
      if (this.#sourceByPeer.size < 10_000) this.#sourceByPeer.set(peer, s);
    }
    return s;
  }

  /** Counts an authorization outcome (`envoy_http_rbac_denied`, `envoy_tcp_rbac_allowed`, …). */
  rbac(filter: 'http' | 'tcp', outcome: RbacOutcome): void {
    const k = `envoy_${filter}_rbac_${outcome}`;
    this.#rbac.set(k, (this.#rbac.get(k) ?? 0) + 1);
  }

  /**
   * Counts an SSRF guard verdict: `outpost_ssrf_guard_total{decision="denied"|"would_deny",reason=…,protocol="http"|"tcp"}`.
   * Reasons come from config, so the series stay few.
   */
  ssrf(decision: 'denied' | 'would_deny', reason: string, protocol: 'http' | 'tcp'): void {
    const k = `outpost_ssrf_guard_total{decision="${decision}",reason="${esc(reason)}",protocol="${protocol}"}`;
    this.#counters.set(k, (this.#counters.get(k) ?? 0) + 1);
  }

  #dest(cluster: Cluster | undefined, clusterName: string): string {
    let d = this.#destLabels.get(clusterName);
    if (d !== undefined) return d;
    let service = UNKNOWN;
    let name = UNKNOWN;
    let namespace = UNKNOWN;
    if (cluster?.service !== undefined) {
      service = cluster.service.host;
      name = cluster.service.name;
      namespace = cluster.service.namespace;
    } else if (clusterName === PASSTHROUGH_CLUSTER || clusterName === BLACKHOLE_CLUSTER) {
      // Istio names the passthrough/blackhole cluster as the destination service name.
      name = clusterName;
    } else {
      const parsed = parseClusterName(clusterName);
      if (parsed !== undefined) service = name = parsed.host;
    }
    d =
      `,destination_workload="${UNKNOWN}",destination_workload_namespace="${UNKNOWN}",destination_principal="${UNKNOWN}",` +
      `destination_app="${UNKNOWN}",destination_version="${UNKNOWN}",destination_service="${esc(service)}",` +
      `destination_service_name="${esc(name)}",destination_service_namespace="${esc(namespace)}",` +
      `destination_canonical_service="${UNKNOWN}",destination_canonical_revision="latest",destination_cluster="${UNKNOWN}"`;
    // Bounded: cluster names come from config, but unknown names (NC) come from requests.
    if (this.#destLabels.size < 10_000) this.#destLabels.set(clusterName, d);
    return d;
  }

  recordRequest(r: RequestRecord): void {
    const flags = r.responseFlags || '-';
    const grpc = r.grpcStatus ?? '';
    const plain = flags === '-' && grpc === '' && r.protocol === 'http';
    const peer = r.peerUriSan ?? '';
    let byPeer: Map<string, Map<number, HttpSeries>> | undefined;
    let byCode: Map<number, HttpSeries> | undefined;
    let s: HttpSeries | undefined;
    if (plain) {
      byPeer = this.#plain.get(r.clusterName);
      byCode = byPeer?.get(peer);
      s = byCode?.get(r.responseCode);
    }
    if (s === undefined) s = this.#series(r, flags, grpc);
    if (plain) {
      // Bounded like #destLabels: unknown cluster names come from requests, peers from certificates.
      if (byPeer === undefined && this.#plain.size < 10_000) this.#plain.set(r.clusterName, (byPeer = new Map()));
      if (byPeer !== undefined && byCode === undefined && byPeer.size < 1000) byPeer.set(peer, (byCode = new Map()));
      if (byCode !== undefined && byCode.size < 1000) byCode.set(r.responseCode, s);
    }
    s.requests++;
    s.duration.observe(r.durationMs);
    s.requestBytes.observe(r.requestBytes);
    s.responseBytes.observe(r.responseBytes);
  }

  #series(r: RequestRecord, flags: string, grpc: string): HttpSeries {
    const peer = r.peerUriSan;
    const key = `${r.clusterName}\u0000${r.protocol}\u0000${r.responseCode}\u0000${flags}\u0000${grpc}\u0000${peer ?? ''}`;
    let s = this.#http.get(key);
    if (s === undefined) {
      s = new HttpSeries(
        `${this.#sourceFor(peer)}${this.#dest(r.cluster, r.clusterName)},request_protocol="${r.protocol}",response_flags="${esc(flags)}",` +
          `connection_security_policy="${peer === undefined ? UNKNOWN : 'mutual_tls'}",response_code="${r.responseCode}",grpc_response_status="${esc(grpc)}"`,
      );
      this.#http.set(key, s);
    }
    return s;
  }

  #tcpSeries(cluster: Cluster | undefined, clusterName: string, flags: string, peer: string | undefined): TcpSeries {
    const key = `${clusterName}\u0000${flags}\u0000${peer ?? ''}`;
    let s = this.#tcp.get(key);
    if (s === undefined) {
      s = new TcpSeries(
        `${this.#sourceFor(peer)}${this.#dest(cluster, clusterName)},request_protocol="tcp",response_flags="${esc(flags)}",connection_security_policy="${peer === undefined ? UNKNOWN : 'mutual_tls'}"`,
      );
      this.#tcp.set(key, s);
    }
    return s;
  }

  tcpOpened(cluster: Cluster | undefined, clusterName: string, peerUriSan?: string): void {
    // Flags are unknown when a connection opens; Istio reports `-` there.
    this.#tcpSeries(cluster, clusterName, '-', peerUriSan).opened++;
  }

  tcpClosed(cluster: Cluster | undefined, clusterName: string, sentBytes: number, receivedBytes: number, responseFlags: string, peerUriSan?: string): void {
    const s = this.#tcpSeries(cluster, clusterName, responseFlags || '-', peerUriSan);
    s.closed++;
    s.sent += sentBytes;
    s.received += receivedBytes;
  }

  /** This process's series as plain data. */
  snapshot(): MetricsSnapshot {
    return {
      http: [...this.#http.values()].map((x) => ({
        labels: x.labels,
        requests: x.requests,
        duration: histData(x.duration),
        requestBytes: histData(x.requestBytes),
        responseBytes: histData(x.responseBytes),
      })),
      tcp: [...this.#tcp.values()].map((x) => ({ labels: x.labels, opened: x.opened, closed: x.closed, sent: x.sent, received: x.received })),
      ...(this.#rbac.size > 0 ? { rbac: Object.fromEntries(this.#rbac) } : {}),
      ...(this.#counters.size > 0 ? { counters: Object.fromEntries(this.#counters) } : {}),
    };
  }

  /** Adds another process's series (same label set: same series). */
  absorb(snap: MetricsSnapshot): void {
    for (const h of snap.http) {
      let x = this.#http.get(h.labels);
      if (x === undefined) this.#http.set(h.labels, (x = new HttpSeries(h.labels)));
      x.requests += h.requests;
      addHist(x.duration, h.duration);
      addHist(x.requestBytes, h.requestBytes);
      addHist(x.responseBytes, h.responseBytes);
    }
    for (const c of snap.tcp) {
      let x = this.#tcp.get(c.labels);
      if (x === undefined) this.#tcp.set(c.labels, (x = new TcpSeries(c.labels)));
      x.opened += c.opened;
      x.closed += c.closed;
      x.sent += c.sent;
      x.received += c.received;
    }
    this.#absorbRbac(snap.rbac);
    this.#absorbCounters(snap.counters);
  }

  #absorbRbac(r: Record<string, number> | undefined): void {
    if (r === undefined) return;
    for (const [k, v] of Object.entries(r)) this.#rbac.set(k, (this.#rbac.get(k) ?? 0) + v);
  }

  #absorbCounters(c: Record<string, number> | undefined): void {
    if (c === undefined) return;
    for (const [k, v] of Object.entries(c)) this.#counters.set(k, (this.#counters.get(k) ?? 0) + v);
  }

  /** The /stats/prometheus body. */
  render(): string {
    const out: string[] = [];
    out.push('# TYPE istio_build gauge', `istio_build{component="proxy",tag="${esc(this.#tag)}"} 1`);
    if (this.#http.size > 0) {
      const series = [...this.#http.values()];
      out.push('# TYPE istio_requests_total counter');
      for (const s of series) out.push(`istio_requests_total{${s.labels}} ${s.requests}`);
      renderHistogram(out, 'istio_request_bytes', series, (s) => s.requestBytes);
      renderHistogram(out, 'istio_request_duration_milliseconds', series, (s) => s.duration);
      renderHistogram(out, 'istio_response_bytes', series, (s) => s.responseBytes);
    }
    if (this.#tcp.size > 0) {
      const series = [...this.#tcp.values()];
      // A series appears in a counter once that counter moved (opened uses flags `-`, the rest the close's flags).
      const counter = (name: string, get: (s: TcpSeries) => number, onlyClosed: boolean): void => {
        const rows = series.filter((s) => (onlyClosed ? s.closed > 0 : s.opened > 0));
        if (rows.length === 0) return;
        out.push(`# TYPE ${name} counter`);
        for (const s of rows) out.push(`${name}{${s.labels}} ${get(s)}`);
      };
      counter('istio_tcp_connections_closed_total', (s) => s.closed, true);
      counter('istio_tcp_connections_opened_total', (s) => s.opened, false);
      counter('istio_tcp_received_bytes_total', (s) => s.received, true);
      counter('istio_tcp_sent_bytes_total', (s) => s.sent, true);
    }
    for (const [k, v] of [...this.#rbac.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) out.push(`# TYPE ${k} counter`, `${k} ${v}`);
    let lastName = '';
    for (const [k, v] of [...this.#counters.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const name = k.slice(0, k.indexOf('{'));
      if (name !== lastName) out.push(`# TYPE ${name} counter`);
      lastName = name;
      out.push(`${k} ${v}`);
    }
    return out.join('\n') + '\n';
  }
}

function renderHistogram(out: string[], name: string, series: readonly HttpSeries[], get: (s: HttpSeries) => Histogram): void {
  out.push(`# TYPE ${name} histogram`);
  for (const s of series) {
    const h = get(s);
    let cum = 0;
    for (let i = 0; i < BUCKET_LABELS.length; i++) {
      cum += h.counts[i]!;
      out.push(`${name}_bucket{${s.labels},le="${BUCKET_LABELS[i]}"} ${cum}`);
    }
    out.push(`${name}_bucket{${s.labels},le="+Inf"} ${h.count}`);
    out.push(`${name}_sum{${s.labels}} ${h.sum}`);
    out.push(`${name}_count{${s.labels}} ${h.count}`);
  }
}
