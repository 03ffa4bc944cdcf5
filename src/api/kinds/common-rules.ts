// Rules several kinds share: ports, exportTo, label selectors, hosts lists.
import type { IssueList } from '../field-issue.js';
import type { PathSegment } from '../field-path.js';
import { checkDns1123Label, checkIstioHost, checkLabelValue, checkQualifiedName } from '../names.js';
import { arr, rec } from './kind-module.js';

/** A port number: an integer 1–65535. Non-numbers are left to the type check. */
export function checkPortNumber(v: unknown, path: PathSegment[], out: IssueList): void {
  if (typeof v !== 'number') return;
  if (!Number.isInteger(v) || v < 1 || v > 65535) out.invalid(path, v, 'must be between 1 and 65535, inclusive');
}

/** Istio's protocol names (case-insensitive), as its port protocol parser knows them. */
export const ISTIO_PROTOCOLS = ['HTTP', 'HTTPS', 'GRPC', 'GRPC-WEB', 'HTTP2', 'MONGO', 'TCP', 'TLS', 'UDP', 'REDIS', 'MYSQL', 'HTTP_PROXY'];

export function checkIstioProtocol(v: unknown, path: PathSegment[], out: IssueList): void {
  if (typeof v !== 'string') return;
  if (!ISTIO_PROTOCOLS.includes(v.toUpperCase())) out.unsupported(path, v, ['HTTP', 'HTTPS', 'GRPC', 'GRPC-WEB', 'HTTP2', 'MONGO', 'TCP', 'TLS']);
}

/** Names and numbers must each be unique in a port list. */
export function checkUniquePorts(ports: unknown[], path: PathSegment[], out: IssueList, numberField = 'number'): void {
  const names = new Map<string, number>();
  const numbers = new Map<number, number>();
  ports.forEach((p, i) => {
    const r = rec(p);
    const name = r['name'];
    const n = r[numberField];
    if (typeof name === 'string') {
      if (names.has(name)) out.duplicate([...path, i, 'name'], name, `port name must be unique (also used by ${pathText(path)}[${names.get(name)}])`);
      else names.set(name, i);
    }
    if (typeof n === 'number') {
      if (numbers.has(n)) out.duplicate([...path, i, numberField], n, `port number cannot be duplicated (also used by ${pathText(path)}[${numbers.get(n)}])`);
      else numbers.set(n, i);
    }
  });
}

function pathText(path: PathSegment[]): string {
  return path
    .map((s) => (typeof s === 'number' ? `[${s}]` : s))
    .join('.')
    .replace(/\.\[/g, '[');
}

/** exportTo: `.`, `*`, `~` or namespace names; no duplicates; `*` and `~` stand alone. */
export function checkExportTo(v: unknown, path: PathSegment[], out: IssueList): void {
  const list = arr(v);
  const seen = new Set<string>();
  list.forEach((e, i) => {
    if (typeof e !== 'string') return;
    if (seen.has(e)) out.duplicate([...path, i], e);
    seen.add(e);
    if (e === '.' || e === '*' || e === '~') return;
    const err = checkDns1123Label(e);
    if (err) out.invalid([...path, i], e, `must be ".", "*", "~" or a namespace name: ${err}`);
  });
  if (list.length > 1 && (seen.has('*') || seen.has('~'))) out.invalid(path, list.join(','), '"*" and "~" cannot be combined with other values');
}

/** A map of labels (metadata.labels, selectors). */
export function checkLabels(v: unknown, path: PathSegment[], out: IssueList): void {
  for (const [k, val] of Object.entries(rec(v))) {
    const kerr = checkQualifiedName(k);
    if (kerr) out.invalid([...path, k], k, kerr);
    if (typeof val === 'string') {
      const verr = checkLabelValue(val);
      if (verr) out.invalid([...path, k], val, verr);
    }
  }
}

/** A list of Istio hosts (ServiceEntry, VirtualService, DestinationRule host). */
export function checkHostList(v: unknown, path: PathSegment[], out: IssueList, opts: Parameters<typeof checkIstioHost>[1] = {}): void {
  arr(v).forEach((h, i) => {
    if (typeof h !== 'string') return;
    const err = checkIstioHost(h, opts);
    if (err) out.invalid([...path, i], h, err);
  });
}

/** Field must be present and a non-empty list. */
export function requireList(v: unknown, path: PathSegment[], out: IssueList, what = 'at least one item'): boolean {
  if (v === undefined || v === null) {
    out.required(path);
    return false;
  }
  if (Array.isArray(v) && v.length === 0) {
    out.required(path, `must have ${what}`);
    return false;
  }
  return Array.isArray(v);
}
