// ProxyConfig: the one contract between the control plane and every proxy.
//
// A plain, JSON-serialisable value shaped after Envoy's model (listeners → route tables →
// virtual hosts → routes → clusters → endpoints), where each level names the level below and
// never embeds it. The control plane builds it (a pure function of a snapshot and a proxy
// identity); the data plane carries traffic from it and knows nothing else.
//
// Precedence rules live here, once, as doc comments on the types they govern.

export const PROXY_CONFIG_API = 'outpost.dev/v1alpha1' as const;

export interface ProxyConfig {
  readonly apiVersion: typeof PROXY_CONFIG_API;
  /** Opaque; changes whenever anything below changes (a content hash). */
  readonly version: string;
  readonly proxy: ProxyIdentity;
  readonly mesh: MeshSettings;
  /** Listeners in order. Names are unique. */
  readonly listeners: readonly Listener[];
  /** Referenced by name from HTTP listeners. */
  readonly routeTables: readonly RouteTable[];
  /** Referenced by name from routes, TLS/TCP chains and listeners. Names are unique. */
  readonly clusters: readonly Cluster[];
  /** AuthorizationPolicies that apply to this proxy; absent: every request and connection is allowed. */
  readonly authorization?: AuthorizationConfig;
  /** Traffic capture in the proxy's pod (sidecars whose identity asks for it): DNS table and what the pod's nftables need. */
  readonly capture?: CaptureConfig;
}

export type ProxyRole = 'sidecar' | 'router';

export interface ProxyIdentity {
  /** Istio's form: `<pod>.<namespace>`. */
  readonly id: string;
  /** `sidecar` next to a workload, `router` for a gateway (Istio's node type). */
  readonly role: ProxyRole;
  readonly namespace: string;
  /** Workload (Deployment) name, for metrics' source_workload. */
  readonly workload: string;
  readonly labels: Readonly<Record<string, string>>;
  /** The workload's own address (its pod IP; on the local mesh a 127.x.y.z). Listeners bind here. */
  readonly ip?: string;
  /**
   * The pod's IPv6 address when it has one (dual stack): its sidecar then answers AAAA for
   * ServiceEntry hosts, listens on their IPv6 VIPs, and takes captured IPv6 connections on ::1.
   */
  readonly ip6?: string;
  /**
   * The pod's traffic is captured into this sidecar (Istio's init container; the netns pod model):
   * the config then has listeners on destination addresses (auto-allocated ServiceEntry VIPs,
   * cluster IPs), an inbound listener per app port, and `capture` (the DNS table).
   */
  readonly capture?: boolean;
}

export interface MeshSettings {
  /** Absent: access logging is off (Istio's default, meshConfig.accessLogFile empty). */
  readonly accessLog?: AccessLogSettings;
  /** Applies to sidecars only; Istio ignores it at gateways. */
  readonly outboundTrafficPolicy: 'ALLOW_ANY' | 'REGISTRY_ONLY';
  /**
   * The longest any DNS resolution may take, ms (absent: 5000, Envoy's c-ares query timeout);
   * past it the request gets 503 DF. From the Istio resource's
   * `spec.values.meshConfig.defaultConfig.dnsResolutionTimeout`.
   */
  readonly dnsResolutionTimeoutMs?: number;
  /**
   * The SSRF guard (outpost's own, beyond Istio; Smokescreen does the same by default). Absent: off.
   * From the Istio resource's `spec.values.meshConfig.outpost.ssrfGuard` (default ENFORCE).
   */
  readonly ssrfGuard?: SsrfGuardSettings;
}

/**
 * Where PassthroughCluster and DNS-resolved clusters (STRICT_DNS, LOGICAL_DNS, ORIGINAL_DST: CONNECT
 * tunnels and forward-proxy targets too) must not connect. STATIC clusters are exempt: their
 * addresses are named by the config itself. Checked on the resolved address, just before the
 * upstream connection is made (DNS rebinding safe); an IPv4-mapped IPv6 address counts as its IPv4
 * address. Order, first that applies wins:
 * 1. an address in `allowAddresses` (named by a ServiceEntry's `addresses` or endpoints) is allowed;
 * 2. an `ip:port` in `denyEndpoints` (the mesh's API and distribution) is denied;
 * 3. an address in a `denyRanges` entry on one of `adminPorts` is denied (`proxy_admin`);
 * 4. a connection for a host named in `allowHosts` (ServiceEntry hosts, `*.` wildcards) is allowed;
 * 5. an address in a `denyRanges` entry is denied with that entry's reason; anything else is allowed.
 * A denied HTTP request gets 403 with flag `SSRF` and details `ssrf_guard_denied{<reason>}`; a
 * denied CONNECT gets 403 and the same; another TCP connection is reset. REPORT_ONLY denies
 * nothing: the access log's `%DYNAMIC_METADATA(outpost.ssrf_guard:would_deny)%` carries the reason.
 */
