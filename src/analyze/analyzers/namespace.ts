// Namespace checks: workloads in a namespace without sidecar injection bypass the mesh's egress
// rules (IST0102); two kinds of injection label leave the choice undefined (IST0123).
import { namespaceInjection } from '../../api/kinds/namespace.js';
import { isGatewayInjected, type Deployment } from '../../api/kinds/deployment.js';
import { CODES, type Finding } from '../finding.js';
import type { Snapshot } from '../snapshot.js';
import { report } from './report.js';
import { APPS_GROUP } from '../../api/groups.js';

export function analyzeNamespaces(snap: Snapshot): Finding[] {
  const findings: Finding[] = [];
  const deployments = snap.of(APPS_GROUP, 'Deployment');
  for (const ns of snap.of('', 'Namespace')) {
    const labels = ns.obj.metadata.labels ?? {};
    if (ns.name === 'istio-system') continue;
    const injection = labels['istio-injection'];
    const kinds = [
      ...(injection !== undefined ? [`istio-injection=${injection}`] : []),
      ...['istio.io/rev', 'istio.io/dataplane-mode']
        .filter((l) => labels[l] !== undefined && (injection === undefined || injection === 'enabled'))
        .map((l) => `${l}=${labels[l]}`),
    ];
    if (kinds.length > 1) {
      findings.push(
        report(
          ns,
          CODES.NamespaceMultipleInjectionLabels,
          'Warning',
          `The namespace has more than one type of injection labels [${kinds.join(' ')}], which may lead to undefined behavior. Make sure only one injection label exists.`,
        ),
      );
    }
    if (labels['istio-injection'] === 'disabled') continue;
    if (namespaceInjection(ns.obj).injected || labels['istio.io/rev'] !== undefined) continue;
    const apps = deployments.filter((d) => d.namespace === ns.name && !isGatewayInjected(d.obj as Deployment));
    if (apps.length === 0) continue;
    findings.push(
      report(
        ns,
        CODES.NamespaceNotInjected,
        'Info',
        `The namespace is not enabled for Istio injection. Run 'kubectl label namespace ${ns.name} istio-injection=enabled' to enable it, or 'kubectl label namespace ${ns.name} istio-injection=disabled' to explicitly mark it as not needing injection.`,
      ),
    );
  }
  return findings;
}
