// Types and rules the Gateway API routes share: parentRefs, backendRefs, hostnames.
import type { IssueList } from '../field-issue.js';
import type { PathSegment } from '../field-path.js';
import { arr, rec, str } from './kind-module.js';
import { GATEWAY_API_GROUP, ISTIO_NETWORKING_GROUP } from '../groups.js';

export interface ParentReference {
  readonly group?: string;
  readonly kind?: string;
  readonly namespace?: string;
  readonly name: string;
  readonly sectionName?: string;
  readonly port?: number;
}

export interface BackendRef {
  readonly group?: string;
  readonly kind?: string;
  readonly name: string;
  readonly namespace?: string;
  readonly port?: number;
  readonly weight?: number;
}

export interface Condition {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
  readonly lastTransitionTime?: string;
  readonly observedGeneration?: number;
}

export interface RouteParentStatus {
  readonly parentRef: ParentReference;
  readonly controllerName: string;
  readonly conditions: readonly Condition[];
}

export interface RouteStatus {
  readonly parents?: readonly RouteParentStatus[];
}

/** The schema defaults of a parentRef: group gateway.networking.k8s.io, kind Gateway. */
export function parentRefDefaults(p: ParentReference): Required<Pick<ParentReference, 'group' | 'kind'>> & ParentReference {
  return { ...p, group: p.group ?? GATEWAY_API_GROUP, kind: p.kind ?? 'Gateway' };
}

/** The schema defaults of a backendRef: core group, kind Service, weight 1. */
export function backendRefDefaults<T extends BackendRef>(b: T): T & Required<Pick<BackendRef, 'group' | 'kind' | 'weight'>> {
  return { ...b, group: b.group ?? '', kind: b.kind ?? 'Service', weight: b.weight ?? 1 };
}

/** Adds schema defaults to the parentRefs of a route spec object (pure). */
export function withParentRefDefaults(spec: Record<string, unknown>): Record<string, unknown> {
  if (!Array.isArray(spec['parentRefs'])) return spec;
  return {
    ...spec,
    parentRefs: spec['parentRefs'].map((p) => (p && typeof p === 'object' ? { group: GATEWAY_API_GROUP, kind: 'Gateway', ...(p as object) } : p)),
  };
}

/**
 * A route object with its schema defaults: parentRefs, then each rule's backendRefs, then
 * `ruleDefaults` for what the kind adds to a rule (pure).
 */
export function withRouteDefaults<T extends { spec?: unknown }>(obj: T, ruleDefaults?: (rule: Record<string, unknown>) => Record<string, unknown>): T {
  const spec = withParentRefDefaults(rec(obj.spec));
  if (!Array.isArray(spec['rules'])) return { ...obj, spec };
  const rules = spec['rules'].map((r) => {
    if (!r || typeof r !== 'object') return r;
    let rule = r as Record<string, unknown>;
    if (rule['backendRefs'] !== undefined) rule = { ...rule, backendRefs: withBackendRefDefaults(rule['backendRefs']) };
    return ruleDefaults ? ruleDefaults(rule) : rule;
  });
  return { ...obj, spec: { ...spec, rules } };
}

export function withBackendRefDefaults(list: unknown): unknown {
  if (!Array.isArray(list)) return list;
  return list.map((b) => (b && typeof b === 'object' ? { group: '', kind: 'Service', weight: 1, ...(b as object) } : b));
}

/** CEL rules of the route CRDs on parentRefs. */
export function checkParentRefs(v: unknown, path: PathSegment[], out: IssueList): void {
  const refs = arr(v).map(rec);
  const key = (p: Record<string, unknown>) =>
    `${str(p['group']) ?? GATEWAY_API_GROUP}/${str(p['kind']) ?? 'Gateway'}/${str(p['namespace']) ?? ''}/${str(p['name']) ?? ''}`;
  const seen = new Map<string, number>();
  refs.forEach((p, i) => {
    const k = key(p);
    const prev = seen.get(k);
    if (prev !== undefined) {
      const a = refs[prev]!;
      const same = (str(a['sectionName']) ?? '') === (str(p['sectionName']) ?? '') && (a['port'] ?? '') === (p['port'] ?? '');
      if (same || (!a['sectionName'] && !a['port']) || (!p['sectionName'] && !p['port'])) {
        out.invalid(
          [...path, i],
          str(p['name']) ?? '',
          'sectionName or port must be specified when parentRefs includes 2 or more references to the same parent, and must be unique',
        );
      }
    }
    seen.set(k, i);
  });
}

/** CEL rules on backendRefs: a Service needs a port; Istio's Hostname backend takes no namespace. */
export function checkBackendRefs(v: unknown, path: PathSegment[], out: IssueList): void {
  arr(v).forEach((b, i) => {
    const r = rec(b);
    const group = str(r['group']) ?? '';
    const kind = str(r['kind']) ?? 'Service';
    if (group === '' && kind === 'Service' && r['port'] === undefined) out.required([...path, i, 'port'], 'must have port for Service reference');
    if (group === ISTIO_NETWORKING_GROUP && kind === 'Hostname') {
      if (r['namespace'] !== undefined) out.forbidden([...path, i, 'namespace'], 'namespace may not be set with Hostname type');
      if (r['port'] === undefined) out.required([...path, i, 'port'], 'must have port for Hostname reference');
    }
    if (group === '' && kind === 'Service' && typeof r['name'] === 'string' && r['name'].includes('.')) {
      out.invalid([...path, i, 'name'], r['name'], 'service name invalid; the name of the Service must be used, not the hostname');
    }
  });
}