export interface SsrfGuardSettings {
  readonly mode: 'ENFORCE' | 'REPORT_ONLY';
  /** CIDRs (`127.0.0.0/8`, `fe80::/10`) with the reason a denial names (`loopback`, `pod_network`, …). */
  readonly denyRanges: readonly SsrfDenyRange[];
  readonly denyEndpoints?: readonly SsrfDenyEndpoint[];
  /** Ports of proxies' admin endpoints (15000). */
  readonly adminPorts?: readonly number[];
  readonly allowHosts?: readonly string[];
  /** IPs or CIDRs. */
  readonly allowAddresses?: readonly string[];
}

export interface SsrfDenyRange {
  readonly cidr: string;
  readonly reason: string;
}

export interface SsrfDenyEndpoint {
  readonly address: string;
  readonly port: number;
  readonly reason: string;
}

export interface AccessLogSettings {
  /** A file path; `/dev/stdout` writes to the proxy's standard output. */
  readonly path: string;
  readonly encoding: 'TEXT' | 'JSON';
  /** Envoy format string; absent means Istio's default for the encoding. */
  readonly format?: string;
}

// ---------------------------------------------------------------------------------------------
// Listeners

export type Listener = HttpListener | TlsPassthroughListener | TcpListener | OutboundListener;

export interface ListenerBase {
  readonly name: string;
  /** IP to bind, e.g. `127.0.10.3` or `0.0.0.0`. */
  readonly address: string;
  readonly port: number;
  /**
   * false: not bound to a socket; reached only through an OutboundListener that hands a
   * connection or request over by its destination port (Envoy's bind_to_port: false, which
   * Istio uses for every sidecar outbound listener `0.0.0.0_<port>`).
   */
  readonly bindToPort: boolean;
  /**
   * Mutual TLS with the proxy's workload identity on this listener (Istio's inbound
   * PeerAuthentication): PERMISSIVE terminates mTLS when the connection starts with a TLS
   * handshake and takes plaintext otherwise; STRICT closes plaintext connections. Absent
   * (DISABLE): plaintext only. The caller's identity is its certificate's SPIFFE URI SAN.
   */
  readonly mtls?: 'STRICT' | 'PERMISSIVE';
  /**
   * `outbound`: bound on a destination address (a ServiceEntry VIP or a cluster IP, local in the
   * pod) that the app's captured connections reach; routed as the sidecar's outbound traffic, so
   * AuthorizationPolicy does not apply. `inbound`: Istio's 15006 role for one app port.
   */
  readonly capture?: 'outbound' | 'inbound';
  /**
   * A captured listener for one destination address the app dialled (a ServiceEntry's explicit
   * address, reached through a port map): ORIGINAL_DST clusters connect to it, since the socket's
   * own address is the proxy's.
   */
  readonly originalDestination?: { readonly address: string; readonly port: number };
  /** More addresses bound with the same port (Envoy's additional_addresses): `::1` for captured IPv6. */
  readonly additionalAddresses?: readonly string[];
}

/** HTTP/1.1 and HTTP/2 (prior knowledge, h2c upgrade, or ALPN when TLS is terminated). */
export interface HttpListener extends ListenerBase {
  readonly protocol: 'HTTP';
  /** Name of the RouteTable that routes this listener's requests. */
  readonly routeTable: string;
  /** Terminate TLS on this listener (a gateway server with tls.mode SIMPLE or MUTUAL). */
  readonly tls?: DownstreamTls;
}

/**
 * TLS passthrough: routed on the ClientHello's SNI without terminating TLS.
 * Chain precedence: exact SNI, then the longest `*.suffix` wildcard, then `defaultChain`.
 * A CONNECT tunnel handed over to this listener is routed the same way on the CONNECT host.
 */
