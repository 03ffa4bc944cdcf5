// networking.istio.io VirtualService: ordered routing rules for hosts, at sidecars (`mesh`) and gateways.
import type { KubeObject } from '../object.js';
import type { IssueList } from '../field-issue.js';
import type { PathSegment } from '../field-path.js';
import { FIELD_TREES } from '../schema/field-trees.gen.js';
import { checkDns1123Label, checkDns1123Subdomain, checkIstioHost } from '../names.js';
import { isDuration } from '../duration.js';
import { checkExportTo, checkPortNumber, requireList } from './common-rules.js';
import { arr, rec, str, type KindModule } from './kind-module.js';
import { ISTIO_NETWORKING_GROUP } from '../groups.js';

export interface StringMatch {
  readonly exact?: string;
  readonly prefix?: string;
  readonly regex?: string;
}

export interface HTTPMatchRequest {
  readonly name?: string;
  readonly uri?: StringMatch;
  readonly scheme?: StringMatch;
  readonly method?: StringMatch;
  readonly authority?: StringMatch;
  readonly headers?: Readonly<Record<string, StringMatch>>;
  readonly withoutHeaders?: Readonly<Record<string, StringMatch>>;
  readonly queryParams?: Readonly<Record<string, StringMatch>>;
  readonly port?: number;
  readonly sourceLabels?: Readonly<Record<string, string>>;
  readonly gateways?: readonly string[];
  readonly sourceNamespace?: string;
  readonly ignoreUriCase?: boolean;
  readonly statPrefix?: string;
}

export interface Destination {
  readonly host: string;
  readonly subset?: string;
  readonly port?: { readonly number?: number };
}

export interface HeaderOperations {
  readonly set?: Readonly<Record<string, string>>;
  readonly add?: Readonly<Record<string, string>>;
  readonly remove?: readonly string[];
}
export interface Headers {
  readonly request?: HeaderOperations;
  readonly response?: HeaderOperations;
}

export interface HTTPRouteDestination {
  readonly destination: Destination;
  readonly weight?: number;
  readonly headers?: Headers;
}
export interface RouteDestination {
  readonly destination: Destination;
  readonly weight?: number;
}

export interface HTTPRetry {
  readonly attempts?: number;
  readonly perTryTimeout?: string;
  readonly retryOn?: string;
  readonly retryRemoteLocalities?: boolean;
  readonly backoff?: string;
}
export interface HTTPRedirect {
  readonly uri?: string;
  readonly authority?: string;
  readonly port?: number;
  readonly derivePort?: 'FROM_PROTOCOL_DEFAULT' | 'FROM_REQUEST_PORT';
  readonly scheme?: string;
  readonly redirectCode?: number;
}
export interface HTTPRewrite {
  readonly uri?: string;
  readonly authority?: string;
  readonly uriRegexRewrite?: { readonly match?: string; readonly rewrite?: string };
}
export interface HTTPDirectResponse {
  readonly status: number;
  readonly body?: { readonly string?: string; readonly bytes?: string };
}
/** `percent` is the integer field Istio deprecated for `percentage`. */
export interface HTTPFaultInjection {
  readonly delay?: { readonly fixedDelay?: string; readonly percentage?: { readonly value?: number }; readonly percent?: number };
  readonly abort?: { readonly httpStatus?: number; readonly grpcStatus?: string; readonly percentage?: { readonly value?: number }; readonly percent?: number };
}
export interface HTTPMirrorPolicy {
  readonly destination: Destination;
  readonly percentage?: { readonly value?: number };
}

export interface IstioHTTPRoute {
  readonly name?: string;
  readonly match?: readonly HTTPMatchRequest[];
  readonly route?: readonly HTTPRouteDestination[];
  readonly redirect?: HTTPRedirect;
  readonly directResponse?: HTTPDirectResponse;
  readonly delegate?: { readonly name?: string; readonly namespace?: string };
  readonly rewrite?: HTTPRewrite;
  readonly timeout?: string;
  readonly retries?: HTTPRetry;
  readonly fault?: HTTPFaultInjection;
  readonly headers?: Headers;
  readonly mirror?: Destination;
  readonly mirrorPercentage?: { readonly value?: number };
  /** Deprecated for mirrorPercentage (an integer percent); mirror_percent is its proto spelling. */
  readonly mirrorPercent?: number;
  readonly mirror_percent?: number;
  readonly mirrors?: readonly HTTPMirrorPolicy[];
}

