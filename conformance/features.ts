// The Gateway API conformance profiles and features outpost reports on, and which of our conformance
// tests (by the upstream ShortName their title starts with) exercise which features.
//
// The report is generated from a test run (conformance/report.ts): a feature is supported only when
// at least one test exercises it and every such test passed; every other feature is listed as unsupported.

/** The API the schemas outpost validates against come from (@kubernetes-models/gateway-api 2.0.0). */
export const GATEWAY_API_VERSION = 'v1.5.1';
/** Experimental: outpost serves TLSRoute/TCPRoute v1alpha2 and HTTPRoute `retry`. */
export const GATEWAY_API_CHANNEL = 'experimental';

export const TEST_FILES = [
  'test/integration/dataplane/gwapi-conformance-http.test.ts',
  'test/integration/dataplane/gwapi-conformance-extended.test.ts',
  'test/integration/dataplane/gwapi-conformance-grpc.test.ts',
];

export interface Profile {
  readonly name: string;
  readonly core: readonly string[];
  /** Every extended feature of the profile upstream lists (supported or not). */
  readonly extended: readonly string[];
}

const GATEWAY_EXTENDED = [
  'GatewayAddressEmpty', 'GatewayHTTPListenerIsolation', 'GatewayInfrastructurePropagation', 'GatewayPort8080', 'GatewayStaticAddresses',
];

export const PROFILES: readonly Profile[] = [
  {
    name: 'GATEWAY-HTTP',
    core: ['Gateway', 'HTTPRoute', 'ReferenceGrant'],
    extended: [
      ...GATEWAY_EXTENDED,
      'HTTPRoute303RedirectStatusCode', 'HTTPRoute307RedirectStatusCode', 'HTTPRoute308RedirectStatusCode',
      'HTTPRouteBackendProtocolH2C', 'HTTPRouteBackendProtocolWebSocket', 'HTTPRouteBackendRequestHeaderModification',
      'HTTPRouteBackendTimeout', 'HTTPRouteCORS', 'HTTPRouteDestinationPortMatching', 'HTTPRouteHostRewrite',
      'HTTPRouteMethodMatching', 'HTTPRouteNamedRouteRule', 'HTTPRouteParentRefPort', 'HTTPRoutePathRedirect',
      'HTTPRoutePathRewrite', 'HTTPRoutePortRedirect', 'HTTPRouteQueryParamMatching', 'HTTPRouteRequestMirror',
      'HTTPRouteRequestMultipleMirrors', 'HTTPRouteRequestPercentageMirror', 'HTTPRouteRequestTimeout',
      'HTTPRouteResponseHeaderModification', 'HTTPRouteRetry', 'HTTPRouteRetryCodes', 'HTTPRouteRetryConnectionError',
      'HTTPRouteSchemeRedirect',
    ],
  },
  { name: 'GATEWAY-GRPC', core: ['Gateway', 'GRPCRoute', 'ReferenceGrant'], extended: GATEWAY_EXTENDED },
];

const HTTP = ['Gateway', 'HTTPRoute'];
const GRPC = ['Gateway', 'GRPCRoute'];

