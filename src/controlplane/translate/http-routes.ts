// Routing-model HTTP rules → ProxyConfig routes, for one port and the set of gateways (or `mesh`) the proxy answers for.
import { outboundClusterName } from '../../proxyconfig/naming.js';
import type { ForwardAction, RetryPolicy, Route, RouteAction, RouteMatch, WeightedCluster } from '../../proxyconfig/types.js';
import type { ServiceRegistry } from '../registry/index.js';
import type { DestinationModel, HttpRuleModel, L4MatchModel, VirtualServiceModel } from './model.js';

/** Istio's default mesh retry policy: 2 retries on connection-level failures. */
export const DEFAULT_RETRY: RetryPolicy = { attempts: 2, retryOn: ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes'] };

export interface RouteContext {
  /** The port the request arrived on (service port at sidecars, server port at gateways). */
  readonly port: number;
  /** `mesh` at sidecars, the gateway keys of the servers on this port at gateways. */
  readonly gateways: ReadonlySet<string>;
  readonly registry: ServiceRegistry;
  /** The namespace names are resolved from (the proxy's). */
  readonly namespace: string;
}

function gatewaysAllow(list: readonly string[], accepted: ReadonlySet<string>): boolean {
  return list.some((g) => accepted.has(g));
}

/** Does an L4 (tls/tcp) match apply on this port for these gateways? */
export function l4MatchApplies(m: L4MatchModel, vs: VirtualServiceModel, ctx: Pick<RouteContext, 'port' | 'gateways'>): boolean {
  if (m.port !== undefined && m.port !== ctx.port) return false;
  return gatewaysAllow(m.gateways ?? vs.gateways, ctx.gateways);
}

/** The cluster a destination names: its explicit port, else the service's only port, else the request's port. */
export function destinationCluster(d: DestinationModel, ctx: Pick<RouteContext, 'port' | 'registry' | 'namespace'>): string {
  let port = d.port;
  if (port === undefined) {
    const svc = ctx.registry.lookup(d.host, ctx.namespace);
    port = svc && svc.ports.length === 1 ? svc.ports[0]!.port : ctx.port;
  }
  return outboundClusterName(port, d.subset, d.host);
}

export function weightedClusters(dests: readonly DestinationModel[], ctx: RouteContext): WeightedCluster[] {
  const allZero = dests.every((d) => d.weight <= 0);
  return dests
    .filter((d) => allZero || d.weight > 0)
    .map((d) => ({
      cluster: destinationCluster(d, ctx),
      weight: allZero ? 1 : d.weight,
      ...(d.requestHeaders ? { requestHeaders: d.requestHeaders } : {}),
      ...(d.responseHeaders ? { responseHeaders: d.responseHeaders } : {}),
    }));
}

function action(rule: HttpRuleModel, ctx: RouteContext): RouteAction {
  if (rule.redirect) {
    const { portFromRequest, ...redirect } = rule.redirect;
    return portFromRequest ? { ...redirect, port: ctx.port } : redirect;
  }
  if (rule.directResponse) return rule.directResponse;
  const forward: { -readonly [K in keyof ForwardAction]: ForwardAction[K] } = {
    kind: 'forward',
    clusters: weightedClusters(rule.destinations ?? [], ctx),
  };
  if (rule.timeoutMs !== undefined && rule.timeoutMs > 0) forward.timeoutMs = rule.timeoutMs;
  const retry = rule.retry === undefined ? DEFAULT_RETRY : rule.retry;
  if (retry) forward.retry = retry;
  if (rule.rewrite) forward.rewrite = rule.rewrite;
  if (rule.mirrors?.length) {
    forward.mirrors = rule.mirrors.map((m) => ({
      cluster: destinationCluster(m.destination, ctx),
      ...(m.percentage !== undefined ? { percentage: m.percentage } : {}),
    }));
  }
  return forward;
}

/** The routes a VirtualService contributes on this port for these gateways, in rule order (first match wins). */
export function virtualServiceRoutes(vs: VirtualServiceModel, ctx: RouteContext): Route[] {
  const out: Route[] = [];
  for (const rule of vs.http) {
    const matches =
      rule.matches.length === 0
        ? [{ match: { path: { kind: 'prefix' as const, value: '/' } } } as const]
        : rule.matches.filter((m) => (m.port === undefined || m.port === ctx.port) && gatewaysAllow(m.gateways ?? vs.gateways, ctx.gateways));
    if (rule.matches.length === 0 && !gatewaysAllow(vs.gateways, ctx.gateways)) continue;
    for (const m of matches) {
      const matchName = 'name' in m ? m.name : undefined;
      const name = rule.name !== undefined && matchName ? `${rule.name}.${matchName}` : (rule.name ?? matchName);
      out.push({
        ...(name !== undefined ? { name } : {}),
        match: m.match,
        action: action(rule, ctx),
        ...(rule.requestHeaders ? { requestHeaders: rule.requestHeaders } : {}),
        ...(rule.responseHeaders ? { responseHeaders: rule.responseHeaders } : {}),
        ...(rule.fault ? { fault: rule.fault } : {}),
        source: vs.source,
      });
    }
  }
  return out;
}

/** Every path: Istio's match for a rule without one (shared: configs are never written to). */
export const MATCH_ALL: RouteMatch = Object.freeze({ path: Object.freeze({ kind: 'prefix', value: '/' } as const) });

/** Istio's route for a service no VirtualService covers: everything to `outbound|port||host`. */
export function defaultRoute(host: string, port: number): Route {
  return {
    name: 'default',
    match: MATCH_ALL,
    action: { kind: 'forward', clusters: [{ cluster: outboundClusterName(port, undefined, host), weight: 100 }], retry: DEFAULT_RETRY },
  };
}

/** Routes that came from Gateway API routes (their source is the route's API path). */
export const GATEWAY_API_SOURCE = '/apis/gateway.networking.k8s.io/';

export function isGatewayApiRoute(r: Route): boolean {
  return r.source?.startsWith(GATEWAY_API_SOURCE) ?? false;
}

function pathRank(m: RouteMatch): number {
  switch (m.path?.kind) {
    case 'exact':
      return 3;
    case 'prefix':
    case 'pathPrefix':
      return 2;
    case 'regex':
      return 1;
    default:
      return -1;
  }
}

/**
 * Gateway API precedence among a host's routes (Istio's order for merged HTTPRoute rules): exact
 * paths, then the longest prefixes, then regexes; then a method match, more header matches, more
 * query matches. Stable, so ties keep route age and rule order.
 */
export function sortByGatewayApiPrecedence(routes: readonly Route[]): Route[] {
  return routes
    .map((r, i) => ({ r, i }))
    .sort((a, b) => {
      const m1 = a.r.match;
      const m2 = b.r.match;
      const r1 = pathRank(m1);
      const r2 = pathRank(m2);
      if (r1 !== r2) return r2 - r1;
      const l1 = m1.path?.value.length ?? 0;
      const l2 = m2.path?.value.length ?? 0;
      if (l1 !== l2) return l2 - l1;
      if ((m1.method === undefined) !== (m2.method === undefined)) return m1.method !== undefined ? -1 : 1;
      const h = (m2.headers?.length ?? 0) - (m1.headers?.length ?? 0);
      if (h !== 0) return h;
      const q = (m2.queryParams?.length ?? 0) - (m1.queryParams?.length ?? 0);
      return q !== 0 ? q : a.i - b.i;
    })
    .map((x) => x.r);
}