export interface TlsPassthroughListener extends ListenerBase {
  readonly protocol: 'TLS';
  readonly chains: readonly SniChain[];
  /** Used when no chain matches or the hello has no SNI; absent means the connection is closed. */
  readonly defaultChain?: TcpRoute;
}

export interface SniChain {
  /** Exact names or left-most wildcards (`*.wikipedia.org`). `*` matches any SNI. */
  readonly sniHosts: readonly string[];
  readonly route: TcpRoute;
}

/** Plain TCP proxied to one (weighted) set of clusters. */
export interface TcpListener extends ListenerBase {
  readonly protocol: 'TCP';
  readonly route: TcpRoute;
}

/** A TCP-level destination: weighted clusters, and the route's name for ROUTE_NAME. */
export interface TcpRoute {
  readonly name?: string;
  readonly clusters: readonly WeightedCluster[];
}

/**
 * The sidecar's single bound entry point (Istio's virtualOutbound, 15001). Applications reach
 * it as an explicit proxy (http_proxy/https_proxy) or by transparent capture. A request or
 * connection is handed to the listener with `bindToPort: false` whose port is its destination
 * port: absolute-form `GET http://host:port/…` and `Host` go to the HTTP listener of that port,
 * `CONNECT host:port` to the TLS or TCP listener of that port (an HTTP listener of that port
 * when the port carries HTTP: the tunnel's bytes are then parsed as HTTP). With no listener
 * for the port, `fallback` applies: PassthroughCluster (ALLOW_ANY) or BlackHoleCluster.
 */
export interface OutboundListener extends ListenerBase {
  readonly protocol: 'OUTBOUND';
  readonly fallback: TcpRoute;
  /** HTTP requests to ports with no listener: route table with the allow_any/block_all host. */
  readonly fallbackRouteTable: string;
}

/**
 * A terminating listener's TLS: SIMPLE and MUTUAL carry their PEM material; ISTIO_MUTUAL uses the
 * proxy's workload identity (certificate, key, mesh root) and requires a client certificate
 * from the mesh, like `mtls: STRICT` (Istio's Gateway server tls.mode ISTIO_MUTUAL).
 */
export type DownstreamTls = PemDownstreamTls | IstioMutualDownstreamTls;

export interface IstioMutualDownstreamTls {
  readonly mode: 'ISTIO_MUTUAL';
}

export interface PemDownstreamTls {
  readonly mode: 'SIMPLE' | 'MUTUAL';
  /** PEM text. */
  readonly certificateChain: string;
  readonly privateKey: string;
  /** PEM text; required for MUTUAL. */
  readonly caCertificates?: string;
  readonly minProtocolVersion?: 'TLSv1.2' | 'TLSv1.3';
}

/** What a captured pod needs beyond listeners (see ProxyIdentity.capture). */
export interface CaptureConfig {
  /** Istio's DNS proxy: the agent answers these names itself (A and AAAA records, TTL 30 s); others go to its resolver. */
  readonly dns: readonly DnsName[];
  /** Ports of HTTP outbound listeners: the pod's connections to these ports on other addresses go to virtualOutbound (routed by Host). */
  readonly httpPorts: readonly number[];
  /**
   * Connections to a VIP or cluster IP on `port` are sent to the same address on `listenerPort`,
   * where the proxy listens (an app's own wildcard listener on `port` would clash with the proxy's).
   */
  readonly outbound: readonly { readonly port: number; readonly listenerPort: number }[];
  /**
   * ServiceEntries' explicit `addresses` (IPs or CIDRs) on TCP and TLS ports: a connection to
   * `address` on `port` goes to the proxy's `listenerPort` on the pod's address (IPv6: on ::1),
   * where the listener for that address and port is. Absent: none.
   */
  readonly addressed?: readonly { readonly address: string; readonly port: number; readonly listenerPort: number }[];
  /**
   * Explicit address ranges (CIDRs) of passthrough ServiceEntries (resolution NONE) on TCP and TLS
   * ports: left uncaptured, the kernel connecting where the app dialled, since a listener could not
   * tell which address of the range that was. Absent: none.
   */
  readonly passthrough?: readonly { readonly address: string; readonly port: number }[];
  /** Inbound capture: connections to the app's `port` from outside the pod go to the proxy's `listenerPort`. */
  readonly inbound: readonly { readonly port: number; readonly listenerPort: number }[];
}

