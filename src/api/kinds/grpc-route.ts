// gateway.networking.k8s.io GRPCRoute: gRPC routing by service and method.
import type { KubeObject } from '../object.js';
import type { IssueList } from '../field-issue.js';
import { FIELD_TREES } from '../schema/field-trees.gen.js';
import { checkBackendRefs, checkParentRefs, withRouteDefaults, type BackendRef, type ParentReference, type RouteStatus } from './gateway-api-common.js';
import type { HTTPHeaderFilter, HTTPHeaderMatch, HTTPRequestMirrorFilter } from './http-route.js';
import { arr, rec, type KindModule } from './kind-module.js';
import { GATEWAY_API_GROUP } from '../groups.js';

export interface GRPCRouteMatch {
  readonly method?: { readonly type?: 'Exact' | 'RegularExpression'; readonly service?: string; readonly method?: string };
  readonly headers?: readonly HTTPHeaderMatch[];
}

/** The HTTPRoute filters GRPCRoute shares (same fields, fewer types). */
export interface GRPCRouteFilter {
  readonly type: 'RequestHeaderModifier' | 'ResponseHeaderModifier' | 'RequestMirror' | 'ExtensionRef';
  readonly requestHeaderModifier?: HTTPHeaderFilter;
  readonly responseHeaderModifier?: HTTPHeaderFilter;
  readonly requestMirror?: HTTPRequestMirrorFilter;
}

export interface GRPCBackendRef extends BackendRef {
  readonly filters?: readonly GRPCRouteFilter[];
}

export interface GRPCRouteRule {
  readonly name?: string;
  readonly matches?: readonly GRPCRouteMatch[];
  readonly filters?: readonly GRPCRouteFilter[];
  readonly backendRefs?: readonly GRPCBackendRef[];
  /** Accepted by the schema, not carried out (a route that sets it is refused). */
  readonly sessionPersistence?: Readonly<Record<string, unknown>>;
}

export interface GRPCRouteSpec {
  readonly parentRefs?: readonly ParentReference[];
  readonly hostnames?: readonly string[];
  readonly rules?: readonly GRPCRouteRule[];
}

export type GRPCRoute = KubeObject<GRPCRouteSpec, RouteStatus>;

function validate(obj: KubeObject, out: IssueList): void {
  const spec = rec(obj.spec);
  checkParentRefs(spec['parentRefs'], ['spec', 'parentRefs'], out);
  arr(spec['rules']).forEach((r, i) => {
    const rule = rec(r);
    checkBackendRefs(rule['backendRefs'], ['spec', 'rules', i, 'backendRefs'], out);
    arr(rule['matches']).forEach((m, j) => {
      const method = rec(rec(m)['method']);
      if (rec(m)['method'] !== undefined && method['service'] === undefined && method['method'] === undefined) {
        out.required(['spec', 'rules', i, 'matches', j, 'method'], 'One or both of service or method must be specified');
      }
    });
  });
}

function schemaDefaults(obj: KubeObject): KubeObject {
  return withRouteDefaults(obj, (rule) => {
    if (!Array.isArray(rule['matches'])) return rule;
    const matches = rule['matches'].map((m) => {
      if (!m || typeof m !== 'object') return m;
      const match = { ...(m as Record<string, unknown>) };
      if (match['method'] && typeof match['method'] === 'object') match['method'] = { type: 'Exact', ...(match['method'] as object) };
      if (Array.isArray(match['headers']))
        match['headers'] = match['headers'].map((h) => (h && typeof h === 'object' ? { type: 'Exact', ...(h as object) } : h));
      return match;
    });
    return { ...rule, matches };
  });
}

export const grpcRouteKind: KindModule = {
  group: GATEWAY_API_GROUP,
  kind: 'GRPCRoute',
  fieldTree: FIELD_TREES['gateway.networking.k8s.io/GRPCRoute'],
  validate,
  schemaDefaults,
};
