// sailoperator.io Istio: the control plane install (version, namespace, update strategy, mesh values).
import type { KubeObject } from '../object.js';
import type { IssueList } from '../field-issue.js';
import type { FieldNode } from '../schema/field-node.js';
import { checkNamespaceField, checkVersion, VALUES_TREE, type SailCondition, type SailValues } from './sail-common.js';
import { rec, type KindModule } from './kind-module.js';
import { SAIL_GROUP } from '../groups.js';

export interface IstioSpec {
  readonly version?: string;
  readonly namespace?: string;
  readonly profile?: string;
  readonly updateStrategy?: {
    readonly type?: 'InPlace' | 'RevisionBased';
    readonly inactiveRevisionDeletionGracePeriodSeconds?: number;
    readonly updateWorkloads?: boolean;
  };
  readonly values?: SailValues;
}

export interface IstioStatus {
  readonly activeRevisionName?: string;
  readonly state?: string;
  readonly revisions?: { readonly total?: number; readonly ready?: number; readonly inUse?: number };
  readonly conditions?: readonly SailCondition[];
}

export type Istio = KubeObject<IstioSpec, IstioStatus>;

/** Sail's defaults: namespace istio-system, update strategy InPlace. */
export function istioDefaults(spec: IstioSpec | undefined): IstioSpec & { namespace: string; updateStrategy: { type: 'InPlace' | 'RevisionBased' } } {
  return { ...spec, namespace: spec?.namespace ?? 'istio-system', updateStrategy: { ...spec?.updateStrategy, type: spec?.updateStrategy?.type ?? 'InPlace' } };
}

const TREE: FieldNode = {
  p: {
    version: 's',
    namespace: 's',
    profile: ['e', 'ambient', 'default', 'demo', 'empty', 'openshift', 'openshift-ambient', 'preview', 'remote', 'stable'],
    updateStrategy: { p: { type: ['e', 'InPlace', 'RevisionBased'], inactiveRevisionDeletionGracePeriodSeconds: 'i', updateWorkloads: 'b' } },
    values: VALUES_TREE,
  },
};

function validate(obj: KubeObject, out: IssueList): void {
  const spec = rec(obj.spec);
  checkVersion(spec['version'], ['spec', 'version'], out);
  checkNamespaceField(spec['namespace'], ['spec', 'namespace'], out);
  const g = rec(spec['updateStrategy'])['inactiveRevisionDeletionGracePeriodSeconds'];
  if (typeof g === 'number' && g < 0)
    out.invalid(['spec', 'updateStrategy', 'inactiveRevisionDeletionGracePeriodSeconds'], g, 'must be greater than or equal to 0');
  const dns = rec(rec(rec(spec['values'])['meshConfig'])['defaultConfig'])['dnsResolutionTimeout'];
  if (dns !== undefined && (typeof dns !== 'string' || !/^\d+(\.\d+)?(ms|s|m|h)$/.test(dns))) {
    out.invalid(['spec', 'values', 'meshConfig', 'defaultConfig', 'dnsResolutionTimeout'], dns, 'must be a duration such as "5s" or "500ms"');
  }
}

export const sailIstioKind: KindModule = { group: SAIL_GROUP, kind: 'Istio', fieldTree: TREE, validate };
