// Istio VirtualServices and Gateways → the routing model.
import type { IstioGateway } from '../../api/kinds/istio-gateway.js';
import type { FaultInjection, HeaderMatch, HeaderOperations, QueryParamMatch, RetryPolicy, RouteMatch, StringMatch } from '../../proxyconfig/types.js';
import { ageKey, sortedRecord } from '../sort-order.js';
import { ISTIO_NETWORKING_V1 } from '../../api/groups.js';
import type {
  Destination,
  HeaderOperations as VsHeaderOperations,
  HTTPFaultInjection,
  HTTPMatchRequest,
  HTTPRetry,
  HTTPRouteDestination,
  IstioHTTPRoute,
  IstioTCPRoute,
  IstioTLSRoute,
  L4MatchAttributes,
  StringMatch as VsStringMatch,
  VirtualService,
} from '../../api/kinds/virtual-service.js';
import { resolveShortName } from '../hosts.js';
import { durationMs } from '../../api/duration.js';
import {
  MESH_GATEWAY,
  type DestinationModel,
  type GatewayModel,
  type HttpMatchModel,
  type HttpRuleModel,
  type L4RuleModel,
  type MirrorModel,
  type RedirectModel,
  type ServerModel,
  type VirtualServiceModel,
} from './model.js';

/** `mesh`, `<ns>/<name>` or a bare name (the rule's own namespace) → a gateway key. */
export function gatewayKey(ref: string, namespace: string): string {
  if (ref === MESH_GATEWAY) return ref;
  return ref.includes('/') ? ref : `${namespace}/${ref}`;
}

export function stringMatch(m: VsStringMatch | null | undefined, ignoreCase = false): StringMatch | undefined {
  if (!m) return undefined;
  const ic = ignoreCase ? { ignoreCase: true } : {};
  if (typeof m.exact === 'string') return { kind: 'exact', value: m.exact, ...ic };
  if (typeof m.prefix === 'string') return { kind: 'prefix', value: m.prefix, ...ic };
  if (typeof m.regex === 'string') return { kind: 'regex', value: m.regex };
  return undefined;
}

export function headerOps(h: VsHeaderOperations | null | undefined): HeaderOperations | undefined {
  if (!h) return undefined;
  const set = sortedRecord(h.set ?? {});
  const add = sortedRecord(h.add ?? {});
  const remove = [...(h.remove ?? [])];
  const out: { set?: Record<string, string>; add?: Record<string, string>; remove?: string[] } = {};
  if (Object.keys(set).length) out.set = set;
  if (Object.keys(add).length) out.add = add;
  if (remove.length) out.remove = remove;
  return Object.keys(out).length ? out : undefined;
}

/** A fault's percentage: `percentage.value`, else the deprecated integer `percent`, else 100. */
function percentage(f: { readonly percentage?: { readonly value?: number }; readonly percent?: number }): number {
  return f.percentage?.value ?? f.percent ?? 100;
}

const byName = ([a]: [string, unknown], [b]: [string, unknown]): number => (a < b ? -1 : 1);

function httpMatch(m: HTTPMatchRequest, namespace: string): HttpMatchModel {
  const match: { -readonly [K in keyof RouteMatch]: RouteMatch[K] } = {};
  const ignoreCase = m.ignoreUriCase === true;
  // Envoy routes always carry a path matcher; Istio writes prefix `/` when the match has none.
  match.path = stringMatch(m.uri, ignoreCase) ?? { kind: 'prefix', value: '/' };
  const method = stringMatch(m.method);
  if (method) match.method = method;
  const scheme = stringMatch(m.scheme);
  if (scheme) match.scheme = scheme;
  const authority = stringMatch(m.authority);
  if (authority) match.authority = authority;
  const headers: HeaderMatch[] = [];
  for (const [name, v] of Object.entries(m.headers ?? {}).sort(byName)) {
    const sm = stringMatch(v);
    headers.push(sm ? { name: name.toLowerCase(), match: sm } : { name: name.toLowerCase(), present: true });
  }
  for (const [name, v] of Object.entries(m.withoutHeaders ?? {}).sort(byName)) {
    const sm = stringMatch(v);
    headers.push(sm ? { name: name.toLowerCase(), match: sm, invert: true } : { name: name.toLowerCase(), present: false });
  }
  if (headers.length) match.headers = headers;
  const query: QueryParamMatch[] = [];
  for (const [name, v] of Object.entries(m.queryParams ?? {}).sort(byName)) {
    const sm = stringMatch(v);
    query.push(sm ? { name, match: sm } : { name, present: true });
  }
  if (query.length) match.queryParams = query;
  const port = m.port ?? undefined;
  const gateways = m.gateways == null ? undefined : m.gateways.map((g) => gatewayKey(g, namespace));
  return {
    match,
    ...(port !== undefined ? { port } : {}),
    ...(gateways && gateways.length ? { gateways } : {}),
    ...(m.name ? { name: m.name } : {}),
  };
}

