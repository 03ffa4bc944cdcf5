// Registry services + DestinationRules → clusters: `outbound|port|subset|host`, discovery type, endpoints, TLS origination, pools.
import { trafficPolicyForPort, type DestinationRule, type DestinationRuleSpec, type PortTrafficPolicy, type Subset } from '../../api/kinds/destination-rule.js';
import { istioMutualSni, outboundClusterName } from '../../proxyconfig/naming.js';
import {
  BLACKHOLE_CLUSTER,
  PASSTHROUGH_CLUSTER,
  type Cluster,
  type ClusterService,
  type ConnectionPool,
  type Endpoint,
  type OutlierDetection,
  type UpstreamTls,
} from '../../proxyconfig/types.js';
import type { MeshSnapshot } from '../snapshot.js';
import { ageKey } from '../sort-order.js';
import { durationMs } from '../../api/duration.js';
import { hostMatches, isExportedTo, isWildcard, labelsMatch, resolveShortName } from '../hosts.js';
import { isHttpProtocol, type MeshService, type ServicePort } from '../registry/index.js';
import { upstreamMaterial, type CredentialLookup, type MaterialResult } from './tls-material.js';
import { ISTIO_NETWORKING_GROUP } from '../../api/groups.js';

export type { PemReader } from './tls-material.js';

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export const PASSTHROUGH: Cluster = Object.freeze({
  name: PASSTHROUGH_CLUSTER,
  type: 'ORIGINAL_DST',
  endpoints: Object.freeze([]),
  lbPolicy: 'ROUND_ROBIN',
  connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_MS,
  protocol: 'TCP',
} as const);
export const BLACKHOLE: Cluster = Object.freeze({
  name: BLACKHOLE_CLUSTER,
  type: 'STATIC',
  endpoints: Object.freeze([]),
  lbPolicy: 'ROUND_ROBIN',
  connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_MS,
  protocol: 'TCP',
} as const);

interface DestinationRuleEntry {
  readonly obj: DestinationRule;
  readonly host: string;
  readonly namespace: string;
  readonly age: string;
}

/** DestinationRules indexed for "which rule applies to this host, seen from this proxy". */
export class DestinationRuleIndex {
  private readonly exact = new Map<string, DestinationRuleEntry[]>();
  private readonly wildcard: DestinationRuleEntry[] = [];

