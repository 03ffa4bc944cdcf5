// VirtualService checks: referenced gateways, hosts and subsets; hosts bound to gateways; mesh host
// conflicts; gateway hops to resolution-NONE ServiceEntries.
import type { VirtualServiceSpec, Destination } from '../../api/kinds/virtual-service.js';
import { matchGateways, MESH_GATEWAY, resolveGatewayRef, virtualServiceGateways } from '../../api/kinds/virtual-service.js';
import type { IstioGatewaySpec } from '../../api/kinds/istio-gateway.js';
import { splitServerHost } from '../../api/kinds/istio-gateway.js';
import type { ServiceEntrySpec } from '../../api/kinds/service-entry.js';
import type { DestinationRuleSpec } from '../../api/kinds/destination-rule.js';
import { CODES, type Finding } from '../finding.js';
import { hostMatches, hostsIntersect, resolveShortName, type Entry, type Snapshot } from '../snapshot.js';
import { destinationRulesFor, hostOwners } from './registry.js';
import { ref, report } from './report.js';

interface RouteDest { dest: Destination; path: string; gateways: readonly string[] }

type AnyRoute = { match?: readonly { gateways?: readonly string[] }[]; route?: readonly { destination?: Destination }[] };

function destinations(spec: VirtualServiceSpec): RouteDest[] {
  const out: RouteDest[] = [];
  const groups: Array<[string, readonly AnyRoute[] | undefined]> = [['http', spec.http], ['tls', spec.tls], ['tcp', spec.tcp]];
  for (const [field, routes] of groups) {
    (Array.isArray(routes) ? routes : []).forEach((r, i) => {
      const matches: ReadonlyArray<{ gateways?: readonly string[] } | undefined> = Array.isArray(r?.match) && r.match.length > 0 ? r.match : [undefined];
      const gateways: string[] = [...new Set(matches.flatMap((m) => [...matchGateways(spec, m)]))];
      const dests: readonly { destination?: Destination }[] = Array.isArray(r?.route) ? r.route : [];
      dests.forEach((d, j) => {
        if (d?.destination && typeof d.destination.host === 'string') out.push({ dest: d.destination, path: `spec.${field}[${i}].route[${j}].destination`, gateways });
      });
    });
  }
  return out;
}

/** Gateway references in the VirtualService with the path of the list that names them. */
function gatewayRefs(spec: VirtualServiceSpec): Array<{ ref: string; path: string }> {
  const out: Array<{ ref: string; path: string }> = [];
  (Array.isArray(spec.gateways) ? spec.gateways : []).forEach((g) => out.push({ ref: g, path: 'spec.gateways' }));
  for (const field of ['http', 'tls', 'tcp'] as const) {
    const routes: readonly AnyRoute[] = Array.isArray(spec[field]) ? (spec[field] as readonly AnyRoute[]) : [];
    routes.forEach((r, i) => {
      const matches: readonly { gateways?: readonly string[] }[] = Array.isArray(r?.match) ? r.match : [];
      matches.forEach((m, j) => {
        (Array.isArray(m?.gateways) ? m.gateways : []).forEach((g) => out.push({ ref: g, path: `spec.${field}[${i}].match[${j}].gateways` }));
      });
    });
  }
  return out.filter((g) => typeof g.ref === 'string');
}

