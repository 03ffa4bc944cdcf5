// Registry services + DestinationRules → clusters: `outbound|port|subset|host`, discovery type, endpoints, TLS origination, pools.
import type { KubeObject } from '../../api/object.js';
import { istioMutualSni, outboundClusterName } from '../../proxyconfig/naming.js';
import { BLACKHOLE_CLUSTER, PASSTHROUGH_CLUSTER, type Cluster, type ClusterService, type ConnectionPool, type Endpoint, type OutlierDetection, type UpstreamTls } from '../../proxyconfig/types.js';
import type { MeshSnapshot } from '../snapshot.js';
import { ageKey, arr, num, rec, str, strArr, strMap, type Rec } from '../fields.js';
import { durationMs, hostMatches, isExportedTo, isWildcard, labelsMatch, resolveShortName } from '../hosts.js';
import { isHttpProtocol, type MeshService, type ServicePort } from '../registry/index.js';
import { upstreamMaterial, type CredentialLookup, type MaterialResult } from './tls-material.js';

export type { PemReader } from './tls-material.js';

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export const PASSTHROUGH: Cluster = Object.freeze({
  name: PASSTHROUGH_CLUSTER, type: 'ORIGINAL_DST', endpoints: Object.freeze([]), lbPolicy: 'ROUND_ROBIN', connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_MS, protocol: 'TCP',
} as const);
export const BLACKHOLE: Cluster = Object.freeze({
  name: BLACKHOLE_CLUSTER, type: 'STATIC', endpoints: Object.freeze([]), lbPolicy: 'ROUND_ROBIN', connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_MS, protocol: 'TCP',
} as const);

interface DestinationRuleEntry {
  readonly obj: KubeObject;
  readonly host: string;
  readonly namespace: string;
  readonly age: string;
}

/** DestinationRules indexed for "which rule applies to this host, seen from this proxy". */
export class DestinationRuleIndex {
  private readonly exact = new Map<string, DestinationRuleEntry[]>();
  private readonly wildcard: DestinationRuleEntry[] = [];

  constructor(snapshot: MeshSnapshot) {
    const all = snapshot.of('networking.istio.io', 'DestinationRule').map((obj) => {
      const ns = obj.metadata.namespace ?? 'default';
      return { obj, host: resolveShortName(str(rec(obj.spec).host) ?? '', ns), namespace: ns, age: ageKey(obj.metadata) };
    }).sort((a, b) => (a.age < b.age ? -1 : a.age > b.age ? 1 : 0));
    for (const e of all) {
      if (isWildcard(e.host)) this.wildcard.push(e);
      else {
        let list = this.exact.get(e.host);
        if (!list) this.exact.set(e.host, (list = []));
        list.push(e);
      }
    }
    this.wildcard.sort((a, b) => b.host.length - a.host.length);
  }

  /**
   * The rule for `host`: an exact host beats a wildcard (longest first); among equals the proxy's
   * own namespace, then the service's, then the oldest.
   */
  lookup(host: string, proxyNamespace: string, serviceNamespace: string, proxyLabels: Readonly<Record<string, string>>): KubeObject | undefined {
    const usable = (e: DestinationRuleEntry) => {
      const spec = rec(e.obj.spec);
      if (!isExportedTo(strArr(spec.exportTo), e.namespace, proxyNamespace)) return false;
      const ws = rec(spec.workloadSelector);
      if (ws.matchLabels !== undefined) return e.namespace === proxyNamespace && labelsMatch(strMap(ws.matchLabels), proxyLabels);
      return true;
    };
    const pick = (list: readonly DestinationRuleEntry[]) => {
      const ok = list.filter(usable);
      const e = ok.find((x) => x.namespace === proxyNamespace) ?? ok.find((x) => x.namespace === serviceNamespace) ?? ok[0];
      return e && this.merged(e, ok);
    };
    const exact = this.exact.get(host);
    if (exact) {
      const e = pick(exact);
      if (e) return e;
    }
    const wild = this.wildcard.filter((e) => hostMatches(e.host, host));
    return wild.length ? pick(wild) : undefined;
  }

