// Sidecar (role sidecar) outbound config: virtualOutbound, one listener per service port, route tables per HTTP port, clusters.
import {
  ALLOW_ANY_ROUTE,
  BLOCK_ALL_ROUTE,
  VIRTUAL_OUTBOUND_LISTENER,
  VIRTUAL_OUTBOUND_PORT,
  outboundClusterName,
  sidecarListenerName,
  sidecarRouteTableName,
  virtualHostName,
} from '../../proxyconfig/naming.js';
import {
  BLACKHOLE_CLUSTER,
  PASSTHROUGH_CLUSTER,
  type Cluster,
  type Listener,
  type MeshSettings,
  type ProxyIdentity,
  type RouteTable,
  type SniChain,
  type TcpRoute,
  type VirtualHost,
} from '../../proxyconfig/types.js';
import type { MeshSnapshot } from '../snapshot.js';
import { compareStrings } from '../sort-order.js';
import {
  hostMatches,
  hostsIntersect,
  isExportedTo,
  isWildcard,
  labelsMatch,
  narrowerHost,
  parseHostRule,
  ruleAllowsNamespace,
  type HostRule,
} from '../hosts.js';
import { isHttpProtocol, isTlsProtocol, type MeshService, type ServiceRegistry } from '../registry/index.js';
import { singleAddress } from '../registry/vip-allocation.js';
import { BLACKHOLE, PASSTHROUGH, serviceClusters, type ClusterBuildContext } from './clusters.js';
import {
  defaultRoute,
  GATEWAY_API_SOURCE,
  l4MatchApplies,
  sortByGatewayApiPrecedence,
  virtualServiceRoutes,
  weightedClusters,
  type RouteContext,
} from './http-routes.js';
import { MESH_GATEWAY, type L4RuleModel, type VirtualServiceModel } from './model.js';
import { ISTIO_NETWORKING_GROUP } from '../../api/groups.js';
import type { Sidecar } from '../../api/kinds/sidecar.js';

export const ROOT_NAMESPACE = 'istio-system';
const MESH_ONLY: ReadonlySet<string> = new Set([MESH_GATEWAY]);

/** The Sidecar resource that applies: a selector match in the namespace, else the namespace default, else the root namespace's. */
export function sidecarResourceFor(snapshot: MeshSnapshot, identity: ProxyIdentity): Sidecar | undefined {
  const all = snapshot.of(ISTIO_NETWORKING_GROUP, 'Sidecar') as readonly Sidecar[];
  const inNs = all.filter((s) => s.metadata.namespace === identity.namespace);
  const selectorOf = (s: Sidecar) => s.spec?.workloadSelector?.labels;
  const selected = inNs.find((s) => {
    const sel = selectorOf(s);
    return sel !== undefined && labelsMatch(sel, identity.labels);
  });
  return selected ?? inNs.find((s) => selectorOf(s) === undefined) ?? all.find((s) => s.metadata.namespace === ROOT_NAMESPACE && selectorOf(s) === undefined);
}

/** Indexes mesh-bound VirtualServices for one proxy namespace: exact hosts, then wildcards longest first. */
export class MeshVirtualServices {
  private readonly exact = new Map<string, VirtualServiceModel>();
  /** Every VirtualService naming the exact host, oldest first (TLS and TCP routes come from all of them). */
  private readonly exactAll = new Map<string, VirtualServiceModel[]>();
  private readonly wildcards: { host: string; vs: VirtualServiceModel }[] = [];

  constructor(models: readonly VirtualServiceModel[], proxyNamespace: string) {
    const visible = models
      .filter((vs) => vs.gateways.includes(MESH_GATEWAY) && isExportedTo(vs.exportTo, vs.namespace, proxyNamespace))
      .sort((a, b) => compareStrings(a.age, b.age));
    for (const vs of visible) {
      for (const h of vs.hosts) {
        if (isWildcard(h)) {
          this.wildcards.push({ host: h, vs });
          continue;
        }
        // Istio uses one VirtualService per host for HTTP at sidecars: the oldest.
        if (!this.exact.has(h)) this.exact.set(h, vs);
        const all = this.exactAll.get(h);
        if (!all) this.exactAll.set(h, [vs]);
        else if (!all.includes(vs)) all.push(vs);
      }
    }
    this.wildcards.sort((a, b) => b.host.length - a.host.length);
  }

