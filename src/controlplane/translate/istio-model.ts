// Istio VirtualServices and Gateways → the routing model.
import type { KubeObject } from '../../api/object.js';
import type { IstioGateway } from '../../api/kinds/istio-gateway.js';
import type { FaultInjection, HeaderMatch, HeaderOperations, QueryParamMatch, RetryPolicy, RouteMatch, StringMatch } from '../../proxyconfig/types.js';
import { ageKey, arr, num, rec, sortedRecord, str, strArr, strMap, type Rec } from '../fields.js';
import { resolveShortName } from '../hosts.js';
import { durationMs } from '../../api/duration.js';
import { MESH_GATEWAY, type DestinationModel, type GatewayModel, type HttpMatchModel, type HttpRuleModel, type L4RuleModel, type MirrorModel, type RedirectModel, type ServerModel, type VirtualServiceModel } from './model.js';

/** `mesh`, `<ns>/<name>` or a bare name (the rule's own namespace) → a gateway key. */
export function gatewayKey(ref: string, namespace: string): string {
  if (ref === MESH_GATEWAY) return ref;
  return ref.includes('/') ? ref : `${namespace}/${ref}`;
}

export function stringMatch(v: unknown, ignoreCase = false): StringMatch | undefined {
  const m = rec(v);
  const ic = ignoreCase ? { ignoreCase: true } : {};
  if (typeof m.exact === 'string') return { kind: 'exact', value: m.exact, ...ic };
  if (typeof m.prefix === 'string') return { kind: 'prefix', value: m.prefix, ...ic };
  if (typeof m.regex === 'string') return { kind: 'regex', value: m.regex };
  return undefined;
}

export function headerOps(v: unknown): HeaderOperations | undefined {
  const h = rec(v);
  const set = sortedRecord(strMap(h.set));
  const add = sortedRecord(strMap(h.add));
  const remove = strArr(h.remove);
  const out: { set?: Record<string, string>; add?: Record<string, string>; remove?: string[] } = {};
  if (Object.keys(set).length) out.set = set;
  if (Object.keys(add).length) out.add = add;
  if (remove.length) out.remove = remove;
  return Object.keys(out).length ? out : undefined;
}

function percentage(f: Rec): number {
  const p = num(rec(f.percentage).value) ?? (typeof rec(f.percentage).value === 'number' ? (rec(f.percentage).value as number) : undefined);
  if (p !== undefined) return p;
  const legacy = num(f.percent);
  return legacy ?? 100;
}

function httpMatch(m: Rec, namespace: string): HttpMatchModel {
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
  for (const [name, v] of Object.entries(rec(m.headers)).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const sm = stringMatch(v);
    headers.push(sm ? { name: name.toLowerCase(), match: sm } : { name: name.toLowerCase(), present: true });
  }
  for (const [name, v] of Object.entries(rec(m.withoutHeaders)).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const sm = stringMatch(v);
    headers.push(sm ? { name: name.toLowerCase(), match: sm, invert: true } : { name: name.toLowerCase(), present: false });
  }
  if (headers.length) match.headers = headers;
  const query: QueryParamMatch[] = [];
  for (const [name, v] of Object.entries(rec(m.queryParams)).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const sm = stringMatch(v);
    query.push(sm ? { name, match: sm } : { name, present: true });
  }
  if (query.length) match.queryParams = query;
  const port = num(m.port);
  const gateways = m.gateways === undefined ? undefined : strArr(m.gateways).map((g) => gatewayKey(g, namespace));
  return {
    match,
    ...(port !== undefined ? { port } : {}),
    ...(gateways && gateways.length ? { gateways } : {}),
    ...(str(m.name) ? { name: str(m.name)! } : {}),
  };
}

