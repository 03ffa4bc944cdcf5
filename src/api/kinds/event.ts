// core v1 Event: what happened to an object (involvedObject, reason, message, type, count …), at the top level.
import type { KubeObject } from '../object.js';
import type { IssueList } from '../field-issue.js';
import { FIELD_TREES } from '../schema/field-trees.gen.js';
import { rec, str, type KindModule } from './kind-module.js';

export interface ObjectReference {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly namespace?: string;
  readonly name?: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
}

export interface KubeEvent extends KubeObject {
  readonly involvedObject?: ObjectReference;
  readonly reason?: string;
  readonly message?: string;
  readonly type?: 'Normal' | 'Warning';
  readonly source?: { readonly component?: string; readonly host?: string };
  readonly reportingComponent?: string;
  readonly firstTimestamp?: string;
  readonly lastTimestamp?: string;
  readonly count?: number;
}

function validate(obj: KubeObject, out: IssueList): void {
  const o = obj as unknown as Record<string, unknown>;
  // As the API server checks it: an event about a namespaced object lives in that object's namespace.
  const involvedNs = str(rec(o['involvedObject'])['namespace']);
  if (involvedNs && obj.metadata?.namespace && involvedNs !== obj.metadata.namespace) {
    out.invalid(['involvedObject', 'namespace'], involvedNs, 'does not match event.namespace');
  }
}

export const eventKind: KindModule = { group: '', kind: 'Event', fieldTree: FIELD_TREES['Event'], treeRoot: 'object', validate };
