// networking.istio.io ServiceEntry: adds hosts to the mesh's service registry.
import type { KubeObject } from '../object.js';
import type { IssueList } from '../field-issue.js';
import { FIELD_TREES } from '../schema/field-trees.gen.js';
import { checkIstioHost, isIpOrCidr } from '../names.js';
import { checkExportTo, checkHostList, checkIstioProtocol, checkLabels, checkPortNumber, checkUniquePorts, requireList } from './common-rules.js';
import { arr, rec, type KindModule } from './kind-module.js';
import { isIP } from 'node:net';
import { ISTIO_NETWORKING_GROUP } from '../groups.js';

export type ServiceEntryLocation = 'MESH_EXTERNAL' | 'MESH_INTERNAL';
export type ServiceEntryResolution = 'NONE' | 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN' | 'DYNAMIC_DNS';
export const SERVICE_ENTRY_RESOLUTIONS: readonly ServiceEntryResolution[] = ['NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN', 'DYNAMIC_DNS'];

export interface ServicePort {
  readonly number: number;
  readonly name: string;
  /** HTTP | HTTPS | GRPC | HTTP2 | MONGO | TCP | TLS (case-insensitive in Istio). */
  readonly protocol?: string;
  readonly targetPort?: number;
}

export interface WorkloadEntrySpec {
  readonly address?: string;
  readonly ports?: Readonly<Record<string, number>>;
  readonly labels?: Readonly<Record<string, string>>;
  readonly network?: string;
  readonly locality?: string;
  readonly weight?: number;
  readonly serviceAccount?: string;
}

export interface ServiceEntrySpec {
  readonly hosts: readonly string[];
  readonly addresses?: readonly string[];
  readonly ports?: readonly ServicePort[];
  readonly location?: ServiceEntryLocation;
  readonly resolution?: ServiceEntryResolution;
  readonly endpoints?: readonly WorkloadEntrySpec[];
  readonly workloadSelector?: { readonly labels?: Readonly<Record<string, string>> };
  readonly exportTo?: readonly string[];
  readonly subjectAltNames?: readonly string[];
}

export type ServiceEntry = KubeObject<ServiceEntrySpec>;

/** Shared and frozen: most entries leave these unset, and a registry of thousands reads them all. */
const EXPORT_ALL: readonly string[] = Object.freeze(['*']);
const NONE: readonly never[] = Object.freeze([]);

/** Istio's semantic defaults: resolution NONE, location MESH_EXTERNAL, exported to every namespace. */
export function serviceEntryDefaults(
  spec: ServiceEntrySpec,
): Required<Pick<ServiceEntrySpec, 'resolution' | 'location' | 'exportTo' | 'ports' | 'addresses' | 'endpoints' | 'subjectAltNames'>> & ServiceEntrySpec {
  return {
    ...spec,
    hosts: spec.hosts ?? NONE,
    resolution: spec.resolution ?? 'NONE',
    location: spec.location ?? 'MESH_EXTERNAL',
    exportTo: spec.exportTo && spec.exportTo.length > 0 ? spec.exportTo : EXPORT_ALL,
    ports: spec.ports ?? NONE,
    addresses: spec.addresses ?? NONE,
    endpoints: spec.endpoints ?? NONE,
    subjectAltNames: spec.subjectAltNames ?? NONE,
  };
}

/** The port traffic is sent to on the endpoints: targetPort, defaulting to the port number. */
export function servicePortTarget(port: ServicePort): number {
  return port.targetPort ?? port.number;
}