export function destinations(routes: unknown, namespace: string): DestinationModel[] {
  const list = arr(routes).map(rec);
  return list.flatMap((r) => {
    const d = rec(r.destination);
    const host = str(d.host);
    if (!host) return [];
    const port = num(rec(d.port).number);
    const w = num(r.weight);
    const h = rec(r.headers);
    const req = headerOps(h.request);
    const res = headerOps(h.response);
    return [{
      host: resolveShortName(host, namespace),
      ...(str(d.subset) ? { subset: str(d.subset)! } : {}),
      ...(port !== undefined ? { port } : {}),
      weight: w ?? (list.length === 1 ? 100 : 0),
      ...(req ? { requestHeaders: req } : {}),
      ...(res ? { responseHeaders: res } : {}),
    }];
  });
}

/** `mirror` (+ `mirrorPercentage`, or the older `mirrorPercent`) and `mirrors` (each with its `percentage`). */
function vsMirrors(r: Rec, namespace: string): MirrorModel[] {
  const out: MirrorModel[] = [];
  const one = (dest: unknown, percentage: number | undefined) => {
    const [d] = destinations([{ destination: dest }], namespace);
    if (d) out.push({ destination: d, ...(percentage !== undefined ? { percentage } : {}) });
  };
  if (r.mirror !== undefined) one(r.mirror, num(rec(r.mirrorPercentage).value) ?? num(r.mirrorPercent) ?? num(r.mirror_percent));
  for (const m of arr(r.mirrors).map(rec)) one(m.destination, num(rec(m.percentage).value));
  return out;
}

