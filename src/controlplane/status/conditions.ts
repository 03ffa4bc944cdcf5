// Kubernetes conditions: merge desired ones with the existing (keeping lastTransitionTime when nothing changed), compare without timestamps.
import type { KubeObject } from '../../api/object.js';
import type { Store } from '../../store/types.js';
import { canonicalJson } from '../translate/index.js';

export interface KubeCondition {
  type: string;
  status: string;
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime?: string;
}

/** RFC 3339 with second precision, as the API server writes it. */
export function kubeTime(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, 'Z');
}

/** A condition as found in a stored status: written by us or another controller, and not validated, so every field may be missing. */
export type StoredCondition = { readonly [K in keyof KubeCondition]?: unknown };

/** The condition of `type` in a stored list of conditions (`status.conditions`, anything that is not a list: none). */
export function findCondition(conditions: unknown, type: string): StoredCondition | undefined {
  if (!Array.isArray(conditions)) return undefined;
  return (conditions as readonly unknown[]).find((c): c is StoredCondition => c !== null && typeof c === 'object' && (c as StoredCondition).type === type);
}

/** Desired conditions with lastTransitionTime kept from `existing` (a stored list) where the status did not change. */
export function mergeConditions(existing: unknown, desired: readonly Omit<KubeCondition, 'lastTransitionTime'>[], now: string): KubeCondition[] {
  return desired.map((c) => {
    const prev = findCondition(existing, c.type);
    const since = prev?.status === c.status ? prev.lastTransitionTime : undefined;
    return { ...c, lastTransitionTime: typeof since === 'string' && since ? since : now };
  });
}

/** Status equality ignoring lastTransitionTime (so unchanged state never causes a write). */
export function sameStatus(a: unknown, b: unknown): boolean {
  const strip = (v: unknown): unknown => JSON.parse(JSON.stringify(v ?? {}, (k, x: unknown) => (k === 'lastTransitionTime' ? undefined : x)));
  return canonicalJson(strip(a)) === canonicalJson(strip(b));
}

export function refOf(obj: KubeObject): { group: string; kind: string; namespace?: string; name: string } {
  const slash = obj.apiVersion.indexOf('/');
  return {
    group: slash < 0 ? '' : obj.apiVersion.slice(0, slash),
    kind: obj.kind,
    ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}),
    name: obj.metadata.name,
  };
}

/** Writes status when it differs; returns whether it wrote. Conflicts are left to the next round. */
export function writeStatus(store: Store, obj: KubeObject, status: unknown, log?: (line: string) => void): boolean {
  if (sameStatus(obj.status, status)) return false;
  try {
    store.updateStatus(refOf(obj), status);
    return true;
  } catch (err) {
    log?.(`status: ${obj.kind} ${obj.metadata.namespace ?? ''}/${obj.metadata.name}: ${(err as Error).message}`);
    return false;
  }
}
