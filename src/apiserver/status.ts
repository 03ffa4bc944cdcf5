// Errors as the Kubernetes API server returns them: a Status object with reason, code and details.
import type { FieldIssue } from '../api/field-issue.js';
import { StoreError } from '../store/types.js';

export interface StatusCause {
  reason?: string;
  message: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message: string;
  reason: string;
  details?: StatusDetails;
  code: number;
}

/** An error that becomes a Status response. */
export class HttpError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super(message);
    this.name = 'HttpError';
  }

  toStatus(): Status {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof StoreError) {
    const reason = err.reason === 'Gone' ? 'Expired' : err.reason;
    return new HttpError(err.code, reason, err.message, err.details);
  }
  return new HttpError(500, 'InternalError', `Internal error occurred: ${err instanceof Error ? err.message : String(err)}`);
}

export function notFound(message: string, details?: StatusDetails): HttpError {
  return new HttpError(404, 'NotFound', message, details);
}

export function badRequest(message: string): HttpError {
  return new HttpError(400, 'BadRequest', message);
}

/**
 * A field error's body as Kubernetes words it: `Unsupported value: "DNZ": supported values: …`,
 * `Invalid value: 70000: …`, `Required value`, `Forbidden: …` (validation words them in lower case
 * without the colon after the error type).
 */
export function causeMessage(issue: FieldIssue): string {
  const m = issue.message;
  const typed = /^(unsupported|invalid|duplicate|not found) value (.+)$/s.exec(m);
  if (typed) return `${typed[1]!.charAt(0).toUpperCase()}${typed[1]!.slice(1)} value: ${typed[2]}`;
  if (/^(required value|forbidden|too long|too many|internal error)/.test(m)) return m.charAt(0).toUpperCase() + m.slice(1);
  return m;
}

/** One `field: message`, as Kubernetes prints a field error. */
export function fieldErrorText(issue: FieldIssue): string {
  return issue.path ? `${issue.path}: ${causeMessage(issue)}` : causeMessage(issue);
}

/**
 * 422 Invalid, worded as the API server does:
 * `ServiceEntry.networking.istio.io "egress-se" is invalid: spec.resolution: Unsupported value: "DNZ": …`
 * (several errors are bracketed and comma-joined).
 */
export function invalidError(kind: string, group: string, name: string, issues: readonly FieldIssue[]): HttpError {
  const qualified = group ? `${kind}.${group}` : kind;
  const texts = issues.map(fieldErrorText);
  const joined = texts.length === 1 ? texts[0]! : `[${texts.join(', ')}]`;
  return new HttpError(422, 'Invalid', `${qualified} "${name}" is invalid: ${joined}`, {
    name,
    group,
    kind,
    causes: issues.map((i) => ({ reason: i.reason, message: causeMessage(i), field: i.path })),
  });
}
