// ProxyConfig → lookup tables the request path reads: listeners by socket and by port, route
// tables, SNI routers and cluster runtimes. Built aside; any error here is a NACK.
import tls from 'node:tls';
import type {
  Cluster,
  PemDownstreamTls,
  HttpListener,
  Listener,
  OutboundListener,
  ProxyConfig,
  TcpListener,
  TlsPassthroughListener,
} from '../../proxyconfig/types.js';
import { compileRouteTable, ConfigError, type CompiledRouteTable } from '../routing/index.js';
import { SniRouter } from '../l4/sni-router.js';
import { ClusterRuntime } from '../upstream/cluster-runtime.js';
import { validateUpstreamTls } from '../upstream/tls-origination.js';
import { withTlsFiles } from './tls-files.js';
import type { Resolver } from '../dns/resolver.js';
import type { WorkloadIdentity } from '../identity/workload-identity.js';
import { Authorizer } from '../authz/engine.js';
import { SsrfGuard } from '../upstream/ssrf-guard.js';

/** How a listener takes mesh mTLS (see ListenerBase.mtls; ISTIO_MUTUAL servers are STRICT). */
export type MeshTlsMode = 'STRICT' | 'PERMISSIVE' | undefined;

export interface CompiledHttpListener {
  readonly kind: 'HTTP';
  readonly listener: HttpListener;
  readonly routes: CompiledRouteTable;
  /** Options for the TLS-terminating server, when the listener terminates TLS. */
  readonly tls: tls.TlsOptions | undefined;
  /** Identity of the TLS material, to know when a listener's TLS server must be rebuilt. */
  readonly tlsKey: string;
  readonly mesh: MeshTlsMode;
}

export interface CompiledTlsListener {
  readonly kind: 'TLS';
  readonly listener: TlsPassthroughListener;
  readonly mesh: MeshTlsMode;
  readonly sni: SniRouter;
}

export interface CompiledTcpListener {
  readonly kind: 'TCP';
  readonly listener: TcpListener;
  readonly mesh: MeshTlsMode;
}

export interface CompiledOutboundListener {
  readonly kind: 'OUTBOUND';
  readonly listener: OutboundListener;
  readonly mesh: MeshTlsMode;
  readonly fallbackRoutes: CompiledRouteTable;
}

export type CompiledListener = CompiledHttpListener | CompiledTlsListener | CompiledTcpListener | CompiledOutboundListener;

export class CompiledConfig {
  readonly version: string;
  readonly isRouter: boolean;
  /** The `server` response header Envoy writes: istio-envoy at gateways, envoy at sidecars. */
  readonly serverHeader: string;
  constructor(
    readonly config: ProxyConfig,
    readonly byName: ReadonlyMap<string, CompiledListener>,
    /** Bound listeners by `address:port`. */
    readonly bound: ReadonlyMap<string, CompiledListener>,
    /** bindToPort:false listeners by port, reached through the OutboundListener. */
    readonly virtualByPort: ReadonlyMap<number, CompiledListener>,
    readonly clusters: ReadonlyMap<string, ClusterRuntime>,
    /** The AuthorizationPolicies in force; undefined: everything is allowed. */
    readonly authz: Authorizer | undefined,
    /** The SSRF guard; undefined: off (configs without mesh.ssrfGuard). */
    readonly ssrf: SsrfGuard | undefined = undefined,
  ) {
    this.version = config.version;
    this.isRouter = config.proxy.role === 'router';
    this.serverHeader = this.isRouter ? 'istio-envoy' : 'envoy';
  }
}

export function listenerKey(address: string, port: number): string {
  return `${address}:${port}`;
}

/** The address of a listener key (an IPv6 address has colons of its own). */
export function listenerKeyAddress(key: string): string {
  return key.slice(0, key.lastIndexOf(':'));
}

/**
 * Compiles `cfg`. Cluster runtimes whose definition is unchanged are taken from `previous`
 * (the caller closes the ones not carried over once the swap is done).
 */
