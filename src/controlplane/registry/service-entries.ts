// ServiceEntries as registry entries: one MeshService per host, with ports, resolution, location, endpoints and exportTo.
import { serviceEntryDefaults, servicePortTarget, type ServiceEntry, type WorkloadEntrySpec } from '../../api/kinds/service-entry.js';
import { parseProtocol } from '../../api/kinds/port-protocol.js';
import { ageKey, sortedRecord } from '../sort-order.js';
import { isWildcard } from '../hosts.js';
import type { MeshService, Resolution, ServiceEndpoint, ServicePort } from './types.js';

/** Shared, frozen empties: thousands of ServiceEntries have no labels or endpoints. */
const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});
const NO_ENDPOINTS: readonly ServiceEndpoint[] = Object.freeze([]);

/** Endpoint port per service port: the endpoint's own port of that name, else the port's target. */
function endpointPorts(ports: readonly ServicePort[], targets: readonly number[], own: Readonly<Record<string, number>> | undefined): Map<number, number> {
  const resolved = new Map<number, number>();
  ports.forEach((p, i) => resolved.set(p.port, own?.[p.name] ?? targets[i]!));
  return resolved;
}

function workloadEndpoints(list: readonly WorkloadEntrySpec[], ports: readonly ServicePort[], targets: readonly number[]): ServiceEndpoint[] {
  const out: ServiceEndpoint[] = [];
  for (const e of list) {
    if (!e.address) continue;
    const resolved = endpointPorts(ports, targets, e.ports);
    const labels = e.labels === undefined ? NO_LABELS : sortedRecord(e.labels);
    out.push(e.weight !== undefined ? { address: e.address, ports: resolved, labels, weight: e.weight } : { address: e.address, ports: resolved, labels });
  }
  return out;
}

export function serviceEntryServices(entries: readonly ServiceEntry[]): MeshService[] {
  const out: MeshService[] = [];
  for (const se of entries) {
    const ns = se.metadata.namespace ?? 'default';
    const spec = serviceEntryDefaults(se.spec ?? { hosts: [] });
    const ports: ServicePort[] = spec.ports.map((p) => {
      const name = p.name ?? String(p.number);
      const protocol = parseProtocol(p.protocol);
      return p.targetPort !== undefined ? { port: p.number, name, protocol, targetPort: p.targetPort } : { port: p.number, name, protocol };
    });
    const targets = spec.ports.map(servicePortTarget);
    // DYNAMIC_DNS (wildcard hosts resolved on demand) is not modelled: such entries route like NONE.
    const resolution: Resolution = spec.resolution === 'DYNAMIC_DNS' ? 'NONE' : spec.resolution;
    const sans = spec.subjectAltNames;
    const addresses = spec.addresses;
    const age = ageKey(se.metadata);
    // Endpoints from spec.endpoints are the same for every host of the entry.
    let listed: ServiceEndpoint[] | undefined;
    for (const rawHost of spec.hosts) {
      const host = rawHost.toLowerCase();
      // A wildcard host cannot be resolved by DNS; Istio's validation rejects it, we fall back to NONE.
      const effective: Resolution = isWildcard(host) && (resolution === 'DNS' || resolution === 'DNS_ROUND_ROBIN') ? 'NONE' : resolution;
      let endpoints: readonly ServiceEndpoint[] = NO_ENDPOINTS;
      if (effective !== 'NONE') {
        if (spec.endpoints.length > 0) {
          endpoints = listed ??= workloadEndpoints(spec.endpoints, ports, targets);
        } else if (effective === 'DNS' || effective === 'DNS_ROUND_ROBIN') {
          endpoints = [{ address: host, ports: endpointPorts(ports, targets, undefined), labels: NO_LABELS }];
        }
      }
      out.push({
        host,
        name: se.metadata.name,
        namespace: ns,
        origin: 'ServiceEntry',
        ports,
        resolution: effective,
        location: spec.location,
        exportTo: spec.exportTo,
        endpoints,
        ...(sans.length ? { subjectAltNames: sans } : {}),
        ...(addresses.length ? { addresses } : {}),
        age,
      });
    }
  }
  return out;
}
