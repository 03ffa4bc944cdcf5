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

/** Istio's message catalogue entries we use: name → code (istio.io/docs/reference/config/analysis). */
export const CODES = {
  Deprecated: 'IST0002',
  ReferencedResourceNotFound: 'IST0101',
  NamespaceNotInjected: 'IST0102',
  PodMissingProxy: 'IST0103',
  ConflictingMeshGatewayVirtualServiceHosts: 'IST0109',
  ConflictingSidecarWorkloadSelectors: 'IST0110',
  MultipleSidecarsWithoutWorkloadSelectors: 'IST0111',
  VirtualServiceDestinationPortSelectorRequired: 'IST0112',
  DeploymentAssociatedToMultipleServices: 'IST0116',
  PortNameIsNotUnderNamingConvention: 'IST0118',
  NamespaceMultipleInjectionLabels: 'IST0123',
  NoMatchingWorkloadsFound: 'IST0127',
  NoServerCertificateVerificationDestinationLevel: 'IST0128',
  NoServerCertificateVerificationPortLevel: 'IST0129',
  VirtualServiceUnreachableRule: 'IST0130',
  VirtualServiceIneffectiveMatch: 'IST0131',
  VirtualServiceHostNotFoundInGateway: 'IST0132',
  ServiceEntryAddressesRequired: 'IST0134',
  DeploymentConflictingPorts: 'IST0137',
  GatewayDuplicateCertificate: 'IST0138',
  IngressRouteRulesNotAffected: 'IST0140',
  InvalidApplicationUID: 'IST0144',
  ConflictingGateways: 'IST0145',
  ImageAutoWithoutInjectionWarning: 'IST0146',
  ImageAutoWithoutInjectionError: 'IST0147',
  ExternalNameServiceTypeInvalidPortName: 'IST0150',
  GatewayPortNotDefinedOnService: 'IST0162',
  IneffectiveSelector: 'IST0166',
  NegativeConditionStatus: 'IST0171',
  DestinationRuleSubsetNotSelectPods: 'IST0173',
  UnknownDestinationRuleHost: 'IST0174',
  ConflictingServiceEntryProtocol: 'IST0177',
  /** outpost: a ServiceEntry with resolution NONE used as the gateway's upstream forwards to the gateway itself. */
  EgressGatewayResolutionNone: 'OUT0001',
  /** outpost: an HTTPRoute's hostnames match none of its parent Gateway's listener hostnames. */
  NoMatchingListenerHostname: 'OUT0002',
  /** outpost: a NetworkPolicy whose podSelector selects no pod of its namespace. */
  NetworkPolicySelectsNoPod: 'OUT0003',
  /** outpost: egress default-deny in an injected namespace without DNS, the control plane or the egress gateway allowed. */
  EgressPolicyBlocksMesh: 'OUT0004',
} as const;
