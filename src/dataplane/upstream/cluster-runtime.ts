// A cluster at run time: its endpoints (ClusterEndpoints, ./endpoints.ts), a connection pool per
// endpoint (H1Pool or H2Session, keyed by address, port and SNI) and its circuit-breaking limits.
//
// Kept across config swaps while the cluster's definition is unchanged, so pools and DNS state survive.
import type { Cluster } from '../../proxyconfig/types.js';
import { ClusterEndpoints, type UpstreamTarget } from './endpoints.js';
import type { Resolver } from '../dns/resolver.js';
import { H2Pool } from '../http2/client.js';
import type { UpstreamPool } from './call.js';
import { effectiveUpstreamTls, originationOptions } from './tls-origination.js';
import type { WorkloadIdentity } from '../identity/workload-identity.js';
import { sourceAddressFor } from './source-address.js';
import { H1Pool } from './h1-pool.js';
import { authorityHost } from '../../proxyconfig/authority.js';

/** Istio's default maxConnections / pending / requests: effectively unlimited. */
const UNLIMITED = 2 ** 32 - 1;

/** One endpoint's connections, whatever the codec: the request path sees only the call lifecycle. */
export type HttpUpstream = UpstreamPool;

export class ClusterRuntime {
  readonly name: string;
  readonly endpoints: ClusterEndpoints;
  /** Requests in flight; checked against `maxActive` for UO (circuit breaking). */
  active = 0;
  readonly maxActive: number;
  readonly maxRetries: number;
  #ready = false;
  readonly #upstreams = new Map<string, HttpUpstream>();

  constructor(
    readonly cluster: Cluster,
    resolver: Resolver,
    readonly definitionKey: string,
    /** The proxy's workload address (ProxyIdentity.ip): the source of upstream connections where it can be. */
    readonly sourceIp?: string,
    /** The proxy's workload identity, for ISTIO_MUTUAL clusters. */
    private readonly identity?: WorkloadIdentity,
  ) {
    this.name = cluster.name;
    this.endpoints = new ClusterEndpoints(cluster, resolver);
    const cp = cluster.connectionPool;
    if (cluster.protocol === 'HTTP2') {
      this.maxActive = cp?.http2MaxRequests ?? UNLIMITED;
    } else if (cp?.maxConnections !== undefined || cp?.http1MaxPendingRequests !== undefined) {
      // A request beyond the open connections waits as pending; beyond both limits it overflows.
      this.maxActive = (cp.maxConnections ?? UNLIMITED) + (cp.http1MaxPendingRequests ?? UNLIMITED);
    } else {
      this.maxActive = UNLIMITED;
    }
    this.maxRetries = cp?.maxRetries ?? UNLIMITED;
  }

  /** Resolves once the first DNS answer (if any) is in; cheap afterwards. */
  ready(): Promise<void> | undefined {
    if (this.#ready) return undefined;
    return this.endpoints.ready().then(
      () => {
        this.#ready = true;
      },
      () => {
        this.#ready = true;
      },
    );
  }

  /** The last pool upstream() returned, and for what: most requests of a cluster ask for it again. */
  #lastTarget: UpstreamTarget | undefined = undefined;
  #lastHost = '';
  #lastPool: HttpUpstream | undefined = undefined;

  /** The HTTP connection pool for one endpoint; `host` is the request host (TLS SNI default). */
  upstream(target: UpstreamTarget, host: string): HttpUpstream {
    if (target === this.#lastTarget && host === this.#lastHost) return this.#lastPool!;
    const u = this.#pool(target, host);
    this.#lastTarget = target;
    this.#lastHost = host;
    this.#lastPool = u;
    return u;
  }

  #pool(target: UpstreamTarget, host: string): HttpUpstream {
    const c = this.cluster;
    const t = effectiveUpstreamTls(c.tls, this.identity);
    const sni = t ? (t.sni ?? authorityHost(target.hostname ?? host)) : '';
    const key = `${target.address}:${target.port}|${sni}`;
    let u = this.#upstreams.get(key);
    if (u !== undefined) return u;
    const cp = c.connectionPool;
    const localAddress = sourceAddressFor(this.sourceIp, target.address);
    if (c.protocol === 'HTTP2') {
      // One multiplexed connection per endpoint on outpost's HTTP/2 codec (../http2/client.ts).
      u = new H2Pool({
        address: target.address,
        port: target.port,
        ...(t ? { tls: originationOptions(t, sni, ['h2'], this.identity) } : {}),
        connectTimeoutMs: c.connectTimeoutMs,
        ...(localAddress !== undefined ? { localAddress } : {}),
      });
    } else {
      u = new H1Pool({
        address: target.address,
        port: target.port,
        ...(t ? { tls: originationOptions(t, sni, undefined, this.identity) } : {}),
        connectTimeoutMs: c.connectTimeoutMs,
        ...(localAddress !== undefined ? { localAddress } : {}),
        ...(cp?.maxConnections !== undefined ? { maxConnections: cp.maxConnections } : {}),
        idleTimeoutMs: cp?.idleTimeoutMs ?? 60_000,
        ...(cp?.maxRequestsPerConnection !== undefined ? { maxRequestsPerConnection: cp.maxRequestsPerConnection } : {}),
      });
    }
    this.#upstreams.set(key, u);
    return u;
  }

  /** Lets in-flight requests finish, then closes connections and stops DNS refresh. */
  close(): void {
    this.endpoints.close();
    for (const u of this.#upstreams.values()) u.close();
    this.#upstreams.clear();
    this.#lastTarget = undefined;
    this.#lastPool = undefined;
  }
}
