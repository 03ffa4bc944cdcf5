// What a sidecar whose pod is captured needs (ProxyIdentity.capture): listeners on the destination
// addresses the pod's apps dial (ServiceEntry VIPs, IPv4 and, in a dual-stack pod, IPv6; cluster
// IPs; a listener per explicit ServiceEntry address and TCP/TLS port), one inbound listener per app
// port (Istio's 15006 role), and the table its DNS proxy answers from.
import { VIRTUAL_INBOUND_PORT, addressListenerName, inboundClusterName, outboundClusterName, sidecarListenerName } from '../../proxyconfig/naming.js';
import type { CaptureConfig, Cluster, DnsName, Listener, ListenerBase, ProxyIdentity, RouteTable, TcpRoute } from '../../proxyconfig/types.js';
import type { MeshSnapshot } from '../snapshot.js';
import { compareStrings } from '../sort-order.js';
import { isWildcard, labelsMatch } from '../hosts.js';
import { isHttpProtocol, type MeshService, type Protocol, type ServiceRegistry } from '../registry/index.js';
import { APPS_GROUP } from '../../api/groups.js';
import type { Deployment } from '../../api/kinds/deployment.js';
import { kubePortProtocol } from '../../api/kinds/port-protocol.js';
import { serviceTargetPort, type Service } from '../../api/kinds/service.js';
import { singleAddress } from '../registry/vip-allocation.js';

export interface CaptureInput {
  readonly snapshot: MeshSnapshot;
  readonly identity: ProxyIdentity;
  readonly registry: ServiceRegistry;
  /** The sidecar's own outbound listeners and clusters (translateSidecar's output). */
  readonly listeners: readonly Listener[];
  readonly clusters: readonly Cluster[];
  /** PeerAuthentication of this workload on an app port. */
  readonly peerMode: (port: number) => 'STRICT' | 'PERMISSIVE' | 'DISABLE';
}

export interface CaptureOutput {
  readonly listeners: Listener[];
  readonly routeTables: RouteTable[];
  readonly clusters: Cluster[];
  readonly capture: CaptureConfig;
}

/** Ports of the proxy itself, never an app's inbound port (Istio leaves 15008, 15020, 15021, 15090 out of capture). */
const PROXY_PORTS = new Set([15000, 15001, 15004, 15006, 15008, 15020, 15021, 15053, 15090]);

/** Where captured connections to app port number `index` (in port order) arrive: 15006 first, then 15101, 15102 … */
export function inboundListenerPort(index: number): number {
  return index === 0 ? VIRTUAL_INBOUND_PORT : 15100 + index;
}

/** Where the proxy listens for destination port number `index` (in port order) on VIPs and cluster IPs: 15200, 15201 … */
export function outboundListenerPort(index: number): number {
  return 15200 + index;
}

/** The address a service is dialled at in a captured pod: its auto-allocated VIP, else its cluster IP. */
function dialAddress(s: MeshService): string | undefined {
  return s.autoAddress ?? s.clusterIP;
}