export function analyzeVirtualServices(snap: Snapshot): Finding[] {
  const findings: Finding[] = [];
  const vss = snap.of('networking.istio.io', 'VirtualService');
  for (const vs of vss) {
    const spec = vs.obj.spec as VirtualServiceSpec | undefined;
    if (!spec) continue;
    const hosts = (Array.isArray(spec.hosts) ? spec.hosts : []).filter((h): h is string => typeof h === 'string');
    // Referenced gateways, each reported once at its first mention.
    const seen = new Set<string>();
    for (const g of gatewayRefs(spec)) {
      const r = resolveGatewayRef(g.ref, vs.namespace);
      if (r === MESH_GATEWAY) continue;
      const key = `${r.namespace}/${r.name}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const gw = snap.find('networking.istio.io', 'Gateway', r.namespace, r.name);
      if (!gw) {
        findings.push(report(vs, CODES.ReferencedResourceNotFound, 'Error', `Referenced gateway not found: "${key}"`, g.path));
        continue;
      }
      if (g.path === 'spec.gateways' && !hostsInGateway(hosts, vs.namespace, gw)) {
        findings.push(report(vs, CODES.VirtualServiceHostNotFoundInGateway, 'Warning',
          `one or more host [${hosts.join(', ')}] defined in VirtualService ${ref(vs.namespace, vs.name)} not found in Gateway ${key}.`, 'spec.hosts'));
      }
    }
    for (const { dest, path, gateways } of destinations(spec)) {
      const host = resolveShortName(dest.host, vs.namespace);
      const owners = hostOwners(snap, host, vs.namespace);
      if (owners.length === 0) {
        findings.push(report(vs, CODES.ReferencedResourceNotFound, 'Error', `Referenced host not found: "${dest.host}"`, `${path}.host`));
      }
      if (typeof dest.subset === 'string' && dest.subset !== '') {
        const rules = destinationRulesFor(snap, host, vs.namespace);
        const found = rules.some((dr) => ((dr.obj.spec as DestinationRuleSpec).subsets ?? []).some((s) => s?.name === dest.subset));
        if (!found) findings.push(report(vs, CODES.ReferencedResourceNotFound, 'Error', `Referenced host+subset in destinationrule not found: "${dest.host}+${dest.subset}"`, `${path}.subset`));
      }
      const atGateway = gateways.filter((g) => g !== MESH_GATEWAY);
      if (atGateway.length > 0 && !owners.some((o) => o.kind === 'Service')) {
        const none = owners.find((o) => o.kind === 'ServiceEntry' && ((o.entry.obj.spec as ServiceEntrySpec).resolution ?? 'NONE') === 'NONE');
        if (none) {
          const gw = resolveGatewayRef(atGateway[0]!, vs.namespace);
          const gwName = gw === MESH_GATEWAY ? MESH_GATEWAY : `${gw.namespace}/${gw.name}`;
          findings.push(report(vs, CODES.EgressGatewayResolutionNone, 'Error',
            `ServiceEntry ${ref(none.entry.namespace, none.entry.name)} has resolution NONE, so gateway ${gwName} would forward "${dest.host}" to the original destination, which is the gateway itself (a forwarding loop); set resolution: DNS`, `${path}.host`));
        }
      }
    }
  }
  findings.push(...meshHostConflicts(vss));
  return findings;
}

function hostsInGateway(vsHosts: readonly string[], vsNamespace: string, gw: Entry): boolean {
  const spec = gw.obj.spec as IstioGatewaySpec | undefined;
  for (const server of Array.isArray(spec?.servers) ? spec!.servers : []) {
    for (const h of Array.isArray(server?.hosts) ? server.hosts : []) {
      if (typeof h !== 'string') continue;
      const { namespace, dnsName } = splitServerHost(h);
      const nsOk = namespace === '*' || namespace === vsNamespace || (namespace === '.' && gw.namespace === vsNamespace);
      if (!nsOk) continue;
      if (vsHosts.some((vh) => hostsIntersect(dnsName, vh))) return true;
    }
  }
  return false;
}

function meshHostConflicts(vss: readonly Entry[]): Finding[] {
  const byHost = new Map<string, Entry[]>();
  for (const vs of vss) {
    const spec = vs.obj.spec as VirtualServiceSpec | undefined;
    if (!spec || !virtualServiceGateways(spec).includes(MESH_GATEWAY)) continue;
    for (const h of Array.isArray(spec.hosts) ? spec.hosts : []) {
      if (typeof h !== 'string') continue;
      const host = resolveShortName(h, vs.namespace);
      const list = byHost.get(host) ?? [];
      if (!list.includes(vs)) list.push(vs);
      byHost.set(host, list);
    }
  }
  const findings: Finding[] = [];
  for (const [host, list] of byHost) {
    if (list.length < 2) continue;
    const names = list.map((v) => ref(v.namespace, v.name)).join(',');
    for (const vs of list) {
      findings.push(report(vs, CODES.ConflictingMeshGatewayVirtualServiceHosts, 'Error',
        `The VirtualServices ${names} associated with mesh gateway define the same host ${host} which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource.`, 'spec.hosts'));
    }
  }
  return findings;
}

export { hostMatches };
