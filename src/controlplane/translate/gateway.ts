// Gateway (role router) config: the servers of the Gateways selecting this pod → listeners on their target ports, route tables `http.<port>`, clusters.
import { gatewayRouteTableName, sidecarListenerName, virtualHostName } from '../../proxyconfig/naming.js';
import type { Cluster, DownstreamTls, Listener, ProxyIdentity, Route, RouteTable, SniChain, TcpRoute, VirtualHost } from '../../proxyconfig/types.js';
import type { MeshSnapshot } from '../snapshot.js';
import { compareStrings } from '../sort-order.js';
import { serviceTargetPort, type Service } from '../../api/kinds/service.js';
import { hostsIntersect, isExportedTo, labelsMatch, narrowerHost, parseHostRule, ruleAllowsNamespace } from '../hosts.js';
import type { ServiceRegistry } from '../registry/index.js';
import { BLACKHOLE, PASSTHROUGH, serviceClusters, type ClusterBuildContext } from './clusters.js';
import { serverMaterial } from './tls-material.js';
import { isGatewayApiRoute, l4MatchApplies, sortByGatewayApiPrecedence, virtualServiceRoutes, weightedClusters, type RouteContext } from './http-routes.js';
import type { GatewayModel, ServerModel, VirtualServiceModel } from './model.js';

export interface GatewayInput {
  readonly snapshot: MeshSnapshot;
  readonly identity: ProxyIdentity;
  readonly registry: ServiceRegistry;
  readonly gateways: readonly GatewayModel[];
  readonly virtualServices: readonly VirtualServiceModel[];
  readonly clusterContext: ClusterBuildContext;
}

export interface GatewayOutput {
  readonly listeners: Listener[];
  readonly routeTables: RouteTable[];
  readonly clusters: Cluster[];
}

/** The gateways whose selector matches this pod (Istio: any namespace; Gateway API: its own). */
export function gatewaysForProxy(gateways: readonly GatewayModel[], identity: ProxyIdentity): GatewayModel[] {
  return gateways
    .filter((g) => (g.podNamespace === undefined || g.podNamespace === identity.namespace) && labelsMatch(g.selector, identity.labels))
    .sort((a, b) => compareStrings(a.key, b.key));
}

/** Service port → target port, from the Service that selects this gateway pod (Istio's server port is the Service port). */
export function targetPortMap(snapshot: MeshSnapshot, identity: ProxyIdentity): Map<number, number> {
  const map = new Map<number, number>();
  const services = (snapshot.of('', 'Service') as readonly Service[]).filter((s) => {
    if (s.metadata.namespace !== identity.namespace) return false;
    const sel = s.spec?.selector ?? {};
    return Object.keys(sel).length > 0 && labelsMatch(sel, identity.labels);
  });
  for (const svc of services) {
    for (const p of svc.spec?.ports ?? []) {
      // A named targetPort is the container's: the listener stays on the Service port.
      const target = serviceTargetPort(p);
      if (p.port !== undefined && !map.has(p.port)) map.set(p.port, typeof target === 'number' ? target : p.port);
    }
  }
  return map;
}

type ServerKind = 'HTTP' | 'TLS' | 'TCP';

function serverKind(s: ServerModel): ServerKind {
  const p = s.protocol;
  if (p === 'HTTP' || p === 'HTTP2' || p === 'GRPC' || p === 'GRPC-WEB') return 'HTTP';
  if (p === 'HTTPS' || p === 'TLS') {
    const mode = s.tls?.mode ?? (p === 'TLS' ? 'PASSTHROUGH' : 'SIMPLE');
    return mode === 'PASSTHROUGH' || mode === 'AUTO_PASSTHROUGH' ? 'TLS' : 'HTTP';
  }
  return 'TCP';
}

