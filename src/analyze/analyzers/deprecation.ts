// Deprecated fields Istio reports (IST0002): a fault delay's `percent` (use `percentage`) and a
// Sidecar's `outboundTrafficPolicy.egressProxy`, which is ignored (outpost ignores it too).
import type { SidecarSpec } from '../../api/kinds/sidecar.js';
import { CODES, type Finding } from '../finding.js';
import type { Snapshot } from '../snapshot.js';
import { report } from './report.js';
import { ISTIO_NETWORKING_GROUP } from '../../api/groups.js';

export function analyzeDeprecations(snap: Snapshot): Finding[] {
  const findings: Finding[] = [];
  for (const vs of snap.of(ISTIO_NETWORKING_GROUP, 'VirtualService')) {
    const http = (vs.obj.spec as { http?: unknown } | undefined)?.http;
    (Array.isArray(http) ? http : []).forEach((r: { fault?: { delay?: { percent?: unknown } } } | undefined, i) => {
      const percent = r?.fault?.delay?.percent;
      if (typeof percent === 'number' && percent > 0) {
        findings.push(
          report(
            vs,
            CODES.Deprecated,
            'Warning',
            'Deprecated: HTTPRoute.fault.delay.percent is deprecated; use HTTPRoute.fault.delay.percentage',
            `spec.http[${i}].fault.delay.percent`,
          ),
        );
      }
    });
  }
  for (const sc of snap.of(ISTIO_NETWORKING_GROUP, 'Sidecar')) {
    if ((sc.obj.spec as SidecarSpec | undefined)?.outboundTrafficPolicy?.egressProxy) {
      findings.push(report(sc, CODES.Deprecated, 'Warning', 'Deprecated: OutboundTrafficPolicy.EgressProxy ignored', 'spec.outboundTrafficPolicy.egressProxy'));
    }
  }
  return findings;
}
