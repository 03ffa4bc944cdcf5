// core v1 ConfigMap: data and binaryData at the top level (no spec), keys as Kubernetes allows them.
import type { KubeObject } from '../object.js';
import type { IssueList } from '../field-issue.js';
import { FIELD_TREES } from '../schema/field-trees.gen.js';
import { rec, type KindModule } from './kind-module.js';

const KEY = /^[-._a-zA-Z0-9]+$/;

function validate(obj: KubeObject, out: IssueList): void {
  const o = obj as unknown as Record<string, unknown>;
  const data = rec(o['data']);
  const binary = rec(o['binaryData']);
  for (const [field, map] of [
    ['data', data],
    ['binaryData', binary],
  ] as const) {
    for (const key of Object.keys(map)) {
      if (key.length > 253 || !KEY.test(key)) {
        out.invalid(
          [field, key],
          key,
          "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
        );
      }
    }
  }
  for (const key of Object.keys(binary)) {
    if (key in data) out.invalid(['binaryData', key], key, 'duplicate of key present in data');
  }
}

export const configMapKind: KindModule = { group: '', kind: 'ConfigMap', fieldTree: FIELD_TREES['ConfigMap'], treeRoot: 'object', validate };