function validate(obj: KubeObject, out: IssueList): void {
  const spec = rec(obj.spec);
  const resolution = typeof spec['resolution'] === 'string' ? spec['resolution'] : 'NONE';
  if (requireList(spec['hosts'], ['spec', 'hosts'], out)) {
    arr(spec['hosts']).forEach((h, i) => {
      if (h === '*') out.invalid(['spec', 'hosts', i], h, 'hostname cannot be wildcard');
    });
    checkHostList(spec['hosts'], ['spec', 'hosts'], out, { allowBareWildcard: true });
  }
  const addresses = arr(spec['addresses']);
  addresses.forEach((a, i) => {
    if (typeof a === 'string' && !isIpOrCidr(a)) out.invalid(['spec', 'addresses', i], a, 'must be an IP address or a CIDR range');
  });
  if (addresses.some((a) => typeof a === 'string' && a.includes('/')) && resolution !== 'NONE' && resolution !== 'STATIC') {
    out.invalid(['spec', 'addresses'], addresses.join(','), 'CIDR addresses are allowed only for NONE/STATIC resolution types');
  }
  const ports = arr(spec['ports']);
  ports.forEach((p, i) => {
    const r = rec(p);
    checkPortNumber(r['number'], ['spec', 'ports', i, 'number'], out);
    checkPortNumber(r['targetPort'], ['spec', 'ports', i, 'targetPort'], out);
    checkIstioProtocol(r['protocol'], ['spec', 'ports', i, 'protocol'], out);
  });
  checkUniquePorts(ports, ['spec', 'ports'], out);
  const endpoints = spec['endpoints'];
  const hasEndpoints = Array.isArray(endpoints);
  if (hasEndpoints && spec['workloadSelector'] !== undefined && spec['workloadSelector'] !== null) {
    out.forbidden(['spec', 'workloadSelector'], 'only one of workloadSelector or endpoints can be set');
  }
  if (resolution === 'NONE' && hasEndpoints) out.forbidden(['spec', 'endpoints'], 'NONE mode cannot set endpoints');
  if (resolution === 'DNS_ROUND_ROBIN' && arr(endpoints).length > 1)
    out.invalid(['spec', 'endpoints'], `${arr(endpoints).length} endpoints`, 'DNS_ROUND_ROBIN mode cannot have multiple endpoints');
  if (resolution === 'STATIC' && !hasEndpoints && !spec['workloadSelector'])
    out.required(['spec', 'endpoints'], 'STATIC resolution needs endpoints or a workloadSelector');
  const hosts = arr(spec['hosts']).filter((h): h is string => typeof h === 'string');
  if ((resolution === 'DNS' || resolution === 'DNS_ROUND_ROBIN') && !hasEndpoints) {
    hosts.forEach((h) => {
      if (h.startsWith('*')) out.invalid(['spec', 'hosts', hosts.indexOf(h)], h, `a wildcard host needs endpoints when resolution is ${resolution}`);
    });
  }
  if (resolution === 'DYNAMIC_DNS') {
    hosts.forEach((h, i) => {
      if (!h.startsWith('*')) out.invalid(['spec', 'hosts', i], h, 'DYNAMIC_DNS resolution needs wildcard hosts ("*.example.com")');
    });
    if (hasEndpoints) out.forbidden(['spec', 'endpoints'], 'DYNAMIC_DNS mode cannot set endpoints');
  }
  arr(endpoints).forEach((e, i) => {
    const r = rec(e);
    const address = r['address'];
    if (typeof address === 'string') {
      if (resolution === 'STATIC' && !isIP(address) && !address.startsWith('unix://'))
        out.invalid(['spec', 'endpoints', i, 'address'], address, 'must be an IP address (or unix:// path) when resolution is STATIC');
      if ((resolution === 'DNS' || resolution === 'DNS_ROUND_ROBIN') && !isIP(address)) {
        const err = checkIstioHost(address);
        if (err) out.invalid(['spec', 'endpoints', i, 'address'], address, err);
      }
    } else if (address === undefined && !spec['workloadSelector']) {
      out.required(['spec', 'endpoints', i, 'address']);
    }
    for (const [name, n] of Object.entries(rec(r['ports']))) checkPortNumber(n, ['spec', 'endpoints', i, 'ports', name], out);
    checkLabels(r['labels'], ['spec', 'endpoints', i, 'labels'], out);
  });
  checkExportTo(spec['exportTo'], ['spec', 'exportTo'], out);
  checkLabels(rec(spec['workloadSelector'])['labels'], ['spec', 'workloadSelector', 'labels'], out);
  if (spec['workloadSelector'] && spec['location'] !== 'MESH_INTERNAL') {
    out.warn(['spec', 'workloadSelector'], 'workloadSelector is only used for MESH_INTERNAL services');
  }
}

export const serviceEntryKind: KindModule = {
  group: ISTIO_NETWORKING_GROUP,
  kind: 'ServiceEntry',
  fieldTree: FIELD_TREES['networking.istio.io/ServiceEntry'],
  specRequired: true,
  validate,
};
