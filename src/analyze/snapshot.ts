// A read-only view of the analysed objects: by kind, with namespaces defaulted and source positions.
import type { KubeObject } from '../api/object.js';
import { groupOf } from '../api/object.js';
import type { SourceDocument, SourcePosition } from '../api/load.js';
import { kindFor } from '../api/kinds.js';
import { serviceFqdn } from '../proxyconfig/naming.js';
import { APPS_GROUP, GATEWAY_API_GROUP, GATEWAY_NAME_LABEL } from '../api/groups.js';

export interface Entry {
  readonly obj: KubeObject;
  readonly group: string;
  readonly kind: string;
  /** '' for cluster-scoped kinds. */
  readonly namespace: string;
  readonly name: string;
  position(path: string): SourcePosition | undefined;
}

export const CLUSTER_DOMAIN = 'cluster.local';

/** Gateway classes Istio provides without a GatewayClass object, and whether they deploy `<gw>-<class>`. */
export const BUILTIN_GATEWAY_CLASSES: ReadonlyMap<string, boolean> = new Map([
  ['istio', true],
  ['istio-waypoint', false],
  ['istio-remote', false],
]);

function isSourceDocument(x: KubeObject | SourceDocument): x is SourceDocument {
  return typeof (x as SourceDocument).position === 'function' && 'object' in x;
}

export class Snapshot {
  readonly entries: readonly Entry[];

  constructor(inputs: ReadonlyArray<KubeObject | SourceDocument>, defaultNamespace = 'default') {
    this.entries = inputs.flatMap((x) => {
      const obj = isSourceDocument(x) ? x.object : x;
      if (!obj || typeof obj !== 'object' || typeof obj.kind !== 'string' || typeof obj.apiVersion !== 'string' || !obj.metadata) return [];
      const info = kindFor(obj.apiVersion, obj.kind);
      const namespaced = info ? info.namespaced : true;
      const entry: Entry = {
        obj,
        group: groupOf(obj.apiVersion),
        kind: obj.kind,
        namespace: namespaced ? obj.metadata.namespace || defaultNamespace : '',
        name: obj.metadata.name,
        position: isSourceDocument(x) ? (p: string) => x.position(p, 'key') : () => undefined,
      };
      return [entry];
    });
  }

  of(group: string, kind: string): Entry[] {
    return this.entries.filter((e) => e.group === group && e.kind === kind);
  }

  find(group: string, kind: string, namespace: string, name: string): Entry | undefined {
    return this.entries.find((e) => e.group === group && e.kind === kind && e.namespace === namespace && e.name === name);
  }

  /** Workload pod labels: Deployment templates and Pods, with their namespaces. */
  workloads(): Array<{ entry: Entry; labels: Record<string, string> }> {
    const out: Array<{ entry: Entry; labels: Record<string, string> }> = [];
    for (const d of this.of(APPS_GROUP, 'Deployment')) {
      const labels = (d.obj.spec as { template?: { metadata?: { labels?: Record<string, string> } } } | undefined)?.template?.metadata?.labels ?? {};
      out.push({ entry: d, labels });
    }
    for (const p of this.of('', 'Pod')) out.push({ entry: p, labels: p.obj.metadata.labels ?? {} });
    for (const g of this.managedGatewayDeployments()) out.push(g);
    return out;
  }

  /**
   * One entry per pod to be: the Pods, and each Deployment's template while no Pod of it is in the
   * snapshot (files name Deployments; a running mesh also holds their Pods). Gateway API
   * deployments are left out: their pods carry no user configuration.
   */
  pods(): Array<{ entry: Entry; labels: Record<string, string>; name: string }> {
    const pods = this.of('', 'Pod').map((p) => ({ entry: p, labels: p.obj.metadata.labels ?? {}, name: p.name }));
    const out = [...pods];
    for (const d of this.of(APPS_GROUP, 'Deployment')) {
      const spec = d.obj.spec as
        { selector?: { matchLabels?: Record<string, string> }; template?: { metadata?: { labels?: Record<string, string> } } } | undefined;
      const labels = spec?.template?.metadata?.labels ?? {};
      const sel = spec?.selector?.matchLabels ?? labels;
      if (pods.some((p) => p.entry.namespace === d.namespace && Object.keys(sel).length > 0 && labelsMatch(sel, p.labels))) continue;
      out.push({ entry: d, labels, name: d.name });
    }
    return out;
  }

  /** Gateway API Gateways of a deploying class: the controller creates `<gw>-<class>` Deployment and Service. */
  managedGatewayDeployments(): Array<{ entry: Entry; labels: Record<string, string>; serviceName: string }> {
    const out: Array<{ entry: Entry; labels: Record<string, string>; serviceName: string }> = [];
    for (const g of this.of(GATEWAY_API_GROUP, 'Gateway')) {
      const cls = (g.obj.spec as { gatewayClassName?: string } | undefined)?.gatewayClassName ?? '';
      if (BUILTIN_GATEWAY_CLASSES.get(cls) !== true && !this.find(GATEWAY_API_GROUP, 'GatewayClass', '', cls)) continue;
      const serviceName = g.obj.metadata.annotations?.['gateway.istio.io/name-override'] ?? `${g.name}-${cls}`;
      out.push({ entry: g, labels: { [GATEWAY_NAME_LABEL]: g.name }, serviceName });
    }
    return out;
  }

  /** FQDNs of every Service, including the ones Gateway API deployments will create. */
  serviceHosts(): Map<string, Entry> {
    const hosts = new Map<string, Entry>();
    // The deployer's Service, once it exists (a running mesh), stands for itself.
    for (const g of this.managedGatewayDeployments()) hosts.set(serviceFqdn(g.serviceName, g.entry.namespace, CLUSTER_DOMAIN), g.entry);
    for (const s of this.of('', 'Service')) hosts.set(serviceFqdn(s.name, s.namespace, CLUSTER_DOMAIN), s);
    return hosts;
  }
}

/** Istio's short-name expansion: `svc` → `svc.<ns>.svc.cluster.local`, `svc.ns` → `svc.ns.svc.cluster.local`. */
export function resolveShortName(host: string, namespace: string): string {
  if (host.startsWith('*') || host.includes('.svc.') || host.endsWith('.svc')) return host;
  const parts = host.split('.');
  if (parts.length === 1) return `${host}.${namespace}.svc.${CLUSTER_DOMAIN}`;
  return host;
}

/** Istio host matching: equal, or a wildcard pattern (`*.example.com`, `*`) matching by suffix. */
export function hostMatches(pattern: string, host: string): boolean {
  if (pattern === host || pattern === '*') return true;
  if (pattern.startsWith('*')) {
    const suffix = pattern.slice(1);
    if (host.startsWith('*')) return host.slice(1).endsWith(suffix);
    return host.endsWith(suffix) && host.length > suffix.length;
  }
  return false;
}

/** True when two host patterns can match a common name. */
export function hostsIntersect(a: string, b: string): boolean {
  return hostMatches(a, b) || hostMatches(b, a);
}

export function labelsMatch(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** A label selector as Kubernetes prints it: `k=v` pairs sorted by key, comma-separated. */
export function describeSelector(selector: Record<string, string>): string {
  return Object.keys(selector)
    .sort()
    .map((k) => `${k}=${selector[k]}`)
    .join(',');
}

/** Whether an object exported with `exportTo` is visible from namespace `from`. */
export function isExportedTo(exportTo: readonly string[] | undefined, ownNamespace: string, from: string): boolean {
  if (!exportTo || exportTo.length === 0) return true;
  return exportTo.some((e) => e === '*' || (e === '.' && ownNamespace === from) || e === from);
}
