// What each kind of the registry (../kinds.ts) means: its module (field tree, validation, schema
// defaults), attached by key; and every kind's type and semantic defaults, re-exported for the
// control plane and the analyzers. A module without a registry row, or a row without a module,
// fails at load: a kind is added in both places or in neither.
import { KINDS, kindKey, type KindInfo } from '../kinds.js';
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
import { leaseKind } from './lease.js';
import { networkPolicyKind } from './network-policy.js';
import { endpointSliceKind } from './endpoint-slice.js';

export type { KindModule } from './kind-module.js';

const MODULES: readonly KindModule[] = [
  serviceEntryKind,
  istioGatewayKind,
  virtualServiceKind,
  destinationRuleKind,
  sidecarKind,
  authorizationPolicyKind,
  peerAuthenticationKind,
  gatewayClassKind,
  gatewayApiGatewayKind,
  httpRouteKind,
  grpcRouteKind,
  tlsRouteKind,
  tcpRouteKind,
  referenceGrantKind,
  namespaceKind,
  serviceKind,
  serviceAccountKind,
  deploymentKind,
  configMapKind,
  secretKind,
  eventKind,
  podKind,
  sailIstioKind,
  istioRevisionKind,
  istioCniKind,
  leaseKind,
  networkPolicyKind,
  endpointSliceKind,
];

const BY_KEY = new Map(MODULES.map((m) => [kindKey(m), m]));
{
  const rows = new Set(KINDS.map(kindKey));
  const strays = [...BY_KEY.keys()].filter((k) => !rows.has(k));
  const missing = [...rows].filter((k) => !BY_KEY.has(k));
  if (strays.length > 0 || missing.length > 0 || BY_KEY.size !== MODULES.length) {
    throw new Error(
      `kind modules and the registry of kinds (src/api/kinds.ts) disagree: no row for ${strays.join(', ') || '-'}; no module for ${missing.join(', ') || '-'}`,
    );
  }
}

/** The module of a registered kind. */
export function kindModule(info: Pick<KindInfo, 'group' | 'kind'>): KindModule | undefined {
  return BY_KEY.get(kindKey(info));
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
export * from './pod.js';
export * from './secret.js';
export * from './event.js';
export * from './port-protocol.js';
