// Istio Gateway checks: the selector finds a gateway workload, its ports are on the workload's
// Service, credentials resolve, and no two Gateways claim the same workload, port and host or
// serve the same certificate.
import type { IstioGatewaySpec, Server, ServerTlsSettings } from '../../api/kinds/istio-gateway.js';
import { splitServerHost } from '../../api/kinds/istio-gateway.js';
import type { ServiceSpec } from '../../api/kinds/service.js';
import { CODES, type Finding } from '../finding.js';
import { describeSelector, hostsIntersect, labelsMatch, type Entry, type Snapshot } from '../snapshot.js';
import { ref, report } from './report.js';
import { ISTIO_NETWORKING_GROUP } from '../../api/groups.js';

function selectorOf(gw: Entry): Record<string, string> {
  const sel = (gw.obj.spec as IstioGatewaySpec | undefined)?.selector;
  return sel && typeof sel === 'object' ? (sel as Record<string, string>) : {};
}

export function analyzeIstioGateways(snap: Snapshot): Finding[] {
  const findings: Finding[] = [];
  const gateways = snap.of(ISTIO_NETWORKING_GROUP, 'Gateway');
  const workloads = snap.workloads();
  const services = snap.of('', 'Service');
  const secretNames = new Set(snap.of('', 'Secret').map((e) => `${e.namespace}/${e.name}`));
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
    // Istio accepts a server port that is a Service's targetPort, or its port.
    const ports = new Set<number>();
    for (const s of services) {
      const sspec = s.obj.spec as ServiceSpec | undefined;
      const sel = sspec?.selector;
      if (!sel || Object.keys(sel).length === 0) continue;
      if (!matched.some((w) => w.entry.namespace === s.namespace && labelsMatch(sel as Record<string, string>, w.labels))) continue;
      for (const p of Array.isArray(sspec?.ports) ? sspec!.ports : []) {
        if (typeof p?.port !== 'number' || (p.protocol ?? 'TCP') !== 'TCP') continue;
        ports.add(p.port);
        if (typeof p.targetPort === 'number') ports.add(p.targetPort);
      }
    }
    const podNamespaces = [...new Set(matched.map((w) => w.entry.namespace))];
    const secretNamespaces = podNamespaces.length > 0 ? podNamespaces : [gw.namespace];
    (Array.isArray(spec?.servers) ? spec!.servers : []).forEach((server, i) => {
      const n = server?.port?.number;
      if (typeof n === 'number' && !ports.has(n)) {
        findings.push(
          report(
            gw,
            CODES.GatewayPortNotDefinedOnService,
            'Warning',
            `The gateway is listening on a target port (port ${n}) that is not defined in the Service associated with its workload instances (Pod selector ${describeSelector(selector)}). If you need to access the gateway port through the gateway Service, it will not be available.`,
            'spec.selector',
          ),
        );
      }
      // The Secret is looked up where the gateway's pods run (the Gateway's own namespace when none is found).
      const cn = server?.tls?.credentialName;
      if (typeof cn === 'string' && cn !== '' && !secretNamespaces.some((ns) => secretNames.has(`${ns}/${cn}`))) {
        findings.push(
          report(gw, CODES.ReferencedResourceNotFound, 'Error', `Referenced credentialName not found: "${cn}"`, `spec.servers[${i}].tls.credentialName`),
        );
      }
    });
  }
  findings.push(...duplicateCertificates(gateways));
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
            findings.push(
              report(
                ga,
                CODES.ConflictingGateways,
                'Error',
                `Conflict with gateways ${ref(gb.namespace, gb.name)} (workload selector ${sa}, port ${x.port.number}, hosts ${common.join(',')}).`,
                `spec.servers[${i}]`,
              ),
            );
            return;
          }
        }
      });
    }
  }
  return findings;
}

function sameCertificate(a: ServerTlsSettings, b: ServerTlsSettings): boolean {
  if (a.credentialName && b.credentialName) return a.credentialName === b.credentialName;
  if (a.credentialName || b.credentialName) return false;
  return Boolean(a.serverCertificate && a.serverCertificate === b.serverCertificate && a.privateKey && a.privateKey === b.privateKey);
}

/** Every label of `sel` is in `other` with the same value (an empty selector is in every one). */
function selectorWithin(sel: Record<string, string>, other: Record<string, string>): boolean {
  return Object.entries(sel).every(([k, v]) => other[k] === v);
}

/** IST0138: one certificate on two Gateways of a workload lets HTTP/2 clients reuse a connection across them. */
function duplicateCertificates(gateways: readonly Entry[]): Finding[] {
  const findings: Finding[] = [];
  const tlsOf = (g: Entry): ServerTlsSettings[] => {
    const servers = (g.obj.spec as IstioGatewaySpec | undefined)?.servers;
    return (Array.isArray(servers) ? servers : []).map((s) => s?.tls).filter((t): t is ServerTlsSettings => Boolean(t && typeof t === 'object'));
  };
  for (const ga of gateways) {
    for (const gb of gateways) {
      if (ga === gb || !selectorWithin(selectorOf(ga), selectorOf(gb))) continue;
      if (!tlsOf(ga).some((x) => tlsOf(gb).some((y) => sameCertificate(x, y)))) continue;
      findings.push(
        report(
          ga,
          CODES.GatewayDuplicateCertificate,
          'Warning',
          `Duplicate certificate in multiple gateways [${ref(ga.namespace, ga.name)} ${ref(gb.namespace, gb.name)}] may cause 404s if clients re-use HTTP2 connections.`,
        ),
      );
    }
  }
  return findings;
}
