// The egress view: what the dashboard shows, built as a pure function of the proxies' metrics,
// their sync state, the store's objects, analyzer findings and the latest problem requests.
// Graph: namespaces (compound nodes) holding workloads and proxies; proxies → egress gateways →
// external hosts, each edge with the counts of the proxy that sent the traffic (reporter=source).
import type { KubeObject } from '../../api/object.js';
import { groupOf } from '../../api/object.js';
import type { Finding } from '../../analyze/finding.js';
import type { ProxyStatusRow } from '../../proxyconfig/distribution/protocol.js';
import { hostMatches, labelsMatch } from '../../controlplane/hosts.js';
import { addBuckets, histogramQuantile, type Buckets, type Sample } from './prometheus.js';
import type { Problem } from './access-log.js';

export type NodeKind = 'namespace' | 'workload' | 'sidecar' | 'gateway' | 'service' | 'host' | 'blackhole' | 'passthrough';

export interface ViewNode {
  id: string;
  kind: NodeKind;
  label: string;
  /** The namespace compound node this one sits in. */
  parent?: string;
}

export interface Traffic {
  /** HTTP requests (istio_requests_total). */
  requests: number;
  /** TCP connections opened (istio_tcp_connections_opened_total): TLS passthrough and TCP. */
  connections: number;
  /** Requests plus connections per second since the previous collection (0 on the first). */
  rate: number;
  /** 5xx or no response, not counting denials. */
  errors: number;
  /** Blocked by the outbound policy (BlackHoleCluster, block_all) or refused by authorization (403). */
  denials: number;
  p50Ms?: number;
  p99Ms?: number;
}

export interface ViewEdge extends Traffic {
  id: string;
  source: string;
  target: string;
}

export interface HostRow extends Traffic {
  host: string;
  ports: string[];
  serviceEntries: string[];
  routes: string[];
  gateways: string[];
}

export interface RecentRequest {
  time: number;
  proxy: string;
  problem: Problem;
  code: number;
  flags: string;
  details: string;
  authority: string;
  cluster: string;
  route: string;
  line: string;
}

export type SyncState = 'SYNCED' | 'STALE' | 'STALE (NACK)' | 'NOT SENT';

export interface ProxyRow {
  id: string;
  role: 'sidecar' | 'router';
  namespace: string;
  workload: string;
  ready: boolean;
  state: string;
  sync: SyncState;
  nackError?: string;
  sentVersion: string;
  ackedVersion: string;
  /** Why the metrics could not be read this round. */
  scrapeError?: string;
}