export interface TLSMatchAttributes {
  readonly sniHosts: readonly string[];
  readonly destinationSubnets?: readonly string[];
  readonly port?: number;
  readonly sourceLabels?: Readonly<Record<string, string>>;
  readonly gateways?: readonly string[];
  readonly sourceNamespace?: string;
}
export interface IstioTLSRoute {
  readonly match: readonly TLSMatchAttributes[];
  readonly route?: readonly RouteDestination[];
}

export interface L4MatchAttributes {
  readonly destinationSubnets?: readonly string[];
  readonly port?: number;
  readonly sourceLabels?: Readonly<Record<string, string>>;
  readonly gateways?: readonly string[];
  readonly sourceNamespace?: string;
}
export interface IstioTCPRoute {
  readonly match?: readonly L4MatchAttributes[];
  readonly route?: readonly RouteDestination[];
}

export interface VirtualServiceSpec {
  readonly hosts?: readonly string[];
  readonly gateways?: readonly string[];
  readonly http?: readonly IstioHTTPRoute[];
  readonly tls?: readonly IstioTLSRoute[];
  readonly tcp?: readonly IstioTCPRoute[];
  readonly exportTo?: readonly string[];
}

export type VirtualService = KubeObject<VirtualServiceSpec>;

/** The reserved gateway name meaning "every sidecar". */
export const MESH_GATEWAY = 'mesh';

/** Istio's default: a VirtualService without gateways applies to sidecars only (`mesh`). */
export function virtualServiceGateways(spec: VirtualServiceSpec): readonly string[] {
  return spec.gateways && spec.gateways.length > 0 ? spec.gateways : [MESH_GATEWAY];
}

/** A gateway reference (`ns/name` or `name`) resolved against the VirtualService's namespace. */
export function resolveGatewayRef(ref: string, vsNamespace: string): { namespace: string; name: string } | typeof MESH_GATEWAY {
  if (ref === MESH_GATEWAY) return MESH_GATEWAY;
  const slash = ref.indexOf('/');
  if (slash < 0) {
    // A dotted short form `name.namespace.svc.cluster.local` is an old spelling Istio still accepts.
    return { namespace: vsNamespace, name: ref };
  }
  return { namespace: ref.slice(0, slash), name: ref.slice(slash + 1) };
}

/** The gateways a match applies to: its own list, or the VirtualService's (defaulted) list. */
export function matchGateways(spec: VirtualServiceSpec, match: { readonly gateways?: readonly string[] } | undefined): readonly string[] {
  return match?.gateways && match.gateways.length > 0 ? match.gateways : virtualServiceGateways(spec);
}

function checkGatewayRef(g: unknown, path: PathSegment[], out: IssueList): void {
  if (typeof g !== 'string' || g === MESH_GATEWAY) return;
  const slash = g.indexOf('/');
  const ns = slash < 0 ? undefined : g.slice(0, slash);
  const name = slash < 0 ? g : g.slice(slash + 1);
  if (ns !== undefined && checkDns1123Label(ns)) {
    out.invalid(path, g, 'gateway must be "mesh", "<name>" or "<namespace>/<name>" with a valid namespace');
    return;
  }
  if (name.includes('/') || checkDns1123Subdomain(name)) out.invalid(path, g, 'gateway must be "mesh", "<name>" or "<namespace>/<name>" with a valid name');
}

function checkDestination(d: unknown, path: PathSegment[], out: IssueList): void {
  if (d === undefined || d === null) {
    out.required(path);
    return;
  }
  const dest = rec(d);
  const host = dest['host'];
  if (host === undefined || host === null || host === '') out.required([...path, 'host']);
  else if (typeof host === 'string') {
    const err = checkIstioHost(host, { allowIp: true });
    if (err) out.invalid([...path, 'host'], host, err);
  }
  const subset = str(dest['subset']);
  if (subset !== undefined && checkDns1123Label(subset)) out.invalid([...path, 'subset'], subset, 'subset name must be a lowercase RFC 1123 label');
  checkPortNumber(rec(dest['port'])['number'], [...path, 'port', 'number'], out);
}

