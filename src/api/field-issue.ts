// One problem with one field of one object, worded like the Kubernetes API server's field errors.
import { formatPath, type PathSegment } from './field-path.js';

export type FieldIssueReason =
  | 'FieldValueInvalid'
  | 'FieldValueNotSupported'
  | 'FieldValueRequired'
  | 'FieldValueDuplicate'
  | 'FieldValueTypeInvalid'
  | 'FieldValueForbidden'
  | 'FieldValueUnknown';

export interface FieldIssue {
  /** 'spec.ports[0].number' */
  path: string;
  /** e.g. 'unsupported value "DNZ": supported values: "NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS"' */
  message: string;
  reason: FieldIssueReason;
  severity: 'error' | 'warning';
}

/** A value as it appears in a message: strings quoted, scalars as written, containers by type. */
export function showValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object') return 'object';
  return String(v);
}

export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** Collects issues for one object; rules call the small helpers so messages stay uniform. */
export class IssueList {
  readonly issues: FieldIssue[] = [];

  add(path: readonly PathSegment[] | string, reason: FieldIssueReason, message: string, severity: 'error' | 'warning' = 'error'): void {
    const p = typeof path === 'string' ? path : formatPath(path);
    // One message per field and reason: the schema and the kind's rules often say the same thing.
    if (this.issues.some((i) => i.path === p && (i.message === message || (i.reason === reason && reason !== 'FieldValueUnknown')))) return;
    this.issues.push({ path: p, message, reason, severity });
  }
  required(path: readonly PathSegment[] | string, detail?: string): void {
    this.add(path, 'FieldValueRequired', detail ? `required value: ${detail}` : 'required value');
  }
  invalid(path: readonly PathSegment[] | string, value: unknown, detail: string): void {
    this.add(path, 'FieldValueInvalid', `invalid value ${showValue(value)}: ${detail}`);
  }
  unsupported(path: readonly PathSegment[] | string, value: unknown, supported: readonly string[]): void {
    this.add(path, 'FieldValueNotSupported', `unsupported value ${showValue(value)}: supported values: ${supported.map((s) => JSON.stringify(s)).join(', ')}`);
  }
  duplicate(path: readonly PathSegment[] | string, value: unknown, detail?: string): void {
    this.add(path, 'FieldValueDuplicate', `duplicate value ${showValue(value)}${detail ? `: ${detail}` : ''}`);
  }
  forbidden(path: readonly PathSegment[] | string, detail: string): void {
    this.add(path, 'FieldValueForbidden', `forbidden: ${detail}`);
  }
  wrongType(path: readonly PathSegment[] | string, value: unknown, expected: string): void {
    this.add(path, 'FieldValueTypeInvalid', `invalid value ${showValue(value)}: must be of type ${expected}, not ${typeName(value)}`);
  }
  unknown(path: readonly PathSegment[] | string, field: string): void {
    this.add(path, 'FieldValueUnknown', `unknown field "${field}"`);
  }
  warn(path: readonly PathSegment[] | string, message: string): void {
    this.add(path, 'FieldValueInvalid', message, 'warning');
  }
  /** True when an error was already reported at this path or above it (no need to look deeper). */
  hasErrorAt(path: readonly PathSegment[] | string): boolean {
    const p = typeof path === 'string' ? path : formatPath(path);
    return this.issues.some((i) => i.severity === 'error' && (p === i.path || p.startsWith(`${i.path}.`) || p.startsWith(`${i.path}[`)));
  }
}