export interface ConditionRow {
  /** The parent (route status) or listener (Gateway status) the condition is reported for. */
  scope?: string;
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export interface ObjectRow {
  kind: string;
  group: string;
  namespace?: string;
  name: string;
  conditions: ConditionRow[];
  findings: Array<{ code: string; level: string; message: string }>;
}

export interface EgressView {
  generatedAt: string;
  revision: string;
  nodes: ViewNode[];
  edges: ViewEdge[];
  hosts: HostRow[];
  recent: RecentRequest[];
  proxies: ProxyRow[];
  objects: ObjectRow[];
}

export interface ProxyInput {
  id: string;
  role: 'sidecar' | 'router';
  namespace: string;
  workload: string;
  labels: Record<string, string>;
  ready: boolean;
  state: string;
  /** Undefined when the scrape failed (see scrapeError). */
  samples?: Sample[];
  scrapeError?: string;
}

export interface ViewInput {
  now: number;
  revision: string;
  proxies: ProxyInput[];
  status: ProxyStatusRow[];
  objects: KubeObject[];
  findings: Finding[];
  recent: RecentRequest[];
}

/** Totals of the previous collection, for rates. */
export type RateMemory = Map<string, { at: number; total: number }>;

const ISTIO = 'networking.istio.io';
const GW_API = 'gateway.networking.k8s.io';
const MESH_SUFFIX = '.svc.cluster.local';
/** Kinds whose status and findings the dashboard puts next to them. */
const STATUS_KINDS = new Set([
  `${ISTIO}/ServiceEntry`,
  `${ISTIO}/Gateway`,
  `${ISTIO}/VirtualService`,
  `${ISTIO}/DestinationRule`,
  `${ISTIO}/Sidecar`,
  `${GW_API}/Gateway`,
  `${GW_API}/HTTPRoute`,
  `${GW_API}/GRPCRoute`,
  `${GW_API}/TLSRoute`,
  `${GW_API}/TCPRoute`,
  'security.istio.io/AuthorizationPolicy',
]);

export function syncStateOf(row: ProxyStatusRow | undefined): SyncState {
  if (!row || row.sentVersion === '') return 'NOT SENT';
  if (row.nackError) return 'STALE (NACK)';
  return row.synced ? 'SYNCED' : 'STALE';
}

interface Acc {
  requests: number;
  connections: number;
  errors: number;
  denials: number;
  buckets: Buckets;
}

const newAcc = (): Acc => ({ requests: 0, connections: 0, errors: 0, denials: 0, buckets: new Map() });

function merge(into: Acc, from: Acc): void {
  into.requests += from.requests;
  into.connections += from.connections;
  into.errors += from.errors;
  into.denials += from.denials;
  for (const [le, c] of from.buckets) addBuckets(into.buckets, le, c);
}

function traffic(acc: Acc, key: string, now: number, previous: RateMemory, next: RateMemory): Traffic {
  const total = acc.requests + acc.connections;
  const before = previous.get(key);
  next.set(key, { at: now, total });
  const dt = before ? (now - before.at) / 1000 : 0;
  const rate = before && dt > 0 && total >= before.total ? (total - before.total) / dt : 0;
  const p50 = histogramQuantile(0.5, acc.buckets);
  const p99 = histogramQuantile(0.99, acc.buckets);
  return {
    requests: acc.requests,
    connections: acc.connections,
    rate: round(rate),
    errors: acc.errors,
    denials: acc.denials,
    ...(p50 !== undefined ? { p50Ms: round(p50) } : {}),
    ...(p99 !== undefined ? { p99Ms: round(p99) } : {}),
  };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function rec(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function kindOf(o: KubeObject): string {
  return `${groupOf(o.apiVersion)}/${o.kind}`;
}

function nsName(o: KubeObject): string {
  return o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;
}

/** Where the traffic of one series went: a node id (created on demand), or undefined to leave it out. */
type TargetOf = (labels: Record<string, string>) => string | undefined;

export function buildView(input: ViewInput, previous: RateMemory = new Map()): { view: EgressView; rates: RateMemory } {
  const rates: RateMemory = new Map();
  const nodes = new Map<string, ViewNode>();
  const addNode = (n: ViewNode): string => {
    if (!nodes.has(n.id)) nodes.set(n.id, n);
    if (n.parent && !nodes.has(n.parent)) nodes.set(n.parent, { id: n.parent, kind: 'namespace', label: n.parent.slice('ns:'.length) });
    return n.id;
  };
  const byKind = (group: string, kind: string): KubeObject[] => input.objects.filter((o) => o.kind === kind && groupOf(o.apiVersion) === group);

  // Proxies, grouped by workload (a gateway's replicas are one node).
  const proxyNode = (p: { namespace: string; workload: string; role: 'sidecar' | 'router' }): string =>
    addNode({
      id: `px:${p.namespace}/${p.workload}`,
      kind: p.role === 'router' ? 'gateway' : 'sidecar',
      label: p.role === 'router' || p.workload === 'sidecar' ? p.workload : `${p.workload} sidecar`,
      parent: `ns:${p.namespace}`,
    });
  for (const p of input.proxies) proxyNode(p);

  // The Services in front of gateways: sidecars' traffic to them is traffic to that gateway.
  const gatewayByServiceHost = new Map<string, string>();
  for (const svc of byKind('', 'Service')) {
    const selector = rec(rec(svc.spec)['selector']) as Record<string, string>;
    if (Object.keys(selector).length === 0) continue;
    const router = input.proxies.find((p) => p.role === 'router' && p.namespace === svc.metadata.namespace && labelsMatch(selector, p.labels));
    if (router) gatewayByServiceHost.set(`${svc.metadata.name}.${svc.metadata.namespace}${MESH_SUFFIX}`, `px:${router.namespace}/${router.workload}`);
  }

  // Workloads (Deployments other than gateways) sit beside the sidecar of their namespace.
  const routerWorkloads = new Set(input.proxies.filter((p) => p.role === 'router').map((p) => `${p.namespace}/${p.workload}`));
  const workloadEdges: Array<{ from: string; to: string }> = [];
  for (const d of byKind('apps', 'Deployment')) {
    const ns = d.metadata.namespace ?? 'default';
    if (routerWorkloads.has(`${ns}/${d.metadata.name}`)) continue;
    const sidecars = input.proxies.filter((p) => p.role === 'sidecar' && p.namespace === ns);
    if (sidecars.length === 0) continue;
    const id = addNode({ id: `wl:${ns}/${d.metadata.name}`, kind: 'workload', label: d.metadata.name, parent: `ns:${ns}` });
    // A pod's own sidecar (netns model) when there is one, else the namespace's shared sidecar.
    const own = sidecars.find((s) => s.workload === d.metadata.name) ?? sidecars[0]!;
    workloadEdges.push({ from: id, to: proxyNode(own) });
  }

  const targetOf: TargetOf = (l) => {
    const name = l['destination_service_name'] ?? '';
    if (name === 'BlackHoleCluster') return addNode({ id: 'blackhole', kind: 'blackhole', label: 'BlackHoleCluster (blocked)' });
    if (name === 'PassthroughCluster') return addNode({ id: 'passthrough', kind: 'passthrough', label: 'PassthroughCluster (any host)' });
    const service = l['destination_service'] ?? 'unknown';
    if (service === 'unknown' || service === '') return undefined;
    const gw = gatewayByServiceHost.get(service);
    if (gw) return gw;
    if (service.endsWith(MESH_SUFFIX)) {
      const ns = l['destination_service_namespace'];
      return addNode({
        id: `svc:${service}`,
        kind: 'service',
        label: l['destination_service_name'] ?? service,
        ...(ns && ns !== 'unknown' ? { parent: `ns:${ns}` } : {}),
      });
    }
    return addNode({ id: `host:${service}`, kind: 'host', label: service });
  };

  // Edges from each proxy's own (source-reported) series.
  const edgeAcc = new Map<string, { source: string; target: string; acc: Acc }>();
  const accFor = (source: string, target: string): Acc => {
    const key = `${source}->${target}`;
    let e = edgeAcc.get(key);
    if (!e) edgeAcc.set(key, (e = { source, target, acc: newAcc() }));
    return e.acc;
  };
  for (const p of input.proxies) {
    const source = proxyNode(p);
    for (const s of p.samples ?? []) {
      if (s.labels['reporter'] !== undefined && s.labels['reporter'] !== 'source') continue;
      const isReq = s.name === 'istio_requests_total';
      const isBucket = s.name === 'istio_request_duration_milliseconds_bucket';
      const isTcp = s.name === 'istio_tcp_connections_opened_total';
      if (!isReq && !isBucket && !isTcp) continue;
      const target = targetOf(s.labels);
      if (!target) continue;
      const acc = accFor(source, target);
      if (isBucket) {
        const le = s.labels['le'] === '+Inf' ? Infinity : Number(s.labels['le']);
        if (!Number.isNaN(le)) addBuckets(acc.buckets, le, s.value);
        continue;
      }
      if (isTcp) {
        acc.connections += s.value;
        if (target === 'blackhole') acc.denials += s.value;
        continue;
      }
      acc.requests += s.value;
      const code = Number(s.labels['response_code'] ?? '0');
      if (target === 'blackhole' || code === 403) acc.denials += s.value;
      else if (code >= 500 || code === 0) acc.errors += s.value;
    }
  }

  const edges: ViewEdge[] = [];
  const hostAcc = new Map<string, Acc>();
  for (const [key, e] of edgeAcc) {
    edges.push({ id: key, source: e.source, target: e.target, ...traffic(e.acc, key, input.now, previous, rates) });
    if (e.target.startsWith('host:')) {
      const h = e.target.slice('host:'.length);
      let acc = hostAcc.get(h);
      if (!acc) hostAcc.set(h, (acc = newAcc()));
      merge(acc, e.acc);
    }
  }
  for (const w of workloadEdges)
    edges.push({ id: `${w.from}->${w.to}`, source: w.from, target: w.to, requests: 0, connections: 0, rate: 0, errors: 0, denials: 0 });

  const hosts = hostRows(input, hostAcc, previous, rates, (h) => addNode({ id: `host:${h}`, kind: 'host', label: h }));
  const statusByKey = new Map(input.status.map((r) => [r.id, r]));
  const proxies: ProxyRow[] = input.proxies
    .map((p) => {
      const row = statusByKey.get(p.id);
      return {
        id: p.id,
        role: p.role,
        namespace: p.namespace,
        workload: p.workload,
        ready: p.ready,
        state: p.state,
        sync: syncStateOf(row),
        sentVersion: row?.sentVersion ?? '',
        ackedVersion: row?.ackedVersion ?? '',
        ...(row?.nackError ? { nackError: row.nackError } : {}),
        ...(p.scrapeError ? { scrapeError: p.scrapeError } : {}),
      };
    })
    .sort((a, b) => a.id.localeCompare(b.id));

  return {
    view: {
      generatedAt: new Date(input.now).toISOString(),
      revision: input.revision,
      nodes: [...nodes.values()].sort((a, b) => a.id.localeCompare(b.id)),
      edges: edges.sort((a, b) => a.id.localeCompare(b.id)),
      hosts,
      recent: [...input.recent].sort((a, b) => b.time - a.time),
      proxies,
      objects: objectRows(input),
    },
    rates,
  };
}

/** Every host a ServiceEntry names or traffic went to, with what carries it. */
function hostRows(input: ViewInput, hostAcc: Map<string, Acc>, previous: RateMemory, rates: RateMemory, ensureNode: (h: string) => void): HostRow[] {
  const of = (group: string, kind: string): KubeObject[] => input.objects.filter((o) => o.kind === kind && groupOf(o.apiVersion) === group);
  const serviceEntries = of(ISTIO, 'ServiceEntry');
  const rows = new Map<string, { ports: Set<string>; se: Set<string> }>();
  const row = (h: string): { ports: Set<string>; se: Set<string> } => {
    let r = rows.get(h);
    if (!r) rows.set(h, (r = { ports: new Set(), se: new Set() }));
    return r;
  };
  for (const se of serviceEntries) {
    const spec = rec(se.spec);
    for (const h of arr(spec['hosts'])) {
      if (typeof h !== 'string') continue;
      const r = row(h);
      r.se.add(nsName(se));
      for (const p of arr(spec['ports'])) {
        const port = rec(p);
        if (typeof port['number'] === 'number') r.ports.add(`${port['number']}/${str(port['protocol']) ?? 'TCP'}`);
      }
    }
  }
  for (const h of hostAcc.keys()) row(h);

  const virtualServices = of(ISTIO, 'VirtualService');
  const istioGateways = of(ISTIO, 'Gateway');
  const routeKinds = ['HTTPRoute', 'GRPCRoute', 'TLSRoute', 'TCPRoute'].flatMap((k) => of(GW_API, k));
  const out: HostRow[] = [];
  for (const [host, r] of rows) {
    const routes = new Set<string>();
    const gateways = new Set<string>();
    for (const vs of virtualServices) {
      const spec = rec(vs.spec);
      if (!arr(spec['hosts']).some((h) => typeof h === 'string' && (hostMatches(h, host) || hostMatches(host, h)))) continue;
      routes.add(`VirtualService ${nsName(vs)}`);
      for (const g of arr(spec['gateways'])) {
        if (typeof g !== 'string' || g === 'mesh') continue;
        const [gns, gname] = g.includes('/') ? g.split('/', 2) : [vs.metadata.namespace ?? 'default', g];
        gateways.add(`Gateway ${gns}/${gname}`);
      }
    }
    for (const gw of istioGateways) {
      for (const server of arr(rec(gw.spec)['servers'])) {
        const hosts = arr(rec(server)['hosts'])
          .filter((h): h is string => typeof h === 'string')
          .map((h) => (h.includes('/') ? h.slice(h.indexOf('/') + 1) : h));
        if (hosts.some((h) => hostMatches(h, host))) gateways.add(`Gateway ${nsName(gw)}`);
      }
    }
    for (const rt of routeKinds) {
      const spec = rec(rt.spec);
      const parents = arr(spec['parentRefs']).map(rec);
      const viaServiceEntry = parents.some(
        (p) => p['kind'] === 'ServiceEntry' && [...r.se].includes(`${str(p['namespace']) ?? rt.metadata.namespace}/${str(p['name'])}`),
      );
      const byHostname = arr(spec['hostnames']).some((h) => typeof h === 'string' && hostMatches(h, host));
      const toHost = arr(spec['rules']).some((rule) => arr(rec(rule)['backendRefs']).some((b) => rec(b)['kind'] === 'Hostname' && rec(b)['name'] === host));
      if (!viaServiceEntry && !byHostname && !toHost) continue;
      routes.add(`${rt.kind} ${nsName(rt)}`);
      for (const p of parents)
        if ((p['kind'] ?? 'Gateway') === 'Gateway') gateways.add(`Gateway ${str(p['namespace']) ?? rt.metadata.namespace}/${str(p['name'])} (Gateway API)`);
    }
    ensureNode(host);
    out.push({
      host,
      ports: [...r.ports].sort(),
      serviceEntries: [...r.se].sort(),
      routes: [...routes].sort(),
      gateways: [...gateways].sort(),
      ...traffic(hostAcc.get(host) ?? newAcc(), `host:${host}`, input.now, previous, rates),
    });
  }
  return out.sort((a, b) => a.host.localeCompare(b.host));
}

function conditionsOf(list: unknown, scope?: string): ConditionRow[] {
  return arr(list)
    .map(rec)
    .map((c) => ({
      ...(scope ? { scope } : {}),
      type: str(c['type']) ?? '?',
      status: str(c['status']) ?? '?',
      ...(str(c['reason']) ? { reason: str(c['reason'])! } : {}),
      ...(str(c['message']) ? { message: str(c['message'])! } : {}),
    }));
}

/** Egress-related objects with their status conditions, and every object an analyzer has something to say about. */
function objectRows(input: ViewInput): ObjectRow[] {
  const key = (kind: string, ns: string | undefined, name: string): string => `${kind}/${ns ?? ''}/${name}`;
  const findings = new Map<string, ObjectRow['findings']>();
  for (const f of input.findings) {
    const k = key(f.resource.kind, f.resource.namespace, f.resource.name);
    let list = findings.get(k);
    if (!list) findings.set(k, (list = []));
    list.push({ code: f.code, level: f.level, message: f.message });
  }
  const rows: ObjectRow[] = [];
  const seen = new Set<string>();
  for (const o of input.objects) {
    const k = key(o.kind, o.metadata.namespace, o.metadata.name);
    const f = findings.get(k) ?? [];
    if (!STATUS_KINDS.has(kindOf(o)) && f.length === 0) continue;
    seen.add(k);
    const status = rec(o.status);
    const conditions = [
      ...conditionsOf(status['conditions']),
      ...arr(status['parents'])
        .map(rec)
        .flatMap((p) =>
          conditionsOf(
            p['conditions'],
            `parent ${str(rec(p['parentRef'])['kind']) ?? 'Gateway'} ${str(rec(p['parentRef'])['namespace']) ?? o.metadata.namespace}/${str(rec(p['parentRef'])['name'])}`,
          ),
        ),
      ...arr(status['listeners'])
        .map(rec)
        .flatMap((l) => conditionsOf(l['conditions'], `listener ${str(l['name'])}`)),
    ];
    rows.push({
      kind: o.kind,
      group: groupOf(o.apiVersion),
      ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
      name: o.metadata.name,
      conditions,
      findings: f,
    });
  }
  // Findings about objects that are not in the store (a missing reference's owner is, but be safe).
  for (const f of input.findings) {
    const k = key(f.resource.kind, f.resource.namespace, f.resource.name);
    if (seen.has(k)) continue;
    seen.add(k);
    rows.push({
      kind: f.resource.kind,
      group: '',
      ...(f.resource.namespace ? { namespace: f.resource.namespace } : {}),
      name: f.resource.name,
      conditions: [],
      findings: findings.get(k) ?? [],
    });
  }
  return rows.sort((a, b) => a.kind.localeCompare(b.kind) || (a.namespace ?? '').localeCompare(b.namespace ?? '') || a.name.localeCompare(b.name));
}
