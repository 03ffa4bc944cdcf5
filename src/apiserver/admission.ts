// What every write passes before it reaches the store: schema defaults, then validation.
// Errors stop the write with a 422; warnings travel back as Warning headers.
import type { FieldIssue } from '../api/field-issue.js';
import type { KubeObject } from '../api/object.js';
import { HttpError, invalidError } from './status.js';

export type Validator = (obj: KubeObject) => FieldIssue[];
export type Defaulter = (obj: KubeObject) => KubeObject;

/** kubectl's --validate: Strict (unknown fields are errors), Warn (warnings), Ignore (dropped). */
export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

export function fieldValidationOf(param: string | null): FieldValidation {
  if (param === 'Ignore' || param === 'Warn') return param;
  return 'Strict';
}

export interface Admitted {
  object: KubeObject;
  warnings: string[];
}

export class Admission {
  constructor(
    private readonly validate?: Validator,
    private readonly defaults?: Defaulter,
  ) {}

  /** The issues of obj after defaults (errors and warnings), without throwing. */
  check(obj: KubeObject, mode: FieldValidation): { object: KubeObject; errors: FieldIssue[]; warnings: string[] } {
    const object = this.defaults ? this.defaults(obj) : obj;
    const issues = this.validate ? this.validate(object) : [];
    const errors: FieldIssue[] = [];
    const warnings: string[] = [];
    for (const i of issues) {
      const unknownField = i.reason === 'FieldValueUnknown';
      if (unknownField && mode === 'Ignore') continue;
      if (i.severity === 'warning' || (unknownField && mode === 'Warn')) warnings.push(i.path ? `${i.path}: ${i.message}` : i.message);
      else errors.push(i);
    }
    return { object, errors, warnings };
  }

  /** Defaults and validates; throws 422 Invalid naming every field error. */
  admit(obj: KubeObject, group: string, mode: FieldValidation): Admitted {
    const r = this.check(obj, mode);
    // Unknown fields fail decoding before validation runs, as the API server's strict decoder does.
    const unknown = r.errors.filter((i) => i.reason === 'FieldValueUnknown');
    if (unknown.length > 0) {
      const version = obj.apiVersion.split('/').pop();
      throw new HttpError(
        400,
        'BadRequest',
        `${obj.kind} in version "${version}" cannot be handled as a ${obj.kind}: strict decoding error: ${unknown.map((i) => `unknown field "${i.path}"`).join(', ')}`,
      );
    }
    if (r.errors.length > 0) throw invalidError(obj.kind, group, obj.metadata?.name ?? '', r.errors);
    return { object: r.object, warnings: r.warnings };
  }
}