export interface DnsName {
  /** Lower-case FQDN without the trailing dot. */
  readonly name: string;
  /** IPv4 addresses answer A queries, IPv6 ones AAAA. */
  readonly addresses: readonly string[];
}

// ---------------------------------------------------------------------------------------------
// Routes

export interface RouteTable {
  /** Istio's names: a port number (`80`) at sidecars, `http.<port>` at gateways. */
  readonly name: string;
  /**
   * Virtual host selection by Host/:authority (port stripped unless a domain has one):
   * an exact domain first, then the longest `*.suffix` wildcard, then the longest `prefix*`
   * wildcard, then `*`. A domain appears in at most one virtual host.
   */
  readonly virtualHosts: readonly VirtualHost[];
}

export interface VirtualHost {
  /** Istio's `<host>:<port>`, `allow_any` or `block_all`. */
  readonly name: string;
  /** `example.com`, `example.com:80`, `*.example.com`, `*`. */
  readonly domains: readonly string[];
  /** Ordered; the first route whose match holds wins. */
  readonly routes: readonly Route[];
}

export interface Route {
  /** ROUTE_NAME in the access log; `-` when absent. */
  readonly name?: string;
  readonly match: RouteMatch;
  readonly action: RouteAction;
  readonly requestHeaders?: HeaderOperations;
  readonly responseHeaders?: HeaderOperations;
  /** Fault injection, applied before the action. */
  readonly fault?: FaultInjection;
  /** Metadata shown in proxy-config and used for metrics (destination service). */
  readonly source?: string;
}

/** Every present criterion must hold. */
export interface RouteMatch {
  /** Absent: any path. */
  readonly path?: StringMatch;
  readonly headers?: readonly HeaderMatch[];
  readonly queryParams?: readonly QueryParamMatch[];
  /** Upper-case method name. */
  readonly method?: StringMatch;
  readonly scheme?: StringMatch;
  readonly authority?: StringMatch;
}

export type StringMatch =
  | { readonly kind: 'exact'; readonly value: string; readonly ignoreCase?: boolean }
  | { readonly kind: 'prefix'; readonly value: string; readonly ignoreCase?: boolean }
  /**
   * Path-segment prefix (Envoy's path_separated_prefix, used for Gateway API `PathPrefix`): the
   * path without its query equals `value` or continues with `/` after it, so `/foo` matches `/foo`,
   * `/foo/` and `/foo/bar` but not `/foobar`. A trailing `/` in `value` is ignored; `/` matches every path.
   */
  | { readonly kind: 'pathPrefix'; readonly value: string; readonly ignoreCase?: boolean }
  /** RE2-compatible; must match the whole value. */
  | { readonly kind: 'regex'; readonly value: string };

export type HeaderMatch =
  { readonly name: string; readonly match: StringMatch; readonly invert?: boolean } | { readonly name: string; readonly present: boolean };

export type QueryParamMatch = { readonly name: string; readonly match: StringMatch } | { readonly name: string; readonly present: boolean };

export type RouteAction = ForwardAction | RedirectAction | DirectResponseAction;

export interface ForwardAction {
  readonly kind: 'forward';
  /** Weights are relative; the share of one cluster is weight / sum(weights). */
  readonly clusters: readonly WeightedCluster[];
  /** Whole-request timeout (504, flag UT). Absent or 0: none (Istio's default). */
  readonly timeoutMs?: number;
  readonly retry?: RetryPolicy;
  readonly rewrite?: Rewrite;
  /** Copies of the request sent to other clusters; their answers are discarded. */
  readonly mirrors?: readonly RequestMirror[];
}

/**
 * Envoy's request_mirror_policies: a copy of the request (after the route's header operations and
 * rewrites, with `-shadow` appended to the host) goes to `cluster`, fire and forget. Requests with
 * a body are mirrored once the body is buffered (up to the retry buffer limit).
 */
export interface RequestMirror {
  readonly cluster: string;
  /** Share of requests mirrored, 0–100; absent: all. */
  readonly percentage?: number;
}

export interface WeightedCluster {
  readonly cluster: string;
  readonly weight: number;
  readonly requestHeaders?: HeaderOperations;
  readonly responseHeaders?: HeaderOperations;
}

export interface Rewrite {
  /** Replaces the matched prefix (with a prefix match) or the whole path (otherwise). */
  readonly pathPrefix?: string;
  readonly fullPath?: string;
  readonly regex?: { readonly pattern: string; readonly substitution: string };
  readonly authority?: string;
}

