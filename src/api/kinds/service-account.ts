// core v1 ServiceAccount: a workload identity (spiffe://cluster.local/ns/<ns>/sa/<name>).
import type { KubeObject } from '../object.js';
import { FIELD_TREES } from '../schema/field-trees.gen.js';
import type { KindModule } from './kind-module.js';

export type ServiceAccount = KubeObject<never> & { readonly automountServiceAccountToken?: boolean };

/** The mesh identity of a service account. */
export function spiffeId(namespace: string, serviceAccount: string, trustDomain = 'cluster.local'): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

export const serviceAccountKind: KindModule = { group: '', kind: 'ServiceAccount', fieldTree: FIELD_TREES['ServiceAccount'], treeRoot: 'object' };
