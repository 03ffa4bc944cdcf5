// `describe` output in kubectl's shape for any object: Name, Namespace, Labels, Annotations,
// API Version, Kind, then Metadata, Spec and Status as nested "Title Case:" blocks, then Events.
import type { KubeObject } from '../../api/object.js';
import { ageOf } from '../../api/duration.js';
import { formatTable } from './table.js';
import { formatLabelSelector, policyTypes, type NetworkPolicyPeer, type NetworkPolicyPort, type NetworkPolicySpec } from '../../api/kinds/network-policy.js';

/** `creationTimestamp` → `Creation Timestamp`, `podIP` → `Pod IP`, as kubectl titles CRD fields. */
export function titleCase(key: string): string {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .split(/[\s_]+/)
    .filter(Boolean);
  return words.map((w) => (w.length > 0 ? w[0]!.toUpperCase() + w.slice(1) : w)).join(' ');
}

function scalar(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function isScalar(v: unknown): boolean {
  return v === null || typeof v !== 'object';
}

/** One nested block, indented by `indent` spaces; scalars aligned within a map. */
function block(value: unknown, indent: number, out: string[]): void {
  const pad = ' '.repeat(indent);
  if (Array.isArray(value)) {
    for (const item of value) {
      if (isScalar(item)) out.push(`${pad}${scalar(item)}`);
      else block(item, indent, out);
    }
    return;
  }
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  const scalars = entries.filter(([, v]) => isScalar(v));
  const width = Math.max(0, ...scalars.map(([k]) => titleCase(k).length + 1));
  for (const [k, v] of entries.sort(([a], [b]) => a.localeCompare(b))) {
    const title = `${titleCase(k)}:`;
    if (isScalar(v)) out.push(`${pad}${title.padEnd(width)}  ${scalar(v)}`.trimEnd());
    else if (Array.isArray(v) && v.length === 0) out.push(`${pad}${title}`);
    else if (!Array.isArray(v) && Object.keys(v as object).length === 0) out.push(`${pad}${title}`);
    else {
      out.push(`${pad}${title}`);
      block(v, indent + 2, out);
    }
  }
}

function mapLines(title: string, m: Record<string, string> | undefined): string[] {
  const entries = Object.entries(m ?? {}).sort(([a], [b]) => a.localeCompare(b));
  const head = `${title}:`.padEnd(13);
  if (entries.length === 0) return [`${head}<none>`];
  return entries.map(([k, v], i) => `${i === 0 ? head : ' '.repeat(13)}${k}=${v}`);
}

/** kubectl's Secret description: the type and each key's size, never the values. */
function describeSecret(obj: KubeObject): string {
  const data = (obj as unknown as { data?: Record<string, string> }).data ?? {};
  const out = [`${'Name:'.padEnd(13)}${obj.metadata.name}`, `${'Namespace:'.padEnd(13)}${obj.metadata.namespace ?? ''}`];
  out.push(...mapLines('Labels', obj.metadata.labels), ...mapLines('Annotations', obj.metadata.annotations), '');
  out.push(`Type:  ${String((obj as unknown as { type?: string }).type ?? 'Opaque')}`, '', 'Data', '====');
  for (const [k, v] of Object.entries(data).sort(([a], [b]) => a.localeCompare(b))) out.push(`${k}:  ${Buffer.from(v, 'base64').length} bytes`);
  return out.join('\n') + '\n';
}

/** kubectl's NetworkPolicy description (what each rule allows), with whether outpost enforces it. */
function describeNetworkPolicy(obj: KubeObject, events: KubeObject[]): string {
  const spec = (obj.spec ?? {}) as NetworkPolicySpec;
  const out = [`${'Name:'.padEnd(14)}${obj.metadata.name}`, `${'Namespace:'.padEnd(14)}${obj.metadata.namespace ?? ''}`];
  out.push(`${'Created on:'.padEnd(14)}${obj.metadata.creationTimestamp ?? ''}`);
  out.push(
    ...mapLines('Labels', obj.metadata.labels).map((l) => l.replace(/^(\S+:)\s*/, (_, h: string) => h.padEnd(14))),
    ...mapLines('Annotations', obj.metadata.annotations).map((l) => l.replace(/^(\S+:)\s*/, (_, h: string) => h.padEnd(14))),
  );
  const sel = formatLabelSelector(spec.podSelector);
  out.push('Spec:', `  PodSelector:     ${sel === '<none>' ? '<none> (Allowing the specific traffic to all pods in this namespace)' : sel}`);
  const types = policyTypes(spec);
  const peerLines = (peers: readonly NetworkPolicyPeer[] | undefined, title: string): string[] => {
    if (!peers || peers.length === 0) return [`    ${title}: <any> (traffic not restricted by ${title === 'To' ? 'destination' : 'source'})`];
    const lines = [`    ${title}:`];
    for (const p of peers) {
      if (p.ipBlock) lines.push('      IPBlock:', `        CIDR: ${p.ipBlock.cidr}`, `        Except: ${(p.ipBlock.except ?? []).join(', ')}`);
      else if (p.podSelector && p.namespaceSelector)
        lines.push(`      NamespaceSelector: ${formatLabelSelector(p.namespaceSelector)}`, `      PodSelector: ${formatLabelSelector(p.podSelector)}`);
      else if (p.podSelector) lines.push(`      PodSelector: ${formatLabelSelector(p.podSelector)}`);
      else if (p.namespaceSelector) lines.push(`      NamespaceSelector: ${formatLabelSelector(p.namespaceSelector)}`);
    }
    return lines;
  };
  const portLines = (ports: readonly NetworkPolicyPort[] | undefined, title: string): string[] =>
    !ports || ports.length === 0
      ? [`    ${title} Port: <any> (traffic allowed to all ports)`]
      : ports.map(
          (p) =>
            `    ${title} Port: ${p.port === undefined ? '<any>' : String(p.port)}${p.endPort !== undefined ? `-${p.endPort}` : ''}/${p.protocol ?? 'TCP'}`,
        );
  const rules = (
    list: readonly { ports?: readonly NetworkPolicyPort[]; from?: readonly NetworkPolicyPeer[]; to?: readonly NetworkPolicyPeer[] }[] | undefined,
    dir: 'From' | 'To',
    isolated: boolean,
    what: string,
  ): string[] => {
    if (!isolated) return [`    Not affecting ${what} traffic`];
    if (!list || list.length === 0) return [`    <none> (Selected pods are isolated for ${what} connectivity)`];
    const lines: string[] = [];
    list.forEach((r, i) => {
      if (i > 0) lines.push('    ----------');
      lines.push(...portLines(r.ports, 'To'), ...peerLines(dir === 'From' ? r.from : r.to, dir));
    });
    return lines;
  };
  out.push('  Allowing ingress traffic:', ...rules(spec.ingress, 'From', types.ingress, 'ingress'));
  out.push('  Allowing egress traffic:', ...rules(spec.egress, 'To', types.egress, 'egress'));
  out.push(`  Policy Types: ${[types.ingress ? 'Ingress' : '', types.egress ? 'Egress' : ''].filter(Boolean).join(', ')}`);
  const conds = (obj.status as { conditions?: { type?: string; status?: string; message?: string }[] } | undefined)?.conditions ?? [];
  const enforced = conds.find((c) => c.type === 'Enforced');
  out.push(
    `Enforcement:  ${enforced ? (enforced.status === 'True' ? (enforced.message ?? 'enforced') : `not enforced: ${(enforced.message ?? 'unknown').replace(/^not enforced: /, '')}`) : 'not enforced: no mesh has reported on this policy yet (is `outpost up` running?)'}`,
  );
  out.push(...eventLines(events));
  return out.join('\n') + '\n';
}

function eventLines(events: KubeObject[]): string[] {
  if (events.length === 0) return ['Events:       <none>'];
  const rows = events.map((e) => [
    String(e.type ?? ''),
    String(e.reason ?? ''),
    ageOf(String(e.lastTimestamp ?? e.metadata.creationTimestamp ?? '')),
    String((e.source as { component?: string } | undefined)?.component ?? ''),
    String(e.message ?? ''),
  ]);
  const table = formatTable(['Type', 'Reason', 'Age', 'From', 'Message'], [['----', '------', '----', '----', '-------'], ...rows], 2);
  return [
    'Events:',
    ...table
      .trimEnd()
      .split('\n')
      .map((l) => `  ${l}`),
  ];
}

export function formatDescribe(obj: KubeObject, events: KubeObject[]): string {
  if (obj.apiVersion === 'v1' && obj.kind === 'Secret') return describeSecret(obj);
  if (obj.apiVersion === 'networking.k8s.io/v1' && obj.kind === 'NetworkPolicy') return describeNetworkPolicy(obj, events);
  const out: string[] = [];
  out.push(`${'Name:'.padEnd(13)}${obj.metadata.name}`);
  if (obj.metadata.namespace) out.push(`${'Namespace:'.padEnd(13)}${obj.metadata.namespace}`);
  out.push(...mapLines('Labels', obj.metadata.labels));
  out.push(...mapLines('Annotations', obj.metadata.annotations));
  out.push(`${'API Version:'.padEnd(13)}${obj.apiVersion}`);
  out.push(`${'Kind:'.padEnd(13)}${obj.kind}`);
  const { name: _n, namespace: _ns, labels: _l, annotations: _a, managedFields: _m, ...meta } = obj.metadata;
  out.push('Metadata:');
  block(meta, 2, out);
  const rest = Object.entries(obj).filter(([k]) => !['apiVersion', 'kind', 'metadata', 'spec', 'status'].includes(k));
  for (const [k, v] of rest) {
    if (isScalar(v)) out.push(`${titleCase(k)}:  ${scalar(v)}`);
    else {
      out.push(`${titleCase(k)}:`);
      block(v, 2, out);
    }
  }
  if (obj.spec !== undefined) {
    out.push('Spec:');
    block(obj.spec, 2, out);
  }
  if (obj.status !== undefined && obj.status !== null && Object.keys(obj.status as object).length > 0) {
    out.push('Status:');
    block(obj.status, 2, out);
  }
  out.push(...eventLines(events));
  return out.join('\n') + '\n';
}