export interface RetryPolicy {
  /** Retries after the first try (Istio: maximum requests = 1 + attempts). */
  readonly attempts: number;
  readonly perTryTimeoutMs?: number;
  /**
   * Base interval between tries (Envoy's retry_back_off.base_interval, default 25 ms): the first
   * retry waits at least this long, later ones up to doubling it each time, capped at 10 × the base.
   */
  readonly backoffBaseMs?: number;
  /** Envoy's retry_on terms: 5xx, gateway-error, connect-failure, refused-stream, reset, retriable-4xx, and status codes. */
  readonly retryOn: readonly string[];
}

export interface RedirectAction {
  readonly kind: 'redirect';
  readonly scheme?: string;
  readonly host?: string;
  readonly port?: number;
  readonly path?: string;
  /** Replaces the matched prefix. */
  readonly prefixRewrite?: string;
  /** 301 (Istio's default), 302, 303, 307, 308. */
  readonly code: number;
}

export interface DirectResponseAction {
  readonly kind: 'directResponse';
  readonly status: number;
  readonly body?: string;
}

export interface HeaderOperations {
  readonly set?: Readonly<Record<string, string>>;
  readonly add?: Readonly<Record<string, string>>;
  readonly remove?: readonly string[];
}

export interface FaultInjection {
  readonly delay?: { readonly fixedDelayMs: number; readonly percentage: number };
  readonly abort?: { readonly httpStatus: number; readonly percentage: number };
}

// ---------------------------------------------------------------------------------------------
// Clusters

export const PASSTHROUGH_CLUSTER = 'PassthroughCluster';
export const BLACKHOLE_CLUSTER = 'BlackHoleCluster';

export interface Cluster {
  /** Istio's name, e.g. `outbound|80|rh-docs|egressgw.gw-ns.svc.cluster.local` (see naming.ts). */
  readonly name: string;
  /**
   * STATIC: `endpoints` are IPs. STRICT_DNS: every endpoint address is a name, all its
   * addresses are endpoints, re-resolved on TTL. LOGICAL_DNS: first address only per new
   * connection (Istio's DNS_ROUND_ROBIN). ORIGINAL_DST: the request's own destination
   * (PassthroughCluster; the forward-proxy target host and port).
   */
  readonly type: 'STATIC' | 'STRICT_DNS' | 'LOGICAL_DNS' | 'ORIGINAL_DST';
  readonly endpoints: readonly Endpoint[];
  readonly lbPolicy: 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM';
  /** Default 10000 (Istio's mesh connectTimeout). */
  readonly connectTimeoutMs: number;
  /** Upstream protocol for HTTP traffic; TCP clusters ignore it. */
  readonly protocol: 'HTTP1' | 'HTTP2' | 'TCP';
  readonly tls?: UpstreamTls;
  readonly connectionPool?: ConnectionPool;
  readonly outlierDetection?: OutlierDetection;
  /** The registry service this cluster belongs to (metrics' destination_service*). */
  readonly service?: ClusterService;
  /** Minimum DNS refresh when no TTL is known, ms. */
  readonly dnsRefreshRateMs?: number;
}

export interface Endpoint {
  /** IP (STATIC) or DNS name (STRICT_DNS, LOGICAL_DNS). */
  readonly address: string;
  readonly port: number;
  readonly weight?: number;
  readonly labels?: Readonly<Record<string, string>>;
}

export interface ClusterService {
  readonly host: string;
  readonly name: string;
  readonly namespace: string;
}

export interface UpstreamTls {
  /**
   * SIMPLE and MUTUAL use the PEM material below; ISTIO_MUTUAL presents the proxy's workload
   * certificate and verifies the peer against the mesh root and its SPIFFE URI SAN.
   */
  readonly mode: 'SIMPLE' | 'MUTUAL' | 'ISTIO_MUTUAL';
  /**
   * ISTIO_MUTUAL chosen by auto mTLS (no DestinationRule asked for it): a proxy that has no
   * workload identity sends plaintext instead of failing, as Istio does toward endpoints
   * without a proxy certificate.
   */
  readonly auto?: boolean;
  /** Defaults to the request's host (Istio: downstream Host for SIMPLE and MUTUAL). */
  readonly sni?: string;
  /** PEM text; absent means the system roots. */
  readonly caCertificates?: string;
  readonly clientCertificate?: string;
  readonly privateKey?: string;
  /**
   * Verified against the server certificate; absent means the SNI/host. For ISTIO_MUTUAL these
   * are SPIFFE URIs (`spiffe://cluster.local/ns/NS/sa/SA`); absent: any mesh identity.
   */
  readonly subjectAltNames?: readonly string[];
  readonly insecureSkipVerify?: boolean;
}

