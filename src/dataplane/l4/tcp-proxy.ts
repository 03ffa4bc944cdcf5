// TCP proxying: one downstream connection piped to an endpoint of a (weighted) cluster, logged
// and counted as Envoy's tcp_proxy does (`"- - -" 0 …` lines, istio_tcp_* metrics).
import net from 'node:net';
import type { Socket } from 'node:net';
import { BLACKHOLE_CLUSTER, type TcpRoute } from '../../proxyconfig/types.js';
import { pickWeighted } from '../routing/index.js';
import { LOCAL_REPLY_BODY, RESPONSE_CODE_DETAILS as D, ResponseFlag, addResponseFlag } from '../telemetry/flags.js';
import type { AccessLogEntry } from '../telemetry/accesslog.js';
import type { ProxyRuntime } from '../runtime.js';
import type { ClusterRuntime } from '../upstream/cluster-runtime.js';
import { upstreamHostOf, type UpstreamTarget } from '../upstream/endpoints.js';
import { DnsError } from '../dns/resolver.js';
import { sourceAddressFor } from '../upstream/source-address.js';
import { peerOf } from '../identity/workload-identity.js';
import tls from 'node:tls';
import { SSRF_DENIED_BODY, SSRF_FLAG, SsrfGuard, reportWouldDeny, ssrfDetails, wouldDenyMetadata } from '../upstream/ssrf-guard.js';
import { log } from '../log.js';

/** The answer to a CONNECT whose tunnel may start. */
export const CONNECT_OK = 'HTTP/1.1 200 Connection established\r\n\r\n';

/** Resets a connection (RST); a TLS socket (mesh mTLS) has no TCP handle of its own: destroy it and reset the one below. */
export function resetSocket(s: Socket): void {
  if (s instanceof tls.TLSSocket) {
    const raw = (s as unknown as { _parent?: Socket })._parent;
    s.destroy();
    if (raw !== undefined && !raw.destroyed) {
      try {
        raw.resetAndDestroy();
      } catch {
        raw.destroy();
      }
    }
    return;
  }
  s.resetAndDestroy();
}

export interface TcpSessionInfo {
  /** SNI from the ClientHello, or the CONNECT host. */
  sni?: string;
  /** The original destination for ORIGINAL_DST clusters (forward-proxy target, CONNECT host:port). */
  originalHost?: string;
  originalPort?: number;
  /** Downstream bytes already read/written before the tunnel began (a CONNECT request and its 200). */
  readBaseline?: number;
  writtenBaseline?: number;
  /** Epoch ms the connection started; default now. */
  startTime?: number;
  /**
   * A CONNECT whose 200 is not sent yet: sent once the upstream connection is up, as Envoy does; a
   * destination the SSRF guard denies gets 403, a failure before the tunnel exists 503 (UF, UH, NC, DF).
   */
  connectReplyPending?: boolean;
  /** Metadata for the access-log line (a matched AUDIT policy). */
  dynamicMetadata?: Record<string, Record<string, string>>;
}

/** The access-log entry of one TCP connection. */
export class TcpLogEntry implements AccessLogEntry {
  readonly startTime: number;
  readonly method = undefined;
  readonly path = undefined;
  readonly protocol = undefined;
  responseCode = 0;
  responseFlags = '-';
  responseCodeDetails: string | undefined = undefined;
  connectionTerminationDetails: string | undefined = undefined;
  upstreamTransportFailureReason: string | undefined = undefined;
  bytesReceived = 0;
  bytesSent = 0;
  durationMs = 0;
  upstreamServiceTimeMs = undefined;
  upstreamHost: string | undefined = undefined;
  upstreamCluster: string | undefined = undefined;
  upstreamLocalAddress: string | undefined = undefined;
  readonly downstreamLocalAddress: string;
  readonly downstreamRemoteAddress: string;
  requestedServerName: string | undefined;
  routeName: string | undefined;
  readonly peerUriSan: string | undefined;
  dynamicMetadata: Record<string, Record<string, string>> | undefined = undefined;

  constructor(socket: Socket, startTime: number, sni: string | undefined, routeName: string | undefined) {
    this.startTime = startTime;
    this.peerUriSan = peerOf(socket)?.uriSan;
    this.downstreamLocalAddress = `${socket.localAddress}:${socket.localPort}`;
    this.downstreamRemoteAddress = `${socket.remoteAddress}:${socket.remotePort}`;
    this.requestedServerName = sni;
    this.routeName = routeName;
  }

  requestHeader(): string | undefined {
    return undefined;
  }

  responseHeader(): string | undefined {
    return undefined;
  }
}

/** Bytes read from an upstream per read: large reads mean fewer syscalls and writes on bulk tunnels. */
const TUNNEL_BUFFER = 256 * 1024;