  constructor(snapshot: MeshSnapshot) {
    const all = (snapshot.of(ISTIO_NETWORKING_GROUP, 'DestinationRule') as readonly DestinationRule[])
      .map((obj) => {
        const ns = obj.metadata.namespace ?? 'default';
        return { obj, host: resolveShortName(obj.spec?.host ?? '', ns), namespace: ns, age: ageKey(obj.metadata) };
      })
      .sort((a, b) => (a.age < b.age ? -1 : a.age > b.age ? 1 : 0));
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
  lookup(host: string, proxyNamespace: string, serviceNamespace: string, proxyLabels: Readonly<Record<string, string>>): DestinationRule | undefined {
    const usable = (e: DestinationRuleEntry) => {
      const spec = e.obj.spec;
      if (!isExportedTo(spec?.exportTo ?? [], e.namespace, proxyNamespace)) return false;
      const selector = spec?.workloadSelector?.matchLabels;
      if (selector != null) return e.namespace === proxyNamespace && labelsMatch(selector, proxyLabels);
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

  private readonly mergeCache = new Map<string, DestinationRule>();

  /**
   * Istio merges the rules for one host within a namespace (both without a workloadSelector): the
   * oldest keeps its metadata and top-level policy, younger ones add subsets it lacks (and the
   * policy when it has none). So two tutorials' rules on one egress gateway Service both work.
   */
  private merged(chosen: DestinationRuleEntry, usable: readonly DestinationRuleEntry[]): DestinationRule {
    const noSelector = (e: DestinationRuleEntry) => e.obj.spec?.workloadSelector?.matchLabels === undefined;
    if (!noSelector(chosen)) return chosen.obj;
    // `usable` is oldest first; the chosen rule's same-host, same-namespace peers merge into the oldest.
    const group = usable.filter((e) => e.namespace === chosen.namespace && e.host === chosen.host && noSelector(e));
    if (group.length < 2) return chosen.obj;
    const key = group.map((e) => `${e.namespace}/${e.obj.metadata.name}@${e.obj.metadata.resourceVersion ?? ''}`).join(',');
    const hit = this.mergeCache.get(key);
    if (hit) return hit;
    const [first, ...rest] = group;
    const firstSpec = first!.obj.spec;
    const subsets: Subset[] = [...(firstSpec?.subsets ?? [])];
    const names = new Set(subsets.map((x) => x.name));
    let trafficPolicy = firstSpec?.trafficPolicy;
    for (const e of rest) {
      const other = e.obj.spec;
      for (const sub of other?.subsets ?? []) {
        if (names.has(sub.name)) continue;
        names.add(sub.name);
        subsets.push(sub);
      }
      if (trafficPolicy === undefined && other?.trafficPolicy !== undefined) trafficPolicy = other.trafficPolicy;
    }
    const spec: DestinationRuleSpec = {
      ...firstSpec!,
      ...(trafficPolicy !== undefined ? { trafficPolicy } : {}),
      ...(subsets.length ? { subsets } : {}),
    };
    const out: DestinationRule = { ...first!.obj, spec };
    this.mergeCache.set(key, out);
    return out;
  }
}

const NO_POLICY: PortTrafficPolicy = Object.freeze({});

function lbPolicy(policy: PortTrafficPolicy): Cluster['lbPolicy'] {
  const simple = policy.loadBalancer?.simple;
  if (simple === 'ROUND_ROBIN' || simple === 'RANDOM' || simple === 'LEAST_REQUEST') return simple;
  if (simple === 'LEAST_CONN') return 'LEAST_REQUEST';
  return 'LEAST_REQUEST'; // Istio's default.
}

function connectionPool(policy: PortTrafficPolicy): ConnectionPool | undefined {
  const tcp = policy.connectionPool?.tcp;
  const http = policy.connectionPool?.http;
  const out: { -readonly [K in keyof ConnectionPool]: ConnectionPool[K] } = {};
  if (tcp?.maxConnections != null) out.maxConnections = tcp.maxConnections;
  if (http?.http1MaxPendingRequests != null) out.http1MaxPendingRequests = http.http1MaxPendingRequests;
  if (http?.http2MaxRequests != null) out.http2MaxRequests = http.http2MaxRequests;
  if (http?.maxRequestsPerConnection != null) out.maxRequestsPerConnection = http.maxRequestsPerConnection;
  if (http?.maxRetries != null) out.maxRetries = http.maxRetries;
  const idle = durationMs(http?.idleTimeout) ?? durationMs(tcp?.idleTimeout);
  if (idle !== undefined) out.idleTimeoutMs = idle;
  return Object.keys(out).length ? out : undefined;
}

function outlierDetection(policy: PortTrafficPolicy): OutlierDetection | undefined {
  if (policy.outlierDetection === undefined) return undefined;
  const od = policy.outlierDetection ?? {};
  const c5 = od.consecutive5xxErrors ?? undefined;
  const cg = od.consecutiveGatewayErrors ?? undefined;
  return {
    ...(c5 !== undefined ? { consecutive5xxErrors: c5 } : {}),
    ...(cg !== undefined ? { consecutiveGatewayErrors: cg } : {}),
    intervalMs: durationMs(od.interval) ?? 10_000,
    baseEjectionTimeMs: durationMs(od.baseEjectionTime) ?? 30_000,
    maxEjectionPercent: od.maxEjectionPercent ?? 10,
  };
}

/** The cluster's TLS origination; 'unavailable' when named material cannot be used (the cluster then fails closed). */
function upstreamTls(
  policy: PortTrafficPolicy,
  service: MeshService,
  credentialNameApplies: boolean,
  read: (value: string) => MaterialResult,
  sni: () => string,
  lookup?: CredentialLookup,
): UpstreamTls | undefined | 'unavailable' {
  const tls = policy.tls ?? {};
  const mode = tls.mode ?? undefined;
  if (mode === 'ISTIO_MUTUAL') {
    // The mesh's own mTLS: the proxy's workload certificate; SANs only when the rule names them.
    const sans = tls.subjectAltNames ?? [];
    return { mode, sni: tls.sni ?? sni(), ...(sans.length ? { subjectAltNames: [...sans] } : {}) };
  }
  if (mode !== 'SIMPLE' && mode !== 'MUTUAL') return undefined; // DISABLE, or no tls: auto mTLS may apply.
  const material = upstreamMaterial(tls, credentialNameApplies, read, lookup);
  if ('problem' in material) return 'unavailable';
  const out: { -readonly [K in keyof UpstreamTls]: UpstreamTls[K] } = { mode };
  if (tls.sni) out.sni = tls.sni;
  if (material.caCertificates) out.caCertificates = material.caCertificates;
  if (material.clientCertificate) out.clientCertificate = material.clientCertificate;
  if (material.privateKey) out.privateKey = material.privateKey;
  const sans = tls.subjectAltNames ?? [];
  const effective = sans.length ? [...sans] : (service.subjectAltNames ?? []);
  if (effective.length) out.subjectAltNames = effective;
  if (tls.insecureSkipVerify === true) out.insecureSkipVerify = true;
  return out;
}

function discoveryType(service: MeshService): Cluster['type'] {
  switch (service.resolution) {
    case 'DNS':
      return 'STRICT_DNS';
    case 'DNS_ROUND_ROBIN':
      return 'LOGICAL_DNS';
    case 'STATIC':
      return 'STATIC';
    default:
      return 'ORIGINAL_DST';
  }
}

function clusterProtocol(service: MeshService, port: ServicePort, originatesTls: boolean, policy: PortTrafficPolicy): Cluster['protocol'] {
  if (port.protocol === 'HTTP2' || port.protocol === 'GRPC' || port.protocol === 'GRPC-WEB') return 'HTTP2';
  if (port.protocol === 'HTTP') {
    if (policy.connectionPool?.http?.h2UpgradePolicy === 'UPGRADE') return 'HTTP2';
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
  /** The mesh's trust domain, for the SPIFFE IDs an ISTIO_MUTUAL peer must present. */
  readonly trustDomain?: string;
}

/**
 * The identities an ISTIO_MUTUAL upstream may present when no DestinationRule names them, as Istio
 * fills the cluster's subjectAltNames: the ServiceEntry's subjectAltNames, else the service accounts
 * of the endpoints (of the subset) as `spiffe://<trustDomain>/ns/<ns>/sa/<sa>`. Undefined when an
 * endpoint's account is unknown or not its proxy's own (then any mesh identity is accepted, as before).
 */
function meshSubjectAltNames(service: MeshService, subsetLabels: Readonly<Record<string, string>> | undefined, td: string | undefined): string[] | undefined {
  if (service.subjectAltNames !== undefined && service.subjectAltNames.length > 0) return [...service.subjectAltNames];
  if (td === undefined || service.origin !== 'Service') return undefined;
  const ids = new Set<string>();
  for (const e of service.endpoints) {
    if (subsetLabels && !labelsMatch(subsetLabels, e.labels)) continue;
    // Only a gateway pod's proxy is its own (a namespace's shared sidecar may hold another account).
    if (!e.meshGateway || e.serviceAccount === undefined) return undefined;
    ids.add(`spiffe://${td}/ns/${service.namespace}/sa/${e.serviceAccount}`);
  }
  return ids.size > 0 ? [...ids].sort() : undefined;
}

function clusterEndpoints(service: MeshService, port: ServicePort, subsetLabels: Readonly<Record<string, string>> | undefined): Endpoint[] {
  const out: Endpoint[] = [];
  for (const e of service.endpoints) {
    if (subsetLabels && !labelsMatch(subsetLabels, e.labels)) continue;
    const p = e.ports.get(port.port);
    if (p === undefined) continue;
    let hasLabels = false;
    for (const _ in e.labels) {
      hasLabels = true;
      break;
    }
    // Key order is part of the config's content hash: address, port, weight, labels.
    out.push(
      e.weight === undefined
        ? hasLabels
          ? { address: e.address, port: p, labels: e.labels }
          : { address: e.address, port: p }
        : hasLabels
          ? { address: e.address, port: p, weight: e.weight, labels: e.labels }
          : { address: e.address, port: p, weight: e.weight },
    );
  }
  return out;
}

/**
 * Istio's auto mTLS: with no tls in the DestinationRule, a sidecar sends mTLS to endpoints that run
 * a proxy, unless their PeerAuthentication is DISABLE. On the local mesh those are gateway pods and
 * pods whose sidecar captures inbound traffic (netns model). HTTP clusters only.
 */
function autoMtls(
  service: MeshService,
  port: ServicePort,
  subset: string | undefined,
  policy: PortTrafficPolicy,
  ctx: ClusterBuildContext,
): UpstreamTls | undefined {
  if (!ctx.autoMtls || (policy.tls?.mode ?? undefined) !== undefined) return undefined;
  if (service.origin !== 'Service' || !isHttpProtocol(port.protocol) || service.endpoints.length === 0) return undefined;
  for (const e of service.endpoints) {
    if (!e.meshGateway && !e.meshSidecar) return undefined;
    if (ctx.peerMode(service.namespace, e.labels, e.ports.get(port.port)) === 'DISABLE') return undefined;
  }
  return { mode: 'ISTIO_MUTUAL', auto: true, sni: istioMutualSni(port.port, subset, service.host) };
}

/** `merged`: the DestinationRule's policy for this port (and subset), see trafficPolicyForPort. */
function buildCluster(
  service: MeshService,
  ref: ClusterService,
  port: ServicePort,
  subset: string | undefined,
  subsetLabels: Readonly<Record<string, string>> | undefined,
  merged: PortTrafficPolicy,
  ctx: ClusterBuildContext,
  drHasSelector: boolean,
): Cluster {
  let tls =
    upstreamTls(
      merged,
      service,
      ctx.proxyIsGateway || drHasSelector,
      ctx.readMaterial,
      () => istioMutualSni(port.port, subset, service.host),
      ctx.credential,
    ) ?? autoMtls(service, port, subset, merged, ctx);
  if (tls === 'unavailable') return failClosedCluster(service, ref, port, subset, merged);
  if (tls?.mode === 'ISTIO_MUTUAL' && tls.subjectAltNames === undefined) {
    const sans = meshSubjectAltNames(service, subsetLabels, ctx.trustDomain);
    if (sans !== undefined) tls = { ...tls, subjectAltNames: sans };
  }
  const type = discoveryType(service);
  const endpoints = type === 'ORIGINAL_DST' ? [] : clusterEndpoints(service, port, subsetLabels);
  const pool = connectionPool(merged);
  const od = outlierDetection(merged);
  return {
    name: outboundClusterName(port.port, subset, service.host),
    type,
    endpoints: type === 'LOGICAL_DNS' && endpoints.length > 1 ? endpoints.slice(0, 1) : endpoints,
    lbPolicy: lbPolicy(merged),
    connectTimeoutMs: durationMs(merged.connectionPool?.tcp?.connectTimeout) ?? DEFAULT_CONNECT_TIMEOUT_MS,
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
function failClosedCluster(service: MeshService, ref: ClusterService, port: ServicePort, subset: string | undefined, merged: PortTrafficPolicy): Cluster {
  return {
    name: outboundClusterName(port.port, subset, service.host),
    type: 'STATIC',
    endpoints: [],
    lbPolicy: lbPolicy(merged),
    connectTimeoutMs: durationMs(merged.connectionPool?.tcp?.connectTimeout) ?? DEFAULT_CONNECT_TIMEOUT_MS,
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
  const spec = dr?.spec;
  const hasSelector = spec?.workloadSelector?.matchLabels !== undefined;
  const out: Cluster[] = [];
  for (const port of service.ports) {
    const policy = trafficPolicyForPort(spec?.trafficPolicy ?? undefined, port.port) ?? NO_POLICY;
    out.push(buildCluster(service, ref, port, undefined, undefined, policy, ctx, hasSelector));
    for (const subset of spec?.subsets ?? []) {
      if (!subset.name) continue;
      // A subset's policy overrides the rule's, field by field (port-level settings included).
      const combined: PortTrafficPolicy = { ...policy, ...trafficPolicyForPort(subset.trafficPolicy ?? undefined, port.port) };
      out.push(buildCluster(service, ref, port, subset.name, subset.labels ?? {}, combined, ctx, hasSelector));
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
