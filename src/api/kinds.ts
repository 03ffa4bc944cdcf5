// Every resource kind outpost serves: the one registry of kinds (group, versions, names, scope,
// printer columns). Cheap to load: the API client and the CLI's printers read it. What a kind
// means (its type, defaults and validation) lives in src/api/kinds/<kind>.ts, attached to this
// table's rows by src/api/kinds/index.ts, which refuses to load when the two disagree.

import { APPS_GROUP, CORE_GROUP, GATEWAY_API_GROUP, ISTIO_NETWORKING_GROUP, ISTIO_SECURITY_GROUP, SAIL_GROUP } from './groups.js';

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'date' | 'boolean' | 'number';
  /** JSONPath into the object, as CRDs write it (`.spec.hosts`). */
  jsonPath: string;
  description?: string;
  priority?: number;
}

export interface KindInfo {
  /** '' for the core group. */
  group: string;
  kind: string;
  /** Served versions; the first is the storage (preferred) version. */
  versions: string[];
  plural: string;
  singular: string;
  shortNames: string[];
  namespaced: boolean;
  categories: string[];
  /** Extra columns after NAME, as the CRD's additionalPrinterColumns define them; AGE is added by printers. */
  printerColumns: PrinterColumn[];
}

const ISTIO_CATS = ['istio-io', 'networking-istio-io'];
const GW_CATS = ['gateway-api'];
const AGE: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

