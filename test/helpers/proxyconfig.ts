// Small builders for hand-made ProxyConfigs in data-plane tests.
import { createHash } from 'node:crypto';
import {
  BLACKHOLE_CLUSTER,
  PASSTHROUGH_CLUSTER,
  PROXY_CONFIG_API,
  type AccessLogSettings,
  type Cluster,
  type DownstreamTls,
  type Endpoint,
  type ForwardAction,
  type HttpListener,
  type Listener,
  type OutboundListener,
  type ProxyConfig,
  type ProxyRole,
  type Route,
  type RouteMatch,
  type RouteTable,
  type SniChain,
  type TcpListener,
  type TcpRoute,
  type TlsPassthroughListener,
  type VirtualHost,
} from '../../src/proxyconfig/types.js';
import { ALLOW_ANY_ROUTE, BLOCK_ALL_ROUTE } from '../../src/proxyconfig/naming.js';

export interface ConfigParts {
  role?: ProxyRole;
  listeners: Listener[];
  routeTables?: RouteTable[];
  clusters?: Cluster[];
  accessLog?: AccessLogSettings;
  policy?: 'ALLOW_ANY' | 'REGISTRY_ONLY';
  ip?: string;
}

export function proxyConfig(p: ConfigParts): ProxyConfig {
  const body = {
    apiVersion: PROXY_CONFIG_API,
    proxy: {
      id: p.role === 'sidecar' ? 'curl-1.curl' : 'egressgw-1.gw-ns',
      role: p.role ?? 'router',
      namespace: p.role === 'sidecar' ? 'curl' : 'gw-ns',
      workload: p.role === 'sidecar' ? 'curl' : 'egressgw',
      labels: { app: p.role === 'sidecar' ? 'curl' : 'egressgw' },
      ...(p.ip ? { ip: p.ip } : {}),
    },
    mesh: { ...(p.accessLog ? { accessLog: p.accessLog } : {}), outboundTrafficPolicy: p.policy ?? 'ALLOW_ANY' },
    listeners: p.listeners,
    routeTables: p.routeTables ?? [],
    clusters: p.clusters ?? [],
  } as const;
  const version = createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 12);
  return { ...body, version } as ProxyConfig;
}

export function textLog(path: string): AccessLogSettings {
  return { path, encoding: 'TEXT' };
}

export function httpListener(
  name: string,
  port: number,
  routeTable: string,
  o: { address?: string; bindToPort?: boolean; tls?: DownstreamTls } = {},
): HttpListener {
  return { name, address: o.address ?? '127.0.0.1', port, bindToPort: o.bindToPort ?? true, protocol: 'HTTP', routeTable, ...(o.tls ? { tls: o.tls } : {}) };
}

export function tlsListener(
  name: string,
  port: number,
  chains: SniChain[],
  o: { address?: string; bindToPort?: boolean; defaultChain?: TcpRoute } = {},
): TlsPassthroughListener {
  return {
    name,
    address: o.address ?? '127.0.0.1',
    port,
    bindToPort: o.bindToPort ?? true,
    protocol: 'TLS',
    chains,
    ...(o.defaultChain ? { defaultChain: o.defaultChain } : {}),
  };
}

export function tcpListener(name: string, port: number, cluster: string, o: { address?: string; bindToPort?: boolean } = {}): TcpListener {
  return { name, address: o.address ?? '127.0.0.1', port, bindToPort: o.bindToPort ?? true, protocol: 'TCP', route: tcpRoute(cluster) };
}

export function outboundListener(port: number, policy: 'ALLOW_ANY' | 'REGISTRY_ONLY', o: { address?: string } = {}): OutboundListener {
  return {
    name: 'virtualOutbound',
    address: o.address ?? '127.0.0.1',
    port,
    bindToPort: true,
    protocol: 'OUTBOUND',
    fallback: tcpRoute(policy === 'ALLOW_ANY' ? PASSTHROUGH_CLUSTER : BLACKHOLE_CLUSTER),
    fallbackRouteTable: policy === 'ALLOW_ANY' ? 'allow_any' : 'block_all',
  };
}

export function tcpRoute(cluster: string, name?: string): TcpRoute {
  return { ...(name ? { name } : {}), clusters: [{ cluster, weight: 100 }] };
}

export function sniChain(hosts: string[], cluster: string, name?: string): SniChain {
  return { sniHosts: hosts, route: tcpRoute(cluster, name) };
}

export function routeTable(name: string, virtualHosts: VirtualHost[]): RouteTable {
  return { name, virtualHosts };
}

export function vhost(name: string, domains: string[], routes: Route[]): VirtualHost {
  return { name, domains, routes };
}

/** A route forwarding everything (or `match`) to one cluster. */
export function forward(
  cluster: string,
  o: Partial<Omit<ForwardAction, 'kind' | 'clusters'>> & { name?: string; match?: RouteMatch } & Pick<
      Route,
      'requestHeaders' | 'responseHeaders' | 'fault'
    > = {},
): Route {
  const { name, match, requestHeaders, responseHeaders, fault, ...action } = o;
  return {
    ...(name ? { name } : {}),
    match: match ?? { path: { kind: 'prefix', value: '/' } },
    action: { kind: 'forward', clusters: [{ cluster, weight: 100 }], ...action },
    ...(requestHeaders ? { requestHeaders } : {}),
    ...(responseHeaders ? { responseHeaders } : {}),
    ...(fault ? { fault } : {}),
  };
}

export function staticCluster(
  name: string,
  endpoints: Array<Pick<Endpoint, 'address' | 'port'>>,
  o: Partial<Omit<Cluster, 'name' | 'endpoints'>> = {},
): Cluster {
  return { name, type: 'STATIC', endpoints, lbPolicy: 'ROUND_ROBIN', connectTimeoutMs: 10_000, protocol: 'HTTP1', ...o };
}

export function dnsCluster(name: string, host: string, port: number, o: Partial<Omit<Cluster, 'name' | 'endpoints'>> = {}): Cluster {
  return { name, type: 'STRICT_DNS', endpoints: [{ address: host, port }], lbPolicy: 'ROUND_ROBIN', connectTimeoutMs: 10_000, protocol: 'HTTP1', ...o };
}

export function passthroughCluster(): Cluster {
  return { name: PASSTHROUGH_CLUSTER, type: 'ORIGINAL_DST', endpoints: [], lbPolicy: 'ROUND_ROBIN', connectTimeoutMs: 10_000, protocol: 'HTTP1' };
}

export function blackholeCluster(): Cluster {
  return { name: BLACKHOLE_CLUSTER, type: 'STATIC', endpoints: [], lbPolicy: 'ROUND_ROBIN', connectTimeoutMs: 10_000, protocol: 'TCP' };
}

/** The fallback route tables a sidecar carries: allow_any → PassthroughCluster, block_all → 502. */
export function fallbackTables(): RouteTable[] {
  return [
    routeTable('allow_any', [vhost(ALLOW_ANY_ROUTE, ['*'], [forward(PASSTHROUGH_CLUSTER, { name: ALLOW_ANY_ROUTE })])]),
    routeTable('block_all', [
      vhost(
        BLOCK_ALL_ROUTE,
        ['*'],
        [{ name: BLOCK_ALL_ROUTE, match: { path: { kind: 'prefix', value: '/' } }, action: { kind: 'directResponse', status: 502 } }],
      ),
    ]),
  ];
}
