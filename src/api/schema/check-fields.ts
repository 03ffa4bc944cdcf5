// Structural check of a value against its FieldNode tree: unknown fields, wrong types,
// unsupported enum values, missing required fields. Nulls count as absent (as in Kubernetes).
import type { IssueList } from '../field-issue.js';
import type { PathSegment } from '../field-path.js';
import { isEnumNode, type FieldNode } from './field-node.js';

export function checkFields(value: unknown, node: FieldNode, path: PathSegment[], out: IssueList): void {
  if (value === null || value === undefined || node === '*') return;
  if (node === 's') {
    if (typeof value !== 'string') out.wrongType(path, value, 'string');
    return;
  }
  if (node === 'i') {
    if (typeof value !== 'number') out.wrongType(path, value, 'integer');
    return;
  }
  if (node === 'b') {
    if (typeof value !== 'boolean') out.wrongType(path, value, 'boolean');
    return;
  }
  if (node === 'is') {
    if (typeof value !== 'number' && typeof value !== 'string') out.wrongType(path, value, 'integer or string');
    return;
  }
  if (isEnumNode(node)) {
    const allowed = node.slice(1);
    if (typeof value !== 'string') out.wrongType(path, value, 'string');
    else if (!allowed.includes(value)) out.unsupported(path, value, allowed);
    return;
  }
  if ('l' in node) {
    if (!Array.isArray(value)) {
      out.wrongType(path, value, 'array');
      return;
    }
    value.forEach((item, i) => checkFields(item, node.l, [...path, i], out));
    return;
  }
  if (typeof value !== 'object' || Array.isArray(value)) {
    out.wrongType(path, value, 'object');
    return;
  }
  const obj = value as Record<string, unknown>;
  if ('m' in node) {
    for (const [k, v] of Object.entries(obj)) checkFields(v, node.m, [...path, k], out);
    return;
  }
  for (const [k, v] of Object.entries(obj)) {
    const child = node.p[k];
    if (child === undefined) {
      if (!node.o) out.unknown([...path, k], k);
      continue;
    }
    checkFields(v, child, [...path, k], out);
  }
  for (const r of node.r ?? []) {
    if (obj[r] === undefined || obj[r] === null) out.required([...path, r]);
  }
}
