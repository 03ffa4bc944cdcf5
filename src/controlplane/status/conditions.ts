// Kubernetes conditions: merge desired ones with the existing (keeping lastTransitionTime when nothing changed), compare without timestamps.
import type { KubeObject } from '../../api/object.js';
import type { Store } from '../../store/types.js';
import { canonicalJson } from '../translate/index.js';
import { arr, rec, str } from '../fields.js';

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

/** Desired conditions with lastTransitionTime kept from `existing` where the status did not change. */
export function mergeConditions(existing: unknown, desired: readonly Omit<KubeCondition, 'lastTransitionTime'>[], now: string): KubeCondition[] {
  const old = arr(existing).map(rec);
  return desired.map((c) => {
    const prev = old.find((o) => o.type === c.type);
    const keep = prev && str(prev.status) === c.status && str(prev.lastTransitionTime);
    return { ...c, lastTransitionTime: keep ? str(prev.lastTransitionTime)! : now };
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
