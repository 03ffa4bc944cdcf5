// What a sidecar whose pod is captured needs (ProxyIdentity.capture): listeners on the destination
// addresses the pod's apps dial (ServiceEntry VIPs, cluster IPs), one inbound listener per app port
// (Istio's 15006 role), and the table its DNS proxy answers from.
import { VIRTUAL_INBOUND_PORT, addressListenerName, inboundClusterName, outboundClusterName, sidecarListenerName } from '../../proxyconfig/naming.js';
import type { CaptureConfig, Cluster, DnsName, Listener, ProxyIdentity, RouteTable, TcpRoute } from '../../proxyconfig/types.js';
import type { MeshSnapshot } from '../snapshot.js';
import { compareStrings } from '../sort-order.js';
import { isWildcard, labelsMatch } from '../hosts.js';
import { isHttpProtocol, type MeshService, type Protocol, type ServiceRegistry } from '../registry/index.js';
import { APPS_GROUP } from '../../api/groups.js';
import type { Deployment } from '../../api/kinds/deployment.js';
import { kubePortProtocol } from '../../api/kinds/port-protocol.js';
import { serviceTargetPort, type Service } from '../../api/kinds/service.js';

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
  const dns: DnsName[] = [];
  const httpPorts = new Set<number>();
  for (const l of input.listeners) if (!l.bindToPort && l.protocol === 'HTTP') httpPorts.add(l.port);

  for (const s of registry.visibleTo(identity.namespace)) {
    if (isWildcard(s.host)) continue;
    // Only what this sidecar imports (a Sidecar resource's egress hosts may leave a service out).
    if (!s.ports.some((p) => clusterNames.has(outboundClusterName(p.port, undefined, s.host)))) continue;
    const vip = dialAddress(s);
    const explicit = (s.addresses ?? []).filter((a) => !a.includes('/') || a.endsWith('/32')).map((a) => a.replace(/\/32$/, ''));
    const answers = vip ? [vip] : explicit;
    if (answers.length) dns.push({ name: s.host, addresses: answers });
    if (!vip) continue;
    for (const p of s.ports) {
      const own = outboundClusterName(p.port, undefined, s.host);
      if (!clusterNames.has(own)) continue;
      const vl = byName.get(sidecarListenerName(p.port));
      const base = { name: addressListenerName(vip, p.port), address: vip, port: p.port, bindToPort: true, capture: 'outbound' as const };
      if (vl?.protocol === 'HTTP') {
        listeners.push({ ...base, protocol: 'HTTP', routeTable: vl.routeTable });
      } else if (vl?.protocol === 'TLS') {
        listeners.push({ ...base, protocol: 'TLS', chains: vl.chains, ...(vl.defaultChain ? { defaultChain: vl.defaultChain } : {}) });
      } else {
        // Plain TCP: the address names the service, as Istio's `<vip>_<port>` listeners do. The port's
        // wildcard listener keeps its VirtualService route when it is this service's.
        const route: TcpRoute =
          vl?.protocol === 'TCP' && vl.route.clusters.some((c) => c.cluster.endsWith(`|${s.host}`)) ? vl.route : { clusters: [{ cluster: own, weight: 100 }] };
        listeners.push({ ...base, protocol: 'TCP', route });
      }
    }
  }
  dns.sort((a, b) => compareStrings(a.name, b.name));
  // The pod's rules move each destination port to its own listener port on the same address.
  const ports = [...new Set(listeners.map((l) => l.port))].sort((a, b) => a - b);
  const outbound = ports.map((port, i) => ({ port, listenerPort: outboundListenerPort(i) }));
  const mapped = new Map(outbound.map((o) => [o.port, o.listenerPort]));
  for (const [i, l] of listeners.entries()) listeners[i] = { ...l, port: mapped.get(l.port)! };

  const inbound = inboundListeners(input);
  return {
    listeners: [...listeners, ...inbound.listeners],
    routeTables: inbound.routeTables,
    clusters: inbound.clusters,
    capture: { dns, httpPorts: [...httpPorts].sort((a, b) => a - b), outbound, inbound: inbound.ports },
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
