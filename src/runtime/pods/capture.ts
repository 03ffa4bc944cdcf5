// Traffic capture in an injected pod's network namespace, as Istio's init container (istio-iptables
// in nftables mode) sets it up, in table `inet outpost_capture`:
//
// - output: the proxy's own sockets (group 1337, see PROXY_GID) and traffic that stays in the pod
//   (oif lo) pass; excluded ports and ranges pass; DNS (UDP and TCP 53) goes to the sidecar's DNS
//   proxy (15053); TCP to the ports of HTTP outbound listeners goes to virtualOutbound (15001, routed
//   by Host); under REGISTRY_ONLY every other TCP connection goes there too, where an unknown Host gets
//   502 from BlackHoleCluster and anything else is closed. Under ALLOW_ANY the rest is not captured:
//   the kernel connecting to the dialled address is what Istio's PassthroughCluster does.
// - prerouting: TCP arriving on eth0 for an app port goes to that port's inbound listener.
//
// Keeping the original destination (Node has no SO_ORIGINAL_DST): the pod gets local routes for
// 240.240.0.0/16 (auto-allocated ServiceEntry VIPs) and the service range (cluster IPs), and the
// sidecar listens on the VIPs and cluster IPs themselves, so the address a connection arrives on
// names the service (Istio's `<vip>_<port>` listeners). A map moves each destination port to a
// listener port of its own on the same address (80 → 15200 …): the app's own wildcard listener on
// port 80 would clash with the sidecar's VIP:80. Inbound, a map sends each app port
// to its own listener port. Measured alternative: reading the original destination from
// /proc/net/nf_conntrack walks the whole conntrack hash (262144 buckets here, even when empty):
// 1.6 ms per accepted connection in-process, against no per-connection cost for local routes and
// nft maps (the kernel's routing and NAT lookups happen anyway).
import type { CaptureConfig, MeshSettings } from '../../proxyconfig/types.js';
import { AUTO_ALLOCATE_RANGE, DNS_PROXY_PORT, PROXY_GID, VIRTUAL_OUTBOUND_PORT } from '../../proxyconfig/naming.js';
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
      const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/.exec(x);
      if (!m || m.slice(1, 5).some((o) => Number(o) > 255) || (m[5] !== undefined && Number(m[5]) > 32)) {
        throw new Error(`annotation ${key}: ${JSON.stringify(x)} is not an IPv4 address or CIDR`);
      }
      return x;
    });
}

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
  /** Ranges local in the pod where the sidecar listens itself: the VIP range and the service range. */
  localRanges: string[];
  policy: MeshSettings['outboundTrafficPolicy'];
  annotations: CaptureAnnotations;
}

const set = (xs: readonly (string | number)[]): string => `{ ${xs.join(', ')} }`;

/** The pod's whole capture table, replaced atomically by one `nft -f`. */
export function captureRuleset(input: CaptureRulesInput): string {
  const { capture, annotations: a } = input;
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
    out.push(
      `    ip daddr ${set(input.localRanges)} tcp dport ${set(capture.outbound.map((o) => o.port))} dnat ip to ip daddr : tcp dport map { ${capture.outbound.map((o) => `${o.port} : ${o.listenerPort}`).join(', ')} }`,
    );
  }
  out.push(
    // Within the pod: 127/8, the pod's own address, and the VIPs and cluster IPs the sidecar listens on.
    '    oifname "lo" return',
  );
  if (a.excludeOutboundPorts.length) {
    out.push(`    tcp dport ${set(a.excludeOutboundPorts)} return`, `    udp dport ${set(a.excludeOutboundPorts)} return`);
  }
  if (a.excludeOutboundIPRanges.length) out.push(`    ip daddr ${set(a.excludeOutboundIPRanges)} return`);
  out.push(`    udp dport 53 redirect to :${DNS_PROXY_PORT}`, `    tcp dport 53 redirect to :${DNS_PROXY_PORT}`);
  if (a.includeOutboundIPRanges !== undefined) {
    out.push(a.includeOutboundIPRanges.length ? `    ip daddr != ${set(a.includeOutboundIPRanges)} return` : '    return');
  }
  const outbound = `dnat ip to ${input.podIP}:${VIRTUAL_OUTBOUND_PORT}`;
  if (capture.httpPorts.length) out.push(`    tcp dport ${set(capture.httpPorts)} ${outbound}`);
  if (input.policy === 'REGISTRY_ONLY') out.push(`    meta nfproto ipv4 meta l4proto tcp ${outbound}`);
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

/** Routes that make the VIP range and the service range local in the pod, so the sidecar can listen on their addresses. */
export async function addCaptureRoutes(netns: string, serviceSubnet: string): Promise<void> {
  for (const range of [AUTO_ALLOCATE_RANGE, serviceSubnet]) {
    const have = await sh('ip', ['-n', netns, 'route', 'show', 'table', 'local', range]).catch(() => '');
    if (have.trim() === '') await sh('ip', ['-n', netns, 'route', 'add', 'local', range, 'dev', 'lo']);
  }
}

export async function applyCaptureRuleset(netns: string, ruleset: string): Promise<void> {
  await sh('ip', ['netns', 'exec', netns, 'nft', '-f', '-'], ruleset);
}
