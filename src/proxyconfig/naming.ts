// Istio's names for generated Envoy objects: the one place they are made.

/** `outbound|<port>|<subset>|<host>`, e.g. `outbound|80||docs.redhat.com`. */
export function outboundClusterName(port: number, subset: string | undefined, host: string): string {
  return `outbound|${port}|${subset ?? ''}|${host}`;
}

export interface ParsedClusterName {
  readonly direction: string;
  readonly port: number;
  readonly subset: string;
  readonly host: string;
}

/** Istio's SNI for mesh mTLS to a cluster: `outbound_.<port>_.<subset>_.<host>` (the cluster name with `_.` for `|`). */
export function istioMutualSni(port: number, subset: string | undefined, host: string): string {
  return `outbound_.${port}_.${subset ?? ''}_.${host}`;
}

export function parseClusterName(name: string): ParsedClusterName | undefined {
  const parts = name.split('|');
  if (parts.length !== 4) return undefined;
  const port = Number(parts[1]);
  if (!Number.isInteger(port)) return undefined;
  return { direction: parts[0]!, port, subset: parts[2]!, host: parts[3]! };
}

/** Kubernetes Service FQDN. */
export function serviceFqdn(name: string, namespace: string, domain = 'cluster.local'): string {
  return `${name}.${namespace}.svc.${domain}`;
}

/** Sidecar outbound route table for a port: `80`. */
export function sidecarRouteTableName(port: number): string {
  return String(port);
}

/** Gateway route table for a server port: `http.80`. */
export function gatewayRouteTableName(port: number): string {
  return `http.${port}`;
}

/** Sidecar outbound listener for a port: `0.0.0.0_80`. */
export function sidecarListenerName(port: number): string {
  return `0.0.0.0_${port}`;
}

/** Virtual host name: `docs.redhat.com:80`. */
export function virtualHostName(host: string, port: number): string {
  return `${host}:${port}`;
}

/** Gateway API route name in the access log: `<ns>.<route>.<ruleIdx>`. */
export function gatewayApiRouteName(namespace: string, route: string, ruleIndex: number): string {
  return `${namespace}.${route}.${ruleIndex}`;
}

/** Gateway API automated deployment name: `<gateway>-<class>` (`<gateway>-istio`). */
export function gatewayDeploymentName(gateway: string, gatewayClassName: string): string {
  return `${gateway}-${gatewayClassName}`;
}

export const ALLOW_ANY_ROUTE = 'allow_any';
export const BLOCK_ALL_ROUTE = 'block_all';
export const VIRTUAL_OUTBOUND_LISTENER = 'virtualOutbound';
export const VIRTUAL_OUTBOUND_PORT = 15001;
export const GATEWAY_STATUS_PORT = 15021;

/** Istio's range for auto-allocated ServiceEntry addresses (DNS proxying with address auto-allocation). */
export const AUTO_ALLOCATE_RANGE = '240.240.0.0/16';
/** Its IPv6 counterpart (Istio's AutoAllocatedIPv6Address). */
export const AUTO_ALLOCATE_RANGE_V6 = '2001:2::/48';

/** The port of Istio's DNS proxy in the agent (DNS_PROXY_ADDR localhost:15053). */
export const DNS_PROXY_PORT = 15053;

/** Istio's inbound capture port (15006); captured app ports get their own listeners from 15006 up. */
export const VIRTUAL_INBOUND_PORT = 15006;

/** Istio's group (and user) id of the proxy: its own connections are not captured. */
export const PROXY_GID = 1337;

/** Listener on a captured destination address: Istio's `<address>_<port>`. */
export function addressListenerName(address: string, port: number): string {
  return `${address}_${port}`;
}

/** Istio's inbound cluster for an app port: `inbound|8080||`. */
export function inboundClusterName(port: number): string {
  return `inbound|${port}||`;
}