  private readonly mergeCache = new Map<string, KubeObject>();

  /**
   * Istio merges the rules for one host within a namespace (both without a workloadSelector): the
   * oldest keeps its metadata and top-level policy, younger ones add subsets it lacks (and the
   * policy when it has none). So two tutorials' rules on one egress gateway Service both work.
   */
  private merged(chosen: DestinationRuleEntry, usable: readonly DestinationRuleEntry[]): KubeObject {
    const noSelector = (e: DestinationRuleEntry) => rec(rec(e.obj.spec).workloadSelector).matchLabels === undefined;
    if (!noSelector(chosen)) return chosen.obj;
    // `usable` is oldest first; the chosen rule's same-host, same-namespace peers merge into the oldest.
    const group = usable.filter((e) => e.namespace === chosen.namespace && e.host === chosen.host && noSelector(e));
    if (group.length < 2) return chosen.obj;
    const key = group.map((e) => `${e.namespace}/${e.obj.metadata.name}@${e.obj.metadata.resourceVersion ?? ''}`).join(',');
    const hit = this.mergeCache.get(key);
    if (hit) return hit;
    const [first, ...rest] = group;
    const spec: Rec = { ...rec(first!.obj.spec) };
    const subsets = arr(spec.subsets).map(rec);
    const names = new Set(subsets.map((x) => str(x.name)));
    for (const e of rest) {
      const other = rec(e.obj.spec);
      for (const sub of arr(other.subsets).map(rec)) {
        if (names.has(str(sub.name))) continue;
        names.add(str(sub.name));
        subsets.push(sub);
      }
      if (spec.trafficPolicy === undefined && other.trafficPolicy !== undefined) spec.trafficPolicy = other.trafficPolicy;
    }
    if (subsets.length) spec.subsets = subsets;
    const out: KubeObject = { ...first!.obj, spec };
    this.mergeCache.set(key, out);
    return out;
  }
}

/** Merged policy for one port: the port-level settings override the rule-wide ones field by field. */
function policyForPort(policy: Rec, port: number): Rec {
  if (policy.portLevelSettings === undefined) return policy;
  const merged: Rec = { ...policy };
  delete merged.portLevelSettings;
  for (const pls of arr(policy.portLevelSettings).map(rec)) {
    if (num(rec(pls.port).number) !== port) continue;
    for (const k of ['loadBalancer', 'connectionPool', 'outlierDetection', 'tls']) if (pls[k] !== undefined) merged[k] = pls[k];
  }
  return merged;
}

function lbPolicy(policy: Rec): Cluster['lbPolicy'] {
  const simple = str(rec(policy.loadBalancer).simple);
  if (simple === 'ROUND_ROBIN' || simple === 'RANDOM' || simple === 'LEAST_REQUEST') return simple;
  if (simple === 'LEAST_CONN') return 'LEAST_REQUEST';
  return 'LEAST_REQUEST'; // Istio's default.
}

function connectionPool(policy: Rec): ConnectionPool | undefined {
  const cp = rec(policy.connectionPool);
  const tcp = rec(cp.tcp);
  const http = rec(cp.http);
  const out: { -readonly [K in keyof ConnectionPool]: ConnectionPool[K] } = {};
  if (num(tcp.maxConnections) !== undefined) out.maxConnections = num(tcp.maxConnections)!;
  if (num(http.http1MaxPendingRequests) !== undefined) out.http1MaxPendingRequests = num(http.http1MaxPendingRequests)!;
  if (num(http.http2MaxRequests) !== undefined) out.http2MaxRequests = num(http.http2MaxRequests)!;
  if (num(http.maxRequestsPerConnection) !== undefined) out.maxRequestsPerConnection = num(http.maxRequestsPerConnection)!;
  if (num(http.maxRetries) !== undefined) out.maxRetries = num(http.maxRetries)!;
  const idle = durationMs(http.idleTimeout) ?? durationMs(tcp.idleTimeout);
  if (idle !== undefined) out.idleTimeoutMs = idle;
  return Object.keys(out).length ? out : undefined;
}

