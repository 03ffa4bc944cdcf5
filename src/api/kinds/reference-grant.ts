// gateway.networking.k8s.io ReferenceGrant: lets routes in other namespaces refer to objects here.
import type { KubeObject } from '../object.js';
import { FIELD_TREES } from '../schema/field-trees.gen.js';
import type { KindModule } from './kind-module.js';
import { GATEWAY_API_GROUP } from '../groups.js';

export interface ReferenceGrantSpec {
  readonly from: readonly { readonly group: string; readonly kind: string; readonly namespace: string }[];
  readonly to: readonly { readonly group: string; readonly kind: string; readonly name?: string }[];
}

export type ReferenceGrant = KubeObject<ReferenceGrantSpec>;

/** True when a grant in `toNamespace` lets `from` (group/kind/namespace) refer to `to` (group/kind/name). */
export function grantAllows(
  grants: readonly ReferenceGrant[],
  from: { group: string; kind: string; namespace: string },
  to: { group: string; kind: string; namespace: string; name: string },
): boolean {
  return grants.some(
    (g) =>
      g.metadata.namespace === to.namespace &&
      g.spec !== undefined &&
      g.spec.from.some((f) => f.group === from.group && f.kind === from.kind && f.namespace === from.namespace) &&
      g.spec.to.some((t) => t.group === to.group && t.kind === to.kind && (t.name === undefined || t.name === '' || t.name === to.name)),
  );
}

export const referenceGrantKind: KindModule = {
  group: GATEWAY_API_GROUP,
  kind: 'ReferenceGrant',
  fieldTree: FIELD_TREES['gateway.networking.k8s.io/ReferenceGrant'],
  specRequired: true,
};