export const KINDS: readonly KindInfo[] = [
  // core
  {
    group: CORE_GROUP,
    kind: 'Namespace',
    versions: ['v1'],
    plural: 'namespaces',
    singular: 'namespace',
    shortNames: ['ns'],
    namespaced: false,
    categories: [],
    printerColumns: [{ name: 'Status', type: 'string', jsonPath: '.status.phase' }],
  },
  {
    group: CORE_GROUP,
    kind: 'Service',
    versions: ['v1'],
    plural: 'services',
    singular: 'service',
    shortNames: ['svc'],
    namespaced: true,
    categories: ['all'],
    printerColumns: [
      { name: 'Type', type: 'string', jsonPath: '.spec.type' },
      { name: 'Cluster-IP', type: 'string', jsonPath: '.spec.clusterIP' },
    ],
  },
  {
    group: CORE_GROUP,
    kind: 'ServiceAccount',
    versions: ['v1'],
    plural: 'serviceaccounts',
    singular: 'serviceaccount',
    shortNames: ['sa'],
    namespaced: true,
    categories: [],
    printerColumns: [],
  },
  {
    group: CORE_GROUP,
    kind: 'Pod',
    versions: ['v1'],
    plural: 'pods',
    singular: 'pod',
    shortNames: ['po'],
    namespaced: true,
    categories: ['all'],
    printerColumns: [
      { name: 'Status', type: 'string', jsonPath: '.status.phase' },
      { name: 'IP', type: 'string', jsonPath: '.status.podIP', priority: 1 },
    ],
  },
  {
    group: CORE_GROUP,
    kind: 'Secret',
    versions: ['v1'],
    plural: 'secrets',
    singular: 'secret',
    shortNames: [],
    namespaced: true,
    categories: [],
    printerColumns: [{ name: 'Type', type: 'string', jsonPath: '.type' }],
  },
  {
    group: CORE_GROUP,
    kind: 'ConfigMap',
    versions: ['v1'],
    plural: 'configmaps',
    singular: 'configmap',
    shortNames: ['cm'],
    namespaced: true,
    categories: [],
    printerColumns: [],
  },
  {
    group: CORE_GROUP,
    kind: 'Event',
    versions: ['v1'],
    plural: 'events',
    singular: 'event',
    shortNames: ['ev'],
    namespaced: true,
    categories: [],
    printerColumns: [],
  },
  {
    group: 'coordination.k8s.io',
    kind: 'Lease',
    versions: ['v1'],
    plural: 'leases',
    singular: 'lease',
    shortNames: [],
    namespaced: true,
    categories: [],
    printerColumns: [{ name: 'Holder', type: 'string', jsonPath: '.spec.holderIdentity' }],
  },
  {
    group: APPS_GROUP,
    kind: 'Deployment',
    versions: ['v1'],
    plural: 'deployments',
    singular: 'deployment',
    shortNames: ['deploy'],
    namespaced: true,
    categories: ['all'],
    printerColumns: [{ name: 'Ready', type: 'string', jsonPath: '.status.readyReplicas' }],
  },
  {
    group: 'networking.k8s.io',
    kind: 'NetworkPolicy',
    versions: ['v1'],
    plural: 'networkpolicies',
    singular: 'networkpolicy',
    shortNames: ['netpol'],
    namespaced: true,
    categories: [],
    printerColumns: [{ name: 'Pod-Selector', type: 'string', jsonPath: '.spec.podSelector' }],
  },
  {
    group: 'discovery.k8s.io',
    kind: 'EndpointSlice',
    versions: ['v1'],
    plural: 'endpointslices',
    singular: 'endpointslice',
    shortNames: [],
    namespaced: true,
    categories: [],
    printerColumns: [{ name: 'AddressType', type: 'string', jsonPath: '.addressType' }],
  },
  // Gateway API
  {
    group: GATEWAY_API_GROUP,
    kind: 'GatewayClass',
    versions: ['v1', 'v1beta1'],
    plural: 'gatewayclasses',
    singular: 'gatewayclass',
    shortNames: ['gc'],
    namespaced: false,
    categories: GW_CATS,
    printerColumns: [
      { name: 'Controller', type: 'string', jsonPath: '.spec.controllerName' },
      { name: 'Accepted', type: 'string', jsonPath: '.status.conditions[?(@.type=="Accepted")].status' },
      AGE,
      { name: 'Description', type: 'string', jsonPath: '.spec.description', priority: 1 },
    ],
  },
  {
    group: GATEWAY_API_GROUP,
    kind: 'Gateway',
    versions: ['v1', 'v1beta1'],
    plural: 'gateways',
    singular: 'gateway',
    shortNames: ['gtw'],
    namespaced: true,
    categories: GW_CATS,
    printerColumns: [
      { name: 'Class', type: 'string', jsonPath: '.spec.gatewayClassName' },
      { name: 'Address', type: 'string', jsonPath: '.status.addresses[*].value' },
      { name: 'Programmed', type: 'string', jsonPath: '.status.conditions[?(@.type=="Programmed")].status' },
      AGE,
    ],
  },
  {
    group: GATEWAY_API_GROUP,
    kind: 'HTTPRoute',
    versions: ['v1', 'v1beta1'],
    plural: 'httproutes',
    singular: 'httproute',
    shortNames: [],
    namespaced: true,
    categories: GW_CATS,
    printerColumns: [{ name: 'Hostnames', type: 'string', jsonPath: '.spec.hostnames' }, AGE],
  },
  {
    group: GATEWAY_API_GROUP,
    kind: 'GRPCRoute',
    versions: ['v1'],
    plural: 'grpcroutes',
    singular: 'grpcroute',
    shortNames: [],
    namespaced: true,
    categories: GW_CATS,
    printerColumns: [{ name: 'Hostnames', type: 'string', jsonPath: '.spec.hostnames' }, AGE],
  },
  {
    group: GATEWAY_API_GROUP,
    kind: 'TLSRoute',
    versions: ['v1alpha2', 'v1alpha3', 'v1'],
    plural: 'tlsroutes',
    singular: 'tlsroute',
    shortNames: [],
    namespaced: true,
    categories: GW_CATS,
    printerColumns: [{ name: 'Hostnames', type: 'string', jsonPath: '.spec.hostnames' }, AGE],
  },
  {
    group: GATEWAY_API_GROUP,
    kind: 'TCPRoute',
    versions: ['v1alpha2'],
    plural: 'tcproutes',
    singular: 'tcproute',
    shortNames: [],
    namespaced: true,
    categories: GW_CATS,
    printerColumns: [AGE],
  },
  {
    group: GATEWAY_API_GROUP,
    kind: 'ReferenceGrant',
    versions: ['v1beta1'],
    plural: 'referencegrants',
    singular: 'referencegrant',
    shortNames: ['refgrant'],
    namespaced: true,
    categories: GW_CATS,
    printerColumns: [AGE],
  },
  // Istio networking
  {
    group: ISTIO_NETWORKING_GROUP,
    kind: 'ServiceEntry',
    versions: ['v1', 'v1beta1', 'v1alpha3'],
    plural: 'serviceentries',
    singular: 'serviceentry',
    shortNames: ['se'],
    namespaced: true,
    categories: ISTIO_CATS,
    printerColumns: [
      { name: 'Hosts', type: 'string', jsonPath: '.spec.hosts', description: 'The hosts associated with the ServiceEntry' },
      {
        name: 'Location',
        type: 'string',
        jsonPath: '.spec.location',
        description: 'Whether the service is external to the mesh or part of the mesh (MESH_EXTERNAL or MESH_INTERNAL)',
      },
      { name: 'Resolution', type: 'string', jsonPath: '.spec.resolution', description: 'Service resolution mode for the hosts (NONE, STATIC, or DNS)' },
      AGE,
    ],
  },
  {
    group: ISTIO_NETWORKING_GROUP,
    kind: 'Gateway',
    versions: ['v1', 'v1beta1', 'v1alpha3'],
    plural: 'gateways',
    singular: 'gateway',
    shortNames: ['gw'],
    namespaced: true,
    categories: ISTIO_CATS,
    printerColumns: [AGE],
  },
  {
    group: ISTIO_NETWORKING_GROUP,
    kind: 'VirtualService',
    versions: ['v1', 'v1beta1', 'v1alpha3'],
    plural: 'virtualservices',
    singular: 'virtualservice',
    shortNames: ['vs'],
    namespaced: true,
    categories: ISTIO_CATS,
    printerColumns: [
      { name: 'Gateways', type: 'string', jsonPath: '.spec.gateways', description: 'The names of gateways and sidecars that should apply these routes' },
      { name: 'Hosts', type: 'string', jsonPath: '.spec.hosts', description: 'The destination hosts to which traffic is being sent' },
      AGE,
    ],
  },
  {
    group: ISTIO_NETWORKING_GROUP,
    kind: 'DestinationRule',
    versions: ['v1', 'v1beta1', 'v1alpha3'],
    plural: 'destinationrules',
    singular: 'destinationrule',
    shortNames: ['dr'],
    namespaced: true,
    categories: ISTIO_CATS,
    printerColumns: [{ name: 'Host', type: 'string', jsonPath: '.spec.host', description: 'The name of a service from the service registry' }, AGE],
  },
  {
    group: ISTIO_NETWORKING_GROUP,
    kind: 'Sidecar',
    versions: ['v1', 'v1beta1', 'v1alpha3'],
    plural: 'sidecars',
    singular: 'sidecar',
    shortNames: [],
    namespaced: true,
    categories: ISTIO_CATS,
    printerColumns: [AGE],
  },
  // Istio security
  {
    group: ISTIO_SECURITY_GROUP,
    kind: 'AuthorizationPolicy',
    versions: ['v1'],
    plural: 'authorizationpolicies',
    singular: 'authorizationpolicy',
    shortNames: ['ap'],
    namespaced: true,
    categories: ['istio-io', 'security-istio-io'],
    printerColumns: [{ name: 'Action', type: 'string', jsonPath: '.spec.action', description: 'The operation to take.' }, AGE],
  },
  {
    group: ISTIO_SECURITY_GROUP,
    kind: 'PeerAuthentication',
    versions: ['v1', 'v1beta1'],
    plural: 'peerauthentications',
    singular: 'peerauthentication',
    shortNames: ['pa'],
    namespaced: true,
    categories: ['istio-io', 'security-istio-io'],
    printerColumns: [{ name: 'Mode', type: 'string', jsonPath: '.spec.mtls.mode', description: 'Defines the mTLS mode used for peer authentication.' }, AGE],
  },
  // Sail operator
  {
    group: SAIL_GROUP,
    kind: 'Istio',
    versions: ['v1'],
    plural: 'istios',
    singular: 'istio',
    shortNames: [],
    namespaced: false,
    categories: [],
    printerColumns: [
      { name: 'Namespace', type: 'string', jsonPath: '.spec.namespace' },
      { name: 'Profile', type: 'string', jsonPath: '.spec.profile' },
      { name: 'Revisions', type: 'string', jsonPath: '.status.revisions.total' },
      { name: 'Ready', type: 'string', jsonPath: '.status.revisions.ready' },
      { name: 'In use', type: 'string', jsonPath: '.status.revisions.inUse' },
      { name: 'Active Revision', type: 'string', jsonPath: '.status.activeRevisionName' },
      { name: 'Status', type: 'string', jsonPath: '.status.state' },
      { name: 'Version', type: 'string', jsonPath: '.spec.version' },
      AGE,
    ],
  },
  {
    group: SAIL_GROUP,
    kind: 'IstioRevision',
    versions: ['v1'],
    plural: 'istiorevisions',
    singular: 'istiorevision',
    shortNames: ['istiorev'],
    namespaced: false,
    categories: [],
    printerColumns: [
      { name: 'Type', type: 'string', jsonPath: '.spec.type' },
      { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
      { name: 'Status', type: 'string', jsonPath: '.status.state' },
      { name: 'In use', type: 'string', jsonPath: '.status.conditions[?(@.type=="InUse")].status' },
      { name: 'Version', type: 'string', jsonPath: '.spec.version' },
      AGE,
    ],
  },
  {
    group: SAIL_GROUP,
    kind: 'IstioCNI',
    versions: ['v1'],
    plural: 'istiocnis',
    singular: 'istiocni',
    shortNames: [],
    namespaced: false,
    categories: [],
    printerColumns: [
      { name: 'Namespace', type: 'string', jsonPath: '.spec.namespace' },
      { name: 'Profile', type: 'string', jsonPath: '.spec.profile' },
      { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
      { name: 'Status', type: 'string', jsonPath: '.status.state' },
      { name: 'Version', type: 'string', jsonPath: '.spec.version' },
      AGE,
    ],
  },
];

/** `group/Kind`, the key a kind is known by across the code (field trees, kind modules). */
export function kindKey(k: { readonly group: string; readonly kind: string }): string {
  return `${k.group}/${k.kind}`;
}

export function apiVersionOf(info: KindInfo, version = info.versions[0]!): string {
  return info.group ? `${info.group}/${version}` : version;
}

/** The kind for an apiVersion + kind pair, or undefined when outpost does not serve it. */
export function kindFor(apiVersion: string, kind: string): KindInfo | undefined {
  const slash = apiVersion.indexOf('/');
  const group = slash < 0 ? '' : apiVersion.slice(0, slash);
  const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
  return KINDS.find((k) => k.group === group && k.kind === kind && k.versions.includes(version));
}

/**
 * Resolve what a user types (`se`, `serviceentries`, `ServiceEntry`,
 * `istiorevisions.sailoperator.io`, `gateways.gateway.networking.k8s.io`) to kinds.
 * An ambiguous name (`gateway`: Istio's and the Gateway API's) resolves to the first in KINDS
 * order (the Gateway API's, as kubectl does on current clusters) unless the group is given.
 */
export function resolveKindName(name: string): KindInfo | undefined {
  const lower = name.toLowerCase();
  const dot = lower.indexOf('.');
  const base = dot < 0 ? lower : lower.slice(0, dot);
  const group = dot < 0 ? undefined : lower.slice(dot + 1);
  return KINDS.find(
    (k) =>
      (group === undefined || k.group === group) && (k.plural === base || k.singular === base || k.kind.toLowerCase() === base || k.shortNames.includes(base)),
  );
}