/** Closes a connection nobody will serve and logs it (no filter chain, no cluster…). */
export function refuseConnection(
  rt: ProxyRuntime,
  socket: Socket,
  info: TcpSessionInfo,
  flag: string,
  termination: string | undefined,
  cluster?: string,
): void {
  const e = new TcpLogEntry(socket, info.startTime ?? Date.now(), info.sni, undefined);
  e.responseFlags = flag;
  e.connectionTerminationDetails = termination;
  e.upstreamCluster = cluster;
  e.bytesReceived = Math.max(0, socket.bytesRead - (info.readBaseline ?? 0));
  resetSocket(socket);
  e.durationMs = Date.now() - e.startTime;
  rt.accessLog?.log(e);
  if (cluster !== undefined) {
    const cr = rt.current.clusters.get(cluster);
    rt.metrics.tcpOpened(cr?.cluster, cluster, e.peerUriSan);
    rt.metrics.tcpClosed(cr?.cluster, cluster, 0, e.bytesReceived, flag, e.peerUriSan);
  }
}

/** A CONNECT's local reply for a failure before its tunnel exists: response code details and body, as Envoy's router. */
function connectFailure(flag: string): [details: string, body: string] {
  switch (flag) {
    case ResponseFlag.UH:
      return [D.NO_HEALTHY_UPSTREAM, LOCAL_REPLY_BODY.NO_HEALTHY_UPSTREAM];
    case ResponseFlag.NC:
      return [D.CLUSTER_NOT_FOUND, ''];
    case ResponseFlag.DF:
      return [D.DNS_RESOLUTION_FAILED, `${LOCAL_REPLY_BODY.RESET_PREFIX}dns resolution failure`];
    default:
      return [D.UPSTREAM_CONNECTION_FAILURE, `${LOCAL_REPLY_BODY.RESET_PREFIX}connection failure`];
  }
}

