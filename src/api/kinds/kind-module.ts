// What each kind module provides to validation and defaulting.
import type { KubeObject } from '../object.js';
import type { IssueList } from '../field-issue.js';
import type { FieldNode } from '../schema/field-node.js';

export interface KindModule {
  readonly group: string;
  readonly kind: string;
  /** The spec's field tree (or the whole object's, minus apiVersion/kind/metadata, when treeRoot is 'object'). */
  readonly fieldTree?: FieldNode;
  readonly treeRoot?: 'spec' | 'object';
  /** True when the kind must have a spec (CRDs whose schema requires it). */
  readonly specRequired?: boolean;
  /** The kind's own rules: CEL rules of the CRD, the Istio webhook's checks, core API validation. */
  validate?(obj: KubeObject, out: IssueList): void;
  /** Defaults the CRD/OpenAPI schema writes on admission. Must not mutate; returns a new object or the same. */
  schemaDefaults?(obj: KubeObject): KubeObject;
}

/** A record view of an unknown value (an empty one when it is not an object). */
export function rec(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** An array view of an unknown value (empty when it is not an array). */
export function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function num(v: unknown): number | undefined {
  return typeof v === 'number' ? v : undefined;
}