export function translateCapture(input: CaptureInput): CaptureOutput {
  const { identity, registry } = input;
  const byName = new Map(input.listeners.map((l) => [l.name, l]));
  const clusterNames = new Set(input.clusters.map((c) => c.name));
  const listeners: Listener[] = [];
  const addressedListeners: { listener: Listener; address: string; port: number }[] = [];
  const passthrough: { address: string; port: number }[] = [];
  const originalDst = new Set(input.clusters.filter((c) => c.type === 'ORIGINAL_DST').map((c) => c.name));
  const routesToOriginalDst = (l: Listener): boolean => {
    const routes =
      l.protocol === 'TCP' ? [l.route] : l.protocol === 'TLS' ? [...l.chains.map((c) => c.route), ...(l.defaultChain ? [l.defaultChain] : [])] : [];
    return routes.some((r) => r.clusters.some((c) => originalDst.has(c.cluster)));
  };
  const dns: DnsName[] = [];
  const httpPorts = new Set<number>();
  for (const l of input.listeners) if (!l.bindToPort && l.protocol === 'HTTP') httpPorts.add(l.port);
  // IPv6 only for a pod that has it (Istio answers a proxy's own IP families): nothing v6 is bound or answered otherwise.
  const dualStack = identity.ip6 !== undefined;
  const family = (a: string): boolean => dualStack || !a.includes(':');

  /** The listener a captured connection to `port` of `s` lands on, bound at `address:port` (the port is remapped below). */
  const listenerFor = (s: MeshService, port: number, name: string, address: string, extra: Pick<ListenerBase, 'originalDestination'>): Listener | undefined => {
    const own = outboundClusterName(port, undefined, s.host);
    if (!clusterNames.has(own)) return undefined;
    const vl = byName.get(sidecarListenerName(port));
    const base = { name, address, port, bindToPort: true, capture: 'outbound' as const, ...extra };
    if (vl?.protocol === 'HTTP') return { ...base, protocol: 'HTTP', routeTable: vl.routeTable };
    if (vl?.protocol === 'TLS') return { ...base, protocol: 'TLS', chains: vl.chains, ...(vl.defaultChain ? { defaultChain: vl.defaultChain } : {}) };
    // Plain TCP: the address names the service, as Istio's `<vip>_<port>` listeners do. The port's
    // wildcard listener keeps its VirtualService route when it is this service's.
    const route: TcpRoute =
      vl?.protocol === 'TCP' && vl.route.clusters.some((c) => c.cluster.endsWith(`|${s.host}`)) ? vl.route : { clusters: [{ cluster: own, weight: 100 }] };
    return { ...base, protocol: 'TCP', route };
  };

  for (const s of registry.visibleTo(identity.namespace)) {
    if (isWildcard(s.host)) continue;
    // Only what this sidecar imports (a Sidecar resource's egress hosts may leave a service out).
    if (!s.ports.some((p) => clusterNames.has(outboundClusterName(p.port, undefined, s.host)))) continue;
    const vips = [dialAddress(s), s.autoAddressV6].filter((a): a is string => a !== undefined && family(a));
    const explicit = (s.addresses ?? []).map((entry) => ({ entry, single: singleAddress(entry) })).filter((a) => family(a.entry));
    const answers = vips.length ? vips : explicit.flatMap((a) => (a.single !== undefined ? [a.single] : []));
    if (answers.length) dns.push({ name: s.host, addresses: answers });
    for (const vip of vips) {
      for (const p of s.ports) {
        const l = listenerFor(s, p.port, addressListenerName(vip, p.port), vip, {});
        if (l) listeners.push(l);
      }
    }
    // Explicit addresses are not local in the pod: a port map sends each (address, port) to a listener
    // of its own on the pod's address (IPv6: ::1), so the destination still names the service. HTTP
    // ports stay with virtualOutbound (routed by Host).
    for (const a of explicit) {
      for (const p of s.ports) {
        if (isHttpProtocol(p.protocol)) continue;
        const address = a.single ?? a.entry;
        const at = address.includes(':') ? '::1' : (identity.ip ?? '127.0.0.1');
        const l = listenerFor(s, p.port, addressListenerName(address, p.port), at, a.single ? { originalDestination: { address, port: p.port } } : {});
        if (!l) continue;
        if (!a.single && routesToOriginalDst(l)) passthrough.push({ address, port: p.port });
        else addressedListeners.push({ listener: l, address, port: p.port });
      }
    }
  }
  dns.sort((a, b) => compareStrings(a.name, b.name));
  // The pod's rules move each destination port to its own listener port on the same address.
  const ports = [...new Set(listeners.map((l) => l.port))].sort((a, b) => a - b);
  const outbound = ports.map((port, i) => ({ port, listenerPort: outboundListenerPort(i) }));
  const mapped = new Map(outbound.map((o) => [o.port, o.listenerPort]));
  for (const [i, l] of listeners.entries()) listeners[i] = { ...l, port: mapped.get(l.port)! };
  // Then one listener port per explicit (address, port), after those; the first service to name an address and port keeps it.
  const addressed: { address: string; port: number; listenerPort: number }[] = [];
  const taken = new Set<string>();
  for (const a of addressedListeners) {
    const key = `${a.address} ${a.port}`;
    if (taken.has(key)) continue;
    taken.add(key);
    const listenerPort = outboundListenerPort(outbound.length + addressed.length);
    addressed.push({ address: a.address, port: a.port, listenerPort });
    listeners.push({ ...a.listener, port: listenerPort });
  }

  const inbound = inboundListeners(input);
  return {
    listeners: [...listeners, ...inbound.listeners],
    routeTables: inbound.routeTables,
    clusters: inbound.clusters,
    capture: {
      dns,
      httpPorts: [...httpPorts].sort((a, b) => a - b),
      outbound,
      ...(addressed.length ? { addressed } : {}),
      ...(passthrough.length ? { passthrough } : {}),
      inbound: inbound.ports,
    },
  };
}

