// discovery.k8s.io/v1 EndpointSlice: a Service's endpoints (the netns model keeps one per Service
// current from its pods); no spec, fields at the top level as in Kubernetes.
import type { KubeObject } from '../object.js';
import type { IssueList } from '../field-issue.js';
import { FIELD_TREES } from '../schema/field-trees.gen.js';
import { checkPortNumber } from './common-rules.js';
import { arr, rec, type KindModule } from './kind-module.js';

/** The label naming the Service a slice belongs to. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';

function validate(obj: KubeObject, out: IssueList): void {
  const o = obj as unknown as Record<string, unknown>;
  arr(o['endpoints']).forEach((e, i) => {
    if (arr(rec(e)['addresses']).length === 0) out.required(['endpoints', i, 'addresses'], 'must contain at least 1 address');
  });
  arr(o['ports']).forEach((p, i) => checkPortNumber(rec(p)['port'], ['ports', i, 'port'], out));
}

export const endpointSliceKind: KindModule = {
  group: 'discovery.k8s.io',
  kind: 'EndpointSlice',
  fieldTree: FIELD_TREES['discovery.k8s.io/EndpointSlice'],
  treeRoot: 'object',
  validate,
};
