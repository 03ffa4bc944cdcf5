// The routing model translation works on: Istio VirtualServices/Gateways and Gateway API resources, both normalised to one shape.
import type { FaultInjection, HeaderOperations, RedirectAction, DirectResponseAction, RetryPolicy, Rewrite, RouteMatch } from '../../proxyconfig/types.js';

/** `mesh`, or a gateway key `<ns>/<name>`. */
export const MESH_GATEWAY = 'mesh';

export interface DestinationModel {
  /** FQDN (short names already expanded). */
  readonly host: string;
  readonly subset?: string;
  /** Absent: the service's only port, else the port the request arrived on. */
  readonly port?: number;
  readonly weight: number;
  readonly requestHeaders?: HeaderOperations;
  readonly responseHeaders?: HeaderOperations;
}

export interface HttpMatchModel {
  readonly port?: number;
  /** Overrides the rule's gateways when set. */
  readonly gateways?: readonly string[];
  readonly match: RouteMatch;
  readonly name?: string;
}

/**
 * A redirect whose port may be the one the request arrived on (Istio's `derivePort: FROM_REQUEST_PORT`,
 * Gateway API's listener port): routes are built per port, so translation fills it in then.
 */
export interface RedirectModel extends RedirectAction {
  readonly portFromRequest?: boolean;
}

/** A request mirror: where copies go, and the share of requests copied (0–100; absent: all). */
export interface MirrorModel {
  readonly destination: DestinationModel;
  readonly percentage?: number;
}

export interface HttpRuleModel {
  readonly name?: string;
  /** Empty: matches every request. */
  readonly matches: readonly HttpMatchModel[];
  readonly destinations?: readonly DestinationModel[];
  readonly redirect?: RedirectModel;
  readonly directResponse?: DirectResponseAction;
  readonly timeoutMs?: number;
  /** undefined: the mesh default policy; null: no retries. */
  readonly retry?: RetryPolicy | null;
  readonly rewrite?: Rewrite;
  readonly mirrors?: readonly MirrorModel[];
  readonly fault?: FaultInjection;
  readonly requestHeaders?: HeaderOperations;
  readonly responseHeaders?: HeaderOperations;
}

export interface L4MatchModel {
  /** TLS only. */
  readonly sniHosts?: readonly string[];
  readonly port?: number;
  readonly gateways?: readonly string[];
}

export interface L4RuleModel {
  readonly matches: readonly L4MatchModel[];
  readonly destinations: readonly DestinationModel[];
}

export interface VirtualServiceModel {
  readonly namespace: string;
  readonly name: string;
  /** Route metadata: where this came from. */
  readonly source: string;
  /** FQDNs or wildcards. */
  readonly hosts: readonly string[];
  /** `mesh` and/or gateway keys. */
  readonly gateways: readonly string[];
  readonly exportTo: readonly string[];
  readonly http: readonly HttpRuleModel[];
  readonly tls: readonly L4RuleModel[];
  readonly tcp: readonly L4RuleModel[];
  /** Oldest first. */
  readonly age: string;
}

export interface ServerTlsModel {
  readonly mode: 'PASSTHROUGH' | 'SIMPLE' | 'MUTUAL' | 'AUTO_PASSTHROUGH' | 'ISTIO_MUTUAL' | 'OPTIONAL_MUTUAL';
  readonly httpsRedirect?: boolean;
  readonly serverCertificate?: string;
  readonly privateKey?: string;
  readonly caCertificates?: string;
  /** A Kubernetes Secret's name, looked up in the proxy's namespace (or `credentialNamespace`). */
  readonly credentialName?: string;
  /** Set for a Gateway API certificateRef: the Secret's namespace (other than the proxy's only with a ReferenceGrant). */
  readonly credentialNamespace?: string;
  readonly minProtocolVersion?: string;
}

export interface ServerModel {
  readonly port: number;
  readonly portName: string;
  /** Upper case: HTTP, HTTPS, GRPC, HTTP2, TLS, TCP. */
  readonly protocol: string;
  /** `ns/host` rules (`*`, a namespace, or `~`). */
  readonly hosts: readonly string[];
  readonly tls?: ServerTlsModel;
}

export interface GatewayModel {
  /** How VirtualServices name it: `<ns>/<name>`. */
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  /** Pod labels to select (Istio: any namespace). */
  readonly selector: Readonly<Record<string, string>>;
  /** Gateway API gateways select only pods of their own namespace. */
  readonly podNamespace?: string;
  readonly servers: readonly ServerModel[];
}
