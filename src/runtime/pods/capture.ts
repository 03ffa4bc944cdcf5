// Traffic capture in an injected pod's network namespace, as Istio's init container (istio-iptables
// in nftables mode) sets it up, in table `inet outpost_capture`:
//
// - output: the proxy's own sockets (group 1337, see PROXY_GID) and traffic that stays in the pod
//   (oif lo) pass; excluded ports and ranges pass; DNS (UDP and TCP 53, to any resolver address) goes
//   to the sidecar's DNS proxy (15053) and no other UDP is touched; TCP to a ServiceEntry's explicit
//   address and TCP/TLS port goes to that address's own listener (a map keyed by address and port);
//   TCP to the ports of HTTP outbound listeners goes to virtualOutbound (15001, routed by Host); under
//   REGISTRY_ONLY every other TCP connection goes there too, where an unknown Host gets 502 from
//   BlackHoleCluster and anything else is closed. Under ALLOW_ANY the rest is not captured: the
//   kernel connecting to the dialled address is what Istio's PassthroughCluster does.
// - IPv6, in a pod that has an IPv6 address: the same, with the sidecar on ::1 (Istio's ip6tables
//   REDIRECT) and the IPv6 VIPs in 2001:2::/48. A pod without one gets no IPv6 rule.
// - prerouting: TCP arriving on eth0 for an app port goes to that port's inbound listener.
//
// Keeping the original destination (Node has no SO_ORIGINAL_DST): the pod gets local routes for
// 240.240.0.0/16 and 2001:2::/48 (auto-allocated ServiceEntry VIPs) and the service range (cluster IPs), and the
// sidecar listens on the VIPs and cluster IPs themselves, so the address a connection arrives on
// names the service (Istio's `<vip>_<port>` listeners). A map moves each destination port to a
// listener port of its own on the same address (80 → 15200 …): the app's own wildcard listener on
// port 80 would clash with the sidecar's VIP:80. Inbound, a map sends each app port
// to its own listener port. Measured alternative: reading the original destination from
// /proc/net/nf_conntrack walks the whole conntrack hash (262144 buckets here, even when empty):
// 1.6 ms per accepted connection in-process, against no per-connection cost for local routes and
// nft maps (the kernel's routing and NAT lookups happen anyway).
import net from 'node:net';
import type { CaptureConfig, MeshSettings } from '../../proxyconfig/types.js';
import { AUTO_ALLOCATE_RANGE, AUTO_ALLOCATE_RANGE_V6, DNS_PROXY_PORT, PROXY_GID, VIRTUAL_OUTBOUND_PORT } from '../../proxyconfig/naming.js';
import { sh } from './node-network.js';

export const CAPTURE_TABLE = 'outpost_capture';

/** Istio's annotations on the pod template that change capture. */
export const ANNOTATIONS = {
  excludeOutboundPorts: 'traffic.sidecar.istio.io/excludeOutboundPorts',
  excludeOutboundIPRanges: 'traffic.sidecar.istio.io/excludeOutboundIPRanges',
  includeOutboundIPRanges: 'traffic.sidecar.istio.io/includeOutboundIPRanges',
  excludeInboundPorts: 'traffic.sidecar.istio.io/excludeInboundPorts',
} as const;

export interface CaptureAnnotations {
  excludeOutboundPorts: number[];
  excludeOutboundIPRanges: string[];
  /** undefined: `*` (everything, Istio's default). */
  includeOutboundIPRanges?: string[];
  excludeInboundPorts: number[];
}

function ports(value: string, key: string): number[] {
  return value
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)
    .map((x) => {
      const n = Number(x);
      if (!/^\d+$/.test(x) || n < 1 || n > 65535) throw new Error(`annotation ${key}: ${JSON.stringify(x)} is not a port (1-65535)`);
      return n;
    });
}

function cidrs(value: string, key: string): string[] {
  return value
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)
    .map((x) => {
      const [ip = '', len, more] = x.split('/');
      const family = net.isIP(ip);
      const max = family === 6 ? 128 : 32;
      if (family === 0 || more !== undefined || (len !== undefined && (!/^\d{1,3}$/.test(len) || Number(len) > max))) {
        throw new Error(`annotation ${key}: ${JSON.stringify(x)} is not an IPv4 or IPv6 address or CIDR`);
      }
      return x;
    });
}

const isV6 = (cidr: string): boolean => cidr.includes(':');