export interface ConnectionPool {
  readonly maxConnections?: number;
  readonly http1MaxPendingRequests?: number;
  readonly http2MaxRequests?: number;
  readonly maxRequestsPerConnection?: number;
  readonly idleTimeoutMs?: number;
  readonly maxRetries?: number;
}

export interface OutlierDetection {
  readonly consecutive5xxErrors?: number;
  readonly consecutiveGatewayErrors?: number;
  readonly intervalMs: number;
  readonly baseEjectionTimeMs: number;
  readonly maxEjectionPercent: number;
}

// ---------------------------------------------------------------------------------------------
// Authorization (Istio's AuthorizationPolicy, evaluated per HTTP request and per TCP connection)

/**
 * Evaluation, as Istio's: any matching rule of a DENY policy denies; with no ALLOW policy the
 * request is allowed; otherwise a matching ALLOW rule allows and no match denies. AUDIT policies
 * never change the verdict (a match is counted and marked in the log). Within a rule, `from`,
 * `to` and `when` must all hold (each list: any item); within a source or operation, every field
 * that is present must hold. On a TCP/TLS connection HTTP-only fields (hosts, methods, paths,
 * request.headers) never match in an ALLOW rule and always match in a DENY rule.
 */
export interface AuthorizationConfig {
  readonly policies: readonly AuthorizationPolicyRule[];
}

export interface AuthorizationPolicyRule {
  /** Envoy's rule-name prefix: `ns[<namespace>]-policy[<name>]`; a rule adds `-rule[<index>]`. */
  readonly name: string;
  readonly action: 'ALLOW' | 'DENY' | 'AUDIT';
  /** `istio.io/dry-run: "true"`: evaluated and counted as shadow, never enforced. */
  readonly dryRun?: boolean;
  /** Empty: the policy matches nothing (an ALLOW policy with no rules denies everything). */
  readonly rules: readonly AuthorizationRule[];
}

export interface AuthorizationRule {
  /** Absent: any source. */
  readonly from?: readonly AuthorizationSource[];
  /** Absent: any operation. */
  readonly to?: readonly AuthorizationOperation[];
  readonly when?: readonly AuthorizationCondition[];
}

/**
 * String matches everywhere are Istio's: exact, `prefix*`, `*suffix`, or `*` (any non-empty
 * value). Principals are `<trustDomain>/ns/<ns>/sa/<sa>` (the peer's SPIFFE ID without `spiffe://`).
 */
export interface AuthorizationSource {
  readonly principals?: readonly string[];
  readonly notPrincipals?: readonly string[];
  readonly namespaces?: readonly string[];
  readonly notNamespaces?: readonly string[];
  /** IPs or CIDRs of the peer (the connection's remote address). */
  readonly ipBlocks?: readonly string[];
  readonly notIpBlocks?: readonly string[];
  /** IPs or CIDRs of the original client (the peer address: no trusted X-Forwarded-For hops). */
  readonly remoteIpBlocks?: readonly string[];
  readonly notRemoteIpBlocks?: readonly string[];
}

export interface AuthorizationOperation {
  /** Host header, port ignored, case-insensitive. HTTP only. */
  readonly hosts?: readonly string[];
  readonly notHosts?: readonly string[];
  /** The listener (destination) port, as strings. */
  readonly ports?: readonly string[];
  readonly notPorts?: readonly string[];
  readonly methods?: readonly string[];
  readonly notMethods?: readonly string[];
  /** The path without its query string. */
  readonly paths?: readonly string[];
  readonly notPaths?: readonly string[];
}

/**
 * Keys: `request.headers[<name>]`, `source.ip`, `remote.ip`, `source.namespace`,
 * `source.principal`, `destination.ip`, `destination.port`, `connection.sni`.
 */
export interface AuthorizationCondition {
  readonly key: string;
  readonly values?: readonly string[];
  readonly notValues?: readonly string[];
}
