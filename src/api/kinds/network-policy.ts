// networking.k8s.io/v1 NetworkPolicy: which traffic pods selected by podSelector may receive
// (Ingress) and send (Egress); validated as the Kubernetes API server validates it.
import { isIP } from 'node:net';
import type { KubeObject } from '../object.js';
import type { IssueList } from '../field-issue.js';
import type { PathSegment } from '../field-path.js';
import { FIELD_TREES } from '../schema/field-trees.gen.js';
import { checkDns1123Subdomain } from '../names.js';
import { checkLabels } from './common-rules.js';
import { arr, rec, str, type KindModule } from './kind-module.js';
import type { LabelSelectorSpec } from '../label-selector.js';

export { formatLabelSelector, selectorMatches, type LabelSelectorRequirement, type LabelSelectorSpec } from '../label-selector.js';

export type NetworkPolicyProtocol = 'TCP' | 'UDP' | 'SCTP';

export interface NetworkPolicyPort {
  readonly protocol?: NetworkPolicyProtocol;
  /** A number or the name of a container port. */
  readonly port?: number | string;
  readonly endPort?: number;
}

export interface NetworkPolicyPeer {
  readonly podSelector?: LabelSelectorSpec;
  readonly namespaceSelector?: LabelSelectorSpec;
  readonly ipBlock?: { readonly cidr: string; readonly except?: readonly string[] };
}

export interface NetworkPolicySpec {
  readonly podSelector?: LabelSelectorSpec;
  readonly policyTypes?: readonly ('Ingress' | 'Egress')[];
  readonly ingress?: readonly { readonly from?: readonly NetworkPolicyPeer[]; readonly ports?: readonly NetworkPolicyPort[] }[];
  readonly egress?: readonly { readonly to?: readonly NetworkPolicyPeer[]; readonly ports?: readonly NetworkPolicyPort[] }[];
}

export type NetworkPolicy = KubeObject<NetworkPolicySpec>;

const OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'];
const PROTOCOLS = ['TCP', 'UDP', 'SCTP'];

/** Kubernetes' defaulting: no policyTypes means Ingress, plus Egress when there are egress rules. */
export function policyTypes(spec: NetworkPolicySpec | undefined): { ingress: boolean; egress: boolean } {
  const types = spec?.policyTypes;
  if (types && types.length > 0) return { ingress: types.includes('Ingress'), egress: types.includes('Egress') };
  return { ingress: true, egress: (spec?.egress?.length ?? 0) > 0 };
}

/** A CIDR as Go's ParseCIDR takes it: address/prefix, both families. */
export function parseCidr(v: string): { family: 4 | 6; bits: number; address: string } | undefined {
  const slash = v.indexOf('/');
  if (slash < 0) return undefined;
  const address = v.slice(0, slash);
  const fam = isIP(address);
  const bits = v.slice(slash + 1);
  if (fam === 0 || !/^\d{1,3}$/.test(bits) || Number(bits) > (fam === 6 ? 128 : 32)) return undefined;
  return { family: fam as 4 | 6, bits: Number(bits), address };
}

