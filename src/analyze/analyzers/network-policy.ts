// NetworkPolicy checks: a policy that selects no pod of its namespace (OUT0003), and an egress
// default-deny in an injected namespace that leaves out what a sidecar needs — DNS, the control
// plane's namespace, the egress gateway's namespace (OUT0004): the mesh would stop working there.
import { isGatewayInjected, type Deployment } from '../../api/kinds/deployment.js';
import { namespaceInjection } from '../../api/kinds/namespace.js';
import {
  formatLabelSelector,
  policyTypes,
  selectorMatches,
  type NetworkPolicyPeer,
  type NetworkPolicyPort,
  type NetworkPolicySpec,
} from '../../api/kinds/network-policy.js';
import { CODES, type Finding } from '../finding.js';
import type { Entry, Snapshot } from '../snapshot.js';
import { report } from './report.js';

type EgressRule = { to?: readonly NetworkPolicyPeer[]; ports?: readonly NetworkPolicyPort[] };

function nsLabels(snap: Snapshot, ns: string): Record<string, string> {
  return { ...(snap.find('', 'Namespace', '', ns)?.obj.metadata.labels ?? {}), 'kubernetes.io/metadata.name': ns };
}

/** Could this rule let traffic reach namespace `ns` (pods `labels` there, when given) on `port`? */
function reaches(
  rule: EgressRule,
  snap: Snapshot,
  policyNs: string,
  ns: string,
  port: { n?: number; proto: string } | undefined,
  labels?: Record<string, string>,
): boolean {
  const portOk =
    !rule.ports?.length ||
    port === undefined ||
    rule.ports.some(
      (p) =>
        (p.protocol ?? 'TCP') === port.proto &&
        (p.port === undefined ||
          (typeof p.port === 'number' && port.n !== undefined && port.n >= p.port && port.n <= (p.endPort ?? p.port)) ||
          typeof p.port === 'string'),
    );
  if (!portOk) return false;
  if (!rule.to?.length) return true;
  return rule.to.some((peer) => {
    if (peer.ipBlock) return true;
    if (peer.namespaceSelector ? !selectorMatches(peer.namespaceSelector, nsLabels(snap, ns)) : ns !== policyNs) return false;
    return !peer.podSelector || labels === undefined || selectorMatches(peer.podSelector, labels);
  });
}

export function analyzeNetworkPolicies(snap: Snapshot): Finding[] {
  const findings: Finding[] = [];
  const policies = snap.of('networking.k8s.io', 'NetworkPolicy');
  const pods = snap.pods();
  for (const np of policies) {
    const spec = (np.obj.spec ?? {}) as NetworkPolicySpec;
    if (!pods.some((p) => p.entry.namespace === np.namespace && selectorMatches(spec.podSelector, p.labels))) {
      findings.push(
        report(
          np,
          CODES.NetworkPolicySelectsNoPod,
          'Warning',
          `The NetworkPolicy selects no pod: nothing in namespace ${np.namespace} has labels matching ${formatLabelSelector(spec.podSelector)}`,
          'spec.podSelector',
        ),
      );
    }
  }
  const istio = snap.of('sailoperator.io', 'Istio')[0];
  const controlNs = ((istio?.obj.spec as { namespace?: unknown } | undefined)?.namespace as string | undefined) ?? 'istio-system';
  const gatewayNs = new Set([
    ...snap
      .of('apps', 'Deployment')
      .filter((d) => isGatewayInjected(d.obj as Deployment))
      .map((d) => d.namespace),
    ...snap.managedGatewayDeployments().map((g) => g.entry.namespace),
  ]);
  for (const ns of snap.of('', 'Namespace')) {
    if (!namespaceInjection(ns.obj).injected) continue;
    const egress = policies.filter((p) => p.namespace === ns.name && policyTypes(p.obj.spec as NetworkPolicySpec).egress);
    if (egress.length === 0) continue;
    const rules: { rule: EgressRule; policy: Entry }[] = egress.flatMap((p) =>
      ((p.obj.spec as NetworkPolicySpec).egress ?? []).map((rule) => ({ rule, policy: p })),
    );
    const can = (target: string, port?: { n?: number; proto: string }, labels?: Record<string, string>): boolean =>
      rules.some(({ rule, policy }) => reaches(rule, snap, policy.namespace, target, port, labels));
    const missing: string[] = [];
    if (!can('kube-system', { n: 53, proto: 'UDP' }, { 'k8s-app': 'kube-dns' }) && !can('openshift-dns', { n: 5353, proto: 'UDP' }))
      missing.push('DNS (UDP 53 to kube-system k8s-app=kube-dns)');
    if (!can(controlNs, { n: 15012, proto: 'TCP' }) && !can(controlNs, { n: 15010, proto: 'TCP' })) missing.push(`the control plane (namespace ${controlNs})`);
    for (const g of [...gatewayNs].sort()) if (g !== ns.name && !can(g)) missing.push(`the egress gateway's namespace ${g}`);
    if (missing.length === 0) continue;
    // On the policy that isolates without allowing (the default-deny), else the first one.
    const at = egress.find((p) => ((p.obj.spec as NetworkPolicySpec).egress ?? []).length === 0) ?? egress[0]!;
    findings.push(
      report(
        at,
        CODES.EgressPolicyBlocksMesh,
        'Warning',
        `Egress from namespace ${ns.name} (injected) is denied except what NetworkPolicies allow, and none allows ${missing.join(', ')}: its sidecars cannot resolve names, get their configuration or send egress traffic through the gateway`,
        'spec.podSelector',
      ),
    );
  }
  return findings;
}
