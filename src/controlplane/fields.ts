// Defensive readers for spec fields: the store holds validated objects, but the control plane never trusts a shape blindly.

export type Rec = Record<string, unknown>;

/** Shared and frozen: reading an absent field allocates nothing (inputs are frozen snapshots, never written to). */
const EMPTY: Rec = Object.freeze({});

export function rec(v: unknown): Rec {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Rec) : EMPTY;
}

export function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function num(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
  return undefined;
}

export function strArr(v: unknown): string[] {
  return arr(v).filter((x): x is string => typeof x === 'string');
}

export function strMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(rec(v))) if (typeof x === 'string') out[k] = x;
  return out;
}

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
