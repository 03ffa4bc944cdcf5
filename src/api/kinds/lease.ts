// coordination.k8s.io/v1 Lease: what controllers elect a leader with (holder, renew time, duration).
import type { IssueList } from '../field-issue.js';
import type { KubeObject } from '../object.js';
import type { FieldNode } from '../schema/field-node.js';
import { num, rec, type KindModule } from './kind-module.js';

const LEASE_SPEC: FieldNode = {
  p: {
    acquireTime: 's',
    holderIdentity: 's',
    leaseDurationSeconds: 'i',
    leaseTransitions: 'i',
    preferredHolder: 's',
    renewTime: 's',
    strategy: 's',
  },
};

function validate(obj: KubeObject, out: IssueList): void {
  const spec = rec(obj.spec);
  for (const field of ['leaseDurationSeconds', 'leaseTransitions'] as const) {
    const v = num(spec[field]);
    if (v !== undefined && (!Number.isInteger(v) || v < (field === 'leaseDurationSeconds' ? 1 : 0))) {
      out.invalid(['spec', field], v, field === 'leaseDurationSeconds' ? 'must be greater than 0' : 'must be greater than or equal to 0');
    }
  }
}

export const leaseKind: KindModule = { group: 'coordination.k8s.io', kind: 'Lease', fieldTree: LEASE_SPEC, validate };
