// NetworkPolicy → nftables, with Kubernetes' semantics: a pod selected by no policy (for a
// direction) allows everything; a selected pod allows only the union of what the policies that
// select it allow; replies to allowed connections pass (conntrack). Pure: policies, pods and
// namespaces in, one ruleset per pod network namespace (and the node's chains) out.
import type { KubeObject } from '../../../api/object.js';
import {
  parseCidr,
  policyTypes,
  selectorMatches,
  type NetworkPolicyPeer,
  type NetworkPolicyPort,
  type NetworkPolicySpec,
} from '../../../api/kinds/network-policy.js';

/** The table outpost owns in every pod's network namespace. */
export const POD_TABLE = 'outpost_netpol';

export interface PolicyPort {
  name?: string;
  port: number;
  protocol?: string;
}

export interface PolicyPod {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  ip: string;
  /** The containers' ports (named ports resolve against them). */
  ports: PolicyPort[];
  /** Its network namespace (absent: a peer only, e.g. a service the node hosts). */
  netns?: string;
  /** Served by the node (cluster DNS, the control plane): "any port" means its declared ports only. */
  onNode?: boolean;
}

export interface PolicyNamespace {
  name: string;
  labels: Record<string, string>;
}

export interface CompileInput {
  policies: readonly KubeObject[];
  pods: readonly PolicyPod[];
  namespaces: readonly PolicyNamespace[];
  /** The node's address on the bridge: its own traffic to pods (probes) passes, as kubelet's does. */
  nodeAddress: string;
  /** Cluster IPs: DNATed by the node, so traffic to them is policed there, on the real destination. */
  serviceSubnet: string;
}

type Proto = 'tcp' | 'udp' | 'sctp';
type Peer = { kind: 'any' } | { kind: 'ips'; ips: string[] } | { kind: 'cidr'; family: 4 | 6; cidr: string; except: string[] };
interface PortMatch {
  proto?: Proto;
  lo?: number;
  hi?: number;
}
interface Clause {
  peer: Peer;
  port: PortMatch;
  policy: string;
}

export interface PodRules {
  pod: PolicyPod;
  /** Policies (ns/name) that isolate the pod for ingress / egress. */
  ingressPolicies: string[];
  egressPolicies: string[];
  ingress?: Clause[];
  egress?: Clause[];
  /** The whole `nft -f` input for the pod's namespace: one transaction. */
  ruleset: string;
}

export interface CompileResult {
  pods: Map<string, PodRules>;
  /** Rules for the node's forward hook: connections to cluster IPs, checked after DNAT. */
  nodeEgress: string[];
  nodeIngress: string[];
  /** Policies by ns/name → pods (ns/name) they select. */
  selected: Map<string, string[]>;
}

const podId = (p: { namespace: string; name: string }): string => `${p.namespace}/${p.name}`;

function nsLabels(ns: string, namespaces: readonly PolicyNamespace[]): Record<string, string> {
  // Kubernetes sets kubernetes.io/metadata.name on every namespace; selectors rely on it.
  return { ...(namespaces.find((n) => n.name === ns)?.labels ?? {}), 'kubernetes.io/metadata.name': ns };
}

/** The pods a selector peer picks, as Kubernetes reads podSelector / namespaceSelector / both. */
function peerPods(peer: NetworkPolicyPeer, policyNs: string, input: CompileInput): PolicyPod[] {
  return input.pods.filter((p) => {
    if (peer.namespaceSelector) {
      if (!selectorMatches(peer.namespaceSelector, nsLabels(p.namespace, input.namespaces))) return false;
    } else if (p.namespace !== policyNs) return false;
    return peer.podSelector ? selectorMatches(peer.podSelector, p.labels) : true;
  });
}

function protoOf(p: NetworkPolicyPort): Proto {
  return (p.protocol ?? 'TCP').toLowerCase() as Proto;
}