export function destinations(routes: readonly HTTPRouteDestination[] | null | undefined, namespace: string): DestinationModel[] {
  const list = routes ?? [];
  return list.flatMap((r) => {
    const d = r.destination;
    const host = d?.host;
    if (!host) return [];
    const port = d.port?.number ?? undefined;
    const w = r.weight ?? undefined;
    const req = headerOps(r.headers?.request);
    const res = headerOps(r.headers?.response);
    return [
      {
        host: resolveShortName(host, namespace),
        ...(d.subset ? { subset: d.subset } : {}),
        ...(port !== undefined ? { port } : {}),
        weight: w ?? (list.length === 1 ? 100 : 0),
        ...(req ? { requestHeaders: req } : {}),
        ...(res ? { responseHeaders: res } : {}),
      },
    ];
  });
}

/** `mirror` (+ `mirrorPercentage`, or the older `mirrorPercent`) and `mirrors` (each with its `percentage`). */
function vsMirrors(r: IstioHTTPRoute, namespace: string): MirrorModel[] {
  const out: MirrorModel[] = [];
  const one = (destination: Destination, percentage: number | undefined) => {
    const [d] = destinations([{ destination }], namespace);
    if (d) out.push({ destination: d, ...(percentage !== undefined ? { percentage } : {}) });
  };
  if (r.mirror !== undefined) one(r.mirror, r.mirrorPercentage?.value ?? r.mirrorPercent ?? r.mirror_percent ?? undefined);
  for (const m of r.mirrors ?? []) one(m.destination, m.percentage?.value ?? undefined);
  return out;
}