/** Reads Istio's capture annotations; a bad value throws an error naming the annotation and the value. */
export function parseCaptureAnnotations(annotations: Readonly<Record<string, string>>): CaptureAnnotations {
  const get = (k: string): string | undefined => annotations[k];
  const out: CaptureAnnotations = { excludeOutboundPorts: [], excludeOutboundIPRanges: [], excludeInboundPorts: [] };
  const eop = get(ANNOTATIONS.excludeOutboundPorts);
  if (eop !== undefined) out.excludeOutboundPorts = ports(eop, ANNOTATIONS.excludeOutboundPorts);
  const eip = get(ANNOTATIONS.excludeOutboundIPRanges);
  if (eip !== undefined) {
    if (eip.trim() === '*')
      throw new Error(`annotation ${ANNOTATIONS.excludeOutboundIPRanges}: "*" is not allowed (Istio: leave out includeOutboundIPRanges instead)`);
    out.excludeOutboundIPRanges = cidrs(eip, ANNOTATIONS.excludeOutboundIPRanges);
  }
  const iip = get(ANNOTATIONS.includeOutboundIPRanges);
  if (iip !== undefined && iip.trim() !== '*') out.includeOutboundIPRanges = cidrs(iip, ANNOTATIONS.includeOutboundIPRanges);
  const eip2 = get(ANNOTATIONS.excludeInboundPorts);
  if (eip2 !== undefined) out.excludeInboundPorts = ports(eip2, ANNOTATIONS.excludeInboundPorts);
  return out;
}

export interface CaptureRulesInput {
  capture: CaptureConfig;
  /** The pod's address, where virtualOutbound (15001) listens (a redirect would go to 127.0.0.1). */
  podIP: string;
  /**
   * The pod's IPv6 address, when it has one: IPv6 is then captured as IPv4 is, to the sidecar on ::1
   * (Istio's ip6tables REDIRECT). Without it no IPv6 rule is written (the pod reaches no IPv6 peer).
   */
  podIP6?: string;
  /** Ranges local in the pod where the sidecar listens itself: the VIP ranges (IPv4, IPv6) and the service range. */
  localRanges: string[];
  policy: MeshSettings['outboundTrafficPolicy'];
  annotations: CaptureAnnotations;
}

const set = (xs: readonly (string | number)[]): string => `{ ${xs.join(', ')} }`;

/** The pod's whole capture table, replaced atomically by one `nft -f`. */
export function captureRuleset(input: CaptureRulesInput): string {
  const { capture, annotations: a } = input;
  const v6 = input.podIP6 !== undefined;
  const out: string[] = [
    `table inet ${CAPTURE_TABLE} {}`,
    `delete table inet ${CAPTURE_TABLE}`,
    `table inet ${CAPTURE_TABLE} {`,
    '  chain output {',
    '    type nat hook output priority -100; policy accept;',
    // The proxy's own connections (upstreams, its DNS forwarding, distribution) are never captured.
    `    meta skgid ${PROXY_GID} return`,
  ];
  if (capture.outbound.length) {
    // To a VIP or cluster IP: the same address, the proxy's listener port for that destination port.
    const ports = set(capture.outbound.map((o) => o.port));
    const map = `tcp dport map { ${capture.outbound.map((o) => `${o.port} : ${o.listenerPort}`).join(', ')} }`;
    const local4 = input.localRanges.filter((r) => !isV6(r));
    const local6 = input.localRanges.filter(isV6);
    if (local4.length) out.push(`    ip daddr ${set(local4)} tcp dport ${ports} dnat ip to ip daddr : ${map}`);
    if (v6 && local6.length) out.push(`    ip6 daddr ${set(local6)} tcp dport ${ports} dnat ip6 to ip6 daddr : ${map}`);
  }
  out.push(
    // Within the pod: 127/8, ::1, the pod's own addresses, and the VIPs and cluster IPs the sidecar listens on.
    '    oifname "lo" return',
  );
  if (a.excludeOutboundPorts.length) {
    out.push(`    tcp dport ${set(a.excludeOutboundPorts)} return`, `    udp dport ${set(a.excludeOutboundPorts)} return`);
  }
  const exclude4 = a.excludeOutboundIPRanges.filter((r) => !isV6(r));
  const exclude6 = a.excludeOutboundIPRanges.filter(isV6);
  if (exclude4.length) out.push(`    ip daddr ${set(exclude4)} return`);
  if (v6 && exclude6.length) out.push(`    ip6 daddr ${set(exclude6)} return`);
  // UDP: only DNS (to any resolver address) is captured, to the sidecar's DNS proxy; other UDP passes untouched.
  out.push(`    udp dport 53 redirect to :${DNS_PROXY_PORT}`, `    tcp dport 53 redirect to :${DNS_PROXY_PORT}`);
  if (a.includeOutboundIPRanges !== undefined) {
    // Per family, as Istio's iptables and ip6tables rules: a family with no included range is not captured.
    const include4 = a.includeOutboundIPRanges.filter((r) => !isV6(r));
    const include6 = a.includeOutboundIPRanges.filter(isV6);
    if (!include4.length && (!v6 || !include6.length)) out.push('    return');
    else {
      out.push(include4.length ? `    ip daddr != ${set(include4)} return` : '    meta nfproto ipv4 return');
      if (v6) out.push(include6.length ? `    ip6 daddr != ${set(include6)} return` : '    meta nfproto ipv6 return');
    }
  }
  // A passthrough ServiceEntry's address ranges: the kernel connects (no listener could tell the address).
  const passthrough4 = (capture.passthrough ?? []).filter((x) => !isV6(x.address));
  const passthrough6 = (capture.passthrough ?? []).filter((x) => isV6(x.address));
  if (passthrough4.length) out.push(`    ip daddr . tcp dport ${set(passthrough4.map((x) => `${x.address} . ${x.port}`))} return`);
  if (v6 && passthrough6.length) out.push(`    ip6 daddr . tcp dport ${set(passthrough6.map((x) => `${x.address} . ${x.port}`))} return`);
  // A ServiceEntry's explicit addresses on TCP/TLS ports: to that address and port's own listener.
  const addressed = capture.addressed ?? [];
  const addressed4 = addressed.filter((x) => !isV6(x.address));
  const addressed6 = addressed.filter((x) => isV6(x.address));
  if (addressed4.length) {
    out.push(
      `    meta l4proto tcp dnat ip to ip daddr . tcp dport map { ${addressed4.map((x) => `${x.address} . ${x.port} : ${input.podIP} . ${x.listenerPort}`).join(', ')} }`,
    );
  }
  if (v6 && addressed6.length) {
    out.push(
      `    meta l4proto tcp redirect to :ip6 daddr . tcp dport map { ${addressed6.map((x) => `${x.address} . ${x.port} : ${x.listenerPort}`).join(', ')} }`,
    );
  }
  const outbound = `dnat ip to ${input.podIP}:${VIRTUAL_OUTBOUND_PORT}`;
  const outbound6 = `redirect to :${VIRTUAL_OUTBOUND_PORT}`;
  if (capture.httpPorts.length) {
    out.push(`    meta nfproto ipv4 tcp dport ${set(capture.httpPorts)} ${outbound}`);
    if (v6) out.push(`    meta nfproto ipv6 tcp dport ${set(capture.httpPorts)} ${outbound6}`);
  }
  if (input.policy === 'REGISTRY_ONLY') {
    out.push(`    meta nfproto ipv4 meta l4proto tcp ${outbound}`);
    if (v6) out.push(`    meta nfproto ipv6 meta l4proto tcp ${outbound6}`);
  }
  out.push('  }');
  const inbound = capture.inbound.filter((i) => !a.excludeInboundPorts.includes(i.port));
  if (inbound.length) {
    out.push(
      '  chain prerouting {',
      '    type nat hook prerouting priority -100; policy accept;',
      // Only what comes from outside the pod. Readiness probes run inside the pod (probes.ts), as
      // Istio's probe rewrite has its agent probe the app locally: nothing from outside skips the sidecar.
      '    iifname != "eth0" return',
      `    tcp dport ${set(inbound.map((i) => i.port))} redirect to :tcp dport map { ${inbound.map((i) => `${i.port} : ${i.listenerPort}`).join(', ')} }`,
      '  }',
    );
  }
  out.push('}');
  return out.join('\n') + '\n';
}

