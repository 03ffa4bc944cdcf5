// Validation of one object as a strict Kubernetes API server plus Istio's webhook would do it:
// apiVersion/kind served, metadata, the schema (unknown fields, types, enums, CRD bounds and
// patterns), CEL rules of the CRDs and each kind's semantic checks. Never throws.
import { KINDS, kindFor } from './kinds.js';
import { groupOf, type KubeObject } from './object.js';
import { IssueList, type FieldIssue } from './field-issue.js';
import { checkFields } from './schema/check-fields.js';
import { FIELD_TREES } from './schema/field-trees.gen.js';
import { checkWithModel } from './schema/model-validators.js';
import { checkDns1123Label, checkDns1123Subdomain } from './names.js';
import { checkLabels } from './kinds/common-rules.js';
import { kindModule } from './kinds/index.js';
import { formatPath } from './field-path.js';

export type { FieldIssue, FieldIssueReason } from './field-issue.js';

const OBJECT_META_TREE = FIELD_TREES['ObjectMeta']!;

/** Every problem with `obj` (errors and warnings), in the order the checks found them. */
export function validateObject(obj: unknown): FieldIssue[] {
  const out = new IssueList();
  try {
    validateInto(obj, out);
  } catch (err) {
    // A rule must never take the process down; say so as an error on the object instead.
    out.add('', 'FieldValueInvalid', `could not be validated: ${err instanceof Error ? err.message : String(err)}`);
  }
  return out.issues;
}

/** True when the issues contain at least one error (warnings alone do not reject an object). */
export function hasErrors(issues: readonly FieldIssue[]): boolean {
  return issues.some((i) => i.severity === 'error');
}

function validateInto(obj: unknown, out: IssueList): void {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    out.add(
      '',
      'FieldValueTypeInvalid',
      `a resource must be a mapping with apiVersion, kind and metadata, not ${Array.isArray(obj) ? 'a list' : obj === null ? 'an empty document' : `a ${typeof obj}`}`,
    );
    return;
  }
  const o = obj as Record<string, unknown>;
  const apiVersion = o['apiVersion'];
  const kind = o['kind'];
  let ok = true;
  if (apiVersion === undefined || apiVersion === null || apiVersion === '') {
    out.required('apiVersion');
    ok = false;
  } else if (typeof apiVersion !== 'string') {
    out.wrongType('apiVersion', apiVersion, 'string');
    ok = false;
  }
  if (kind === undefined || kind === null || kind === '') {
    out.required('kind');
    ok = false;
  } else if (typeof kind !== 'string') {
    out.wrongType('kind', kind, 'string');
    ok = false;
  }
  if (!ok) {
    checkMetadata(o, true, out);
    return;
  }
  const info = kindFor(apiVersion as string, kind as string);
  if (!info) {
    const sameKind = KINDS.filter((k) => k.kind === kind);
    if (sameKind.length > 0) {
      const supported = sameKind.flatMap((k) => k.versions.map((v) => (k.group ? `${k.group}/${v}` : v)));
      out.unsupported('apiVersion', apiVersion, supported);
    } else {
      const group = groupOf(apiVersion as string);
      const inGroup = KINDS.filter((k) => k.group === group).map((k) => k.kind);
      out.add(
        'kind',
        'FieldValueNotSupported',
        `no matches for kind ${JSON.stringify(kind)} in version ${JSON.stringify(apiVersion)}${inGroup.length ? `: supported kinds: ${[...new Set(inGroup)].map((k) => JSON.stringify(k)).join(', ')}` : ''}`,
      );
    }
    checkMetadata(o, true, out);
    return;
  }
  checkMetadata(o, info.namespaced, out);
  const mod = kindModule(info);
  const treeRoot = mod?.treeRoot ?? 'spec';
  const allowedTop = new Set(['apiVersion', 'kind', 'metadata']);
  if (treeRoot === 'spec') {
    allowedTop.add('spec');
    allowedTop.add('status');
  }
  const rootNode = treeRoot === 'object' ? mod?.fieldTree : undefined;
  const rootProps = rootNode && typeof rootNode === 'object' && 'p' in rootNode ? rootNode.p : {};
  for (const key of Object.keys(o)) {
    if (!allowedTop.has(key) && !(key in rootProps)) out.unknown(key, key);
  }
  if (treeRoot === 'object' && rootNode) {
    const rest = Object.fromEntries(Object.entries(o).filter(([k]) => !allowedTop.has(k)));
    checkFields(rest, rootNode, [], out);
  }
  if (treeRoot === 'spec') {
    const spec = o['spec'];
    if ((spec === undefined || spec === null) && mod?.specRequired) out.required('spec');
    else if (mod?.fieldTree) checkFields(spec, mod.fieldTree, ['spec'], out);
  }
  checkWithModel(`${info.group}/${info.kind}`, `${info.group}/${info.versions[0]}`, o, out);
  mod?.validate?.(o as KubeObject, out);
}

function checkMetadata(o: Record<string, unknown>, namespaced: boolean, out: IssueList): void {
  const md = o['metadata'];
  if (md === undefined || md === null) {
    out.required('metadata');
    out.required('metadata.name');
    return;
  }
  if (typeof md !== 'object' || Array.isArray(md)) {
    out.wrongType('metadata', md, 'object');
    return;
  }
  checkFields(md, OBJECT_META_TREE, ['metadata'], out);
  const meta = md as Record<string, unknown>;
  const name = meta['name'];
  if (name === undefined || name === null || name === '') {
    if (!meta['generateName']) out.required('metadata.name', 'name or generateName is required');
  } else if (typeof name === 'string') {
    const err = checkDns1123Subdomain(name);
    if (err) out.invalid('metadata.name', name, err);
  }
  const ns = meta['namespace'];
  if (typeof ns === 'string' && ns !== '') {
    if (!namespaced) out.warn('metadata.namespace', `namespace ${JSON.stringify(ns)} is ignored: ${String(o['kind'])} is cluster-scoped`);
    else {
      const err = checkDns1123Label(ns);
      if (err) out.invalid('metadata.namespace', ns, err);
    }
  }
  checkLabels(meta['labels'], ['metadata', 'labels'], out);
  const ann = meta['annotations'];
  if (ann && typeof ann === 'object' && !Array.isArray(ann)) {
    let total = 0;
    for (const [k, v] of Object.entries(ann)) total += k.length + (typeof v === 'string' ? v.length : 0);
    if (total > 256 * 1024) out.add('metadata.annotations', 'FieldValueInvalid', 'too long: must have at most 262144 bytes');
  }
}

/**
 * The defaults the real CRD/OpenAPI schemas write on admission (Gateway API allowedRoutes, parentRef
 * group/kind, path match, backendRef group/kind/weight; Service port targetPort/protocol …).
 * Istio's semantic defaults (resolution NONE …) are not written: they live in the kind modules.
 * Pure: returns a new object.
 */
export function applySchemaDefaults<T extends KubeObject>(obj: T): T {
  const copy = structuredClone(obj);
  if (typeof copy.apiVersion !== 'string' || typeof copy.kind !== 'string') return copy;
  const info = kindFor(copy.apiVersion, copy.kind);
  if (!info) return copy;
  const mod = kindModule(info);
  return (mod?.schemaDefaults?.(copy) ?? copy) as T;
}

export { formatPath };
