// gateway.networking.k8s.io TLSRoute (routing on SNI, passthrough) and TCPRoute (a port's bytes),
// both v1alpha2 as Istio serves them: parentRefs, and rules that only name backends.
import type { KubeObject } from '../object.js';
import type { IssueList } from '../field-issue.js';
import { FIELD_TREES } from '../schema/field-trees.gen.js';
import { checkBackendRefs, checkParentRefs, withRouteDefaults, type BackendRef, type ParentReference, type RouteStatus } from './gateway-api-common.js';
import { arr, rec, type KindModule } from './kind-module.js';
import { GATEWAY_API_GROUP } from '../groups.js';

export interface L4RouteRule {
  readonly name?: string;
  readonly backendRefs?: readonly BackendRef[];
}

export interface TLSRouteSpec {
  readonly parentRefs?: readonly ParentReference[];
  /** Matched against the TLS SNI. */
  readonly hostnames?: readonly string[];
  readonly rules?: readonly L4RouteRule[];
}

export interface TCPRouteSpec {
  readonly parentRefs?: readonly ParentReference[];
  readonly rules?: readonly L4RouteRule[];
}

export type TLSRoute = KubeObject<TLSRouteSpec, RouteStatus>;
export type TCPRoute = KubeObject<TCPRouteSpec, RouteStatus>;

function validate(obj: KubeObject, out: IssueList): void {
  const spec = rec(obj.spec);
  checkParentRefs(spec['parentRefs'], ['spec', 'parentRefs'], out);
  arr(spec['rules']).forEach((r, i) => checkBackendRefs(rec(r)['backendRefs'], ['spec', 'rules', i, 'backendRefs'], out));
}

function schemaDefaults(obj: KubeObject): KubeObject {
  return withRouteDefaults(obj);
}

export const tlsRouteKind: KindModule = {
  group: GATEWAY_API_GROUP,
  kind: 'TLSRoute',
  fieldTree: FIELD_TREES['gateway.networking.k8s.io/TLSRoute'],
  specRequired: true,
  validate,
  schemaDefaults,
};

export const tcpRouteKind: KindModule = {
  group: GATEWAY_API_GROUP,
  kind: 'TCPRoute',
  fieldTree: FIELD_TREES['gateway.networking.k8s.io/TCPRoute'],
  specRequired: true,
  validate,
  schemaDefaults,
};