function downstreamTls(s: ServerModel, ctx: ClusterBuildContext): DownstreamTls | undefined | 'invalid' {
  const mode = s.tls?.mode;
  // The mesh's own mTLS, with the gateway's workload certificate (egress TLS origination: sidecars → port 443).
  if (mode === 'ISTIO_MUTUAL') return { mode };
  if (mode !== 'SIMPLE' && mode !== 'MUTUAL') return undefined;
  // Unreadable certificates: reported by the control plane (tlsMaterialProblems); the port is not served.
  const m = serverMaterial({ ...s.tls!, mode }, ctx.readMaterial, ctx.credential);
  if ('problem' in m) return 'invalid';
  const min = s.tls?.minProtocolVersion === 'TLSV1_3' ? 'TLSv1.3' : s.tls?.minProtocolVersion === 'TLSV1_2' ? 'TLSv1.2' : undefined;
  return { mode, ...m, ...(min ? { minProtocolVersion: min } : {}) };
}

interface BoundServer {
  readonly gateway: GatewayModel;
  readonly server: ServerModel;
}

/** The hosts a VirtualService gets on a server: each VS host ∩ each server host rule that admits the VS's namespace. */
function boundHosts(vs: VirtualServiceModel, b: BoundServer): string[] {
  const out: string[] = [];
  for (const rule of b.server.hosts.map((h) => parseHostRule(h, b.gateway.namespace))) {
    if (!ruleAllowsNamespace(rule, vs.namespace)) continue;
    for (const h of vs.hosts) if (hostsIntersect(rule.host, h)) out.push(narrowerHost(rule.host, h));
  }
  return out;
}