export function compileConfig(
  given: ProxyConfig,
  previous: ReadonlyMap<string, ClusterRuntime> | undefined,
  resolver: Resolver,
  identity?: WorkloadIdentity,
): CompiledConfig {
  if (given === null || typeof given !== 'object') throw new ConfigError('config: not an object');
  // TLS files named in the config are read by this proxy, now; an unreadable one is a NACK.
  const cfg = withTlsFiles(given);
  if (!Array.isArray(cfg.listeners) || !Array.isArray(cfg.routeTables) || !Array.isArray(cfg.clusters)) {
    throw new ConfigError('config: listeners, routeTables and clusters must be arrays');
  }
  if (!cfg.proxy || (cfg.proxy.role !== 'sidecar' && cfg.proxy.role !== 'router')) throw new ConfigError('config.proxy.role: must be sidecar or router');

  const tables = new Map<string, CompiledRouteTable>();
  for (const [i, t] of cfg.routeTables.entries()) {
    if (tables.has(t.name)) throw new ConfigError(`routeTables[${i}]: duplicate route table name ${JSON.stringify(t.name)}`);
    tables.set(t.name, compileRouteTable(t));
  }
  const table = (name: string, where: string): CompiledRouteTable => {
    const t = tables.get(name);
    if (t === undefined) throw new ConfigError(`${where}: route table ${JSON.stringify(name)} not found`);
    return t;
  };

  const clusterDefs = new Map<string, Cluster>();
  for (const [i, c] of cfg.clusters.entries()) {
    const where = `clusters[${i}] (${c.name})`;
    if (typeof c.name !== 'string' || c.name === '') throw new ConfigError(`clusters[${i}]: name is required`);
    if (clusterDefs.has(c.name)) throw new ConfigError(`${where}: duplicate cluster name`);
    if (!['STATIC', 'STRICT_DNS', 'LOGICAL_DNS', 'ORIGINAL_DST'].includes(c.type)) throw new ConfigError(`${where}: unknown type ${JSON.stringify(c.type)}`);
    if (c.tls) {
      try {
        validateUpstreamTls(c.tls, where);
      } catch (err) {
        throw new ConfigError((err as Error).message);
      }
    }
    clusterDefs.set(c.name, c);
  }

  const byName = new Map<string, CompiledListener>();
  const bound = new Map<string, CompiledListener>();
  const virtualByPort = new Map<number, CompiledListener>();
  for (const [i, l] of cfg.listeners.entries()) {
    const where = `listeners[${i}] (${l.name})`;
    if (byName.has(l.name)) throw new ConfigError(`${where}: duplicate listener name`);
    if (!Number.isInteger(l.port) || l.port < 0 || l.port > 65535) throw new ConfigError(`${where}: bad port ${String(l.port)}`);
    const c = compileListener(l, where, table);
    byName.set(l.name, c);
    if (l.bindToPort) {
      const extra = l.additionalAddresses ?? [];
      if (!Array.isArray(extra) || extra.some((a) => typeof a !== 'string' || a === ''))
        throw new ConfigError(`${where}: additionalAddresses must be addresses`);
      for (const address of [l.address, ...extra]) {
        const key = listenerKey(address, l.port);
        if (bound.has(key)) throw new ConfigError(`${where}: ${key} is already used by listener ${bound.get(key)!.listener.name}`);
        bound.set(key, c);
      }
    } else if (!virtualByPort.has(l.port)) {
      virtualByPort.set(l.port, c);
    }
  }

  const clusters = new Map<string, ClusterRuntime>();
  for (const c of clusterDefs.values()) {
    // The source address is part of a pool's identity: a new workload address means new connections.
    const key = `${JSON.stringify(c)}|${cfg.proxy.ip ?? ''}`;
    const prev = previous?.get(c.name);
    clusters.set(c.name, prev !== undefined && prev.definitionKey === key ? prev : new ClusterRuntime(c, resolver, key, cfg.proxy.ip, identity));
  }
  const authz = cfg.authorization === undefined ? undefined : new Authorizer(cfg.authorization);
  const ssrf = cfg.mesh?.ssrfGuard === undefined ? undefined : new SsrfGuard(cfg.mesh.ssrfGuard);
  return new CompiledConfig(cfg, byName, bound, virtualByPort, clusters, authz, ssrf);
}

function meshMode(l: Listener, where: string): MeshTlsMode {
  const m = l.mtls;
  if (m !== undefined && m !== 'STRICT' && m !== 'PERMISSIVE') throw new ConfigError(`${where}: mtls must be STRICT or PERMISSIVE`);
  return m;
}

function compileListener(l: Listener, where: string, table: (n: string, w: string) => CompiledRouteTable): CompiledListener {
  const mesh = meshMode(l, where);
  switch (l.protocol) {
    case 'HTTP': {
      if (l.tls?.mode === 'ISTIO_MUTUAL') {
        return { kind: 'HTTP', listener: l, routes: table(l.routeTable, where), tls: undefined, tlsKey: '', mesh: 'STRICT' };
      }
      const t = l.tls ? downstreamTls(l.tls, where) : undefined;
      return { kind: 'HTTP', listener: l, routes: table(l.routeTable, where), tls: t, tlsKey: l.tls ? JSON.stringify(l.tls) : '', mesh: t ? undefined : mesh };
    }
    case 'TLS':
      return { kind: 'TLS', listener: l, sni: new SniRouter(l), mesh };
    case 'TCP':
      return { kind: 'TCP', listener: l, mesh };
    case 'OUTBOUND':
      return { kind: 'OUTBOUND', listener: l, fallbackRoutes: table(l.fallbackRouteTable, where), mesh: undefined };
    default:
      throw new ConfigError(`${where}: unknown protocol ${JSON.stringify((l as { protocol: unknown }).protocol)}`);
  }
}

function downstreamTls(t: PemDownstreamTls, where: string): tls.TlsOptions {
  if ((t.mode as string) !== 'SIMPLE' && t.mode !== 'MUTUAL') throw new ConfigError(`${where}: unknown tls mode ${JSON.stringify(t.mode)}`);
  if (t.mode === 'MUTUAL' && !t.caCertificates) throw new ConfigError(`${where}: tls MUTUAL needs caCertificates`);
  const opts: tls.TlsOptions = {
    cert: t.certificateChain,
    key: t.privateKey,
    ALPNProtocols: ['h2', 'http/1.1'],
    ...(t.minProtocolVersion ? { minVersion: t.minProtocolVersion } : {}),
    ...(t.mode === 'MUTUAL' ? { ca: t.caCertificates, requestCert: true, rejectUnauthorized: true } : {}),
  };
  try {
    tls.createSecureContext(opts);
  } catch (err) {
    throw new ConfigError(`${where}: bad TLS certificate or key: ${(err as Error).message}`);
  }
  return opts;
}