function ipv4ToInt(a: string): number {
  return a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

/** For IPv4: does `outer` contain `inner`'s network address (as Go's IPNet.Contains on the except's IP)? */
function cidrContains(outer: { family: number; bits: number; address: string }, inner: { family: number; address: string }): boolean {
  if (outer.family !== inner.family) return false;
  if (outer.family === 6) return true; // IPv6 containment is left to the kernel; pods here are IPv4.
  const mask = outer.bits === 0 ? 0 : (0xffffffff << (32 - outer.bits)) >>> 0;
  return (ipv4ToInt(outer.address) & mask) >>> 0 === (ipv4ToInt(inner.address) & mask) >>> 0;
}

function checkSelector(v: unknown, path: PathSegment[], out: IssueList): void {
  const sel = rec(v);
  checkLabels(sel['matchLabels'], [...path, 'matchLabels'], out);
  arr(sel['matchExpressions']).forEach((x, i) => {
    const e = rec(x);
    const p = [...path, 'matchExpressions', i];
    const op = str(e['operator']);
    if (e['key'] === undefined) out.required([...p, 'key']);
    else checkLabels({ [String(e['key'])]: '' }, [...p, 'key'], out);
    if (op === undefined) {
      out.required([...p, 'operator']);
      return;
    }
    if (!OPERATORS.includes(op)) {
      out.unsupported([...p, 'operator'], op, OPERATORS);
      return;
    }
    const values = arr(e['values']);
    if ((op === 'In' || op === 'NotIn') && values.length === 0) out.required([...p, 'values'], "must be specified when `operator` is 'In' or 'NotIn'");
    if ((op === 'Exists' || op === 'DoesNotExist') && values.length > 0)
      out.forbidden([...p, 'values'], "may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
  });
}

function checkPort(v: unknown, path: PathSegment[], out: IssueList): void {
  const p = rec(v);
  const protocol = p['protocol'];
  if (typeof protocol === 'string' && !PROTOCOLS.includes(protocol)) out.unsupported([...path, 'protocol'], protocol, PROTOCOLS);
  const port = p['port'];
  const end = p['endPort'];
  if (typeof port === 'number') {
    if (!Number.isInteger(port) || port < 1 || port > 65535) out.invalid([...path, 'port'], port, 'must be between 1 and 65535, inclusive');
    if (typeof end === 'number') {
      if (end < port) out.invalid([...path, 'endPort'], port, 'must be greater than or equal to `port`');
      if (!Number.isInteger(end) || end < 1 || end > 65535) out.invalid([...path, 'endPort'], end, 'must be between 1 and 65535, inclusive');
    }
  } else if (typeof port === 'string') {
    if (end !== undefined) out.invalid([...path, 'endPort'], end, 'may not be specified when `port` is non-numeric');
    if (port.length > 15 || !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(port) || !/[a-z]/.test(port) || port.includes('--')) {
      out.invalid(
        [...path, 'port'],
        port,
        "must be a port number or an IANA service name (at most 15 lowercase alphanumeric characters or '-', with at least one letter, no '--')",
      );
    }
  } else if (end !== undefined) {
    out.invalid([...path, 'endPort'], end, 'may not be specified when `port` is not specified');
  }
}

function checkPeer(v: unknown, path: PathSegment[], out: IssueList): void {
  const peer = rec(v);
  let n = 0;
  if (peer['podSelector'] !== undefined && peer['podSelector'] !== null) {
    n++;
    checkSelector(peer['podSelector'], [...path, 'podSelector'], out);
  }
  if (peer['namespaceSelector'] !== undefined && peer['namespaceSelector'] !== null) {
    n++;
    checkSelector(peer['namespaceSelector'], [...path, 'namespaceSelector'], out);
  }
  const ipb = peer['ipBlock'];
  if (ipb !== undefined && ipb !== null) {
    n++;
    const b = rec(ipb);
    const cidr = str(b['cidr']);
    if (!cidr) out.required([...path, 'ipBlock', 'cidr']);
    else {
      const outer = parseCidr(cidr);
      if (!outer) out.invalid([...path, 'ipBlock', 'cidr'], cidr, 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)');
      else {
        arr(b['except']).forEach((x, i) => {
          if (typeof x !== 'string') return;
          const inner = parseCidr(x);
          if (!inner) out.invalid([...path, 'ipBlock', 'except', i], x, 'must be a valid CIDR');
          else if (!cidrContains(outer, inner) || outer.bits >= inner.bits)
            out.invalid([...path, 'ipBlock', 'except', i], x, 'must be a strict subset of `cidr`');
        });
      }
    }
  }
  if (n === 0) out.required(path, 'must specify a peer');
  else if (n > 1 && ipb !== undefined && ipb !== null) out.forbidden(path, 'may not specify both ipBlock and another peer');
}

function validate(obj: KubeObject, out: IssueList): void {
  const name = obj.metadata?.name;
  if (name) {
    const err = checkDns1123Subdomain(name);
    if (err) out.invalid(['metadata', 'name'], name, err);
  }
  const spec = rec(obj.spec);
  checkSelector(spec['podSelector'], ['spec', 'podSelector'], out);
  arr(spec['ingress']).forEach((r, i) => {
    const rule = rec(r);
    arr(rule['ports']).forEach((p, j) => checkPort(p, ['spec', 'ingress', i, 'ports', j], out));
    arr(rule['from']).forEach((p, j) => checkPeer(p, ['spec', 'ingress', i, 'from', j], out));
  });
  arr(spec['egress']).forEach((r, i) => {
    const rule = rec(r);
    arr(rule['ports']).forEach((p, j) => checkPort(p, ['spec', 'egress', i, 'ports', j], out));
    arr(rule['to']).forEach((p, j) => checkPeer(p, ['spec', 'egress', i, 'to', j], out));
  });
  const types = arr(spec['policyTypes']);
  if (types.length > 2) out.invalid(['spec', 'policyTypes'], types.join(','), 'may not specify more than two policyTypes');
  else {
    const seen = new Set<unknown>();
    types.forEach((t, i) => {
      if (typeof t === 'string' && t !== 'Ingress' && t !== 'Egress') out.unsupported(['spec', 'policyTypes', i], t, ['Ingress', 'Egress']);
      else if (seen.has(t)) out.duplicate(['spec', 'policyTypes', i], t);
      seen.add(t);
    });
  }
}

/** What the API server writes on admission: policyTypes, and TCP on every port without a protocol. */
function schemaDefaults(obj: KubeObject): KubeObject {
  if (obj.spec !== undefined && (obj.spec === null || typeof obj.spec !== 'object' || Array.isArray(obj.spec))) return obj;
  const spec = (obj.spec ?? {}) as Record<string, unknown>;
  const out: Record<string, unknown> = { ...spec, podSelector: spec['podSelector'] ?? {} };
  const withTcp = (rules: unknown): unknown =>
    Array.isArray(rules)
      ? rules.map((r) => {
          const rule = rec(r);
          if (!Array.isArray(rule['ports'])) return r;
          return { ...rule, ports: (rule['ports'] as unknown[]).map((p) => (p && typeof p === 'object' ? { protocol: 'TCP', ...(p as object) } : p)) };
        })
      : rules;
  if (spec['ingress'] !== undefined) out['ingress'] = withTcp(spec['ingress']);
  if (spec['egress'] !== undefined) out['egress'] = withTcp(spec['egress']);
  if (!Array.isArray(spec['policyTypes']) || spec['policyTypes'].length === 0) {
    out['policyTypes'] = Array.isArray(spec['egress']) && spec['egress'].length > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
  }
  return { ...obj, spec: out };
}

export const networkPolicyKind: KindModule = {
  group: 'networking.k8s.io',
  kind: 'NetworkPolicy',
  fieldTree: FIELD_TREES['networking.k8s.io/NetworkPolicy'],
  validate,
  schemaDefaults,
};
