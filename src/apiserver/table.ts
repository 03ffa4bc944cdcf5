// Server-side Table responses (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`): the columns
// kubectl prints. CRD kinds get NAME + their printer columns from KINDS; the core kinds get the
// columns Kubernetes' built-in printers give them.
import type { KindInfo, PrinterColumn } from '../api/kinds.js';
import { podStatusText } from '../api/pod-status.js';
import type { KubeObject } from '../api/object.js';
import { humanDuration } from '../api/duration.js';
import { evaluate, parsePath } from '../api/jsonpath.js';
import { acceptsMedia } from './discovery.js';
import { formatLabelSelector, type LabelSelectorSpec } from '../api/label-selector.js';
import { endpointSliceAddresses, endpointSlicePorts } from '../api/endpoint-slice-cells.js';

export interface TableColumnDefinition {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

export interface Table {
  kind: 'Table';
  apiVersion: 'meta.k8s.io/v1';
  metadata: { resourceVersion?: string };
  columnDefinitions: TableColumnDefinition[];
  rows: { cells: unknown[]; object: unknown }[];
}

type Cell = (o: KubeObject, now: number) => unknown;
interface Column {
  def: TableColumnDefinition;
  cell: Cell;
}

function rec(v: unknown): Record<string, unknown> {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}
function list(v: unknown): Record<string, unknown>[] {
  return Array.isArray(v) ? v.map(rec) : [];
}
function col(name: string, type: string, cell: Cell, priority = 0, description = '', format = ''): Column {
  return { def: { name, type, format, description, priority }, cell };
}
function age(ts: unknown, now: number): string {
  if (typeof ts !== 'string' || !ts) return '<unknown>';
  const t = Date.parse(ts);
  return Number.isNaN(t) ? '<unknown>' : humanDuration(now - t);
}

const NAME = col(
  'Name',
  'string',
  (o) => o.metadata.name,
  0,
  'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names',
  'name',
);
const AGE = col(
  'Age',
  'string',
  (o, now) => age(o.metadata.creationTimestamp, now),
  0,
  'CreationTimestamp is a timestamp representing the server time when this object was created.',
);

function selectorText(sel: unknown): string {
  const m = rec(sel);
  const pairs = Object.entries(rec(m.matchLabels ?? m))
    .filter(([, v]) => typeof v === 'string')
    .map(([k, v]) => `${k}=${String(v)}`);
  return pairs.length ? pairs.join(',') : '<none>';
}

const CORE: Record<string, Column[]> = {
  'discovery.k8s.io/EndpointSlice': [
    col('AddressType', 'string', (o) => o.addressType ?? '', 0, 'Type of address carried by this EndpointSlice'),
    col('Ports', 'string', (o) => endpointSlicePorts(o), 0, 'Ports served by this EndpointSlice'),
    col('Endpoints', 'string', (o) => endpointSliceAddresses(o), 0, 'Addresses of the endpoints in this slice'),
    AGE,
  ],
  'networking.k8s.io/NetworkPolicy': [
    col('Pod-Selector', 'string', (o) => formatLabelSelector(rec(o.spec).podSelector as LabelSelectorSpec | undefined), 0, 'The pods the policy selects.'),
    AGE,
  ],
  '/Namespace': [col('Status', 'string', (o) => rec(o.status).phase ?? 'Active', 0, 'The status of the namespace'), AGE],
  '/Pod': [
    col(
      'Ready',
      'string',
      (o) => `${list(rec(o.status).containerStatuses).filter((s) => s.ready === true).length}/${list(rec(o.spec).containers).length}`,
      0,
      'The aggregate readiness state of this pod for accepting traffic.',
    ),
    col('Status', 'string', (o) => podStatusText(o), 0, 'The aggregate status of the containers in this pod.'),
    col(
      'Restarts',
      'string',
      (o) => String(list(rec(o.status).containerStatuses).reduce((n, s) => n + Number(s.restartCount ?? 0), 0)),
      0,
      'The number of times the containers in this pod have been restarted.',
    ),
    AGE,
    col('IP', 'string', (o) => rec(o.status).podIP ?? '<none>', 1, 'The IP address assigned to the pod'),
    col('Node', 'string', (o) => rec(o.spec).nodeName ?? '<none>', 1, 'The name of the node assigned to the pod'),
  ],
  'apps/Deployment': [
    col('Ready', 'string', (o) => `${Number(rec(o.status).readyReplicas ?? 0)}/${Number(rec(o.spec).replicas ?? 1)}`, 0, 'Number of the pod with ready state'),
    col(
      'Up-to-date',
      'integer',
      (o) => Number(rec(o.status).updatedReplicas ?? 0),
      0,
      'Total number of non-terminated pods targeted by this deployment that have the desired template spec.',
    ),
    col(
      'Available',
      'integer',
      (o) => Number(rec(o.status).availableReplicas ?? 0),
      0,
      'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.',
    ),
    AGE,
    col(
      'Containers',
      'string',
      (o) =>
        list(rec(rec(rec(o.spec).template).spec).containers)
          .map((c) => c.name)
          .join(','),
      1,
      'Names of each container in the template.',
    ),
    col(
      'Images',
      'string',
      (o) =>
        list(rec(rec(rec(o.spec).template).spec).containers)
          .map((c) => c.image)
          .join(','),
      1,
      'Images referenced by each container in the template.',
    ),
    col('Selector', 'string', (o) => selectorText(rec(o.spec).selector), 1, 'Label selector for pods.'),
  ],
  '/Service': [
    col('Type', 'string', (o) => rec(o.spec).type ?? 'ClusterIP', 0, 'The type of the service.'),
    col('Cluster-IP', 'string', (o) => rec(o.spec).clusterIP ?? '<none>', 0, 'The cluster IP of the service.'),
    col(
      'External-IP',
      'string',
      (o) => {
        const ing = list(rec(rec(o.status).loadBalancer).ingress)
          .map((i) => i.ip ?? i.hostname)
          .filter(Boolean);
        return ing.length ? ing.join(',') : rec(o.spec).type === 'LoadBalancer' ? '<pending>' : '<none>';
      },
      0,
      'The external IP of the service.',
    ),
    col(
      'Port(s)',
      'string',
      (o) =>
        list(rec(o.spec).ports)
          .map((p) => `${String(p.port)}${p.nodePort ? `:${String(p.nodePort)}` : ''}/${String(p.protocol ?? 'TCP')}`)
          .join(',') || '<none>',
      0,
      'The ports of the service.',
    ),
    AGE,
    col('Selector', 'string', (o) => selectorText(rec(o.spec).selector), 1, 'The selector of the service.'),
  ],
  '/Secret': [
    col('Type', 'string', (o) => o.type ?? 'Opaque', 0, 'The type of the secret.'),
    col('Data', 'integer', (o) => Object.keys(rec(o.data)).length, 0, 'Number of data entries.'),
    AGE,
  ],
  '/ConfigMap': [col('Data', 'integer', (o) => Object.keys(rec(o.data)).length + Object.keys(rec(o.binaryData)).length, 0, 'Number of data entries.'), AGE],
  '/ServiceAccount': [col('Secrets', 'integer', (o) => list(o.secrets).length, 0, 'Number of secrets.'), AGE],
  '/Event': [
    col('Last Seen', 'string', (o, now) => age(o.lastTimestamp ?? o.eventTime ?? o.metadata.creationTimestamp, now), 0, 'Time when the event was last seen.'),
    col('Type', 'string', (o) => o.type ?? '', 0, 'Type of this event.'),
    col('Reason', 'string', (o) => o.reason ?? '', 0, 'Short, machine understandable string that describes the reason for the event.'),
    col(
      'Object',
      'string',
      (o) => {
        const io = rec(o.involvedObject);
        return `${String(io.kind ?? '').toLowerCase()}/${String(io.name ?? '')}`;
      },
      0,
      'The object this event is about.',
    ),
    col('Message', 'string', (o) => o.message ?? '', 0, 'A human-readable description of the status of this operation.'),
  ],
};

/** A CRD printer column cell as the API server makes it: the first JSONPath result; lists and maps as JSON. */
function printerCell(c: PrinterColumn): Cell {
  let steps: ReturnType<typeof parsePath> | undefined;
  try {
    steps = parsePath(c.jsonPath);
  } catch {
    steps = undefined;
  }
  return (o, now) => {
    if (!steps) return null;
    let values: unknown[];
    try {
      values = evaluate(steps, o);
    } catch {
      return null;
    }
    if (values.length === 0 || values[0] === undefined || values[0] === null) return null;
    const v = values[0];
    if (c.type === 'date') return age(v, now);
    if (typeof v === 'object') return JSON.stringify(v);
    if (c.type === 'integer' || c.type === 'number') return typeof v === 'number' ? v : Number(v);
    if (c.type === 'boolean') return typeof v === 'boolean' ? v : v === 'true';
    return String(v);
  };
}

function columnsFor(info: KindInfo): Column[] {
  const core = CORE[`${info.group}/${info.kind}`];
  if (core) return [NAME, ...core];
  const cols = info.printerColumns.map((c) => col(c.name, c.type === 'date' ? 'date' : c.type, printerCell(c), c.priority ?? 0, c.description ?? ''));
  if (!info.printerColumns.some((c) => c.jsonPath === '.metadata.creationTimestamp')) cols.push(AGE);
  return [NAME, ...cols];
}

function partialMetadata(o: KubeObject): unknown {
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata };
}

/** A Table of the objects; includeObject 'Object' embeds them whole, 'None' not at all, else their metadata. */
export function toTable(info: KindInfo, items: readonly KubeObject[], resourceVersion: string | undefined, includeObject?: string, withColumns = true): Table {
  const cols = columnsFor(info);
  const now = Date.now();
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: resourceVersion ? { resourceVersion } : {},
    columnDefinitions: withColumns ? cols.map((c) => c.def) : [],
    rows: items.map((o) => ({
      cells: cols.map((c) => c.cell(o, now) ?? null),
      object: includeObject === 'Object' ? o : includeObject === 'None' ? null : partialMetadata(o),
    })),
  };
}

export function wantsTable(accept: string | undefined): boolean {
  return acceptsMedia(accept, { as: 'Table', g: 'meta.k8s.io', v: 'v1' });
}

export const TABLE_CONTENT_TYPE = 'application/json;as=Table;v=v1;g=meta.k8s.io';