export function translateGateway(input: GatewayInput): GatewayOutput {
  const { identity, registry } = input;
  const address = identity.ip ?? '0.0.0.0';
  const mine = gatewaysForProxy(input.gateways, identity);
  const targets = targetPortMap(input.snapshot, identity);
  const byPort = new Map<number, BoundServer[]>();
  for (const gateway of mine) {
    for (const server of gateway.servers) {
      let list = byPort.get(server.port);
      if (!list) byPort.set(server.port, (list = []));
      list.push({ gateway, server });
    }
  }
  const vsByAge = [...input.virtualServices].sort((a, b) => compareStrings(a.age, b.age));
  // Plain servers also take mesh mTLS from sidecars (auto mTLS), as the PeerAuthentication for this pod and port allows.
  const meshMtls = (port: number): 'STRICT' | 'PERMISSIVE' | undefined => {
    const m = input.clusterContext.peerMode(identity.namespace, identity.labels, port);
    return m === 'DISABLE' ? undefined : m;
  };
  const listeners: Listener[] = [];
  const routeTables: RouteTable[] = [];

  for (const port of [...byPort.keys()].sort((a, b) => a - b)) {
    // Servers of another kind than the first on a port conflict and are dropped, as Istio drops conflicting listeners.
    const all = byPort.get(port)!;
    const kind = serverKind(all[0]!.server);
    const servers = all.filter((b) => serverKind(b.server) === kind);
    const targetPort = targets.get(port) ?? port;
    const listenerName = sidecarListenerName(targetPort);
    const keys = new Set(servers.map((b) => b.gateway.key));
    const ctx: RouteContext = { port, gateways: keys, registry, namespace: identity.namespace };
    const bound = vsByAge.filter((vs) => vs.gateways.some((g) => keys.has(g)));

    if (kind === 'HTTP') {
      const vhosts = new Map<string, { routes: Route[]; redirect: boolean }>();
      for (const vs of bound) {
        const domains = new Set<string>();
        let redirect = false;
        const vsKeys = new Set<string>();
        for (const b of servers) {
          if (!vs.gateways.includes(b.gateway.key) || !isExportedTo(vs.exportTo, vs.namespace, b.gateway.namespace)) continue;
          const hosts = boundHosts(vs, b);
          if (!hosts.length) continue;
          vsKeys.add(b.gateway.key);
          for (const h of hosts) domains.add(h);
          if (b.server.tls?.httpsRedirect) redirect = true;
        }
        if (!domains.size) continue;
        const routes = virtualServiceRoutes(vs, { ...ctx, gateways: vsKeys });
        for (const d of [...domains].sort()) {
          let vh = vhosts.get(d);
          if (!vh) vhosts.set(d, (vh = { routes: [], redirect: false }));
          // Several VirtualServices for one host at a gateway merge, oldest first.
          vh.routes.push(...routes);
          if (redirect) vh.redirect = true;
        }
      }
      const table = gatewayRouteTableName(targetPort);
      const virtualHosts: VirtualHost[] = [...vhosts.entries()]
        .sort(([a], [b]) => compareStrings(a, b))
        .map(([domain, vh]) => ({
          name: virtualHostName(domain, port),
          domains: domain === '*' ? ['*'] : [domain, `${domain}:${port}`],
          routes: vh.redirect
            ? [{ match: { path: { kind: 'prefix', value: '/' } }, action: { kind: 'redirect', scheme: 'https', code: 301 } }]
            : vh.routes.length > 1 && vh.routes.every(isGatewayApiRoute)
              ? sortByGatewayApiPrecedence(vh.routes)
              : vh.routes,
        }));
      const tls = servers.map((b) => downstreamTls(b.server, input.clusterContext)).find((t) => t !== undefined);
      if (tls === 'invalid') continue; // A terminating server without readable certificates cannot be served.
      routeTables.push({ name: table, virtualHosts });
      const mtls = tls ? undefined : meshMtls(targetPort);
      listeners.push({
        name: listenerName,
        address,
        port: targetPort,
        bindToPort: true,
        protocol: 'HTTP',
        routeTable: table,
        ...(tls ? { tls } : {}),
        ...(mtls ? { mtls } : {}),
      });
    } else if (kind === 'TLS') {
      const chains: SniChain[] = [];
      const taken = new Set<string>();
      for (const vs of bound) {
        for (const b of servers) {
          if (!vs.gateways.includes(b.gateway.key) || !isExportedTo(vs.exportTo, vs.namespace, b.gateway.namespace)) continue;
          if (!boundHosts(vs, b).length) continue;
          const rules = b.server.hosts.map((h) => parseHostRule(h, b.gateway.namespace)).filter((r) => ruleAllowsNamespace(r, vs.namespace));
          const bctx = { ...ctx, gateways: new Set([b.gateway.key]) };
          for (const rule of vs.tls) {
            for (const m of rule.matches) {
              if (!l4MatchApplies(m, vs, bctx)) continue;
              const sni = (m.sniHosts ?? [])
                .flatMap((h) => rules.filter((r) => hostsIntersect(r.host, h)).map((r) => narrowerHost(r.host, h)))
                .filter((h, i, a) => a.indexOf(h) === i && !taken.has(h));
              if (!sni.length) continue;
              for (const h of sni) taken.add(h);
              chains.push({ sniHosts: sni, route: { clusters: weightedClusters(rule.destinations, bctx) } });
            }
          }
        }
      }
      listeners.push({ name: listenerName, address, port: targetPort, bindToPort: true, protocol: 'TLS', chains });
    } else {
      let route: TcpRoute | undefined;
      for (const vs of bound) {
        const rule = vs.tcp.find((r) => r.matches.length === 0 || r.matches.some((m) => l4MatchApplies(m, vs, ctx)));
        if (rule) {
          route = { clusters: weightedClusters(rule.destinations, ctx) };
          break;
        }
      }
      const mtls = meshMtls(targetPort);
      if (route) listeners.push({ name: listenerName, address, port: targetPort, bindToPort: true, protocol: 'TCP', route, ...(mtls ? { mtls } : {}) });
    }
  }

  const clusters: Cluster[] = [PASSTHROUGH, BLACKHOLE];
  for (const s of registry.visibleTo(identity.namespace)) clusters.push(...serviceClusters(s, input.clusterContext));
  return { listeners, routeTables, clusters };
}
