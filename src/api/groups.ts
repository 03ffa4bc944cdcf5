// The API groups and versions outpost serves, named once; and the well-known labels they define.
// Kinds are listed in ./kinds.ts; this module imports nothing, so any layer may use it.

export const CORE_GROUP = '';
export const APPS_GROUP = 'apps';
export const ISTIO_NETWORKING_GROUP = 'networking.istio.io';
export const ISTIO_SECURITY_GROUP = 'security.istio.io';
export const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';
export const SAIL_GROUP = 'sailoperator.io';
/** outpost's own endpoints (batch apply) and ProxyConfig's apiVersion. */
export const OUTPOST_GROUP = 'outpost.dev';

/** The apiVersions outpost writes (status, deployed objects, defaults): each group's storage version. */
export const GATEWAY_API_V1 = `${GATEWAY_API_GROUP}/v1`;
export const ISTIO_NETWORKING_V1 = `${ISTIO_NETWORKING_GROUP}/v1`;
export const SAIL_V1 = `${SAIL_GROUP}/v1`;
export const OUTPOST_V1ALPHA1 = `${OUTPOST_GROUP}/v1alpha1`;

/** The label the Gateway API puts on a Gateway's deployed workload (and selects it by). */
export const GATEWAY_NAME_LABEL = `${GATEWAY_API_GROUP}/gateway-name`;
