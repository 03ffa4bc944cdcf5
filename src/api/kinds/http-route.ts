// gateway.networking.k8s.io HTTPRoute: HTTP routing rules attached to parents (Gateways, Services, ServiceEntries).
import type { KubeObject } from '../object.js';
import type { IssueList } from '../field-issue.js';
import type { PathSegment } from '../field-path.js';
import { FIELD_TREES } from '../schema/field-trees.gen.js';
import { isDuration, parseDuration } from '../duration.js';
import {
  checkBackendRefs,
  checkParentRefs,
  withBackendRefDefaults,
  withParentRefDefaults,
  type BackendRef,
  type ParentReference,
  type RouteStatus,
} from './gateway-api-common.js';
import { arr, rec, str, type KindModule } from './kind-module.js';
import { GATEWAY_API_GROUP } from '../groups.js';

export type PathMatchType = 'Exact' | 'PathPrefix' | 'RegularExpression';

/** A header (or query parameter) match; type defaults to Exact. */
export interface HTTPHeaderMatch {
  readonly type?: 'Exact' | 'RegularExpression';
  readonly name: string;
  readonly value: string;
}

export interface HTTPRouteMatch {
  readonly path?: { readonly type?: PathMatchType; readonly value?: string };
  readonly headers?: readonly HTTPHeaderMatch[];
  readonly queryParams?: readonly HTTPHeaderMatch[];
  readonly method?: string;
}

export interface HTTPHeaderFilter {
  readonly set?: readonly { readonly name: string; readonly value: string }[];
  readonly add?: readonly { readonly name: string; readonly value: string }[];
  readonly remove?: readonly string[];
}

export interface HTTPRouteFilter {
  readonly type: 'RequestHeaderModifier' | 'ResponseHeaderModifier' | 'RequestMirror' | 'RequestRedirect' | 'URLRewrite' | 'ExtensionRef' | 'CORS';
  readonly requestHeaderModifier?: HTTPHeaderFilter;
  readonly responseHeaderModifier?: HTTPHeaderFilter;
  readonly requestRedirect?: {
    readonly scheme?: string;
    readonly hostname?: string;
    readonly path?: { readonly type: string; readonly replaceFullPath?: string; readonly replacePrefixMatch?: string };
    readonly port?: number;
    readonly statusCode?: number;
  };
  readonly urlRewrite?: {
    readonly hostname?: string;
    readonly path?: { readonly type: string; readonly replaceFullPath?: string; readonly replacePrefixMatch?: string };
  };
  readonly requestMirror?: HTTPRequestMirrorFilter;
}

/** Mirror to one backend: every request, or `percent`, or `fraction` (denominator 100 by default). */
export interface HTTPRequestMirrorFilter {
  readonly backendRef: BackendRef;
  readonly percent?: number;
  readonly fraction?: { readonly numerator: number; readonly denominator?: number };
}

export interface HTTPBackendRef extends BackendRef {
  readonly filters?: readonly HTTPRouteFilter[];
}

export interface HTTPRouteRule {
  readonly name?: string;
  readonly matches?: readonly HTTPRouteMatch[];
  readonly filters?: readonly HTTPRouteFilter[];
  readonly backendRefs?: readonly HTTPBackendRef[];
  readonly timeouts?: { readonly request?: string; readonly backendRequest?: string };
  readonly retry?: { readonly codes?: readonly number[]; readonly attempts?: number; readonly backoff?: string };
  /** Accepted by the schema, not carried out (a route that sets it is refused). */
  readonly sessionPersistence?: Readonly<Record<string, unknown>>;
}

export interface HTTPRouteSpec {
  readonly parentRefs?: readonly ParentReference[];
  readonly hostnames?: readonly string[];
  readonly rules?: readonly HTTPRouteRule[];
}

export type HTTPRoute = KubeObject<HTTPRouteSpec, RouteStatus>;

/** A match with its path's defaults applied. */
export type DefaultedHTTPRouteMatch = HTTPRouteMatch & { readonly path: { readonly type: PathMatchType; readonly value: string } };

/** The schema's default match: every path (PathPrefix "/"). */
export const DEFAULT_HTTP_MATCH: DefaultedHTTPRouteMatch = { path: { type: 'PathPrefix', value: '/' } };

/** A rule's matches with the schema defaults applied: one match of every path when there are none; a path's type PathPrefix, value "/". */
export function httpRuleMatches(rule: HTTPRouteRule): readonly DefaultedHTTPRouteMatch[] {
  if (!rule.matches || rule.matches.length === 0) return [DEFAULT_HTTP_MATCH];
  return rule.matches.map((m) => ({ ...m, path: m.path ? { type: m.path.type ?? 'PathPrefix', value: m.path.value ?? '/' } : DEFAULT_HTTP_MATCH.path }));
}

