// sailoperator.io IstioRevision: one control-plane revision (`default` for InPlace installs).
import type { KubeObject } from '../object.js';
import type { IssueList } from '../field-issue.js';
import type { FieldNode } from '../schema/field-node.js';
import { checkNamespaceField, checkVersion, VALUES_TREE, type SailCondition, type SailValues } from './sail-common.js';
import { rec, type KindModule } from './kind-module.js';
import { SAIL_GROUP } from '../groups.js';

export interface IstioRevisionSpec {
  readonly type?: 'Local' | 'Remote';
  readonly version: string;
  readonly namespace: string;
  readonly values?: SailValues;
}

export interface IstioRevisionStatus {
  readonly state?: string;
  readonly conditions?: readonly SailCondition[];
}

export type IstioRevision = KubeObject<IstioRevisionSpec, IstioRevisionStatus>;

const TREE: FieldNode = { p: { type: ['e', 'Local', 'Remote'], version: 's', namespace: 's', values: VALUES_TREE }, r: ['version', 'namespace'] };

function validate(obj: KubeObject, out: IssueList): void {
  const spec = rec(obj.spec);
  checkVersion(spec['version'], ['spec', 'version'], out);
  checkNamespaceField(spec['namespace'], ['spec', 'namespace'], out);
}

export const istioRevisionKind: KindModule = { group: SAIL_GROUP, kind: 'IstioRevision', fieldTree: TREE, specRequired: true, validate };
