// `get`'s table for any kind: NAME, then the kind's printer columns (src/api/kinds.ts), AGE
// last; the core kinds get kubectl's own built-in columns.
import type { KindInfo, PrinterColumn } from '../../api/kinds.js';
import type { KubeObject } from '../../api/object.js';
import { ageOf } from '../../api/duration.js';
import { evaluate, parsePath, valueText } from '../../api/jsonpath.js';
import { formatTable } from './table.js';
import { podStatusText } from '../../api/pod-status.js';
import { APPS_GROUP } from '../../api/groups.js';
import { formatLabelSelector, type LabelSelectorSpec } from '../../api/label-selector.js';
import { endpointSliceAddresses, endpointSlicePorts } from '../../api/endpoint-slice-cells.js';

interface Column {
  header: string;
  cell: (obj: KubeObject) => string;
  wideOnly?: boolean;
}

function rec(v: unknown): Record<string, unknown> {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

const age: Column = { header: 'AGE', cell: (o) => ageOf(o.metadata.creationTimestamp) };

function podColumns(): Column[] {
  return [
    {
      header: 'READY',
      cell: (o) => {
        const statuses = (rec(o.status).containerStatuses as { ready?: boolean }[] | undefined) ?? [];
        const total = ((rec(o.spec).containers as unknown[] | undefined) ?? []).length;
        return `${statuses.filter((s) => s.ready).length}/${total}`;
      },
    },
    { header: 'STATUS', cell: (o) => podStatusText(o) },
    {
      header: 'RESTARTS',
      cell: (o) => String(((rec(o.status).containerStatuses as { restartCount?: number }[] | undefined) ?? []).reduce((n, s) => n + (s.restartCount ?? 0), 0)),
    },
    age,
    { header: 'IP', cell: (o) => String(rec(o.status).podIP ?? '<none>'), wideOnly: true },
    { header: 'NODE', cell: (o) => String(rec(o.spec).nodeName ?? '<none>'), wideOnly: true },
  ];
}

function deploymentColumns(): Column[] {
  const n = (o: KubeObject, f: string): number => Number(rec(o.status)[f] ?? 0);
  return [
    { header: 'READY', cell: (o) => `${n(o, 'readyReplicas')}/${Number(rec(o.spec).replicas ?? 1)}` },
    { header: 'UP-TO-DATE', cell: (o) => String(n(o, 'updatedReplicas')) },
    { header: 'AVAILABLE', cell: (o) => String(n(o, 'availableReplicas')) },
    age,
  ];
}

function serviceColumns(): Column[] {
  return [
    { header: 'TYPE', cell: (o) => String(rec(o.spec).type ?? 'ClusterIP') },
    { header: 'CLUSTER-IP', cell: (o) => String(rec(o.spec).clusterIP ?? '<none>') },
    { header: 'EXTERNAL-IP', cell: () => '<none>' },
    {
      header: 'PORT(S)',
      cell: (o) =>
        ((rec(o.spec).ports as { port?: number; protocol?: string }[] | undefined) ?? []).map((p) => `${p.port}/${p.protocol ?? 'TCP'}`).join(',') || '<none>',
    },
    age,
  ];
}

function namespaceColumns(): Column[] {
  return [{ header: 'STATUS', cell: (o) => String(rec(o.status).phase ?? (o.metadata.deletionTimestamp ? 'Terminating' : 'Active')) }, age];
}

function eventColumns(): Column[] {
  return [
    { header: 'LAST SEEN', cell: (o) => ageOf(String(o.lastTimestamp ?? o.metadata.creationTimestamp ?? '')) },
    { header: 'TYPE', cell: (o) => String(o.type ?? '') },
    { header: 'REASON', cell: (o) => String(o.reason ?? '') },
    {
      header: 'OBJECT',
      cell: (o) => {
        const io = rec(o.involvedObject);
        return `${String(io.kind ?? '').toLowerCase()}/${String(io.name ?? '')}`;
      },
    },
    { header: 'MESSAGE', cell: (o) => String(o.message ?? '') },
  ];
}

/** A CRD printer column's cell: dates as ages, several values joined by commas, as kubectl. */
function printerCell(col: PrinterColumn, obj: KubeObject): string {
  let values: unknown[];
  try {
    values = evaluate(parsePath(col.jsonPath), obj);
  } catch {
    return '';
  }
  if (values.length === 0) return '';
  if (col.type === 'date') return ageOf(valueText(values[0]));
  return values.map(valueText).join(',');
}

function columnsFor(info: KindInfo): Column[] {
  if (info.group === '' && info.kind === 'Pod') return podColumns();
  if (info.group === APPS_GROUP && info.kind === 'Deployment') return deploymentColumns();
  if (info.group === '' && info.kind === 'Service') return serviceColumns();
  if (info.group === '' && info.kind === 'Namespace') return namespaceColumns();
  if (info.group === '' && info.kind === 'Event') return eventColumns();
  if (info.group === 'discovery.k8s.io' && info.kind === 'EndpointSlice') {
    return [
      { header: 'ADDRESSTYPE', cell: (o) => String((o as Record<string, unknown>).addressType ?? '') },
      { header: 'PORTS', cell: endpointSlicePorts },
      { header: 'ENDPOINTS', cell: endpointSliceAddresses },
      age,
    ];
  }
  if (info.group === 'networking.k8s.io' && info.kind === 'NetworkPolicy')
    return [{ header: 'POD-SELECTOR', cell: (o) => formatLabelSelector(rec(o.spec).podSelector as LabelSelectorSpec | undefined) }, age];
  const cols: Column[] = info.printerColumns.map((c) => ({
    header: c.name.toUpperCase(),
    cell: (o: KubeObject) => printerCell(c, o),
    wideOnly: (c.priority ?? 0) > 0,
  }));
  if (!info.printerColumns.some((c) => c.jsonPath === '.metadata.creationTimestamp')) cols.push(age);
  return cols;
}

/**
 * showKind: names as `kind.group/name`, as kubectl prints them when one `get` lists several
 * kinds (`get gateways,httproutes`).
 */
export function formatResourceTable(
  info: KindInfo,
  items: readonly KubeObject[],
  opts: { wide?: boolean; allNamespaces?: boolean; showKind?: boolean } = {},
): string {
  const cols = columnsFor(info).filter((c) => opts.wide || !c.wideOnly);
  const headers = [...(opts.allNamespaces && info.namespaced ? ['NAMESPACE'] : []), 'NAME', ...cols.map((c) => c.header)];
  const rows = items.map((o) => [
    ...(opts.allNamespaces && info.namespaced ? [o.metadata.namespace ?? ''] : []),
    opts.showKind ? `${info.group ? `${info.singular}.${info.group}` : info.singular}/${o.metadata.name}` : o.metadata.name,
    ...cols.map((c) => c.cell(o)),
  ]);
  return formatTable(headers, rows);
}
