// Field selectors (`metadata.name=x,involvedObject.uid!=y`): what kubectl get/wait/describe send.
import type { KubeObject } from '../api/object.js';
import { badRequest } from './status.js';

export interface FieldRequirement {
  path: string[];
  value: string;
  equal: boolean;
}

export function parseFieldSelector(selector: string): FieldRequirement[] {
  const out: FieldRequirement[] = [];
  for (const part of selector
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^([A-Za-z0-9_.]+)\s*(==|!=|=)\s*(.*)$/.exec(part);
    if (!m) throw badRequest(`invalid field selector: "${part}": expected a field, an operator (=, ==, !=) and a value`);
    out.push({ path: m[1]!.split('.'), value: m[3]!, equal: m[2] !== '!=' });
  }
  return out;
}

function fieldText(obj: KubeObject, path: string[]): string {
  let cur: unknown = obj;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return '';
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur === undefined || cur === null ? '' : typeof cur === 'object' ? JSON.stringify(cur) : String(cur);
}

export function matchesFields(reqs: readonly FieldRequirement[], obj: KubeObject): boolean {
  return reqs.every((r) => (fieldText(obj, r.path) === r.value) === r.equal);
}
