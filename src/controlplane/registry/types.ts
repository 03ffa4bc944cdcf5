// The registry's model: one MeshService per host, from a Kubernetes Service or a ServiceEntry host.
import type { Protocol } from '../../api/kinds/port-protocol.js';

export type { Protocol };

export type Resolution = 'NONE' | 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN';

export interface ServicePort {
  /** The service port (Istio's "port number"): what clients dial and what cluster names carry. */
  readonly port: number;
  readonly name: string;
  readonly protocol: Protocol;
  /** Where endpoints listen when an endpoint does not say; a name for Kubernetes named ports. */
  readonly targetPort?: number | string;
}

export interface ServiceEndpoint {
  /** IP or (for DNS resolution) a host name. */
  readonly address: string;
  /**
   * Endpoint port per service port number, already resolved (targetPort, named ports, SE endpoint ports).
   * A Map: a record with numeric keys like 443 gets a sparse elements store of ~3.5 KB per endpoint in V8.
   */
  readonly ports: ReadonlyMap<number, number>;
  readonly labels: Readonly<Record<string, string>>;
  readonly weight?: number;
  /** The endpoint is a gateway proxy (Gateway API or injected gateway pod); sidecars speak HTTP/2 to it, as Istio does over mTLS. */
  readonly meshGateway?: boolean;
  /** The pod's service account (spec.serviceAccountName), when the pod names one: its mesh identity. */
  readonly serviceAccount?: string;
  /** The endpoint's pod has a sidecar that captures its inbound traffic (annotation `outpost.dev/inbound-capture`): auto mTLS applies. */
  readonly meshSidecar?: boolean;
}

export interface MeshService {
  /** FQDN, or a `*.` wildcard for ServiceEntry hosts. */
  readonly host: string;
  /** Kubernetes Service name or ServiceEntry name. */
  readonly name: string;
  readonly namespace: string;
  readonly origin: 'Service' | 'ServiceEntry';
  readonly ports: readonly ServicePort[];
  /** Kubernetes Services resolve like STATIC (their pods' IPs). */
  readonly resolution: Resolution;
  readonly location: 'MESH_EXTERNAL' | 'MESH_INTERNAL';
  /** Empty means `*`. */
  readonly exportTo: readonly string[];
  readonly endpoints: readonly ServiceEndpoint[];
  readonly subjectAltNames?: readonly string[];
  /** ServiceEntry `addresses`: the VIPs (or CIDRs) clients dial; absent when none were given. */
  readonly addresses?: readonly string[];
  /**
   * An address from 240.240.0.0/16 for a ServiceEntry host without `addresses` (Istio's DNS
   * auto-allocation): the sidecar's DNS proxy answers it, and a captured connection to it names
   * this service and port. See vip-allocation.ts.
   */
  readonly autoAddress?: string;
  /** Its IPv6 twin from 2001:2::/48 (Istio's AutoAllocatedIPv6Address), answered to pods that have IPv6. */
  readonly autoAddressV6?: string;
  /** A Kubernetes Service's cluster IP (spec.clusterIP), when it has one. */
  readonly clusterIP?: string;
  /** Sort key for "oldest wins" on host collisions. */
  readonly age: string;
}

export function isHttpProtocol(p: Protocol): boolean {
  return p === 'HTTP' || p === 'HTTP2' || p === 'GRPC' || p === 'GRPC-WEB';
}

export function isTlsProtocol(p: Protocol): boolean {
  return p === 'HTTPS' || p === 'TLS';
}
