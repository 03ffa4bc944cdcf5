// Istio Gateway checks: the selector finds a gateway workload, its ports are on the workload's
// Service, and no two Gateways claim the same workload, port and host.
import type { IstioGatewaySpec, Server } from '../../api/kinds/istio-gateway.js';
import { splitServerHost } from '../../api/kinds/istio-gateway.js';
import type { ServiceSpec } from '../../api/kinds/service.js';
import { CODES, type Finding } from '../finding.js';
import { describeSelector, hostsIntersect, labelsMatch, type Entry, type Snapshot } from '../snapshot.js';
import { ref, report } from './report.js';

function selectorOf(gw: Entry): Record<string, string> {
  const sel = (gw.obj.spec as IstioGatewaySpec | undefined)?.selector;
  return sel && typeof sel === 'object' ? (sel as Record<string, string>) : {};
}

export function analyzeIstioGateways(snap: Snapshot): Finding[] {
  const findings: Finding[] = [];
  const gateways = snap.of('networking.istio.io', 'Gateway');
  const workloads = snap.workloads();
  const services = snap.of('', 'Service');
  for (const gw of gateways) {
    const spec = gw.obj.spec as IstioGatewaySpec | undefined;
    const selector = selectorOf(gw);
    if (Object.keys(selector).length === 0) continue;
    // Gateway selectors search every namespace (PILOT_SCOPE_GATEWAY_TO_NAMESPACE off).
    const matched = workloads.filter((w) => labelsMatch(selector, w.labels));
    if (matched.length === 0) {
      findings.push(report(gw, CODES.ReferencedResourceNotFound, 'Error', `Referenced selector not found: "${describeSelector(selector)}"`, 'spec.selector'));
      continue;
    }
    const ports = new Set<number>();
    for (const s of services) {
      const sspec = s.obj.spec as ServiceSpec | undefined;
      const sel = sspec?.selector;
      if (!sel || Object.keys(sel).length === 0) continue;
      if (!matched.some((w) => w.entry.namespace === s.namespace && labelsMatch(sel as Record<string, string>, w.labels))) continue;
      for (const p of Array.isArray(sspec?.ports) ? sspec!.ports : []) if (typeof p?.port === 'number') ports.add(p.port);
    }
    (Array.isArray(spec?.servers) ? spec!.servers : []).forEach((server, i) => {
      const n = server?.port?.number;
      if (typeof n === 'number' && !ports.has(n)) {
        findings.push(report(gw, CODES.GatewayPortNotOnWorkload, 'Warning', `The gateway refers to a port that is not exposed on the workload (pod selector ${describeSelector(selector)}; port ${n})`, `spec.servers[${i}].port.number`));
      }
    });
  }
  // Two Gateways on the same workload, port and an overlapping host make the listener ambiguous.
  for (let a = 0; a < gateways.length; a++) {
    for (let b = 0; b < gateways.length; b++) {
      if (a === b) continue;
      const ga = gateways[a]!;
      const gb = gateways[b]!;
      const sa = describeSelector(selectorOf(ga));
      if (sa !== describeSelector(selectorOf(gb))) continue;
      const serversA: readonly Server[] = (ga.obj.spec as IstioGatewaySpec | undefined)?.servers ?? [];
      const serversB: readonly Server[] = (gb.obj.spec as IstioGatewaySpec | undefined)?.servers ?? [];
      (Array.isArray(serversA) ? serversA : []).forEach((x, i) => {
        for (const y of Array.isArray(serversB) ? serversB : []) {
          if (x?.port?.number === undefined || x.port.number !== y?.port?.number) continue;
          const hx = (Array.isArray(x.hosts) ? x.hosts : []).map((h: string) => splitServerHost(String(h)).dnsName);
          const hy = (Array.isArray(y.hosts) ? y.hosts : []).map((h: string) => splitServerHost(String(h)).dnsName);
          const common = hx.filter((h: string) => hy.some((k: string) => hostsIntersect(h, k)));
          if (common.length > 0) {
            findings.push(report(ga, CODES.ConflictingGateways, 'Error', `Conflict with gateways ${ref(gb.namespace, gb.name)} (workload selector ${sa}, port ${x.port.number}, hosts ${common.join(',')}).`, `spec.servers[${i}]`));
            return;
          }
        }
      });
    }
  }
  return findings;
}
