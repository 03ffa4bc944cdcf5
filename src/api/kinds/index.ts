// Every kind module, by group/kind; the types and semantic defaults are re-exported for the control plane.
import type { KindModule } from './kind-module.js';
import { serviceEntryKind } from './service-entry.js';
import { istioGatewayKind } from './istio-gateway.js';
import { virtualServiceKind } from './virtual-service.js';
import { destinationRuleKind } from './destination-rule.js';
import { sidecarKind } from './sidecar.js';
import { authorizationPolicyKind } from './authorization-policy.js';
import { peerAuthenticationKind } from './peer-authentication.js';
import { gatewayClassKind } from './gateway-class.js';
import { gatewayApiGatewayKind } from './gateway-api-gateway.js';
import { httpRouteKind } from './http-route.js';
import { grpcRouteKind } from './grpc-route.js';
import { referenceGrantKind } from './reference-grant.js';
import { tcpRouteKind, tlsRouteKind } from './l4-routes.js';
import { namespaceKind } from './namespace.js';
import { serviceKind } from './service.js';
import { serviceAccountKind } from './service-account.js';
import { deploymentKind } from './deployment.js';
import { configMapKind } from './config-map.js';
import { secretKind } from './secret.js';
import { eventKind } from './event.js';
import { podKind } from './pod.js';
import { sailIstioKind } from './sail-istio.js';
import { istioRevisionKind } from './istio-revision.js';
import { istioCniKind } from './istio-cni.js';
import { networkPolicyKind } from './network-policy.js';
import { endpointSliceKind } from './endpoint-slice.js';

export type { KindModule } from './kind-module.js';

const MODULES: readonly KindModule[] = [
  serviceEntryKind, istioGatewayKind, virtualServiceKind, destinationRuleKind, sidecarKind, authorizationPolicyKind, peerAuthenticationKind,
  gatewayClassKind, gatewayApiGatewayKind, httpRouteKind, grpcRouteKind, tlsRouteKind, tcpRouteKind, referenceGrantKind,
  namespaceKind, serviceKind, serviceAccountKind, deploymentKind, configMapKind, secretKind, eventKind, podKind,
  sailIstioKind, istioRevisionKind, istioCniKind, networkPolicyKind, endpointSliceKind,
];

const BY_KEY = new Map(MODULES.map((m) => [`${m.group}/${m.kind}`, m]));

/** The module for a group and kind, if outpost has one. */
export function kindModule(group: string, kind: string): KindModule | undefined {
  return BY_KEY.get(`${group}/${kind}`);
}

export * from './service-entry.js';
export * from './istio-gateway.js';
export * from './virtual-service.js';
export * from './destination-rule.js';
export * from './sidecar.js';
export * from './authorization-policy.js';
export * from './peer-authentication.js';
export * from './gateway-api-common.js';
export * from './gateway-class.js';
export * from './gateway-api-gateway.js';
export * from './http-route.js';
export * from './grpc-route.js';
export * from './l4-routes.js';
export * from './reference-grant.js';
export * from './namespace.js';
export * from './service.js';
export * from './service-account.js';
export * from './deployment.js';
export * from './sail-common.js';
export * from './sail-istio.js';
export * from './istio-revision.js';
export * from './istio-cni.js';
export * from './network-policy.js';
export * from './endpoint-slice.js';
