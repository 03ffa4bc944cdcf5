// ServiceEntries as registry entries: one MeshService per host, with ports, resolution, location, endpoints and exportTo.
import type { KubeObject } from '../../api/object.js';
import { ageKey, arr, num, rec, sortedRecord, str, strArr, strMap } from '../fields.js';
import { isWildcard } from '../hosts.js';
import { parseProtocol, type MeshService, type Resolution, type ServiceEndpoint, type ServicePort } from './types.js';

const RESOLUTIONS = new Set<Resolution>(['NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN']);

export function serviceEntryServices(entries: readonly KubeObject[]): MeshService[] {
  const out: MeshService[] = [];
  for (const se of entries) {
    const ns = se.metadata.namespace ?? 'default';
    const spec = rec(se.spec);
    const ports: ServicePort[] = arr(spec.ports).map(rec).flatMap((p) => {
      const port = num(p.number);
      if (port === undefined) return [];
      const targetPort = num(p.targetPort);
      return [{ port, name: str(p.name) ?? String(port), protocol: parseProtocol(str(p.protocol)), ...(targetPort !== undefined ? { targetPort } : {}) }];
    });
    const declared = (str(spec.resolution) ?? 'NONE').toUpperCase() as Resolution;
    const resolution: Resolution = RESOLUTIONS.has(declared) ? declared : 'NONE';
    const location = str(spec.location) === 'MESH_INTERNAL' ? 'MESH_INTERNAL' : 'MESH_EXTERNAL';
    const seEndpoints = arr(spec.endpoints).map(rec);
    const sans = strArr(spec.subjectAltNames);
    for (const rawHost of strArr(spec.hosts)) {
      const host = rawHost.toLowerCase();
      // A wildcard host cannot be resolved by DNS; Istio's validation rejects it, we fall back to NONE.
      const effective: Resolution = isWildcard(host) && (resolution === 'DNS' || resolution === 'DNS_ROUND_ROBIN') ? 'NONE' : resolution;
      let endpoints: ServiceEndpoint[] = [];
      if (effective !== 'NONE') {
        if (seEndpoints.length > 0) {
          endpoints = seEndpoints.flatMap((e) => {
            const address = str(e.address);
            if (!address) return [];
            const named = strMap(e.ports);
            const resolved: Record<number, number> = {};
            for (const p of ports) {
              resolved[p.port] = num(named[p.name]) ?? num(rec(e.ports)[p.name]) ?? (typeof p.targetPort === 'number' ? p.targetPort : p.port);
            }
            const weight = num(e.weight);
            return [{ address, ports: resolved, labels: sortedRecord(strMap(e.labels)), ...(weight !== undefined ? { weight } : {}) }];
          });
        } else if (effective === 'DNS' || effective === 'DNS_ROUND_ROBIN') {
          const resolved: Record<number, number> = {};
          for (const p of ports) resolved[p.port] = typeof p.targetPort === 'number' ? p.targetPort : p.port;
          endpoints = [{ address: host, ports: resolved, labels: {} }];
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
        exportTo: strArr(spec.exportTo),
        endpoints,
        ...(sans.length ? { subjectAltNames: sans } : {}),
        age: ageKey(se.metadata),
      });
    }
  }
  return out;
}