/** A rule's port entries resolved for a destination pod (named ports → its container ports); [] = none match. */
function portMatches(ports: readonly NetworkPolicyPort[] | undefined, dest: PolicyPod | undefined): PortMatch[] {
  if (!ports || ports.length === 0) {
    if (dest?.onNode) return dest.ports.map((p) => ({ proto: (p.protocol ?? 'TCP').toLowerCase() as Proto, lo: p.port }));
    return [{}];
  }
  const out: PortMatch[] = [];
  for (const p of ports) {
    const proto = protoOf(p);
    if (typeof p.port === 'string') {
      for (const c of dest?.ports ?? []) if (c.name === p.port && (c.protocol ?? 'TCP').toLowerCase() === proto) out.push({ proto, lo: c.port });
    } else if (typeof p.port === 'number') {
      const lo = p.port;
      const hi = p.endPort !== undefined && p.endPort > lo ? p.endPort : undefined;
      // A service the node hosts listens on its declared ports only: the rest of the node is not that pod.
      if (dest?.onNode && !dest.ports.some((c) => (c.protocol ?? 'TCP').toLowerCase() === proto && c.port >= lo && c.port <= (hi ?? lo))) continue;
      out.push({ proto, lo, ...(hi !== undefined ? { hi } : {}) });
    } else if (dest?.onNode) {
      for (const c of dest.ports) if ((c.protocol ?? 'TCP').toLowerCase() === proto) out.push({ proto, lo: c.port });
    } else out.push({ proto });
  }
  return out;
}

function ipv4Network(cidr: string): string {
  const c = parseCidr(cidr);
  if (!c || c.family !== 4) return cidr;
  const n = c.address.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  const mask = c.bits === 0 ? 0 : (0xffffffff << (32 - c.bits)) >>> 0;
  const net = (n & mask) >>> 0;
  return `${[24, 16, 8, 0].map((s) => (net >>> s) & 255).join('.')}/${c.bits}`;
}

function ipInCidr(ip: string, cidr: string): boolean {
  const c = parseCidr(cidr);
  if (!c || c.family !== 4 || ip.includes(':')) return false;
  const toInt = (a: string): number => a.split('.').reduce((x, o) => x * 256 + Number(o), 0);
  const mask = c.bits === 0 ? 0 : (0xffffffff << (32 - c.bits)) >>> 0;
  return (toInt(ip) & mask) >>> 0 === (toInt(c.address) & mask) >>> 0;
}

/**
 * The clauses one policy rule contributes for `self` (the selected pod). For ingress the ports
 * are self's; for egress they are the destination's, so named ports are resolved per destination.
 */
function ruleClauses(
  dir: 'ingress' | 'egress',
  peers: readonly NetworkPolicyPeer[] | undefined,
  ports: readonly NetworkPolicyPort[] | undefined,
  self: PolicyPod,
  policyNs: string,
  policy: string,
  input: CompileInput,
): Clause[] {
  const out: Clause[] = [];
  const named = (ports ?? []).some((p) => typeof p.port === 'string');
  const add = (peer: Peer, dest: PolicyPod | undefined): void => {
    for (const port of portMatches(ports, dir === 'ingress' ? self : dest)) out.push({ peer, port, policy });
  };
  // Per destination pod: named ports and node-hosted services (whose ports are their own).
  const perPod = (pods: PolicyPod[]): void => {
    for (const d of pods) add({ kind: 'ips', ips: [d.ip] }, d);
  };
  if (!peers || peers.length === 0) {
    if (dir === 'egress' && named) perPod([...input.pods]);
    else add({ kind: 'any' }, undefined);
    return out;
  }
  for (const peer of peers) {
    if (peer.ipBlock) {
      const c = parseCidr(peer.ipBlock.cidr);
      if (!c) continue;
      const except = (peer.ipBlock.except ?? []).map(ipv4Network);
      if (dir === 'egress' && named) {
        perPod(input.pods.filter((p) => ipInCidr(p.ip, peer.ipBlock!.cidr) && !except.some((e) => ipInCidr(p.ip, e))));
      } else add({ kind: 'cidr', family: c.family, cidr: ipv4Network(peer.ipBlock.cidr), except }, undefined);
      continue;
    }
    const pods = peerPods(peer, policyNs, input).filter((p) => p.ip !== '');
    if (dir === 'ingress') {
      const ips = [...new Set(pods.filter((p) => !p.onNode).map((p) => p.ip))].sort();
      if (ips.length) add({ kind: 'ips', ips }, undefined);
    } else if (named) perPod(pods);
    else {
      const ips = [...new Set(pods.filter((p) => !p.onNode).map((p) => p.ip))].sort();
      if (ips.length) add({ kind: 'ips', ips }, undefined);
      perPod(pods.filter((p) => p.onNode));
    }
  }
  return out;
}

