// DestinationRule checks: the host is a mesh service (IST0174), each subset selects a workload
// (IST0173), and TLS origination names the CA that verifies the server (IST0128, IST0129).
import type { DestinationRuleSpec, ClientTlsSettings } from '../../api/kinds/destination-rule.js';
import type { ServiceEntrySpec } from '../../api/kinds/service-entry.js';
import { CODES, type Finding } from '../finding.js';
import { labelsMatch, resolveShortName, type Entry, type Snapshot } from '../snapshot.js';
import { hostOwners } from './registry.js';
import { ref, report } from './report.js';
import { ISTIO_NETWORKING_GROUP } from '../../api/groups.js';

export function analyzeDestinationRules(snap: Snapshot): Finding[] {
  const findings: Finding[] = [];
  const workloads = snap.workloads();
  for (const dr of snap.of(ISTIO_NETWORKING_GROUP, 'DestinationRule')) {
    const spec = dr.obj.spec as DestinationRuleSpec | undefined;
    if (!spec || typeof spec.host !== 'string') continue;
    findings.push(...uncheckedServerCertificates(dr, spec));
    const owner = hostOwners(snap, resolveShortName(spec.host, dr.namespace), dr.namespace)[0];
    if (!owner) {
      findings.push(
        report(
          dr,
          CODES.UnknownDestinationRuleHost,
          'Warning',
          `The host ${spec.host} defined in the DestinationRule does not match any services in the mesh.`,
          'spec.host',
        ),
      );
      continue;
    }
    // As Istio does: a subset selects the ServiceEntry's workloadSelector plus the subset's labels,
    // among every workload of the mesh (a Service adds no labels of its own).
    const base = owner.kind === 'ServiceEntry' ? ((owner.entry.obj.spec as ServiceEntrySpec).workloadSelector?.labels ?? {}) : {};
    (Array.isArray(spec.subsets) ? spec.subsets : []).forEach((subset, i) => {
      if (!subset || typeof subset.name !== 'string') return;
      const selector = { ...base, ...(subset.labels ?? {}) };
      if (workloads.some((w) => labelsMatch(selector, w.labels))) return;
      findings.push(
        report(
          dr,
          CODES.DestinationRuleSubsetNotSelectPods,
          'Error',
          `The Subset ${subset.name} defined in the DestinationRule does not select any pods. Which may lead to 503 UH (NoHealthyUpstream).`,
          `spec.subsets[${i}]`,
        ),
      );
    });
  }
  return findings;
}

/** SIMPLE or MUTUAL origination without caCertificates (unless a workload-scoped credentialName brings them). */
function unverified(tls: ClientTlsSettings | undefined, spec: DestinationRuleSpec): string | undefined {
  if (!tls || typeof tls !== 'object') return undefined;
  const mode = tls.mode;
  if (mode !== 'SIMPLE' && mode !== 'MUTUAL') return undefined;
  if (tls.caCertificates) return undefined;
  if (tls.credentialName && spec.workloadSelector) return undefined;
  return mode;
}

function uncheckedServerCertificates(dr: Entry, spec: DestinationRuleSpec): Finding[] {
  const findings: Finding[] = [];
  const name = ref(dr.namespace, dr.name);
  const mode = unverified(spec.trafficPolicy?.tls, spec);
  if (mode) {
    findings.push(
      report(
        dr,
        CODES.NoServerCertificateVerificationDestinationLevel,
        'Warning',
        `DestinationRule ${name} in namespace ${dr.namespace} has TLS mode set to ${mode} but no caCertificates are set to validate server identity for host: ${spec.host}`,
        'spec.trafficPolicy.tls',
      ),
    );
  }
  const portLevel = spec.trafficPolicy?.portLevelSettings;
  (Array.isArray(portLevel) ? portLevel : []).forEach((p, i) => {
    const m = unverified(p?.tls, spec);
    if (!m) return;
    findings.push(
      report(
        dr,
        CODES.NoServerCertificateVerificationPortLevel,
        'Warning',
        `DestinationRule ${name} in namespace ${dr.namespace} has TLS mode set to ${m} but no caCertificates are set to validate server identity for host: ${spec.host} at port number:${p?.port?.number}`,
        `spec.trafficPolicy.portLevelSettings[${i}].tls`,
      ),
    );
  });
  return findings;
}