function outlierDetection(policy: Rec): OutlierDetection | undefined {
  if (policy.outlierDetection === undefined) return undefined;
  const od = rec(policy.outlierDetection);
  const c5 = num(od.consecutive5xxErrors) ?? num(rec(od.consecutive5xxErrors).value);
  const cg = num(od.consecutiveGatewayErrors) ?? num(rec(od.consecutiveGatewayErrors).value);
  return {
    ...(c5 !== undefined ? { consecutive5xxErrors: c5 } : {}),
    ...(cg !== undefined ? { consecutiveGatewayErrors: cg } : {}),
    intervalMs: durationMs(od.interval) ?? 10_000,
    baseEjectionTimeMs: durationMs(od.baseEjectionTime) ?? 30_000,
    maxEjectionPercent: num(od.maxEjectionPercent) ?? 10,
  };
}

/** The cluster's TLS origination; 'unavailable' when named material cannot be used (the cluster then fails closed). */
function upstreamTls(policy: Rec, service: MeshService, credentialNameApplies: boolean, read: (value: string) => MaterialResult, sni: () => string, lookup?: CredentialLookup): UpstreamTls | undefined | 'unavailable' {
  const tls = rec(policy.tls);
  const mode = str(tls.mode);
  if (mode === 'ISTIO_MUTUAL') {
    // The mesh's own mTLS: the proxy's workload certificate; SANs only when the rule names them.
    const sans = strArr(tls.subjectAltNames);
    return { mode, sni: str(tls.sni) ?? sni(), ...(sans.length ? { subjectAltNames: sans } : {}) };
  }
  if (mode !== 'SIMPLE' && mode !== 'MUTUAL') return undefined; // DISABLE, or no tls: auto mTLS may apply.
  const material = upstreamMaterial(tls, credentialNameApplies, read, lookup);
  if ('problem' in material) return 'unavailable';
  const out: { -readonly [K in keyof UpstreamTls]: UpstreamTls[K] } = { mode };
  if (str(tls.sni)) out.sni = str(tls.sni)!;
  if (material.caCertificates) out.caCertificates = material.caCertificates;
  if (material.clientCertificate) out.clientCertificate = material.clientCertificate;
  if (material.privateKey) out.privateKey = material.privateKey;
  const sans = strArr(tls.subjectAltNames);
  const effective = sans.length ? sans : service.subjectAltNames ?? [];
  if (effective.length) out.subjectAltNames = effective;
  if (tls.insecureSkipVerify === true) out.insecureSkipVerify = true;
  return out;
}

function discoveryType(service: MeshService): Cluster['type'] {
  switch (service.resolution) {
    case 'DNS': return 'STRICT_DNS';
    case 'DNS_ROUND_ROBIN': return 'LOGICAL_DNS';
    case 'STATIC': return 'STATIC';
    default: return 'ORIGINAL_DST';
  }
}

function clusterProtocol(service: MeshService, port: ServicePort, originatesTls: boolean, policy: Rec): Cluster['protocol'] {
  if (port.protocol === 'HTTP2' || port.protocol === 'GRPC' || port.protocol === 'GRPC-WEB') return 'HTTP2';
  if (port.protocol === 'HTTP') {
    if (str(rec(rec(policy.connectionPool).http).h2UpgradePolicy) === 'UPGRADE') return 'HTTP2';
    // Sidecar → gateway is HTTP/2 in Istio (mTLS with ALPN), which is why the gateway logs `HTTP/2`.
    if (service.origin === 'Service' && service.endpoints.length > 0 && service.endpoints.every((e) => e.meshGateway)) return 'HTTP2';
    return 'HTTP1';
  }
  // TLS origination on a non-HTTP port still carries the HTTP requests routed to it.
  return originatesTls ? 'HTTP1' : 'TCP';
}

