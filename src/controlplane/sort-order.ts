// Orders the control plane's output by: Istio's "oldest first" precedence, plain string order, and
// maps with their keys sorted so the JSON text of a config is canonical.

/** Sort key for Istio's "oldest first" precedence: creationTimestamp, then namespace/name. */
export function ageKey(meta: { creationTimestamp?: string; namespace?: string; name: string }): string {
  return `${meta.creationTimestamp ?? ''}\u0000${meta.namespace ?? ''}\u0000${meta.name}`;
}

export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A copy with keys in sorted order: maps that come from user input are normalised so JSON text is canonical. */
export function sortedRecord<T>(r: Readonly<Record<string, T>>): Record<string, T> {
  const keys = Object.keys(r);
  if (keys.length < 2) return { ...r };
  keys.sort();
  const out: Record<string, T> = {};
  for (const k of keys) out[k] = r[k]!;
  return out;
}
