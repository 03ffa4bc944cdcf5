// sailoperator.io IstioCNI: the CNI node agent install (modelled and validated; nothing to run locally).
import type { KubeObject } from '../object.js';
import type { IssueList } from '../field-issue.js';
import type { FieldNode } from '../schema/field-node.js';
import { checkNamespaceField, checkVersion, type SailCondition } from './sail-common.js';
import { rec, type KindModule } from './kind-module.js';
import { SAIL_GROUP } from '../groups.js';

export interface IstioCNISpec {
  readonly version?: string;
  readonly namespace?: string;
  readonly profile?: string;
  readonly values?: Readonly<Record<string, unknown>>;
}
export interface IstioCNIStatus {
  readonly state?: string;
  readonly conditions?: readonly SailCondition[];
}
export type IstioCNI = KubeObject<IstioCNISpec, IstioCNIStatus>;

/** Sail's default namespace for the CNI agent. */
export function istioCniDefaults(spec: IstioCNISpec | undefined): IstioCNISpec & { namespace: string } {
  return { ...spec, namespace: spec?.namespace ?? 'istio-cni' };
}

const TREE: FieldNode = {
  p: {
    version: 's',
    namespace: 's',
    profile: ['e', 'ambient', 'default', 'demo', 'empty', 'openshift', 'openshift-ambient', 'preview', 'remote', 'stable'],
    values: '*',
  },
};

function validate(obj: KubeObject, out: IssueList): void {
  const spec = rec(obj.spec);
  checkVersion(spec['version'], ['spec', 'version'], out);
  checkNamespaceField(spec['namespace'], ['spec', 'namespace'], out);
}

export const istioCniKind: KindModule = { group: SAIL_GROUP, kind: 'IstioCNI', fieldTree: TREE, validate };
