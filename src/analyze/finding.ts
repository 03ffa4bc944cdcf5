// One analysis result, worded and coded like istioctl analyze's messages.
import type { SourcePosition } from '../api/load.js';

export type FindingLevel = 'Error' | 'Warning' | 'Info';

export interface Finding {
  /** 'IST0101' for Istio's codes; 'OUT…' for outpost's own checks. */
  code: string;
  level: FindingLevel;
  message: string;
  resource: { kind: string; namespace?: string; name: string };
  origin?: SourcePosition;
}

/** Istio's message catalogue entries we use: code → name (istio.io/docs/reference/config/analysis). */
export const CODES = {
  ReferencedResourceNotFound: 'IST0101',
  NamespaceNotInjected: 'IST0102',
  GatewayPortNotOnWorkload: 'IST0104',
  ConflictingMeshGatewayVirtualServiceHosts: 'IST0109',
  ConflictingGateways: 'IST0145',
  VirtualServiceHostNotFoundInGateway: 'IST0132',
  ServiceEntryAddressesRequired: 'IST0134',
  /** outpost: a ServiceEntry with resolution NONE used as the gateway's upstream forwards to the gateway itself. */
  EgressGatewayResolutionNone: 'OUT0001',
  /** outpost: an HTTPRoute's hostnames match none of its parent Gateway's listener hostnames. */
  NoMatchingListenerHostname: 'OUT0002',
} as const;