function retryPolicy(v: HTTPRetry | null | undefined): RetryPolicy | null | undefined {
  if (v === undefined) return undefined;
  const r = v ?? {};
  const attempts = r.attempts ?? 0;
  if (attempts <= 0) return null;
  const perTry = durationMs(r.perTryTimeout);
  const backoff = durationMs(r.backoff);
  const retryOn = (r.retryOn ?? 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return { attempts, retryOn, ...(perTry !== undefined ? { perTryTimeoutMs: perTry } : {}), ...(backoff ? { backoffBaseMs: backoff } : {}) };
}

function fault(f: HTTPFaultInjection | null | undefined): FaultInjection | undefined {
  const out: { delay?: FaultInjection['delay']; abort?: FaultInjection['abort'] } = {};
  const d = f?.delay ?? {};
  const delay = durationMs(d.fixedDelay);
  if (delay !== undefined) out.delay = { fixedDelayMs: delay, percentage: percentage(d) };
  const a = f?.abort ?? {};
  const status = a.httpStatus ?? undefined;
  if (status !== undefined) out.abort = { httpStatus: status, percentage: percentage(a) };
  return out.delay || out.abort ? out : undefined;
}

function httpRule(r: IstioHTTPRoute, namespace: string): HttpRuleModel {
  const out: { -readonly [K in keyof HttpRuleModel]: HttpRuleModel[K] } = {
    matches: (r.match ?? []).map((m) => httpMatch(m ?? {}, namespace)),
  };
  if (r.name) out.name = r.name;
  if (r.redirect !== undefined) {
    const redirect = r.redirect ?? {};
    const action: { -readonly [K in keyof RedirectModel]: RedirectModel[K] } = { kind: 'redirect', code: redirect.redirectCode ?? 301 };
    if (redirect.uri) action.path = redirect.uri;
    if (redirect.authority) action.host = redirect.authority;
    if (redirect.scheme) action.scheme = redirect.scheme;
    if (redirect.port != null) action.port = redirect.port;
    else if (redirect.derivePort === 'FROM_REQUEST_PORT') action.portFromRequest = true;
    out.redirect = action;
  } else if (r.directResponse !== undefined) {
    const direct = r.directResponse ?? { status: 200 };
    const body = direct.body ?? {};
    const text = body.string ?? (body.bytes ? Buffer.from(body.bytes, 'base64').toString('utf8') : undefined);
    out.directResponse = { kind: 'directResponse', status: direct.status ?? 200, ...(text !== undefined ? { body: text } : {}) };
  } else {
    out.destinations = destinations(r.route, namespace);
  }
  const timeout = durationMs(r.timeout);
  if (timeout !== undefined) out.timeoutMs = timeout;
  const retry = retryPolicy(r.retries);
  if (retry !== undefined) out.retry = retry;
  const rw = r.rewrite ?? {};
  const rewrite: { pathPrefix?: string; authority?: string; regex?: { pattern: string; substitution: string } } = {};
  if (typeof rw.uri === 'string') rewrite.pathPrefix = rw.uri;
  if (rw.authority) rewrite.authority = rw.authority;
  const rr = rw.uriRegexRewrite ?? {};
  if (typeof rr.match === 'string' && typeof rr.rewrite === 'string') rewrite.regex = { pattern: rr.match, substitution: rr.rewrite };
  if (Object.keys(rewrite).length) out.rewrite = rewrite;
  const mirrors = vsMirrors(r, namespace);
  if (mirrors.length) out.mirrors = mirrors;
  const f = fault(r.fault);
  if (f) out.fault = f;
  const req = headerOps(r.headers?.request);
  const res = headerOps(r.headers?.response);
  if (req) out.requestHeaders = req;
  if (res) out.responseHeaders = res;
  return out;
}

type L4Match = L4MatchAttributes & { readonly sniHosts?: readonly string[] };

function l4Rule(r: IstioTLSRoute | IstioTCPRoute, namespace: string, tls: boolean): L4RuleModel {
  const matches: readonly L4Match[] = r.match ?? [];
  return {
    matches: matches.map((m) => {
      const port = m.port ?? undefined;
      const gateways = m.gateways == null ? undefined : m.gateways.map((g) => gatewayKey(g, namespace));
      return {
        ...(tls ? { sniHosts: (m.sniHosts ?? []).map((h) => h.toLowerCase()) } : {}),
        ...(port !== undefined ? { port } : {}),
        ...(gateways && gateways.length ? { gateways } : {}),
      };
    }),
    destinations: destinations(r.route, namespace),
  };
}

export function virtualServiceModel(vs: VirtualService): VirtualServiceModel {
  const ns = vs.metadata.namespace ?? 'default';
  const spec = vs.spec;
  const gateways = (spec?.gateways ?? []).map((g) => gatewayKey(g, ns));
  return {
    namespace: ns,
    name: vs.metadata.name,
    source: `/apis/${ISTIO_NETWORKING_V1}/namespaces/${ns}/virtual-service/${vs.metadata.name}`,
    hosts: (spec?.hosts ?? []).map((h) => resolveShortName(h, ns)),
    gateways: gateways.length ? gateways : [MESH_GATEWAY],
    exportTo: [...(spec?.exportTo ?? [])],
    http: (spec?.http ?? []).map((r) => httpRule(r ?? {}, ns)),
    tls: (spec?.tls ?? []).map((r) => l4Rule(r ?? { match: [] }, ns, true)),
    tcp: (spec?.tcp ?? []).map((r) => l4Rule(r ?? {}, ns, false)),
    age: ageKey(vs.metadata),
  };
}

export function gatewayModel(gw: IstioGateway): GatewayModel {
  const ns = gw.metadata.namespace ?? 'default';
  const spec = gw.spec;
  const servers: ServerModel[] = (spec?.servers ?? []).flatMap((s) => {
    const port = s.port;
    const number = port?.number;
    if (number == null) return [];
    const tls = s.tls ?? undefined;
    const hasTls = s.tls !== undefined;
    const mode = (tls?.mode ?? 'PASSTHROUGH') as NonNullable<ServerModel['tls']>['mode'];
    return [
      {
        port: number,
        portName: port.name ?? String(number),
        protocol: (port.protocol ?? 'TCP').toUpperCase(),
        hosts: (s.hosts ?? []).map((h) => (h.includes('/') ? (h.startsWith('./') ? `${ns}/${h.slice(2)}` : h) : `*/${h}`).toLowerCase()),
        ...(hasTls
          ? {
              tls: {
                mode,
                ...(tls?.httpsRedirect === true ? { httpsRedirect: true } : {}),
                ...(tls?.serverCertificate ? { serverCertificate: tls.serverCertificate } : {}),
                ...(tls?.privateKey ? { privateKey: tls.privateKey } : {}),
                ...(tls?.caCertificates ? { caCertificates: tls.caCertificates } : {}),
                ...(tls?.credentialName ? { credentialName: tls.credentialName } : {}),
                ...(tls?.minProtocolVersion ? { minProtocolVersion: tls.minProtocolVersion } : {}),
              },
            }
          : {}),
      },
    ];
  });
  return { key: `${ns}/${gw.metadata.name}`, namespace: ns, name: gw.metadata.name, selector: { ...(spec?.selector ?? {}) }, servers };
}
