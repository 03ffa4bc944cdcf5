// Cross-resource analysis in istioctl analyze's words and codes. Pure: reads, never writes.
import type { KubeObject } from '../api/object.js';
import { describeObject } from '../api/object.js';
import type { SourceDocument } from '../api/load.js';
import { Snapshot } from './snapshot.js';
import type { Finding } from './finding.js';
import { analyzeVirtualServices } from './analyzers/virtual-service.js';
import { analyzeIstioGateways } from './analyzers/istio-gateway.js';
import { analyzeGatewayApi } from './analyzers/gateway-api.js';
import { analyzeServiceEntries } from './analyzers/service-entry.js';
import { analyzeNamespaces } from './analyzers/namespace.js';
import { analyzeVirtualServiceRules } from './analyzers/virtual-service-rules.js';
import { analyzeDestinationRules } from './analyzers/destination-rule.js';
import { analyzeSidecars } from './analyzers/sidecar.js';
import { analyzeWorkloads } from './analyzers/workload.js';
import { analyzeAuthorizationPolicies } from './analyzers/authorization-policy.js';
import { analyzeDeprecations } from './analyzers/deprecation.js';
import { analyzeNetworkPolicies } from './analyzers/network-policy.js';

export type { Finding, FindingLevel } from './finding.js';
export { CODES } from './finding.js';

const ANALYZERS = [
  analyzeVirtualServices,
  analyzeVirtualServiceRules,
  analyzeIstioGateways,
  analyzeGatewayApi,
  analyzeServiceEntries,
  analyzeDestinationRules,
  analyzeSidecars,
  analyzeWorkloads,
  analyzeAuthorizationPolicies,
  analyzeNamespaces,
  analyzeDeprecations,
  analyzeNetworkPolicies,
];

const LEVEL_ORDER = { Error: 0, Warning: 1, Info: 2 } as const;

/** Every finding for the objects, errors first, then by resource and code. Objects without a namespace are in `defaultNamespace`. */
export function analyze(objects: ReadonlyArray<KubeObject | SourceDocument>, defaultNamespace = 'default'): Finding[] {
  const snap = new Snapshot(objects, defaultNamespace);
  const findings = ANALYZERS.flatMap((a) => a(snap));
  return findings.sort(
    (a, b) =>
      LEVEL_ORDER[a.level] - LEVEL_ORDER[b.level] ||
      cmp(a.resource.kind, b.resource.kind) ||
      cmp(a.resource.namespace ?? '', b.resource.namespace ?? '') ||
      cmp(a.resource.name, b.resource.name) ||
      cmp(a.code, b.code) ||
      (a.origin?.line ?? 0) - (b.origin?.line ?? 0),
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `Error [IST0101] (VirtualService curl/egress-vs http-vs.yaml:9) Referenced gateway not found: "gw-ns/egress-gw"` */
export function formatFinding(f: Finding): string {
  const where = f.origin ? ` ${f.origin.file}:${f.origin.line}` : '';
  return `${f.level} [${f.code}] (${describeObject(f.resource.kind, f.resource.namespace, f.resource.name)}${where}) ${f.message}`;
}

/** The namespace a finding is about: a Namespace's own name, '' for other cluster-scoped objects. */
function findingNamespace(f: Finding): string {
  return f.resource.kind === 'Namespace' ? f.resource.name : (f.resource.namespace ?? '');
}

/**
 * istioctl analyze's namespace filter: findings about `namespace` and about cluster-scoped objects
 * are shown; the rest are counted by namespace (for a hint istioctl does not give).
 */
export function scopeFindings(findings: readonly Finding[], namespace: string): { shown: Finding[]; elsewhere: Map<string, number> } {
  const shown: Finding[] = [];
  const elsewhere = new Map<string, number>();
  for (const f of findings) {
    const ns = findingNamespace(f);
    if (ns === '' || ns === namespace) shown.push(f);
    else elsewhere.set(ns, (elsewhere.get(ns) ?? 0) + 1);
  }
  return { shown, elsewhere: new Map([...elsewhere].sort(([a], [b]) => cmp(a, b))) };
}

/** True when any finding is an Error (warnings and infos alone do not fail analysis). */
export function hasErrorFindings(findings: readonly Finding[]): boolean {
  return findings.some((f) => f.level === 'Error');
}