function retryPolicy(v: unknown): RetryPolicy | null | undefined {
  if (v === undefined) return undefined;
  const r = rec(v);
  const attempts = num(r.attempts) ?? 0;
  if (attempts <= 0) return null;
  const perTry = durationMs(r.perTryTimeout);
  const backoff = durationMs(r.backoff);
  const retryOn = (str(r.retryOn) ?? 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes').split(',').map((s) => s.trim()).filter(Boolean);
  return { attempts, retryOn, ...(perTry !== undefined ? { perTryTimeoutMs: perTry } : {}), ...(backoff ? { backoffBaseMs: backoff } : {}) };
}

function fault(v: unknown): FaultInjection | undefined {
  const f = rec(v);
  const out: { delay?: FaultInjection['delay']; abort?: FaultInjection['abort'] } = {};
  const d = rec(f.delay);
  const delay = durationMs(d.fixedDelay);
  if (delay !== undefined) out.delay = { fixedDelayMs: delay, percentage: percentage(d) };
  const a = rec(f.abort);
  const status = num(a.httpStatus);
  if (status !== undefined) out.abort = { httpStatus: status, percentage: percentage(a) };
  return out.delay || out.abort ? out : undefined;
}

function httpRule(r: Rec, namespace: string): HttpRuleModel {
  const out: { -readonly [K in keyof HttpRuleModel]: HttpRuleModel[K] } = {
    matches: arr(r.match).map((m) => httpMatch(rec(m), namespace)),
  };
  if (str(r.name)) out.name = str(r.name)!;
  const redirect = rec(r.redirect);
  const direct = rec(r.directResponse);
  if (r.redirect !== undefined) {
    const action: { -readonly [K in keyof RedirectModel]: RedirectModel[K] } = { kind: 'redirect', code: num(redirect.redirectCode) ?? 301 };
    if (str(redirect.uri)) action.path = str(redirect.uri)!;
    if (str(redirect.authority)) action.host = str(redirect.authority)!;
    if (str(redirect.scheme)) action.scheme = str(redirect.scheme)!;
    if (num(redirect.port) !== undefined) action.port = num(redirect.port)!;
    else if (str(redirect.derivePort) === 'FROM_REQUEST_PORT') action.portFromRequest = true;
    out.redirect = action;
  } else if (r.directResponse !== undefined) {
    const body = rec(direct.body);
    const text = str(body.string) ?? (str(body.bytes) ? Buffer.from(str(body.bytes)!, 'base64').toString('utf8') : undefined);
    out.directResponse = { kind: 'directResponse', status: num(direct.status) ?? 200, ...(text !== undefined ? { body: text } : {}) };
  } else {
    out.destinations = destinations(r.route, namespace);
  }
  const timeout = durationMs(r.timeout);
  if (timeout !== undefined) out.timeoutMs = timeout;
  const retry = retryPolicy(r.retries);
  if (retry !== undefined) out.retry = retry;
  const rw = rec(r.rewrite);
  const rewrite: { pathPrefix?: string; authority?: string; regex?: { pattern: string; substitution: string } } = {};
  if (str(rw.uri) !== undefined) rewrite.pathPrefix = str(rw.uri)!;
  if (str(rw.authority)) rewrite.authority = str(rw.authority)!;
  const rr = rec(rw.uriRegexRewrite);
  if (str(rr.match) !== undefined && str(rr.rewrite) !== undefined) rewrite.regex = { pattern: str(rr.match)!, substitution: str(rr.rewrite)! };
  if (Object.keys(rewrite).length) out.rewrite = rewrite;
  const mirrors = vsMirrors(r, namespace);
  if (mirrors.length) out.mirrors = mirrors;
  const f = fault(r.fault);
  if (f) out.fault = f;
  const h = rec(r.headers);
  const req = headerOps(h.request);
  const res = headerOps(h.response);
  if (req) out.requestHeaders = req;
  if (res) out.responseHeaders = res;
  return out;
}

function l4Rule(r: Rec, namespace: string, tls: boolean): L4RuleModel {
  return {
    matches: arr(r.match).map(rec).map((m) => {
      const port = num(m.port);
      const gateways = m.gateways === undefined ? undefined : strArr(m.gateways).map((g) => gatewayKey(g, namespace));
      return {
        ...(tls ? { sniHosts: strArr(m.sniHosts).map((h) => h.toLowerCase()) } : {}),
        ...(port !== undefined ? { port } : {}),
        ...(gateways && gateways.length ? { gateways } : {}),
      };
    }),
    destinations: destinations(r.route, namespace),
  };
}

export function virtualServiceModel(vs: KubeObject): VirtualServiceModel {
  const ns = vs.metadata.namespace ?? 'default';
  const spec = rec(vs.spec);
  const gateways = strArr(spec.gateways).map((g) => gatewayKey(g, ns));
  return {
    namespace: ns,
    name: vs.metadata.name,
    source: `/apis/networking.istio.io/v1/namespaces/${ns}/virtual-service/${vs.metadata.name}`,
    hosts: strArr(spec.hosts).map((h) => resolveShortName(h, ns)),
    gateways: gateways.length ? gateways : [MESH_GATEWAY],
    exportTo: strArr(spec.exportTo),
    http: arr(spec.http).map((r) => httpRule(rec(r), ns)),
    tls: arr(spec.tls).map((r) => l4Rule(rec(r), ns, true)),
    tcp: arr(spec.tcp).map((r) => l4Rule(rec(r), ns, false)),
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
    return [{
      port: number,
      portName: port.name ?? String(number),
      protocol: (port.protocol ?? 'TCP').toUpperCase(),
      hosts: (s.hosts ?? []).map((h) => (h.includes('/') ? (h.startsWith('./') ? `${ns}/${h.slice(2)}` : h) : `*/${h}`).toLowerCase()),
      ...(hasTls ? {
        tls: {
          mode,
          ...(tls?.httpsRedirect === true ? { httpsRedirect: true } : {}),
          ...(tls?.serverCertificate ? { serverCertificate: tls.serverCertificate } : {}),
          ...(tls?.privateKey ? { privateKey: tls.privateKey } : {}),
          ...(tls?.caCertificates ? { caCertificates: tls.caCertificates } : {}),
          ...(tls?.credentialName ? { credentialName: tls.credentialName } : {}),
          ...(tls?.minProtocolVersion ? { minProtocolVersion: tls.minProtocolVersion } : {}),
        },
      } : {}),
    }];
  });
  return { key: `${ns}/${gw.metadata.name}`, namespace: ns, name: gw.metadata.name, selector: { ...(spec?.selector ?? {}) }, servers };
}