function peerText(peer: Peer, field: 'saddr' | 'daddr'): string {
  if (peer.kind === 'any') return '';
  if (peer.kind === 'ips') {
    const fam = peer.ips.some((i) => i.includes(':')) ? 'ip6' : 'ip';
    return peer.ips.length === 1 ? `${fam} ${field} ${peer.ips[0]} ` : `${fam} ${field} { ${peer.ips.join(', ')} } `;
  }
  const fam = peer.family === 6 ? 'ip6' : 'ip';
  const except = peer.except.filter((e) => (e.includes(':') ? 6 : 4) === peer.family);
  return `${fam} ${field} ${peer.cidr} ${except.length ? `${fam} ${field} != { ${except.join(', ')} } ` : ''}`;
}

function portText(p: PortMatch): string {
  if (!p.proto) return '';
  if (p.lo === undefined) return `meta l4proto ${p.proto} `;
  return `${p.proto} dport ${p.hi !== undefined ? `${p.lo}-${p.hi}` : p.lo} `;
}

function clauseText(c: Clause, field: 'saddr' | 'daddr'): string {
  return `${peerText(c.peer, field)}${portText(c.port)}accept comment ${JSON.stringify(c.policy)}`;
}

// TCP gets a reset, the rest an ICMP "administratively prohibited": a denied connection fails at once.
const REJECT = ['meta l4proto tcp reject with tcp reset', 'reject with icmpx type admin-prohibited'];

function uniq(lines: string[]): string[] {
  return [...new Set(lines)];
}

/** One pod's table: created, emptied and refilled in one transaction (`nft -f`), never seen half-written. */
export function podRuleset(r: Omit<PodRules, 'ruleset'>, input: Pick<CompileInput, 'nodeAddress' | 'serviceSubnet'>): string {
  const lines = [
    `# ${podId(r.pod)} ${r.pod.ip}`,
    // Create-then-delete makes the delete safe on the first run; the whole file is one transaction.
    `table inet ${POD_TABLE}`,
    `delete table inet ${POD_TABLE}`,
    `table inet ${POD_TABLE} {`,
    '  chain ingress {',
    '    type filter hook input priority filter; policy accept;',
  ];
  if (r.ingress) {
    lines.push(
      `    # isolated for ingress by ${r.ingressPolicies.join(', ')}`,
      '    ct state established,related accept',
      '    iifname "lo" accept',
      // The node: kubelet-style probes, and connections to cluster IPs (masqueraded, policed at the node after DNAT).
      `    ip saddr ${input.nodeAddress} accept`,
      ...uniq(r.ingress.map((c) => `    ${clauseText(c, 'saddr')}`)),
      ...REJECT.map((l) => `    ${l}`),
    );
  } else lines.push('    # not isolated for ingress: no policy selects this pod for Ingress');
  lines.push('  }', '  chain egress {', '    type filter hook output priority filter; policy accept;');
  if (r.egress) {
    lines.push(
      `    # isolated for egress by ${r.egressPolicies.join(', ')}`,
      '    ct state established,related accept',
      // What stays in the pod: its loopback, its own address, the VIPs and cluster IPs its sidecar
      // listens on, and what the capture table redirects to the sidecar (DNS to 127.0.0.1:15053,
      // TCP to 15001). Asked of the destination as it is now, not of `oifname`: the output hook
      // keeps the interface routed before the capture table's NAT (priority -100), so a query to the
      // node's DNS redirected to the sidecar still says eth0 here. The sidecar's own connections
      // onwards leave eth0 and are checked below.
      '    fib daddr type local accept',
      `    ip daddr ${input.serviceSubnet} accept comment "cluster IPs: checked at the node after DNAT"`,
      ...uniq(r.egress.map((c) => `    ${clauseText(c, 'daddr')}`)),
      ...REJECT.map((l) => `    ${l}`),
    );
  } else lines.push('    # not isolated for egress: no policy selects this pod for Egress');
  lines.push('  }', '}');
  return lines.join('\n') + '\n';
}