function checkWeights(routes: unknown[], path: PathSegment[], out: IssueList): void {
  let total = 0;
  routes.forEach((r, i) => {
    const w = rec(r)['weight'];
    if (typeof w === 'number') {
      if (w < 0) out.invalid([...path, i, 'weight'], w, 'weight must not be negative');
      total += Math.max(0, w);
    }
  });
  if (routes.length > 1 && routes.every((r) => typeof rec(r)['weight'] === 'number') && total === 0) {
    out.invalid(path, 'weights', 'total destination weight must be greater than 0');
  }
}

function checkDurationField(v: unknown, path: PathSegment[], out: IssueList): void {
  if (typeof v === 'string' && !isDuration(v)) out.invalid(path, v, 'must be a duration such as "3s" or "250ms"');
}

function validate(obj: KubeObject, out: IssueList): void {
  const spec = rec(obj.spec);
  const gateways = arr(spec['gateways']);
  const boundToMesh = gateways.length === 0 || gateways.includes(MESH_GATEWAY);
  // Without hosts a VirtualService is a delegate (included by another one's http.delegate).
  const isDelegate = spec['hosts'] === undefined || spec['hosts'] === null;
  if (!isDelegate) requireList(spec['hosts'], ['spec', 'hosts'], out, 'at least one host');
  if (isDelegate && gateways.length > 0)
    out.required(['spec', 'hosts'], 'a virtual service with gateways must have at least one host (only delegates have none)');
  if (isDelegate && (arr(spec['tls']).length > 0 || arr(spec['tcp']).length > 0))
    out.forbidden(['spec', 'tls'], 'a delegate virtual service (no hosts) must have only http routes');
  arr(spec['hosts']).forEach((h, i) => {
    if (typeof h !== 'string') return;
    if (h === '*' && boundToMesh) {
      out.invalid(['spec', 'hosts', i], h, 'wildcard host "*" is not allowed for virtual services bound to the mesh gateway');
      return;
    }
    const err = checkIstioHost(h, { allowBareWildcard: true, allowIp: true });
    if (err) out.invalid(['spec', 'hosts', i], h, err);
  });
  gateways.forEach((g, i) => checkGatewayRef(g, ['spec', 'gateways', i], out));
  checkExportTo(spec['exportTo'], ['spec', 'exportTo'], out);
  const http = arr(spec['http']);
  const tls = arr(spec['tls']);
  const tcp = arr(spec['tcp']);
  if (http.length === 0 && tls.length === 0 && tcp.length === 0) out.required(['spec', 'http'], 'http, tls or tcp must have at least one route');
  const routeNames = new Set<string>();
  http.forEach((r, i) => {
    const route = rec(r);
    const base: PathSegment[] = ['spec', 'http', i];
    const name = str(route['name']);
    if (name !== undefined) {
      if (routeNames.has(name)) out.duplicate([...base, 'name'], name, 'route names must be unique');
      routeNames.add(name);
    }
    const hasRoute = arr(route['route']).length > 0;
    const hasRedirect = route['redirect'] !== undefined && route['redirect'] !== null;
    const hasDirect = route['directResponse'] !== undefined && route['directResponse'] !== null;
    const hasDelegate = route['delegate'] !== undefined && route['delegate'] !== null;
    if (!hasRoute && !hasRedirect && !hasDirect && !hasDelegate)
      out.required([...base, 'route'], 'HTTP route must have route, redirect, directResponse or delegate');
    if (hasRoute && hasRedirect) out.forbidden([...base, 'redirect'], 'HTTP route cannot contain both route and redirect');
    if (hasRoute && hasDirect) out.forbidden([...base, 'directResponse'], 'HTTP route cannot contain both route and directResponse');
    if (hasRedirect && hasDirect) out.forbidden([...base, 'directResponse'], 'HTTP route cannot contain both redirect and directResponse');
    arr(route['route']).forEach((d, j) => checkDestination(rec(d)['destination'], [...base, 'route', j, 'destination'], out));
    checkWeights(arr(route['route']), [...base, 'route'], out);
    arr(route['match']).forEach((m, j) => {
      const match = rec(m);
      checkPortNumber(match['port'], [...base, 'match', j, 'port'], out);
      arr(match['gateways']).forEach((g, k) => checkGatewayRef(g, [...base, 'match', j, 'gateways', k], out));
      for (const f of ['uri', 'scheme', 'method', 'authority']) {
        const sm = match[f];
        if (sm && typeof sm === 'object' && !Array.isArray(sm)) {
          const set = ['exact', 'prefix', 'regex'].filter((k) => (sm as Record<string, unknown>)[k] !== undefined);
          if (set.length > 1) out.invalid([...base, 'match', j, f], set.join(','), 'only one of exact, prefix or regex may be set');
          const re = (sm as Record<string, unknown>)['regex'];
          if (typeof re === 'string') {
            try {
              new RegExp(re);
            } catch {
              out.invalid([...base, 'match', j, f, 'regex'], re, 'not a valid regular expression');
            }
          }
        }
      }
    });
    checkDurationField(route['timeout'], [...base, 'timeout'], out);
    const retries = rec(route['retries']);
    if (typeof retries['attempts'] === 'number' && retries['attempts'] < 0)
      out.invalid([...base, 'retries', 'attempts'], retries['attempts'], 'attempts must not be negative');
    checkDurationField(retries['perTryTimeout'], [...base, 'retries', 'perTryTimeout'], out);
    const redirect = rec(route['redirect']);
    checkPortNumber(redirect['port'], [...base, 'redirect', 'port'], out);
    if (typeof redirect['redirectCode'] === 'number' && (redirect['redirectCode'] < 300 || redirect['redirectCode'] > 399))
      out.invalid([...base, 'redirect', 'redirectCode'], redirect['redirectCode'], 'redirect code must be a 3xx status');
    const direct = rec(route['directResponse']);
    if (hasDirect && typeof direct['status'] === 'number' && (direct['status'] < 200 || direct['status'] > 599))
      out.invalid([...base, 'directResponse', 'status'], direct['status'], 'status must be between 200 and 599');
    const delay = rec(rec(route['fault'])['delay']);
    checkDurationField(delay['fixedDelay'], [...base, 'fault', 'delay', 'fixedDelay'], out);
    if (route['mirror']) checkDestination(route['mirror'], [...base, 'mirror'], out);
  });
  tls.forEach((r, i) => {
    const route = rec(r);
    const base: PathSegment[] = ['spec', 'tls', i];
    if (requireList(route['match'], [...base, 'match'], out, 'at least one match')) {
      arr(route['match']).forEach((m, j) => {
        const match = rec(m);
        if (requireList(match['sniHosts'], [...base, 'match', j, 'sniHosts'], out, 'at least one SNI host')) {
          arr(match['sniHosts']).forEach((h, k) => {
            if (typeof h !== 'string') return;
            const err = checkIstioHost(h, { allowBareWildcard: true });
            if (err) out.invalid([...base, 'match', j, 'sniHosts', k], h, err);
          });
        }
        checkPortNumber(match['port'], [...base, 'match', j, 'port'], out);
        arr(match['gateways']).forEach((g, k) => checkGatewayRef(g, [...base, 'match', j, 'gateways', k], out));
      });
    }
    if (requireList(route['route'], [...base, 'route'], out, 'at least one destination')) {
      arr(route['route']).forEach((d, j) => checkDestination(rec(d)['destination'], [...base, 'route', j, 'destination'], out));
      checkWeights(arr(route['route']), [...base, 'route'], out);
    }
  });
  tcp.forEach((r, i) => {
    const route = rec(r);
    const base: PathSegment[] = ['spec', 'tcp', i];
    arr(route['match']).forEach((m, j) => {
      const match = rec(m);
      checkPortNumber(match['port'], [...base, 'match', j, 'port'], out);
      arr(match['gateways']).forEach((g, k) => checkGatewayRef(g, [...base, 'match', j, 'gateways', k], out));
    });
    if (requireList(route['route'], [...base, 'route'], out, 'at least one destination')) {
      arr(route['route']).forEach((d, j) => checkDestination(rec(d)['destination'], [...base, 'route', j, 'destination'], out));
      checkWeights(arr(route['route']), [...base, 'route'], out);
    }
  });
}

export const virtualServiceKind: KindModule = {
  group: ISTIO_NETWORKING_GROUP,
  kind: 'VirtualService',
  fieldTree: FIELD_TREES['networking.istio.io/VirtualService'],
  specRequired: true,
  validate,
};
