// Strategic merge patch, approximated: a JSON merge patch in which lists of objects that Kubernetes
// merges by key (containers by name, ports by port, conditions by type, …) merge element by element,
// and the patch directives kubectl adds ($setElementOrder, $retainKeys, $patch, $deleteFromPrimitiveList) are honoured or dropped.
import { mergePatch } from '../store/merge-patch.js';

/** Field name → merge key, for the lists of the core kinds outpost serves. */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  conditions: 'type',
  imagePullSecrets: 'name',
  ownerReferences: 'uid',
};
/** Lists keyed by port (Service ports by `port`, container ports by `containerPort`). */
function portKey(items: unknown[]): string | undefined {
  const first = items.find((x) => x && typeof x === 'object') as Record<string, unknown> | undefined;
  if (!first) return undefined;
  if ('containerPort' in first) return 'containerPort';
  if ('port' in first) return 'port';
  return undefined;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function mergeList(field: string, current: unknown, patch: unknown[]): unknown[] {
  const key = MERGE_KEYS[field] ?? (field === 'ports' ? portKey(patch) : undefined);
  if (!key || !Array.isArray(current) || !patch.every(isObj)) return patch.map((p) => strip(p));
  const out = current.map((c) => structuredClone(c)) as unknown[];
  for (const p of patch as Record<string, unknown>[]) {
    const idx = out.findIndex((c) => isObj(c) && c[key] === p[key]);
    if (p.$patch === 'delete') {
      if (idx >= 0) out.splice(idx, 1);
      continue;
    }
    if (idx >= 0) out[idx] = strategicMerge(out[idx], p);
    else out.push(strip(p));
  }
  return out;
}

function strip(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(strip);
  if (!isObj(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (!k.startsWith('$')) out[k] = strip(x);
  return out;
}

export function strategicMerge(current: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return strip(patch);
  if (patch.$patch === 'replace') return strip(patch);
  const out: Record<string, unknown> = isObj(current) ? { ...current } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      const field = k.slice('$deleteFromPrimitiveList/'.length);
      if (Array.isArray(out[field]) && Array.isArray(v)) out[field] = (out[field] as unknown[]).filter((x) => !v.includes(x));
      continue;
    }
    if (k.startsWith('$')) continue;
    if (v === null) delete out[k];
    else if (Array.isArray(v)) out[k] = mergeList(k, out[k], v);
    else if (isObj(v)) out[k] = strategicMerge(out[k], v);
    else out[k] = v;
  }
  return out;
}

export { mergePatch };