/**
 * The app ports of this pod: target ports of the Services selecting it (with their protocol) and
 * its Deployment's container ports. Named target ports resolve through the container ports.
 */
function appPorts(snapshot: MeshSnapshot, identity: ProxyIdentity): Map<number, Protocol> {
  const containers: { name?: string; port: number }[] = [];
  const deploy = (snapshot.of(APPS_GROUP, 'Deployment') as readonly Deployment[]).find(
    (d) => d.metadata.name === identity.workload && (d.metadata.namespace ?? 'default') === identity.namespace,
  );
  for (const c of deploy?.spec?.template?.spec?.containers ?? []) {
    for (const p of c.ports ?? []) {
      if ((p.protocol ?? 'TCP') === 'TCP') containers.push({ ...(p.name ? { name: p.name } : {}), port: p.containerPort });
    }
  }
  const out = new Map<number, Protocol>();
  for (const svc of snapshot.of('', 'Service') as readonly Service[]) {
    if ((svc.metadata.namespace ?? 'default') !== identity.namespace) continue;
    const sel = svc.spec?.selector ?? {};
    if (Object.keys(sel).length === 0 || !labelsMatch(sel, identity.labels)) continue;
    for (const p of svc.spec?.ports ?? []) {
      if ((p.protocol ?? 'TCP') !== 'TCP') continue;
      const t = serviceTargetPort(p);
      const port = typeof t === 'string' ? containers.find((c) => c.name === t)?.port : t;
      if (port === undefined) continue;
      const protocol = kubePortProtocol(p.appProtocol, p.name);
      if (!out.has(port) || isHttpProtocol(protocol)) out.set(port, protocol);
    }
  }
  for (const c of containers) if (!out.has(c.port)) out.set(c.port, kubePortProtocol(undefined, c.name));
  for (const p of PROXY_PORTS) out.delete(p);
  return out;
}

function inboundListeners(input: CaptureInput): {
  listeners: Listener[];
  routeTables: RouteTable[];
  clusters: Cluster[];
  ports: { port: number; listenerPort: number }[];
} {
  const { identity } = input;
  const ports = appPorts(input.snapshot, identity);
  const listeners: Listener[] = [];
  const routeTables: RouteTable[] = [];
  const clusters: Cluster[] = [];
  const mapping: { port: number; listenerPort: number }[] = [];
  // Istio ≥ 1.10 forwards inbound traffic to the pod's own address, so apps bound to it (not only to 127.0.0.1) are reached.
  const appAddress = identity.ip ?? '127.0.0.1';
  [...ports.keys()]
    .sort((a, b) => a - b)
    .forEach((port, i) => {
      const protocol = ports.get(port)!;
      const listenerPort = inboundListenerPort(i);
      mapping.push({ port, listenerPort });
      const name = inboundClusterName(port);
      const mode = input.peerMode(port);
      const http = isHttpProtocol(protocol);
      clusters.push({
        name,
        type: 'STATIC',
        endpoints: [{ address: appAddress, port }],
        lbPolicy: 'ROUND_ROBIN',
        connectTimeoutMs: 10_000,
        protocol: http ? (protocol === 'HTTP' ? 'HTTP1' : 'HTTP2') : 'TCP',
      });
      const base = {
        name: `virtualInbound_${port}`,
        address: '0.0.0.0',
        // A dual-stack pod's IPv6 connections are redirected to its IPv6 address: `::` takes them.
        ...(identity.ip6 !== undefined ? { additionalAddresses: ['::'] } : {}),
        port: listenerPort,
        bindToPort: true,
        capture: 'inbound' as const,
        ...(mode === 'DISABLE' ? {} : { mtls: mode }),
      };
      if (http) {
        routeTables.push({
          name,
          virtualHosts: [
            {
              name: `inbound|http|${port}`,
              domains: ['*'],
              routes: [
                { name: 'default', match: { path: { kind: 'prefix', value: '/' } }, action: { kind: 'forward', clusters: [{ cluster: name, weight: 100 }] } },
              ],
            },
          ],
        });
        listeners.push({ ...base, protocol: 'HTTP', routeTable: name });
      } else {
        listeners.push({ ...base, protocol: 'TCP', route: { clusters: [{ cluster: name, weight: 100 }] } });
      }
    });
  return { listeners, routeTables, clusters, ports: mapping };
}
