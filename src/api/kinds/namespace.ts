// core v1 Namespace: labels here turn on sidecar injection (istio-injection=enabled, istio.io/rev).
import type { KubeObject } from '../object.js';
import type { IssueList } from '../field-issue.js';
import { FIELD_TREES } from '../schema/field-trees.gen.js';
import { checkDns1123Label } from '../names.js';
import type { KindModule } from './kind-module.js';

export interface NamespaceSpec {
  readonly finalizers?: readonly string[];
}
export interface NamespaceStatus {
  readonly phase?: 'Active' | 'Terminating';
}
export type Namespace = KubeObject<NamespaceSpec, NamespaceStatus>;

/**
 * Whether pods in a namespace get a sidecar: `istio-injection=enabled`, or an `istio.io/rev` label
 * naming a revision (`default` when only one exists); `istio-injection=disabled` wins.
 */
export function namespaceInjection(ns: Pick<Namespace, 'metadata'>, revisions: readonly string[] = ['default']): { injected: boolean; revision?: string } {
  const labels = ns.metadata.labels ?? {};
  if (labels['istio-injection'] === 'disabled') return { injected: false };
  if (labels['istio-injection'] === 'enabled') return { injected: true, revision: 'default' };
  const rev = labels['istio.io/rev'];
  if (rev !== undefined && revisions.includes(rev)) return { injected: true, revision: rev };
  return { injected: false };
}

function validate(obj: KubeObject, out: IssueList): void {
  const err = checkDns1123Label(obj.metadata?.name ?? '');
  if (obj.metadata?.name && err) out.invalid(['metadata', 'name'], obj.metadata.name, err);
}

export const namespaceKind: KindModule = { group: '', kind: 'Namespace', fieldTree: FIELD_TREES['Namespace'], validate };