function checkFilters(v: unknown, path: PathSegment[], out: IssueList, hasBackends: boolean): void {
  const filters = arr(v).map(rec);
  const counts = new Map<string, number>();
  filters.forEach((f, i) => {
    const type = str(f['type']);
    if (!type) return;
    counts.set(type, (counts.get(type) ?? 0) + 1);
    const field = type.charAt(0).toLowerCase() + type.slice(1);
    if (['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestMirror', 'RequestRedirect', 'URLRewrite', 'ExtensionRef', 'CORS'].includes(type)) {
      const key = type === 'URLRewrite' ? 'urlRewrite' : type === 'CORS' ? 'cors' : field;
      if (f[key] === undefined) out.required([...path, i, key], `filter.${key} must be specified for ${type} filter.type`);
    }
  });
  for (const t of ['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestRedirect', 'URLRewrite']) {
    if ((counts.get(t) ?? 0) > 1) out.invalid(path, t, `${t} filter cannot be repeated`);
  }
  if (counts.has('RequestRedirect') && counts.has('URLRewrite'))
    out.invalid(path, 'RequestRedirect,URLRewrite', 'May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both');
  if (counts.has('RequestRedirect') && hasBackends) out.invalid(path, 'RequestRedirect', 'RequestRedirect filter must not be used together with backendRefs');
}

function validate(obj: KubeObject, out: IssueList): void {
  const spec = rec(obj.spec);
  checkParentRefs(spec['parentRefs'], ['spec', 'parentRefs'], out);
  arr(spec['rules']).forEach((r, i) => {
    const rule = rec(r);
    const base: PathSegment[] = ['spec', 'rules', i];
    arr(rule['matches']).forEach((m, j) => {
      const p = rec(rec(m)['path']);
      const type = str(p['type']) ?? 'PathPrefix';
      const value = p['value'];
      if (typeof value !== 'string') return;
      if (type === 'Exact' || type === 'PathPrefix') {
        if (!value.startsWith('/'))
          out.invalid(
            [...base, 'matches', j, 'path', 'value'],
            value,
            "value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']",
          );
        else if (value.includes('//'))
          out.invalid([...base, 'matches', j, 'path', 'value'], value, "must not contain '//' when type one of ['Exact', 'PathPrefix']");
        else if (/\/\.\.?(\/|$)/.test(value))
          out.invalid([...base, 'matches', j, 'path', 'value'], value, "must not contain '/./' or '/../' when type one of ['Exact', 'PathPrefix']");
      } else if (type === 'RegularExpression') {
        try {
          new RegExp(value);
        } catch {
          out.invalid([...base, 'matches', j, 'path', 'value'], value, 'not a valid regular expression');
        }
      }
    });
    const backends = arr(rule['backendRefs']);
    checkBackendRefs(backends, [...base, 'backendRefs'], out);
    backends.forEach((b, j) => checkFilters(rec(b)['filters'], [...base, 'backendRefs', j, 'filters'], out, false));
    checkFilters(rule['filters'], [...base, 'filters'], out, backends.length > 0);
    const t = rec(rule['timeouts']);
    for (const k of ['request', 'backendRequest']) {
      if (typeof t[k] === 'string' && !isDuration(t[k] as string)) out.invalid([...base, 'timeouts', k], t[k], 'must be a duration such as "3s"');
    }
    if (typeof t['request'] === 'string' && typeof t['backendRequest'] === 'string' && isDuration(t['request']) && isDuration(t['backendRequest'])) {
      const req = parseDuration(t['request'])!;
      if (req !== 0 && parseDuration(t['backendRequest'])! > req)
        out.invalid([...base, 'timeouts', 'backendRequest'], t['backendRequest'], 'backendRequest timeout cannot be longer than request timeout');
    }
  });
}

function schemaDefaults(obj: KubeObject): KubeObject {
  let spec = withParentRefDefaults(rec(obj.spec));
  const rules = Array.isArray(spec['rules']) ? spec['rules'] : [{}];
  spec = {
    ...spec,
    rules: rules.map((r) => {
      if (!r || typeof r !== 'object') return r;
      const rule = r as Record<string, unknown>;
      const matches = Array.isArray(rule['matches']) ? rule['matches'] : [{ path: { type: 'PathPrefix', value: '/' } }];
      return {
        ...rule,
        matches: matches.map((m) => {
          if (!m || typeof m !== 'object') return m;
          const match = { ...(m as Record<string, unknown>) };
          const path = match['path'] === undefined ? {} : rec(match['path']);
          match['path'] = { type: 'PathPrefix', value: '/', ...path };
          if (Array.isArray(match['headers']))
            match['headers'] = match['headers'].map((h) => (h && typeof h === 'object' ? { type: 'Exact', ...(h as object) } : h));
          if (Array.isArray(match['queryParams']))
            match['queryParams'] = match['queryParams'].map((h) => (h && typeof h === 'object' ? { type: 'Exact', ...(h as object) } : h));
          return match;
        }),
        ...(rule['backendRefs'] !== undefined ? { backendRefs: withBackendRefDefaults(rule['backendRefs']) } : {}),
      };
    }),
  };
  return { ...obj, spec };
}

export const httpRouteKind: KindModule = {
  group: GATEWAY_API_GROUP,
  kind: 'HTTPRoute',
  fieldTree: FIELD_TREES['gateway.networking.k8s.io/HTTPRoute'],
  validate,
  schemaDefaults,
};
