// gateway.networking.k8s.io GatewayClass: which controller implements Gateways of this class.
import type { KubeObject } from '../object.js';
import type { IssueList } from '../field-issue.js';
import { FIELD_TREES } from '../schema/field-trees.gen.js';
import type { Condition } from './gateway-api-common.js';
import { rec, type KindModule } from './kind-module.js';
import { GATEWAY_API_GROUP } from '../groups.js';

export interface GatewayClassSpec {
  readonly controllerName: string;
  readonly description?: string;
  readonly parametersRef?: { readonly group: string; readonly kind: string; readonly name: string; readonly namespace?: string };
}
export interface GatewayClassStatus {
  readonly conditions?: readonly Condition[];
}
export type GatewayClass = KubeObject<GatewayClassSpec, GatewayClassStatus>;

/** Istio's built-in class and its controller. */
export const ISTIO_GATEWAY_CLASS = 'istio';
export const ISTIO_GATEWAY_CONTROLLER = 'istio.io/gateway-controller';

function validate(obj: KubeObject, out: IssueList): void {
  const spec = rec(obj.spec);
  if (!spec['controllerName']) out.required(['spec', 'controllerName']);
}

export const gatewayClassKind: KindModule = {
  group: GATEWAY_API_GROUP,
  kind: 'GatewayClass',
  fieldTree: FIELD_TREES['gateway.networking.k8s.io/GatewayClass'],
  specRequired: true,
  validate,
};