/** ShortName → the features the test exercises (core ones included). */
export const TESTS: Readonly<Record<string, readonly string[]>> = {
  HTTPRouteSimpleSameNamespace: HTTP,
  HTTPExactPathMatching: HTTP,
  HTTPRouteMatching: HTTP,
  HTTPRouteHeaderMatching: HTTP,
  HTTPRouteMatchingAcrossRoutes: HTTP,
  HTTPRouteListenerHostnameMatching: HTTP,
  HTTPRouteHostnameIntersection: HTTP,
  HTTPRouteCrossNamespace: HTTP,
  HTTPRouteReferenceGrant: [...HTTP, 'ReferenceGrant'],
  HTTPRouteInvalidCrossNamespaceBackendRef: [...HTTP, 'ReferenceGrant'],
  HTTPRouteInvalidNonExistentBackendRef: HTTP,
  HTTPRouteInvalidBackendRefUnknownKind: HTTP,
  HTTPRoutePartiallyInvalidViaInvalidReferenceGrant: [...HTTP, 'ReferenceGrant'],
  HTTPRouteWeight: HTTP,
  HTTPRouteRequestHeaderModifier: HTTP,
  HTTPRouteInvalidParentRefNotMatchingSectionName: HTTP,
  HTTPRouteUnsupportedFilter: HTTP,
  GatewayWithAttachedRoutes: HTTP,
  GatewayInvalidRouteKind: ['Gateway'],
  GatewayUnsupportedListenerProtocol: ['Gateway'],
  GatewayInvalidTLSConfiguration: ['Gateway'],
  GatewaySecretMissingReferenceGrant: ['Gateway', 'ReferenceGrant'],
  GatewaySecretReferenceGrantSpecific: ['Gateway', 'ReferenceGrant'],
  HTTPRouteHTTPSListener: HTTP,
  GatewayHTTPListenerIsolation: [...HTTP, 'GatewayHTTPListenerIsolation'],
  GatewayPort8080: [...HTTP, 'GatewayPort8080'],
  GatewayInfrastructurePropagation: ['Gateway', 'GatewayInfrastructurePropagation'],
  HTTPRouteQueryParamMatching: [...HTTP, 'HTTPRouteQueryParamMatching'],
  HTTPRouteMethodMatching: [...HTTP, 'HTTPRouteMethodMatching'],
  HTTPRouteResponseHeaderModifier: [...HTTP, 'HTTPRouteResponseHeaderModification'],
  HTTPRouteRedirectPortAndScheme: [...HTTP, 'HTTPRoutePortRedirect', 'HTTPRouteSchemeRedirect'],
  HTTPRouteRedirectPort: [...HTTP, 'HTTPRoutePortRedirect'],
  HTTPRouteRedirectScheme: [...HTTP, 'HTTPRouteSchemeRedirect'],
  HTTPRouteRedirectPath: [...HTTP, 'HTTPRoutePathRedirect'],
  HTTPRouteRedirectHostAndStatus: HTTP,
  HTTPRouteRedirectStatusCodes: [...HTTP, 'HTTPRoute303RedirectStatusCode', 'HTTPRoute307RedirectStatusCode', 'HTTPRoute308RedirectStatusCode'],
  HTTPRouteRewriteHost: [...HTTP, 'HTTPRouteHostRewrite'],
  HTTPRouteRewritePath: [...HTTP, 'HTTPRoutePathRewrite'],
  HTTPRouteTimeoutRequest: [...HTTP, 'HTTPRouteRequestTimeout'],
  HTTPRouteTimeoutBackendRequest: [...HTTP, 'HTTPRouteBackendTimeout'],
  HTTPRouteBackendProtocolH2C: [...HTTP, 'HTTPRouteBackendProtocolH2C'],
  HTTPRouteParentRefPort: [...HTTP, 'HTTPRouteParentRefPort'],
  HTTPRouteBackendRequestHeaderModifier: [...HTTP, 'HTTPRouteBackendRequestHeaderModification'],
  HTTPRouteNamedRule: [...HTTP, 'HTTPRouteNamedRouteRule'],
  HTTPRouteRetryCodes: [...HTTP, 'HTTPRouteRetry', 'HTTPRouteRetryCodes'],
  HTTPRouteRetryConnectionError: [...HTTP, 'HTTPRouteRetry', 'HTTPRouteRetryConnectionError'],
  HTTPRouteRequestMirror: [...HTTP, 'HTTPRouteRequestMirror'],
  HTTPRouteRequestMultipleMirrors: [...HTTP, 'HTTPRouteRequestMirror', 'HTTPRouteRequestMultipleMirrors'],
  HTTPRouteRequestPercentageMirror: [...HTTP, 'HTTPRouteRequestMirror', 'HTTPRouteRequestPercentageMirror'],
  GRPCExactMethodMatching: GRPC,
  GRPCRouteHeaderMatching: GRPC,
  GRPCRouteListenerHostnameMatching: GRPC,
};
