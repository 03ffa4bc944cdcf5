// core v1 Secret: data (base64) and stringData (merged into data on admission, as the API server does), type, immutable.
// Stored and served like other kinds, with no RBAC: whoever holds the API token reads them (see README, Security model).
import type { KubeObject } from '../object.js';
import type { IssueList } from '../field-issue.js';
import type { FieldNode } from '../schema/field-node.js';
import { rec, str, type KindModule } from './kind-module.js';

export interface Secret extends KubeObject {
  /** Values in base64 (stringData is folded in on admission). */
  readonly data?: Readonly<Record<string, string>>;
  readonly stringData?: Readonly<Record<string, string>>;
  readonly type?: string;
  readonly immutable?: boolean;
}

/** The first of `keys` the Secret has a non-empty value for, decoded from base64 to text. */
export function secretText(secret: Secret, ...keys: string[]): string | undefined {
  for (const k of keys) {
    const v = secret.data?.[k];
    if (v) return Buffer.from(v, 'base64').toString('utf8');
  }
  return undefined;
}

const KEY = /^[-._a-zA-Z0-9]+$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

const FIELDS: FieldNode = { p: { data: { m: 's' }, stringData: { m: 's' }, type: 's', immutable: 'b' } };

function validate(obj: KubeObject, out: IssueList): void {
  const o = obj as unknown as Record<string, unknown>;
  for (const field of ['data', 'stringData'] as const) {
    for (const [key, value] of Object.entries(rec(o[field]))) {
      if (key.length > 253 || !KEY.test(key)) {
        out.invalid(
          [field, key],
          key,
          "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
        );
      }
      if (field === 'data' && typeof value === 'string' && (value.length % 4 !== 0 || !BASE64.test(value))) {
        out.invalid([field, key], '<redacted>', 'illegal base64 data');
      }
    }
  }
  const data = { ...rec(o['data']), ...rec(o['stringData']) };
  if (str(o['type']) === 'kubernetes.io/tls') {
    for (const k of ['tls.crt', 'tls.key']) if (!(k in data)) out.required(['data', k]);
  }
}

/** stringData folded into data (base64), type defaulted to Opaque. */
function schemaDefaults(obj: KubeObject): KubeObject {
  const o = obj as unknown as Record<string, unknown>;
  const stringData = rec(o['stringData']);
  if (Object.keys(stringData).length === 0 && o['type'] !== undefined && o['stringData'] === undefined) return obj;
  const data: Record<string, unknown> = { ...rec(o['data']) };
  for (const [k, v] of Object.entries(stringData)) if (typeof v === 'string') data[k] = Buffer.from(v, 'utf8').toString('base64');
  const { stringData: _drop, ...rest } = o;
  return { ...rest, type: str(o['type']) ?? 'Opaque', ...(Object.keys(data).length ? { data } : {}) } as unknown as KubeObject;
}

export const secretKind: KindModule = { group: '', kind: 'Secret', fieldTree: FIELDS, treeRoot: 'object', validate, schemaDefaults };