  /** The VirtualService for a service host (a wildcard service host matches an equal or broader wildcard). */
  forHost(host: string): VirtualServiceModel | undefined {
    const exact = this.exact.get(host);
    if (exact) return exact;
    return this.wildcards.find((w) => w.host === host || hostMatches(w.host, host))?.vs;
  }

  /**
   * Every VirtualService for a host, exact hosts first (oldest first), then wildcards: Istio builds a
   * sidecar's TLS and TCP routes from all of them (an HTTPRoute and a TLSRoute on one ServiceEntry).
   */
  allForHost(host: string): readonly VirtualServiceModel[] {
    const out = [...(this.exactAll.get(host) ?? [])];
    for (const w of this.wildcards) if ((w.host === host || hostMatches(w.host, host)) && !out.includes(w.vs)) out.push(w.vs);
    return out;
  }
}

/** An address as a Host header carries it: IPv6 in brackets. */
function hostLiteral(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

/**
 * The addresses a captured pod dials a service at, as virtual-host domains: its VIPs (auto-allocated,
 * IPv6 only for a dual-stack pod), its cluster IP, its explicit single addresses. A request captured
 * to a VIP may carry it in Host (`curl http://240.240.0.7/`); Istio puts the address in the domains
 * too. A sidecar whose pod is not captured is reached by name (http_proxy) and gets none.
 */
function addressDomains(svc: MeshService, identity: ProxyIdentity): string[] {
  if (!identity.capture) return [];
  const out = [svc.autoAddress, identity.ip6 !== undefined ? svc.autoAddressV6 : undefined, svc.clusterIP];
  for (const a of svc.addresses ?? []) out.push(singleAddress(a));
  return out.filter((a): a is string => a !== undefined && a !== '' && a !== '0.0.0.0' && (identity.ip6 !== undefined || !a.includes(':'))).map(hostLiteral);
}

/** The domains of a service's virtual host that no earlier virtual host took (each name, then `name:port`). */
function serviceDomains(svc: MeshService, port: number, identity: ProxyIdentity, seen: Set<string>): string[] {
  const proxyNamespace = identity.namespace;
  const out: string[] = [];
  const add = (n: string) => {
    for (const d of [n, `${n}:${port}`]) {
      if (seen.has(d)) continue;
      seen.add(d);
      out.push(d);
    }
  };
  add(svc.host);
  if (svc.origin === 'Service') {
    add(`${svc.name}.${svc.namespace}.svc`);
    add(`${svc.name}.${svc.namespace}`);
    if (svc.namespace === proxyNamespace) add(svc.name);
  }
  // Two entries may name one address: the first keeps it (one domain, one virtual host).
  for (const a of addressDomains(svc, identity)) add(a);
  return out;
}

function oldest(list: readonly MeshService[]): MeshService | undefined {
  let best: MeshService | undefined;
  for (const s of list) if (!best || s.age < best.age) best = s;
  return best;
}

export function catchAllVirtualHost(policy: MeshSettings['outboundTrafficPolicy']): VirtualHost {
  if (policy === 'REGISTRY_ONLY') {
    return {
      name: BLOCK_ALL_ROUTE,
      domains: ['*'],
      routes: [{ name: BLOCK_ALL_ROUTE, match: { path: { kind: 'prefix', value: '/' } }, action: { kind: 'directResponse', status: 502 } }],
    };
  }
  return {
    name: ALLOW_ANY_ROUTE,
    domains: ['*'],
    routes: [
      {
        name: ALLOW_ANY_ROUTE,
        match: { path: { kind: 'prefix', value: '/' } },
        action: { kind: 'forward', clusters: [{ cluster: PASSTHROUGH_CLUSTER, weight: 100 }] },
      },
    ],
  };
}

function fallbackRoute(policy: MeshSettings['outboundTrafficPolicy']): TcpRoute {
  return { clusters: [{ cluster: policy === 'REGISTRY_ONLY' ? BLACKHOLE_CLUSTER : PASSTHROUGH_CLUSTER, weight: 100 }] };
}

export interface SidecarInput {
  readonly snapshot: MeshSnapshot;
  readonly identity: ProxyIdentity;
  readonly mesh: MeshSettings;
  readonly registry: ServiceRegistry;
  readonly virtualServices: readonly VirtualServiceModel[];
  readonly clusterContext: ClusterBuildContext;
}

export interface SidecarOutput {
  readonly mesh: MeshSettings;
  readonly listeners: Listener[];
  readonly routeTables: RouteTable[];
  readonly clusters: Cluster[];
}

export function translateSidecar(input: SidecarInput): SidecarOutput {
  const { snapshot, identity, registry } = input;
  const ns = identity.namespace;
  const sidecar = sidecarResourceFor(snapshot, identity);
  const overridePolicy = sidecar?.spec?.outboundTrafficPolicy?.mode;
  const mesh: MeshSettings =
    overridePolicy === 'ALLOW_ANY' || overridePolicy === 'REGISTRY_ONLY' ? { ...input.mesh, outboundTrafficPolicy: overridePolicy } : input.mesh;
  const policy = mesh.outboundTrafficPolicy;

  let services = registry.visibleTo(ns);
  let virtualServices = input.virtualServices;
  const egress = sidecar?.spec?.egress ?? [];
  if (sidecar && egress.length) {
    // Sidecar egress hosts import services and VirtualServices alike (Istio's sidecar scope): a
    // VirtualService comes in when one of its hosts overlaps an egress host of its namespace.
    const rules: HostRule[] = egress.flatMap((e) => e.hosts.map((h) => parseHostRule(h, sidecar.metadata.namespace ?? ns)));
    services = services.filter((s) => rules.some((r) => ruleAllowsNamespace(r, s.namespace) && hostMatches(r.host, s.host)));
    virtualServices = virtualServices.filter((vs) =>
      rules.some((r) => ruleAllowsNamespace(r, vs.namespace) && vs.hosts.some((h) => hostsIntersect(r.host, h))),
    );
  }

  const vsIndex = new MeshVirtualServices(virtualServices, ns);
  // Services per port, in registry order, split by the protocol they declare on that port.
  const byPort = new Map<number, { all: MeshService[]; http: MeshService[]; tls: MeshService[] }>();
  for (const s of services) {
    for (const p of s.ports) {
      let lists = byPort.get(p.port);
      if (!lists) byPort.set(p.port, (lists = { all: [], http: [], tls: [] }));
      if (lists.all[lists.all.length - 1] === s) continue; // A port declared twice: its first declaration counts.
      lists.all.push(s);
      if (isHttpProtocol(p.protocol)) lists.http.push(s);
      else if (isTlsProtocol(p.protocol)) lists.tls.push(s);
    }
  }

  const address = identity.ip ?? '127.0.0.1';
  const listeners: Listener[] = [
    {
      name: VIRTUAL_OUTBOUND_LISTENER,
      address,
      port: VIRTUAL_OUTBOUND_PORT,
      bindToPort: true,
      // A dual-stack captured pod's IPv6 connections are redirected to ::1 (Istio's ip6tables REDIRECT).
      ...(identity.capture && identity.ip6 !== undefined ? { additionalAddresses: ['::1'] } : {}),
      protocol: 'OUTBOUND',
      fallback: fallbackRoute(policy),
      fallbackRouteTable: VIRTUAL_OUTBOUND_LISTENER,
    },
  ];
  const routeTables: RouteTable[] = [{ name: VIRTUAL_OUTBOUND_LISTENER, virtualHosts: [catchAllVirtualHost(policy)] }];

  for (const port of [...byPort.keys()].sort((a, b) => a - b)) {
    const { all: svcs, http, tls } = byPort.get(port)!;
    const ctx: RouteContext = { port, gateways: MESH_ONLY, registry, namespace: ns };
    const name = sidecarListenerName(port);
    // One protocol per port: HTTP wins over TLS over TCP (Istio would split by destination address; we have none).
    if (http.length) {
      const seen = new Set<string>();
      const vhosts: VirtualHost[] = [];
      for (const s of http) {
        const domains = serviceDomains(s, port, identity, seen);
        if (!domains.length) continue;
        const vs = vsIndex.forHost(s.host);
        // Gateway API routes on one parent merge into one rule list, ordered by match precedence (Istio merges
        // them; VirtualServices stay one per host).
        const gwApi =
          vs && vs.source.startsWith(GATEWAY_API_SOURCE) ? vsIndex.allForHost(s.host).filter((x) => x.source.startsWith(GATEWAY_API_SOURCE)) : undefined;
        const vsRoutes = gwApi ? sortByGatewayApiPrecedence(gwApi.flatMap((x) => virtualServiceRoutes(x, ctx))) : vs ? virtualServiceRoutes(vs, ctx) : [];
        const routes = vsRoutes.length ? vsRoutes : [defaultRoute(s.host, port)];
        vhosts.push({ name: virtualHostName(s.host, port), domains, routes });
      }
      vhosts.sort((a, b) => compareStrings(a.name, b.name));
      vhosts.push(catchAllVirtualHost(policy));
      const table = sidecarRouteTableName(port);
      routeTables.push({ name: table, virtualHosts: vhosts });
      listeners.push({ name, address: '0.0.0.0', port, bindToPort: false, protocol: 'HTTP', routeTable: table });
    } else if (tls.length) {
      const chains: SniChain[] = [];
      const taken = new Set<string>();
      for (const s of tls) {
        let covered = false;
        for (const vs of vsIndex.allForHost(s.host))
          for (const rule of vs.tls) {
            for (const m of rule.matches) {
              if (!l4MatchApplies(m, vs, ctx)) continue;
              const sni = (m.sniHosts ?? [])
                .filter((h) => hostsIntersect(h, s.host))
                .map((h) => narrowerHost(h, s.host))
                .filter((h) => !taken.has(h));
              if (!sni.length) continue;
              for (const h of sni) taken.add(h);
              chains.push({ sniHosts: sni, route: { clusters: weightedClusters(rule.destinations, ctx) } });
              covered = true;
            }
          }
        if (!covered && !taken.has(s.host)) {
          taken.add(s.host);
          chains.push({ sniHosts: [s.host], route: { clusters: [{ cluster: outboundClusterName(port, undefined, s.host), weight: 100 }] } });
        }
      }
      listeners.push({ name, address: '0.0.0.0', port, bindToPort: false, protocol: 'TLS', chains, defaultChain: fallbackRoute(policy) });
    } else {
      // Plain TCP has no host to route on. Istio gives each service with `addresses` its own
      // `<vip>_<port>` listener matched by destination IP, and the wildcard `0.0.0.0_<port>` to a
      // service without addresses, the oldest when several conflict. The proxy dispatches by port
      // only, so this listener carries the oldest service without addresses (else the oldest).
      const s = oldest(svcs.filter((x) => !x.addresses)) ?? oldest(svcs)!;
      let rule: L4RuleModel | undefined;
      for (const vs of vsIndex.allForHost(s.host)) {
        rule = vs.tcp.find((r) => (r.matches.length === 0 ? vs.gateways.includes(MESH_GATEWAY) : r.matches.some((m) => l4MatchApplies(m, vs, ctx))));
        if (rule) break;
      }
      const route: TcpRoute = rule
        ? { clusters: weightedClusters(rule.destinations, ctx) }
        : { clusters: [{ cluster: outboundClusterName(port, undefined, s.host), weight: 100 }] };
      listeners.push({ name, address: '0.0.0.0', port, bindToPort: false, protocol: 'TCP', route });
    }
  }

  const clusters: Cluster[] = [PASSTHROUGH, BLACKHOLE];
  for (const s of services) clusters.push(...serviceClusters(s, input.clusterContext));
  return { mesh, listeners, routeTables, clusters };
}
