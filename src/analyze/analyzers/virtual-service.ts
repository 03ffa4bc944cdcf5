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
import { destinationRulesFor, hostOwners, type HostOwner } from './registry.js';
import { ref, report } from './report.js';
import { gatewayServicePorts } from '../../controlplane/deployer/index.js';
import { ISTIO_NETWORKING_GROUP } from '../../api/groups.js';

interface RouteDest {
  dest: Destination;
  path: string;
  gateways: readonly string[];
  mirror: boolean;
}

type AnyRoute = {
  match?: readonly { gateways?: readonly string[] }[];
  route?: readonly { destination?: Destination }[];
  mirror?: Destination;
  mirrors?: readonly { destination?: Destination }[];
};

/** Every destination of every route, mirrors included (Istio checks both: "host" and "mirror host"). */
function destinations(spec: VirtualServiceSpec): RouteDest[] {
  const out: RouteDest[] = [];
  const groups: Array<[string, readonly AnyRoute[] | undefined]> = [
    ['http', spec.http],
    ['tls', spec.tls],
    ['tcp', spec.tcp],
  ];
  for (const [field, routes] of groups) {
    (Array.isArray(routes) ? routes : []).forEach((r, i) => {
      const matches: ReadonlyArray<{ gateways?: readonly string[] } | undefined> = Array.isArray(r?.match) && r.match.length > 0 ? r.match : [undefined];
      const gateways: string[] = [...new Set(matches.flatMap((m) => [...matchGateways(spec, m)]))];
      const add = (d: Destination | undefined, path: string, mirror: boolean) => {
        if (d && typeof d === 'object' && typeof d.host === 'string') out.push({ dest: d, path, gateways, mirror });
      };
      const routeDests: readonly { destination?: Destination }[] = Array.isArray(r?.route) ? r.route : [];
      routeDests.forEach((d, j) => add(d?.destination, `spec.${field}[${i}].route[${j}].destination`, false));
      if (field !== 'http') return;
      add(r?.mirror, `spec.http[${i}].mirror`, true);
      const mirrors: readonly { destination?: Destination }[] = Array.isArray(r?.mirrors) ? r.mirrors : [];
      mirrors.forEach((d, j) => add(d?.destination, `spec.http[${i}].mirrors[${j}].destination`, true));
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
  const vss = snap.of(ISTIO_NETWORKING_GROUP, 'VirtualService');
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
      const gw = snap.find(ISTIO_NETWORKING_GROUP, 'Gateway', r.namespace, r.name);
      if (!gw) findings.push(report(vs, CODES.ReferencedResourceNotFound, 'Error', `Referenced gateway not found: "${g.ref}"`, g.path));
      // Istio checks the hosts of spec.gateways only; a gateway that does not exist has none of them.
      if (g.path === 'spec.gateways' && (!gw || !hostsInGateway(hosts, vs.namespace, gw))) {
        findings.push(
          report(
            vs,
            CODES.VirtualServiceHostNotFoundInGateway,
            'Warning',
            `one or more host [${hosts.join(' ')}] defined in VirtualService ${ref(vs.namespace, vs.name)} not found in Gateway ${key}.`,
            g.path,
          ),
        );
      }
    }
    for (const { dest, path, gateways, mirror } of destinations(spec)) {
      const host = resolveShortName(dest.host, vs.namespace);
      const owners = hostOwners(snap, host, vs.namespace);
      if (owners.length === 0) {
        findings.push(
          report(vs, CODES.ReferencedResourceNotFound, 'Error', `Referenced ${mirror ? 'mirror host' : 'host'} not found: "${dest.host}"`, `${path}.host`),
        );
      } else {
        findings.push(...checkDestinationPort(vs, dest, path, owners[0]!));
      }
      if (typeof dest.subset === 'string' && dest.subset !== '') {
        const rules = destinationRulesFor(snap, host, vs.namespace);
        const found = rules.some((dr) => ((dr.obj.spec as DestinationRuleSpec).subsets ?? []).some((s) => s?.name === dest.subset));
        if (!found)
          findings.push(
            report(
              vs,
              CODES.ReferencedResourceNotFound,
              'Error',
              `Referenced ${mirror ? 'mirror' : 'host'}+subset in destinationrule not found: "${dest.host}+${dest.subset}"`,
              `${path}.subset`,
            ),
          );
      }
      const atGateway = gateways.filter((g) => g !== MESH_GATEWAY);
      if (!mirror && atGateway.length > 0 && !owners.some((o) => o.kind === 'Service')) {
        const none = owners.find((o) => o.kind === 'ServiceEntry' && ((o.entry.obj.spec as ServiceEntrySpec).resolution ?? 'NONE') === 'NONE');
        if (none) {
          const gw = resolveGatewayRef(atGateway[0]!, vs.namespace);
          const gwName = gw === MESH_GATEWAY ? MESH_GATEWAY : `${gw.namespace}/${gw.name}`;
          findings.push(
            report(
              vs,
              CODES.EgressGatewayResolutionNone,
              'Error',
              `ServiceEntry ${ref(none.entry.namespace, none.entry.name)} has resolution NONE, so gateway ${gwName} would forward "${dest.host}" to the original destination, which is the gateway itself (a forwarding loop); set resolution: DNS`,
              `${path}.host`,
            ),
          );
        }
      }
    }
  }
  findings.push(...meshHostConflicts(vss));
  findings.push(...subsetsBypassedAtGateways(vss));
  return findings;
}

type HttpRoutes = ReadonlyArray<{ route?: ReadonlyArray<{ destination?: Destination }> } | undefined>;

function httpDestinations(spec: VirtualServiceSpec | undefined): Destination[] {
  const routes: HttpRoutes = Array.isArray(spec?.http) ? spec!.http : [];
  return routes.flatMap((r) =>
    (Array.isArray(r?.route) ? r!.route : []).map((d) => d?.destination).filter((d): d is Destination => Boolean(d && typeof d.host === 'string')),
  );
}

/**
 * IST0140, as Istio reports it: a VirtualService bound to gateways routes to a host without a subset
 * while another VirtualService for that host splits it by subset, which the gateway's requests skip.
 */
function subsetsBypassedAtGateways(vss: readonly Entry[]): Finding[] {
  const withSubsets = vss
    .map((v) => {
      const spec = v.obj.spec as VirtualServiceSpec | undefined;
      const hosts = Array.isArray(spec?.hosts) ? spec!.hosts : [];
      return {
        v,
        hosts: new Set(
          httpDestinations(spec)
            .filter((d) => d.subset && hosts.includes(d.host))
            .map((d) => d.host),
        ),
      };
    })
    .filter((x) => x.hosts.size > 0);
  const findings: Finding[] = [];
  for (const vs of vss) {
    const spec = vs.obj.spec as VirtualServiceSpec | undefined;
    if (!Array.isArray(spec?.gateways) || spec!.gateways.length === 0) continue;
    const plain = new Set(
      httpDestinations(spec)
        .filter((d) => !d.subset)
        .map((d) => d.host),
    );
    for (const { v, hosts } of withSubsets) {
      if (![...hosts].some((h) => plain.has(h))) continue;
      findings.push(
        report(
          vs,
          CODES.IngressRouteRulesNotAffected,
          'Warning',
          `Subset in virtual service ${ref(v.namespace, v.name)} has no effect on ingress gateway ${ref(vs.namespace, vs.name)} requests`,
          'spec.http',
        ),
      );
    }
  }
  return findings;
}

/** The ports the host's owner declares: a Service's `port`s, a ServiceEntry's `number`s, the ports of the Service a Gateway API Gateway will get. */
function ownerPorts(owner: HostOwner): number[] {
  if (owner.entry.kind === 'Gateway') return gatewayServicePorts(owner.entry.obj).map((p) => p.port);
  const spec = owner.entry.obj.spec as { ports?: Array<{ port?: unknown; number?: unknown }> } | undefined;
  const ports = Array.isArray(spec?.ports) ? spec!.ports : [];
  return ports.map((p) => (owner.kind === 'Service' ? p?.port : p?.number)).filter((n): n is number => typeof n === 'number');
}

/** IST0112 when the host has several ports and the destination names none; IST0101 for a port the host lacks. */
function checkDestinationPort(vs: Entry, dest: Destination, path: string, owner: HostOwner): Finding[] {
  const ports = ownerPorts(owner);
  const number = dest.port?.number;
  if (typeof number !== 'number') {
    if (ports.length <= 1) return [];
    return [
      report(
        vs,
        CODES.VirtualServiceDestinationPortSelectorRequired,
        'Error',
        `This VirtualService routes to a service "${dest.host}" that exposes multiple ports [${ports.join(' ')}]. Specifying a port in the destination is required to disambiguate.`,
        `${path}.host`,
      ),
    ];
  }
  if (ports.includes(number)) return [];
  return [report(vs, CODES.ReferencedResourceNotFound, 'Error', `Referenced host:port not found: "${dest.host}:${number}"`, `${path}.port.number`)];
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
      findings.push(
        report(
          vs,
          CODES.ConflictingMeshGatewayVirtualServiceHosts,
          'Error',
          `The VirtualServices ${names} associated with mesh gateway define the same host ${host} which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource.`,
          'spec.hosts',
        ),
      );
    }
  }
  return findings;
}

export { hostMatches };
