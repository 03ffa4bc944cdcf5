// ServiceEntry checks: TCP ports without addresses are matched by port alone (IST0134); two
// ServiceEntries visible in one namespace give one host and port different protocols (IST0177).
import type { ServiceEntrySpec } from '../../api/kinds/service-entry.js';
import { CODES, type Finding } from '../finding.js';
import type { Entry, Snapshot } from '../snapshot.js';
import { ref, report } from './report.js';
import { ISTIO_NETWORKING_GROUP } from '../../api/groups.js';

export function analyzeServiceEntries(snap: Snapshot): Finding[] {
  const findings: Finding[] = [];
  const entries = snap.of(ISTIO_NETWORKING_GROUP, 'ServiceEntry');
  for (const se of entries) {
    const spec = se.obj.spec as ServiceEntrySpec | undefined;
    if (!spec || (Array.isArray(spec.addresses) && spec.addresses.length > 0)) continue;
    const ports = Array.isArray(spec.ports) ? spec.ports : [];
    const i = ports.findIndex((p) => !p?.protocol || p.protocol.toUpperCase() === 'TCP');
    if (i >= 0)
      findings.push(report(se, CODES.ServiceEntryAddressesRequired, 'Warning', 'ServiceEntry addresses are required for this protocol.', `spec.ports[${i}]`));
  }
  findings.push(...conflictingProtocols(entries));
  return findings;
}

/** Where a ServiceEntry is visible: '*' for everywhere, else the namespaces its exportTo names. */
function scopes(spec: ServiceEntrySpec, namespace: string): Set<string> {
  const exportTo = Array.isArray(spec.exportTo) ? spec.exportTo : [];
  if (exportTo.length === 0 || exportTo.includes('*')) return new Set(['*']);
  return new Set(exportTo.map((e) => (e === '.' ? namespace : e)));
}

function conflictingProtocols(entries: readonly Entry[]): Finding[] {
  const index = new Map<string, { scope: string; host: string; port: number; list: Array<{ protocol: string; se: Entry }> }>();
  for (const se of entries) {
    const spec = se.obj.spec as ServiceEntrySpec | undefined;
    if (!spec || !Array.isArray(spec.hosts) || !Array.isArray(spec.ports)) continue;
    for (const scope of scopes(spec, se.namespace)) {
      for (const host of spec.hosts) {
        for (const p of spec.ports) {
          if (typeof host !== 'string' || typeof p?.number !== 'number') continue;
          const key = JSON.stringify([scope, host, p.number]);
          const e = index.get(key) ?? { scope, host, port: p.number, list: [] as Array<{ protocol: string; se: Entry }> };
          e.list.push({ protocol: String(p.protocol ?? '').toUpperCase(), se });
          index.set(key, e);
        }
      }
    }
  }
  const findings: Finding[] = [];
  const reported = new Set<Entry>();
  for (const { scope, host, port, list } of index.values()) {
    // A namespace sees its own ServiceEntries and those exported everywhere.
    const all = scope === '*' ? list : [...list, ...(index.get(JSON.stringify(['*', host, port]))?.list ?? [])];
    const protocols = [...new Set(all.map((x) => x.protocol))].sort();
    if (protocols.length < 2) continue;
    const names = [...new Set(all.map((x) => ref(x.se.namespace, x.se.name)))].sort().join(', ');
    for (const { se } of all) {
      if (reported.has(se)) continue;
      reported.add(se);
      findings.push(
        report(
          se,
          CODES.ConflictingServiceEntryProtocol,
          'Warning',
          `Multiple ServiceEntries (${names}) define the same host "${host}" and port ${port} with conflicting protocols (${protocols.join(', ')}).`,
        ),
      );
    }
  }
  return findings;
}