export function compileNetworkPolicies(input: CompileInput): CompileResult {
  const pods = new Map<string, PodRules>();
  const selected = new Map<string, string[]>();
  const policies = [...input.policies].sort((a, b) =>
    podId({ namespace: a.metadata.namespace ?? 'default', name: a.metadata.name }).localeCompare(
      podId({ namespace: b.metadata.namespace ?? 'default', name: b.metadata.name }),
    ),
  );
  for (const pol of policies) selected.set(podId({ namespace: pol.metadata.namespace ?? 'default', name: pol.metadata.name }), []);
  const nodeEgress: string[] = [];
  const nodeIngress: string[] = [];
  for (const pod of [...input.pods].filter((p) => p.netns !== undefined).sort((a, b) => podId(a).localeCompare(podId(b)))) {
    const r: Omit<PodRules, 'ruleset'> = { pod, ingressPolicies: [], egressPolicies: [] };
    for (const pol of policies) {
      const ns = pol.metadata.namespace ?? 'default';
      const spec = (pol.spec ?? {}) as NetworkPolicySpec;
      if (ns !== pod.namespace || !selectorMatches(spec.podSelector, pod.labels)) continue;
      const id = podId({ namespace: ns, name: pol.metadata.name });
      selected.get(id)!.push(podId(pod));
      const types = policyTypes(spec);
      if (types.ingress) {
        r.ingressPolicies.push(id);
        r.ingress ??= [];
        for (const rule of spec.ingress ?? []) r.ingress.push(...ruleClauses('ingress', rule.from, rule.ports, pod, ns, id, input));
      }
      if (types.egress) {
        r.egressPolicies.push(id);
        r.egress ??= [];
        for (const rule of spec.egress ?? []) r.egress.push(...ruleClauses('egress', rule.to, rule.ports, pod, ns, id, input));
      }
    }
    const fam = pod.ip.includes(':') ? 'ip6' : 'ip';
    // At the node, only connections it DNATed to a cluster IP's endpoint: the rest is checked in the pods.
    // Dropped there, not rejected: a reset from the node would carry the endpoint's address, which
    // the client (connected to the cluster IP) ignores; it times out either way.
    if (r.egress) {
      nodeEgress.push(
        ...uniq(r.egress.map((c) => `ct status dnat ${fam} saddr ${pod.ip} ${clauseText(c, 'daddr')}`)),
        `ct status dnat ${fam} saddr ${pod.ip} drop`,
      );
    }
    if (r.ingress) {
      nodeIngress.push(
        ...uniq(r.ingress.map((c) => `ct status dnat ${fam} daddr ${pod.ip} ${clauseText(c, 'saddr')}`)),
        `ct status dnat ${fam} daddr ${pod.ip} drop`,
      );
    }
    pods.set(podId(pod), { ...r, ruleset: podRuleset(r, input) });
  }
  return { pods, nodeEgress, nodeIngress, selected };
}

/** The node's two forward chains (egress of the source, then ingress of the destination), refilled in one transaction. */
export function nodeRuleset(table: string, result: Pick<CompileResult, 'nodeEgress' | 'nodeIngress'>): string {
  const lines = [
    `add chain inet ${table} netpol_egress { type filter hook forward priority filter + 1; policy accept; }`,
    `add chain inet ${table} netpol_ingress { type filter hook forward priority filter + 2; policy accept; }`,
    `flush chain inet ${table} netpol_egress`,
    `flush chain inet ${table} netpol_ingress`,
  ];
  for (const [chain, rules] of [
    ['netpol_egress', result.nodeEgress],
    ['netpol_ingress', result.nodeIngress],
  ] as const) {
    if (rules.length === 0) continue;
    lines.push(`add rule inet ${table} ${chain} ct state established,related accept`);
    for (const r of rules) lines.push(`add rule inet ${table} ${chain} ${r}`);
  }
  return lines.join('\n') + '\n';
}
