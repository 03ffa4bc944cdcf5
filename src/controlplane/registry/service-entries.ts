// ServiceEntries as registry entries: one MeshService per host, with ports, resolution, location, endpoints and exportTo.
import type { KubeObject } from '../../api/object.js';
import { ageKey, arr, num, rec, sortedRecord, str, strArr, strMap } from '../fields.js';
import { isWildcard } from '../hosts.js';
import { parseProtocol, type MeshService, type Resolution, type ServiceEndpoint, type ServicePort } from './types.js';

const RESOLUTIONS = new Set<Resolution>(['NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN']);

/** Shared, frozen empties: thousands of ServiceEntries have no labels, exportTo or endpoints. */
const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});
const NO_STRINGS: readonly string[] = Object.freeze([]);
const NO_ENDPOINTS: readonly ServiceEndpoint[] = Object.freeze([]);

function sePorts(list: unknown): ServicePort[] {
  const ports: ServicePort[] = [];
  for (const x of arr(list)) {
    const p = rec(x);
    const port = num(p.number);
    if (port === undefined) continue;
    const targetPort = num(p.targetPort);
    const name = str(p.name) ?? String(port);
    const protocol = parseProtocol(str(p.protocol));
    ports.push(targetPort !== undefined ? { port, name, protocol, targetPort } : { port, name, protocol });
  }
  return ports;
}

function workloadEndpoints(list: readonly unknown[], ports: readonly ServicePort[]): ServiceEndpoint[] {
  const out: ServiceEndpoint[] = [];
  for (const x of list) {
    const e = rec(x);
    const address = str(e.address);
    if (!address) continue;
    const raw = rec(e.ports);
    const resolved = new Map<number, number>();
    for (const p of ports) resolved.set(p.port, num(raw[p.name]) ?? (typeof p.targetPort === 'number' ? p.targetPort : p.port));
    const weight = num(e.weight);
    const labels = e.labels === undefined ? NO_LABELS : sortedRecord(strMap(e.labels));
    out.push(weight !== undefined ? { address, ports: resolved, labels, weight } : { address, ports: resolved, labels });
  }
  return out;
}

export function serviceEntryServices(entries: readonly KubeObject[]): MeshService[] {
  const out: MeshService[] = [];
  for (const se of entries) {
    const ns = se.metadata.namespace ?? 'default';
    const spec = rec(se.spec);
    const ports = sePorts(spec.ports);
    const declared = (str(spec.resolution) ?? 'NONE').toUpperCase() as Resolution;
    const resolution: Resolution = RESOLUTIONS.has(declared) ? declared : 'NONE';
    const location = str(spec.location) === 'MESH_INTERNAL' ? 'MESH_INTERNAL' : 'MESH_EXTERNAL';
    const seEndpoints = arr(spec.endpoints);
    const sans = strArr(spec.subjectAltNames);
    const addresses = strArr(spec.addresses);
    const exportTo = spec.exportTo === undefined ? NO_STRINGS : strArr(spec.exportTo);
    const age = ageKey(se.metadata);
    // Endpoints from spec.endpoints are the same for every host of the entry.
    let listed: ServiceEndpoint[] | undefined;
    for (const rawHost of strArr(spec.hosts)) {
      const host = rawHost.toLowerCase();
      // A wildcard host cannot be resolved by DNS; Istio's validation rejects it, we fall back to NONE.
      const effective: Resolution = isWildcard(host) && (resolution === 'DNS' || resolution === 'DNS_ROUND_ROBIN') ? 'NONE' : resolution;
      let endpoints: readonly ServiceEndpoint[] = NO_ENDPOINTS;
      if (effective !== 'NONE') {
        if (seEndpoints.length > 0) {
          endpoints = listed ??= workloadEndpoints(seEndpoints, ports);
        } else if (effective === 'DNS' || effective === 'DNS_ROUND_ROBIN') {
          const resolved = new Map<number, number>();
          for (const p of ports) resolved.set(p.port, typeof p.targetPort === 'number' ? p.targetPort : p.port);
          endpoints = [{ address: host, ports: resolved, labels: NO_LABELS }];
        }
      }
      out.push({
        host,
        name: se.metadata.name,
        namespace: ns,
        origin: 'ServiceEntry',
        ports,
        resolution: effective,
        location,
        exportTo,
        endpoints,
        ...(sans.length ? { subjectAltNames: sans } : {}),
        ...(addresses.length ? { addresses } : {}),
        age,
      });
    }
  }
  return out;
}
