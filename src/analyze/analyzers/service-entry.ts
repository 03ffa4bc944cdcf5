// ServiceEntry checks: TCP ports without addresses are matched by port alone.
import type { ServiceEntrySpec } from '../../api/kinds/service-entry.js';
import { CODES, type Finding } from '../finding.js';
import type { Snapshot } from '../snapshot.js';
import { report } from './report.js';

export function analyzeServiceEntries(snap: Snapshot): Finding[] {
  const findings: Finding[] = [];
  for (const se of snap.of('networking.istio.io', 'ServiceEntry')) {
    const spec = se.obj.spec as ServiceEntrySpec | undefined;
    if (!spec || (Array.isArray(spec.addresses) && spec.addresses.length > 0)) continue;
    const ports = Array.isArray(spec.ports) ? spec.ports : [];
    const i = ports.findIndex((p) => !p?.protocol || p.protocol.toUpperCase() === 'TCP');
    if (i >= 0) findings.push(report(se, CODES.ServiceEntryAddressesRequired, 'Warning', 'ServiceEntry addresses are required for this protocol.', `spec.ports[${i}]`));
  }
  return findings;
}
