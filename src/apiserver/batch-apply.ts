// outpost's own batch endpoint (POST /apis/outpost.dev/v1alpha1/apply): every document admitted,
// then all stored in one transaction. Any invalid document rejects the whole batch with one 422
// that names each invalid document.
import { kindFor } from '../api/kinds.js';
import type { FieldIssue } from '../api/field-issue.js';
import type { KubeObject } from '../api/object.js';
import type { ApplyResult, Store } from '../store/types.js';
import type { Admission } from './admission.js';
import { HttpError, causeMessage, fieldErrorText, notFound, type StatusCause } from './status.js';

export interface BatchApplyRequest {
  items: KubeObject[];
  fieldManager?: string;
}

function describeDoc(obj: Partial<KubeObject>, group: string): string {
  const name = obj.metadata?.name ?? '';
  return `${String(obj.kind ?? 'object')}${group ? `.${group}` : ''} "${name}"`;
}

export function batchApply(store: Store, admission: Admission, body: unknown): { results: ApplyResult[]; warnings: string[] } {
  const items = (body as BatchApplyRequest | undefined)?.items;
  if (!Array.isArray(items)) throw new HttpError(400, 'BadRequest', 'the request body must be {"items": [...]} with the objects to apply');
  const admitted: KubeObject[] = [];
  const invalid: string[] = [];
  const causes: StatusCause[] = [];
  const warnings: string[] = [];
  items.forEach((raw, i) => {
    const issue = (path: string, reason: FieldIssue['reason'], message: string): FieldIssue => ({ path, reason, message, severity: 'error' });
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
      invalid.push(`items[${i}]: must be an object`);
      causes.push({ reason: 'FieldValueTypeInvalid', message: 'must be an object', field: `items[${i}]` });
      return;
    }
    const obj = structuredClone(raw) as KubeObject;
    const info = typeof obj.apiVersion === 'string' && typeof obj.kind === 'string' ? kindFor(obj.apiVersion, obj.kind) : undefined;
    const group = info?.group ?? '';
    let issues: FieldIssue[];
    let object = obj;
    if (!info) {
      issues = [issue('kind', 'FieldValueNotSupported', `no matches for kind "${String(obj.kind)}" in version "${String(obj.apiVersion)}"`)];
    } else {
      obj.metadata ??= { name: '' };
      if (info.namespaced) obj.metadata.namespace ||= 'default';
      else delete obj.metadata.namespace;
      delete obj.status;
      const r = admission.check(obj, 'Strict');
      issues = r.errors;
      object = r.object;
      warnings.push(...r.warnings.map((w) => `${describeDoc(obj, group)}: ${w}`));
    }
    if (issues.length > 0) {
      const texts = issues.map(fieldErrorText);
      invalid.push(`${describeDoc(obj, group)} is invalid: ${texts.length === 1 ? texts[0] : `[${texts.join(', ')}]`}`);
      for (const is of issues) causes.push({ reason: is.reason, message: causeMessage(is), field: `items[${i}]${is.path ? `.${is.path}` : ''}` });
      return;
    }
    admitted.push(object);
  });
  if (invalid.length > 0) {
    throw new HttpError(422, 'Invalid', invalid.join('\n'), { kind: 'List', causes });
  }
  const creating = new Set(admitted.filter((o) => o.kind === 'Namespace' && o.apiVersion === 'v1').map((o) => o.metadata.name));
  for (const o of admitted) {
    const ns = o.metadata.namespace;
    if (ns && !creating.has(ns) && !store.get({ group: '', kind: 'Namespace', name: ns })) {
      throw notFound(`namespaces "${ns}" not found`, { name: ns, group: '', kind: 'namespaces' });
    }
    if (o.kind === 'Namespace' && o.apiVersion === 'v1' && !store.get({ group: '', kind: 'Namespace', name: o.metadata.name })) o.status = { phase: 'Active' };
  }
  return { results: store.apply(admitted), warnings };
}