/** Proxies `downstream` by `route`. Never throws; every failure is logged and closes the socket. */
export function proxyTcp(rt: ProxyRuntime, downstream: Socket, route: TcpRoute | undefined, info: TcpSessionInfo): void {
  const cfg = rt.current;
  const startTime = info.startTime ?? Date.now();
  const startHr = performance.now() - (Date.now() - startTime);
  const e = new TcpLogEntry(downstream, startTime, info.sni, route?.name);
  const wc = route === undefined ? undefined : pickWeighted(route.clusters);
  if (wc === undefined) {
    if (info.connectReplyPending === true && !downstream.destroyed) {
      downstream.write(CONNECT_OK);
      info = { ...info, writtenBaseline: downstream.bytesWritten };
    }
    refuseConnection(rt, downstream, info, ResponseFlag.NR, 'filter_chain_not_found');
    return;
  }
  e.upstreamCluster = wc.cluster;
  const cr = cfg.clusters.get(wc.cluster);
  rt.metrics.tcpOpened(cr?.cluster, wc.cluster, e.peerUriSan);

  if (info.dynamicMetadata !== undefined) e.dynamicMetadata = info.dynamicMetadata;
  let upstream: Socket | undefined;
  let closed = false;
  const readBase = info.readBaseline ?? 0;
  let writtenBase = info.writtenBaseline ?? 0;
  let replyPending = info.connectReplyPending === true;
  /** Sends a deferred CONNECT's 200 (bytesWritten counts queued bytes, so the baseline follows it). */
  const replyOk = (): void => {
    if (!replyPending) return;
    replyPending = false;
    if (downstream.destroyed) return;
    downstream.write(CONNECT_OK);
    writtenBase = downstream.bytesWritten;
  };
  const finish = (): void => {
    if (closed) return;
    closed = true;
    e.bytesReceived = Math.max(0, downstream.bytesRead - readBase);
    e.bytesSent = Math.max(0, downstream.bytesWritten - writtenBase);
    e.durationMs = Math.round(performance.now() - startHr);
    rt.accessLog?.log(e);
    rt.metrics.tcpClosed(cr?.cluster, wc.cluster, e.bytesSent, e.bytesReceived, e.responseFlags, e.peerUriSan);
  };
  /**
   * Answers a CONNECT still waiting for its 200 (Envoy answers one only once its upstream is
   * connected) with a local reply, then closes; false when none is waiting (then the caller resets).
   */
  const localReply = (status: 403 | 503, details: string, body: string): boolean => {
    if (!replyPending || downstream.destroyed) return false;
    replyPending = false;
    e.responseCode = status;
    e.responseCodeDetails = details;
    writtenBase = downstream.bytesWritten;
    const reason = status === 403 ? 'Forbidden' : 'Service Unavailable';
    downstream.end(
      `HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
    downstream.resume();
    return true;
  };
  const fail = (flag: string): void => {
    e.responseFlags = addResponseFlag(e.responseFlags, flag);
    if (!localReply(503, ...connectFailure(flag))) resetSocket(downstream);
    upstream?.destroy();
    finish();
  };

  if (cr === undefined || wc.cluster === BLACKHOLE_CLUSTER) {
    // BlackHoleCluster (REGISTRY_ONLY) has no endpoints: Envoy resets the connection (a CONNECT gets 503 UH).
    fail(cr === undefined && wc.cluster !== BLACKHOLE_CLUSTER ? ResponseFlag.NC : ResponseFlag.UH);
    return;
  }
  downstream.once('close', () => {
    upstream?.destroy();
    finish();
  });
  downstream.pause();

  /** The SSRF guard said no: a CONNECT gets 403, any other connection is reset. */
  const deny = (details: string): void => {
    if (closed) return;
    e.responseFlags = addResponseFlag(e.responseFlags, SSRF_FLAG);
    e.responseCodeDetails = details;
    e.connectionTerminationDetails = details;
    if (!localReply(403, details, SSRF_DENIED_BODY)) resetSocket(downstream);
    finish();
  };

  const connect = (target: UpstreamTarget): void => {
    if (closed || downstream.destroyed) return;
    e.upstreamHost = upstreamHostOf(target);
    const guard = cfg.ssrf;
    if (guard !== undefined && SsrfGuard.applies(cr.cluster)) {
      // On the address about to be dialled (a CONNECT host or SNI resolved just now, a DNS cluster's endpoint).
      const v = guard.check(target);
      if (v !== undefined) {
        if (v.enforced) {
          rt.metrics.ssrf('denied', v.reason, 'tcp');
          deny(ssrfDetails(v));
          return;
        }
        rt.metrics.ssrf('would_deny', v.reason, 'tcp');
        e.dynamicMetadata = { ...e.dynamicMetadata, ...wouldDenyMetadata(v) };
        reportWouldDeny(v, target, cr.name, (line) => log('warning', line));
      }
    }
    cr.endpoints.requestStarted(target);
    const localAddress = sourceAddressFor(cfg.config.proxy.ip, target.address);
    // Upstream bytes are read into one buffer per tunnel and written from it (no Buffer per read):
    // reading pauses whenever a write is left queued, so the buffer is never overwritten while the
    // kernel has not taken its bytes yet.
    const buf = Buffer.allocUnsafe(TUNNEL_BUFFER);
    const onread = {
      buffer: buf,
      callback: (n: number, b: Uint8Array): boolean => {
        if (downstream.destroyed) {
          up.destroy();
          return false;
        }
        downstream.write(b.subarray(0, n));
        if (downstream.writableLength > 0) {
          up.pause();
          downstream.once('drain', resumeUp);
        }
        return true;
      },
    };
    const resumeUp = (): void => {
      if (!up.destroyed) up.resume();
    };
    const up = net.connect({ host: target.address, port: target.port, noDelay: true, onread, ...(localAddress !== undefined ? { localAddress } : {}) });
    upstream = up;
    const timer = setTimeout(() => {
      up.destroy();
      cr.endpoints.requestFinished(target, 'connect-failure');
      fail(ResponseFlag.UF);
    }, cr.cluster.connectTimeoutMs);
    let connected = false;
    up.on('error', () => {
      if (!connected) {
        clearTimeout(timer);
        cr.endpoints.requestFinished(target, 'connect-failure');
        fail(ResponseFlag.UF);
      } else {
        e.responseFlags = addResponseFlag(e.responseFlags, ResponseFlag.UC);
        downstream.destroy();
      }
    });
    up.once('connect', () => {
      connected = true;
      clearTimeout(timer);
      e.upstreamLocalAddress = `${up.localAddress}:${up.localPort}`;
      cr.endpoints.requestFinished(target, 'success');
      replyOk();
      downstream.setNoDelay(true);
      downstream.pipe(up);
      // Flowing, so that the upstream's end of stream is seen ('end') and passed on.
      up.resume();
      downstream.resume();
    });
    up.once('end', () => {
      downstream.end();
    });
    up.once('close', () => {
      if (!connected) return;
      // The upstream is gone: stop piping into it and read the client to its end (discarding), so the
      // client's FIN closes the connection and it is logged. (An unpipe on the upstream's close would
      // pause the downstream: never reading its end, it never closed, and was never logged.)
      downstream.unpipe(up);
      downstream.resume();
      downstream.end();
    });
  };

  const ready = cr.ready();
  const go = (): void => {
    if (cr.cluster.type === 'ORIGINAL_DST') {
      if (info.originalHost === undefined || info.originalPort === undefined) {
        fail(ResponseFlag.UH);
        return;
      }
      cr.endpoints.resolveOriginal(info.originalHost, info.originalPort).then(connect, (err: unknown) => {
        fail(err instanceof DnsError ? ResponseFlag.DF : ResponseFlag.UF);
      });
      return;
    }
    const t = cr.endpoints.pick();
    if (t === undefined) {
      fail(cr.endpoints.dnsFailure !== undefined ? ResponseFlag.DF : ResponseFlag.UH);
      return;
    }
    connect(t);
  };
  if (ready !== undefined) ready.then(go, go);
  else go();
}

export type { ClusterRuntime };