/**
 * Routes that make the VIP ranges and the service range local in the pod, so the sidecar can listen on
 * their addresses. IPv6 (a dual-stack pod): 2001:2::/48 too, and non-local binds allowed in the pod
 * (IPv6 binds only assigned addresses otherwise; IPv4 binds any address of a local route).
 */
export async function addCaptureRoutes(netns: string, serviceSubnet: string, ipv6 = false): Promise<void> {
  for (const range of [AUTO_ALLOCATE_RANGE, serviceSubnet]) {
    const have = await sh('ip', ['-n', netns, 'route', 'show', 'table', 'local', range]).catch(() => '');
    if (have.trim() === '') await sh('ip', ['-n', netns, 'route', 'add', 'local', range, 'dev', 'lo']);
  }
  if (!ipv6) return;
  await sh('ip', ['netns', 'exec', netns, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv6/ip_nonlocal_bind']);
  const have = await sh('ip', ['-n', netns, '-6', 'route', 'show', 'table', 'local', AUTO_ALLOCATE_RANGE_V6]).catch(() => '');
  if (have.trim() === '') await sh('ip', ['-n', netns, '-6', 'route', 'add', 'local', AUTO_ALLOCATE_RANGE_V6, 'dev', 'lo']);
}

/** The pod's global IPv6 address on eth0, or undefined (an IPv4-only pod, or IPv6 off in its namespace). */
export async function podIPv6(netns: string): Promise<string | undefined> {
  const text = await sh('ip', ['-n', netns, '-6', '-o', 'addr', 'show', 'dev', 'eth0', 'scope', 'global']).catch(() => '');
  return /\binet6 ([0-9a-f:]+)\//i.exec(text)?.[1];
}

export async function applyCaptureRuleset(netns: string, ruleset: string): Promise<void> {
  await sh('ip', ['netns', 'exec', netns, 'nft', '-f', '-'], ruleset);
}
