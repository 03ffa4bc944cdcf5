// AuthorizationPolicy checks: the policy applies to some workload of the mesh (IST0127), its source
// namespaces exist (IST0101), and its selector does not aim at a Gateway API gateway's pods, which
// targetRefs must name instead (IST0166).
import type { AuthorizationPolicySpec } from '../../api/kinds/authorization-policy.js';
import { namespaceInjection } from '../../api/kinds/namespace.js';
import { CODES, type Finding } from '../finding.js';
import { describeSelector, labelsMatch, type Snapshot } from '../snapshot.js';
import { report } from './report.js';
import { GATEWAY_NAME_LABEL, ISTIO_SECURITY_GROUP, SAIL_GROUP } from '../../api/groups.js';

/** Istio's root namespace: policies there apply mesh-wide. */
function rootNamespace(snap: Snapshot): string {
  for (const i of snap.of(SAIL_GROUP, 'Istio')) {
    const root = (i.obj.spec as { values?: { meshConfig?: { rootNamespace?: unknown } } } | undefined)?.values?.meshConfig?.rootNamespace;
    if (typeof root === 'string' && root) return root;
  }
  return 'istio-system';
}

/** `*`, `prefix*` and `*suffix` as AuthorizationPolicy namespaces match them. */
function namespaceMatches(ns: string, pattern: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*')) return ns.endsWith(pattern.slice(1));
  if (pattern.endsWith('*')) return ns.startsWith(pattern.slice(0, -1));
  return ns.toLowerCase() === pattern.toLowerCase();
}

export function analyzeAuthorizationPolicies(snap: Snapshot): Finding[] {
  const findings: Finding[] = [];
  const root = rootNamespace(snap);
  const namespaces = snap.of('', 'Namespace').map((n) => n.name);
  // Pods with a proxy: injected namespaces, or a pod that asks for one.
  const meshPods = snap.pods().filter((p) => {
    const own = p.labels['sidecar.istio.io/inject'];
    if (own !== undefined) return own === 'true';
    if (
      p.entry.kind === 'Pod' &&
      ((p.entry.obj.spec as { containers?: Array<{ name?: string }> } | undefined)?.containers ?? []).some((c) => c?.name === 'istio-proxy')
    )
      return true;
    const ns = snap.find('', 'Namespace', '', p.entry.namespace);
    return ns ? namespaceInjection(ns.obj).injected : false;
  });
  const gatewayPods = [
    ...snap.managedGatewayDeployments().map((g) => ({ namespace: g.entry.namespace, labels: g.labels })),
    ...snap
      .of('', 'Pod')
      .filter((p) => p.obj.metadata.labels?.[GATEWAY_NAME_LABEL] !== undefined)
      .map((p) => ({ namespace: p.namespace, labels: p.obj.metadata.labels! })),
  ];
  for (const ap of snap.of(ISTIO_SECURITY_GROUP, 'AuthorizationPolicy')) {
    const spec = (ap.obj.spec ?? {}) as AuthorizationPolicySpec;
    const selector = spec.selector?.matchLabels && typeof spec.selector.matchLabels === 'object' ? spec.selector.matchLabels : undefined;
    if (ap.namespace === root) {
      if (selector && !meshPods.some((p) => labelsMatch(selector, p.labels))) {
        findings.push(
          report(
            ap,
            CODES.NoMatchingWorkloadsFound,
            'Warning',
            `No matching workloads for this resource with the following labels: ${describeSelector(selector)}`,
            'spec.selector',
          ),
        );
      }
    } else {
      const inNs = meshPods.filter((p) => p.entry.namespace === ap.namespace);
      if (!selector ? inNs.length === 0 : !inNs.some((p) => labelsMatch(selector, p.labels))) {
        findings.push(
          report(
            ap,
            CODES.NoMatchingWorkloadsFound,
            'Warning',
            `No matching workloads for this resource with the following labels: ${selector ? describeSelector(selector) : ''}`,
            selector ? 'spec.selector' : 'metadata.name',
          ),
        );
      }
    }
    (Array.isArray(spec.rules) ? spec.rules : []).forEach((rule, i) => {
      const froms: ReadonlyArray<{ source?: Readonly<Record<string, readonly string[]>> } | undefined> = Array.isArray(rule?.from) ? rule.from : [];
      froms.forEach((from, j) => {
        const source = from?.source ?? {};
        for (const field of ['namespaces', 'notNamespaces']) {
          const list = source[field];
          (Array.isArray(list) ? list : []).forEach((pattern, k) => {
            if (typeof pattern !== 'string' || namespaces.some((n) => namespaceMatches(n, pattern))) return;
            findings.push(
              report(
                ap,
                CODES.ReferencedResourceNotFound,
                'Error',
                `Referenced namespace not found: "${pattern}"`,
                `spec.rules[${i}].from[${j}].source.${field}[${k}]`,
              ),
            );
          });
        }
      });
    });
    if (selector && !(Array.isArray(spec.targetRefs) && spec.targetRefs.length > 0)) {
      const gws = new Set(gatewayPods.filter((p) => p.namespace === ap.namespace && labelsMatch(selector, p.labels)).map((p) => p.labels[GATEWAY_NAME_LABEL]!));
      for (const gw of gws)
        findings.push(
          report(
            ap,
            CODES.IneffectiveSelector,
            'Warning',
            `Ineffective selector on Kubernetes Gateway ${gw}. Use the TargetRef field instead.`,
            'spec.selector',
          ),
        );
    }
  }
  return findings;
}