export interface ClusterBuildContext {
  readonly proxyNamespace: string;
  readonly proxyLabels: Readonly<Record<string, string>>;
  /** Istio resolves a DestinationRule's tls.credentialName at gateways (and for rules with a workloadSelector). */
  readonly proxyIsGateway: boolean;
  readonly destinationRules: DestinationRuleIndex;
  /** TLS material by the value a resource names (memoised per translation). */
  readonly readMaterial: (value: string) => MaterialResult;
  /** meshConfig.enableAutoMtls. */
  readonly autoMtls: boolean;
  /** The PeerAuthentication mode of a destination workload port (auto mTLS skips DISABLE). */
  readonly peerMode: (namespace: string, labels: Readonly<Record<string, string>>, port: number | undefined) => 'STRICT' | 'PERMISSIVE' | 'DISABLE';
  /** Secrets of the proxy's namespace, for credentialName. */
  readonly credential?: CredentialLookup;
}

function clusterEndpoints(service: MeshService, port: ServicePort, subsetLabels: Readonly<Record<string, string>> | undefined): Endpoint[] {
  const out: Endpoint[] = [];
  for (const e of service.endpoints) {
    if (subsetLabels && !labelsMatch(subsetLabels, e.labels)) continue;
    const p = e.ports.get(port.port);
    if (p === undefined) continue;
    let hasLabels = false;
    for (const _ in e.labels) { hasLabels = true; break; }
    // Key order is part of the config's content hash: address, port, weight, labels.
    out.push(e.weight === undefined
      ? (hasLabels ? { address: e.address, port: p, labels: e.labels } : { address: e.address, port: p })
      : (hasLabels ? { address: e.address, port: p, weight: e.weight, labels: e.labels } : { address: e.address, port: p, weight: e.weight }));
  }
  return out;
}

/**
 * Istio's auto mTLS: with no tls in the DestinationRule, a sidecar sends mTLS to endpoints that run
 * a proxy, unless their PeerAuthentication is DISABLE. On the local mesh those are gateway pods and
 * pods whose sidecar captures inbound traffic (netns model). HTTP clusters only.
 */
function autoMtls(service: MeshService, port: ServicePort, subset: string | undefined, policy: Rec, ctx: ClusterBuildContext): UpstreamTls | undefined {
  if (!ctx.autoMtls || str(rec(policy.tls).mode) !== undefined) return undefined;
  if (service.origin !== 'Service' || !isHttpProtocol(port.protocol) || service.endpoints.length === 0) return undefined;
  for (const e of service.endpoints) {
    if (!e.meshGateway && !e.meshSidecar) return undefined;
    if (ctx.peerMode(service.namespace, e.labels, e.ports.get(port.port)) === 'DISABLE') return undefined;
  }
  return { mode: 'ISTIO_MUTUAL', auto: true, sni: istioMutualSni(port.port, subset, service.host) };
}

