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

// Moved to sort-order.ts; re-exported until the last accessor users (translate/gateway-api.ts & co.) move there too.
export { ageKey, compareStrings, sortedRecord } from './sort-order.js';