function buildCluster(service: MeshService, ref: ClusterService, port: ServicePort, subset: string | undefined, subsetLabels: Readonly<Record<string, string>> | undefined, policy: Rec, ctx: ClusterBuildContext, drHasSelector: boolean): Cluster {
  const merged = policyForPort(policy, port.port);
  const tls = upstreamTls(merged, service, ctx.proxyIsGateway || drHasSelector, ctx.readMaterial, () => istioMutualSni(port.port, subset, service.host), ctx.credential)
    ?? autoMtls(service, port, subset, merged, ctx);
  if (tls === 'unavailable') return failClosedCluster(service, ref, port, subset, merged);
  const type = discoveryType(service);
  const endpoints = type === 'ORIGINAL_DST' ? [] : clusterEndpoints(service, port, subsetLabels);
  const pool = connectionPool(merged);
  const od = outlierDetection(merged);
  return {
    name: outboundClusterName(port.port, subset, service.host),
    type,
    endpoints: type === 'LOGICAL_DNS' && endpoints.length > 1 ? endpoints.slice(0, 1) : endpoints,
    lbPolicy: lbPolicy(merged),
    connectTimeoutMs: durationMs(rec(rec(merged.connectionPool).tcp).connectTimeout) ?? DEFAULT_CONNECT_TIMEOUT_MS,
    protocol: clusterProtocol(service, port, tls !== undefined && tls.mode !== 'ISTIO_MUTUAL', merged),
    ...(tls ? { tls } : {}),
    ...(pool ? { connectionPool: pool } : {}),
    ...(od ? { outlierDetection: od } : {}),
    service: ref,
  };
}

/**
 * A cluster whose TLS material could not be read: no endpoints and no TLS, so requests get 503 UH
 * and connections are closed. Istio's proxy fails the handshake instead (UF, "Secret is not supplied
 * by SDS"); what matters is the same: nothing is sent without the configured trust and identity.
 */
function failClosedCluster(service: MeshService, ref: ClusterService, port: ServicePort, subset: string | undefined, merged: Rec): Cluster {
  return {
    name: outboundClusterName(port.port, subset, service.host),
    type: 'STATIC',
    endpoints: [],
    lbPolicy: lbPolicy(merged),
    connectTimeoutMs: durationMs(rec(rec(merged.connectionPool).tcp).connectTimeout) ?? DEFAULT_CONNECT_TIMEOUT_MS,
    protocol: clusterProtocol(service, port, true, merged),
    service: ref,
  };
}

/**
 * Clusters of services no DestinationRule applies to depend on the service alone, so every proxy
 * of a snapshot shares them (frozen: configs are never written to).
 */
const plainClusters = new WeakMap<MeshService, readonly Cluster[]>();

/** Every cluster of a service: one per port, plus one per port and DestinationRule subset. */
export function serviceClusters(service: MeshService, ctx: ClusterBuildContext): readonly Cluster[] {
  const dr = ctx.destinationRules.lookup(service.host, ctx.proxyNamespace, service.namespace, ctx.proxyLabels);
  if (!dr) {
    const cached = plainClusters.get(service);
    if (cached) return cached;
  }
  const ref: ClusterService = { host: service.host, name: service.name, namespace: service.namespace };
  const spec = rec(dr?.spec);
  const policy = rec(spec.trafficPolicy);
  const hasSelector = rec(spec.workloadSelector).matchLabels !== undefined;
  const subsets = arr(spec.subsets);
  const out: Cluster[] = [];
  for (const port of service.ports) {
    out.push(buildCluster(service, ref, port, undefined, undefined, policy, ctx, hasSelector));
    for (const subset of subsets.map(rec)) {
      const name = str(subset.name);
      if (!name) continue;
      // A subset's policy overrides the rule's, field by field (port-level settings included).
      const sp = rec(subset.trafficPolicy);
      const combined: Rec = { ...policyForPort(policy, port.port) };
      for (const [k, v] of Object.entries(policyForPort(sp, port.port))) combined[k] = v;
      out.push(buildCluster(service, ref, port, name, strMap(subset.labels), combined, ctx, hasSelector));
    }
  }
  if (!dr) {
    // Deeply: a frozen config part's JSON text is cached for the version hash (see contentVersion).
    Object.freeze(ref);
    for (const c of out) {
      for (const e of c.endpoints) {
        if (e.labels) Object.freeze(e.labels);
        Object.freeze(e);
      }
      Object.freeze(c.endpoints);
      Object.freeze(c);
    }
    plainClusters.set(service, Object.freeze(out));
  }
  return out;
}

export function isHttpPort(port: ServicePort): boolean {
  return isHttpProtocol(port.protocol);
}
