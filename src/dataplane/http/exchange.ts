// One HTTP request through the proxy: route → cluster → endpoint, with retries, timeouts and
// faults; streams both bodies, writes the response, then the access-log line and the metrics.
//
// The Exchange object is the request's whole state and doubles as its access-log entry and as the
// RequestView routing reads, so the request path allocates little beyond the upstream headers.
import type http2 from 'node:http2';
import { constants as h2c } from 'node:http2';
import type { Socket } from 'node:net';
import type { ForwardAction, HeaderOperations, RequestMirror, RetryPolicy, Route, WeightedCluster } from '../../proxyconfig/types.js';
import { mirrorRequest } from './mirror.js';
import type { CompiledConfig } from '../config/compile.js';
import { newRequestId } from './request-id.js';
import {
  applyHeaderOps, pickWeighted, redirectLocation, rewritePath, type CompiledRouteTable, type HeaderMap, type RequestView,
} from '../routing/index.js';
import { ResponseFlag, RESPONSE_CODE_DETAILS as D, addResponseFlag } from '../telemetry/flags.js';
import type { AccessLogEntry } from '../telemetry/accesslog.js';
import type { ClusterRuntime, HttpUpstream } from '../upstream/cluster-runtime.js';
import type { RequestOutcome, UpstreamTarget } from '../upstream/endpoints.js';
import { ConnectError } from '../upstream/h2-session.js';
import { UpstreamError, type H1Call, type H1Handler } from '../upstream/h1-pool.js';
import { DnsError } from '../dns/resolver.js';
import { absoluteForm, DownstreamCodecError } from '../http1/framing.js';
import { REASONS } from '../http1/head.js';
import type { ProxyRuntime } from '../runtime.js';
import { cleanResponseHeaders, headerValue, upstreamRequestHeaders } from './headers.js';
import type { BodySink, BodySource, Downstream } from './downstream.js';
import { peerOf, type PeerInfo } from '../identity/workload-identity.js';
import { RBAC_DENIED_BODY, auditMetadata } from '../authz/engine.js';
import { SSRF_DENIED_BODY, SSRF_FLAG, SsrfGuard, reportWouldDeny, ssrfDetails, wouldDenyMetadata } from '../upstream/ssrf-guard.js';
import { log } from '../log.js';
import { XFCC, clientCertDetails } from './xfcc.js';

/** How an upstream attempt failed before a response was committed downstream. */
type FailureKind = 'connect' | 'reset' | 'refused' | 'protocol' | 'per-try-timeout' | 'overflow';

/** Envoy's local-reply bodies. */
const BODY_NO_HEALTHY = 'no healthy upstream';
const BODY_TIMEOUT = 'upstream request timeout';
const BODY_FAULT = 'fault filter abort';
const RESET_PREFIX = 'upstream connect error or disconnect/reset before headers. reset reason: ';

/** Buffer limit for a request body kept for retries (Envoy's per-connection buffer default, 1 MiB). */
const RETRY_BUFFER_LIMIT = 1024 * 1024;

const EMPTY_HEADERS: HeaderMap = {};

/** A closed upstream connection after the response head: Envoy pairs UC with connection_termination. */
const RESET_AFTER_START_TERMINATION = 'upstream_reset_after_response_started{connection_termination}';

/**
 * RFC 3986 authority characters (reg-name / IP-literal, optional port). Anything else (spaces,
 * quotes, braces, slashes) is rejected as Envoy does (400 http.invalid_authority).
 */
const AUTHORITY_OK = (() => {
  const t = new Uint8Array(128);
  const ok = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:[]%";
  for (let i = 0; i < ok.length; i++) t[ok.charCodeAt(i)] = 1;
  return t;
})();

function isValidAuthority(a: string): boolean {
  for (let i = 0; i < a.length; i++) {
    const c = a.charCodeAt(i);
    if (c >= 128 || AUTHORITY_OK[c] === 0) return false;
  }
  return true;
}

export class Exchange implements AccessLogEntry, RequestView {
  // RequestView
  readonly method: string;
  readonly path: string;
  authority: string;
  readonly scheme: 'http' | 'https';
  // AccessLogEntry
  readonly startTime: number;
  readonly protocol: string;
  responseCode = 0;
  responseFlags = '-';
  responseCodeDetails: string | undefined = undefined;
  connectionTerminationDetails: string | undefined = undefined;
  upstreamTransportFailureReason: string | undefined = undefined;
  bytesReceived = 0;
  bytesSent = 0;
  durationMs = 0;
  upstreamServiceTimeMs: number | undefined = undefined;
  upstreamHost: string | undefined = undefined;
  upstreamCluster: string | undefined = undefined;
  upstreamLocalAddress: string | undefined = undefined;
  requestedServerName: string | undefined;
  routeName: string | undefined = undefined;
  readonly peerUriSan: string | undefined;
  dynamicMetadata: Record<string, Record<string, string>> | undefined = undefined;

  readonly #rt: ProxyRuntime;
  readonly #peer: PeerInfo | undefined;
  /** AuthorizationPolicy applies (a request a listener accepted itself, not outbound traffic). */
  readonly #authorize: boolean;
  readonly #cfg: CompiledConfig;
  readonly #ds: Downstream;
  readonly #isH2: boolean;
  /** The connection's socket, taken while the request is alive (see downstreamSocket). */
  readonly #sock: Socket | null;
  readonly #startHr: number;
  /** Destination port: the listener's, or the forward-proxy target's. */
  readonly #port: number;
  #upHeaders: HeaderMap | undefined = undefined;
  #respHeaders: HeaderMap = EMPTY_HEADERS;
  #cluster: ClusterRuntime | undefined = undefined;
  #target: UpstreamTarget | undefined = undefined;
  #countedActive = false;
  #retriesDone = 0;
  #attempt: Attempt | undefined = undefined;
  #globalTimer: NodeJS.Timeout | undefined = undefined;
  #finished = false;
  #grpcStatus: string | undefined = undefined;
  #upstreamStartHr = 0;
  #route: Route | undefined = undefined;
  #weighted: WeightedCluster | undefined = undefined;
  #upPath = '';
  #upAuthority = '';
  #tlsHost = '';
  #body: Buffer | BodySource | null = null;
  #delayTimer: NodeJS.Timeout | undefined = undefined;
  /** The downstream went away while its request body was being sent upstream. */
  #bodyFailed = false;
  /** The downstream body failed because its framing was malformed (then 400, not a reset). */
  #bodyCodecError: DownstreamCodecError | undefined = undefined;
  #retry: RetryPolicy | undefined = undefined;
  #maxRetries = 0;
  /** Endpoints tried so far, which a retry avoids. */
  #tried: Set<UpstreamTarget> | undefined = undefined;

  constructor(rt: ProxyRuntime, ds: Downstream, port: number, target: { authority: string; path: string } | undefined, sni?: string, authorize = false) {
    this.#rt = rt;
    this.#cfg = rt.current;
    this.#ds = ds;
    this.startTime = Date.now();
    this.#startHr = performance.now();
    this.#port = port;
    this.#isH2 = ds.isH2;
    const sock = ds.socket;
    // Read the addresses once while the connection is open: net caches them on the socket (once
    // per connection), so the access log still has them when the client has already gone.
    if (sock !== null && sock.remoteAddress !== undefined) void sock.localAddress;
    this.#sock = sock;
    this.protocol = ds.protocol;
    this.method = ds.method;
    if (target !== undefined) {
      this.authority = target.authority;
      this.path = target.path;
    } else {
      this.authority = ds.authority;
      // An absolute-form target (the codec took its authority): routed on its path, as Envoy does.
      const url = ds.url;
      this.path = url.charCodeAt(0) === 47 /* / */ ? url : absoluteForm(url)?.path ?? url;
    }
    const peer = peerOf(sock);
    this.#peer = peer;
    this.peerUriSan = peer?.uriSan;
    this.#authorize = authorize;
    this.scheme = ds.encrypted || peer !== undefined ? 'https' : 'http';
    this.requestedServerName = sni ?? peer?.sni;
    ds.onClose(this.#onClose);
  }

  // ---- RequestView / AccessLogEntry accessors

  header(name: string): string | undefined {
    return headerValue(this.#ds.headers[name]);
  }

  requestHeader(name: string): string | undefined {
    if (name === ':authority' || name === 'host') return this.authority || undefined;
    if (name === ':method') return this.method;
    if (name === ':path') return this.path;
    const up = this.#upHeaders;
    if (up !== undefined) return headerValue(up[name]);
    return headerValue(this.#ds.headers[name]);
  }

  responseHeader(name: string): string | undefined {
    return headerValue(this.#respHeaders[name]);
  }

  get downstreamLocalAddress(): string {
    const s = this.#sock;
    return s?.localAddress ? `${s.localAddress}:${s.localPort}` : '-';
  }

  get downstreamRemoteAddress(): string {
    const s = this.#sock;
    return s?.remoteAddress ? `${s.remoteAddress}:${s.remotePort}` : '-';
  }

  // ---- routing

  /** Routes the request through `table`. Never throws: a bug answers 500. */
  run(table: CompiledRouteTable): void {
    try {
      this.#run(table);
    } catch (err) {
      this.#internalError(err);
    }
  }

  #run(table: CompiledRouteTable): void {
    if (this.#ds.badVersion) {
      // An HTTP/1 connection carrying a request line that claims another major version.
      this.#localReply(400, ResponseFlag.DPE, D.HTTP1_CODEC_ERROR, 'Bad Request');
      return;
    }
    if (this.authority === '') {
      this.#localReply(400, ResponseFlag.DPE, D.MISSING_HOST_HEADER, 'Bad Request');
      return;
    }
    if (!isValidAuthority(this.authority)) {
      // Not logged verbatim: a quote or space in it would break the access-log line.
      this.authority = '';
      this.#localReply(400, ResponseFlag.DPE, D.INVALID_AUTHORITY, 'Bad Request');
      return;
    }
    if (this.#authorize && this.#cfg.authz !== undefined && !this.#authorized()) return;
    const vh = table.findVirtualHost(this.authority, this.#port);
    const route = vh?.match(this);
    if (route === undefined) {
      this.#localReply(404, ResponseFlag.NR, D.ROUTE_NOT_FOUND, '');
      return;
    }
    this.routeName = route.name;
    const fault = route.fault;
    if (fault !== undefined) {
      if (fault.delay !== undefined && hit(fault.delay.percentage)) {
        this.responseFlags = addResponseFlag(this.responseFlags, ResponseFlag.DI);
        this.#delayTimer = setTimeout(() => this.#guard(this.#afterDelay, route), fault.delay.fixedDelayMs);
        return;
      }
    }
    this.#afterDelay(route);
  }

  /** Envoy's RBAC HTTP filter: false when the request was denied (403 answered, counted). */
  #authorized(): boolean {
    const rt = this.#rt;
    const sock = this.#sock;
    const v = this.#cfg.authz!.evaluate({
      principal: this.#peer?.principal,
      sourceIp: sock?.remoteAddress,
      destinationIp: sock?.localAddress,
      destinationPort: this.#port,
      sni: this.requestedServerName,
      http: { host: this.authority, method: this.method, path: this.path, header: (n) => this.header(n) },
    });
    if (v.audited) {
      rt.metrics.rbac('http', 'logged');
      this.dynamicMetadata = { ...this.dynamicMetadata, ...auditMetadata(v) };
    }
    if (v.shadowDenied) rt.metrics.rbac('http', 'shadow_denied');
    if (v.allowed) {
      rt.metrics.rbac('http', 'allowed');
      return true;
    }
    rt.metrics.rbac('http', 'denied');
    this.#localReply(403, '', v.details!, RBAC_DENIED_BODY);
    return false;
  }

  #afterDelay(route: Route): void {
    this.#delayTimer = undefined;
    if (this.#finished) return;
    const abort = route.fault?.abort;
    if (abort !== undefined && hit(abort.percentage)) {
      this.#localReply(abort.httpStatus, ResponseFlag.FI, D.FAULT_ABORT, BODY_FAULT);
      return;
    }
    const a = route.action;
    switch (a.kind) {
      case 'directResponse':
        this.#localReply(a.status, '', D.DIRECT_RESPONSE, a.body ?? '', route);
        return;
      case 'redirect': {
        const location = redirectLocation(this, route, a);
        this.#localReply(a.code, '', D.DIRECT_RESPONSE, '', route, location);
        return;
      }
      case 'forward':
        this.#forward(route, a);
        return;
    }
  }

  // ---- forwarding
  //
  // Callbacks, not async functions: a request that needs no DNS wait, no body buffering and no
  // retry runs from the route match to the upstream dispatch without a single Promise.

  #forward(route: Route, a: ForwardAction): void {
    const wc = pickWeighted(a.clusters);
    this.upstreamCluster = wc?.cluster;
    const cr = wc === undefined ? undefined : this.#cfg.clusters.get(wc.cluster);
    if (cr === undefined) {
      this.#localReply(503, ResponseFlag.NC, D.CLUSTER_NOT_FOUND, '');
      return;
    }
    this.#cluster = cr;
    this.#route = route;
    this.#weighted = wc;

    // Upstream request headers: downstream ones minus hop-by-hop, plus the proxy's own.
    const up = upstreamRequestHeaders(this.#ds.headers);
    if (up['x-request-id'] === undefined) up['x-request-id'] = newRequestId();
    if (this.#cfg.isRouter) {
      // A gateway uses the peer address (use_remote_address), appending it to x-forwarded-for.
      const ip = this.#sock?.remoteAddress;
      if (ip) {
        const xff = up['x-forwarded-for'];
        up['x-forwarded-for'] = xff === undefined ? ip : `${headerValue(xff)}, ${ip}`;
      }
      if (up['x-forwarded-proto'] === undefined) up['x-forwarded-proto'] = this.scheme;
      // Istio's gateways: SANITIZE_SET — the verified client certificate's details, or no XFCC.
      const xfcc = clientCertDetails(this.#sock);
      if (xfcc === undefined) delete up[XFCC];
      else up[XFCC] = xfcc;
    } else if (!this.#authorize) {
      // A sidecar's outbound traffic: Envoy's default SANITIZE (an app cannot pose as a mesh peer).
      delete up[XFCC];
    }
    if (route.requestHeaders !== undefined) applyHeaderOps(up, route.requestHeaders);
    if (wc!.requestHeaders !== undefined) applyHeaderOps(up, wc!.requestHeaders);
    this.#upHeaders = up;

    this.#upPath = this.path;
    this.#upAuthority = this.authority;
    this.#authorityFrom(up, route.requestHeaders);
    this.#authorityFrom(up, wc!.requestHeaders);
    const rw = a.rewrite;
    if (rw !== undefined) {
      this.#upPath = rewritePath(this.path, route, rw);
      if (rw.authority !== undefined) this.#upAuthority = rw.authority;
      if (this.#upPath !== this.path) up['x-envoy-original-path'] = this.path;
    }
    this.#tlsHost = hostOnly(this.#upAuthority);

    const ready = cr.ready();
    if (ready !== undefined) {
      ready.then(() => this.#guard(this.#admit, a), (err: unknown) => this.#internalError(err));
      return;
    }
    this.#admit(a);
  }

  /**
   * Header operations that name `:authority` or `host` rewrite the authority sent upstream (as
   * Envoy's request_headers_to_add does); they never travel as headers of their own.
   */
  #authorityFrom(up: HeaderMap, ops: HeaderOperations | undefined): void {
    if (ops === undefined) return;
    const value = authorityOp(ops.set) ?? authorityOp(ops.add);
    if (value === undefined) return;
    delete up[':authority'];
    delete up['host'];
    if (value !== '' && isValidAuthority(value)) this.#upAuthority = value;
  }

  /** Runs a step from a timer or a promise callback: a bug answers 500 instead of crashing the proxy. */
  #guard<T>(step: (arg: T) => void, arg: T): void {
    try {
      step.call(this, arg);
    } catch (err) {
      this.#internalError(err);
    }
  }

  #admit(a: ForwardAction): void {
    if (this.#finished) return;
    const cr = this.#cluster!;
    if (cr.active >= cr.maxActive) {
      this.#localReply(503, ResponseFlag.UO, D.UPSTREAM_OVERFLOW, `${RESET_PREFIX}overflow`);
      return;
    }
    cr.active++;
    this.#countedActive = true;

    // Retries need the body again: keep it (bounded) when a retry policy could use it.
    const ds = this.#ds;
    const body = ds.hasBody ? new CountingBody(this, ds) : null;
    const retry = a.retry !== undefined && a.retry.attempts > 0 ? a.retry : undefined;
    this.#retry = retry;
    this.#maxRetries = retry === undefined ? 0 : Math.min(retry.attempts, cr.maxRetries);
    if (a.timeoutMs !== undefined && a.timeoutMs > 0) {
      this.#globalTimer = setTimeout(() => this.#onGlobalTimeout(), a.timeoutMs);
    }
    const mirrors = a.mirrors;
    if (body !== null && (retry !== undefined || mirrors !== undefined)) {
      readBounded(ds, RETRY_BUFFER_LIMIT, (buffered, err) => {
        if (this.#finished) return;
        if (err instanceof DownstreamCodecError) {
          // A body with broken framing is never forwarded, not even the part that arrived.
          this.#localReply(err.reject.status, ResponseFlag.DPE, err.reject.details, REASONS[err.reject.status] ?? '');
          return;
        }
        if (buffered === undefined) {
          this.#localReply(413, '', 'request_payload_too_large', 'Payload Too Large');
          return;
        }
        this.bytesReceived = buffered.length;
        this.#body = buffered;
        if (mirrors !== undefined) this.#mirror(mirrors, buffered);
        this.#guard(this.#tryOnce, undefined);
      });
      return;
    }
    this.#body = body;
    if (mirrors !== undefined) this.#mirror(mirrors, null);
    this.#tryOnce(undefined);
  }

  #mirror(mirrors: readonly RequestMirror[], body: Buffer | null): void {
    mirrorRequest(this.#cfg, mirrors, { method: this.method, path: this.#upPath, authority: this.#upAuthority, headers: this.#upHeaders!, body });
  }

  /** One upstream attempt: picks the endpoint, dispatches; #attemptDone continues. */
  #tryOnce(_: undefined): void {
    if (this.#finished) return;
    const cr = this.#cluster!;
    if (cr.cluster.type === 'ORIGINAL_DST') {
      const { host, port } = splitHostPort(this.#upAuthority, this.scheme === 'https' ? 443 : 80);
      cr.endpoints.resolveOriginal(host, port).then((t) => {
        if (!this.#finished) this.#guard(this.#attemptTo, t);
      }, (err: unknown) => {
        if (err instanceof DnsError) this.#localReply(503, ResponseFlag.DF, D.DNS_RESOLUTION_FAILED, `${RESET_PREFIX}dns resolution failure`);
        else this.#internalError(err);
      });
      return;
    }
    this.#attemptTo(cr.endpoints.pick(this.#tried));
  }

  #attemptTo(target: UpstreamTarget | undefined): void {
    if (target === undefined) {
      // A DNS cluster whose names did not resolve (or not in time) has no endpoints because of DNS.
      if (this.#cluster!.endpoints.dnsFailure !== undefined) this.#localReply(503, ResponseFlag.DF, D.DNS_RESOLUTION_FAILED, `${RESET_PREFIX}dns resolution failure`);
      else this.#localReply(503, ResponseFlag.UH, D.NO_HEALTHY_UPSTREAM, BODY_NO_HEALTHY);
      return;
    }
    const cr = this.#cluster!;
    this.#target = target;
    this.upstreamHost = target.address.includes(':') ? `[${target.address}]:${target.port}` : `${target.address}:${target.port}`;
    const guard = this.#cfg.ssrf;
    if (guard !== undefined && SsrfGuard.applies(cr.cluster)) {
      // On the address about to be dialled: a name that re-resolves elsewhere is checked again.
      const v = guard.check(target);
      if (v !== undefined) {
        if (v.enforced) {
          this.#rt.metrics.ssrf('denied', v.reason, 'http');
          this.#localReply(403, SSRF_FLAG, ssrfDetails(v), SSRF_DENIED_BODY);
          return;
        }
        this.#rt.metrics.ssrf('would_deny', v.reason, 'http');
        this.dynamicMetadata = { ...this.dynamicMetadata, ...wouldDenyMetadata(v) };
        reportWouldDeny(v, target, cr.name, (line) => log('warning', line));
      }
    }
    cr.endpoints.requestStarted(target);
    const upstream = cr.upstream(target, this.#tlsHost);
    this.#upstreamStartHr = performance.now();
    const retry = this.#retry;
    const attempt = new Attempt(this, upstream, target, retry?.perTryTimeoutMs);
    if (retry !== undefined) {
      if (this.#retriesDone < this.#maxRetries) attempt.retryStatus = (st, h) => retriableStatus(retry, st, h);
      else attempt.lastTry = retry;
    }
    this.#attempt = attempt;
    attempt.start(this.#upPath, this.#upAuthority, this.#upHeaders!, this.#body);
  }

  /** An attempt ended: committed downstream, or a failure (or retriable status) to retry or answer. */
  attemptDone(attempt: Attempt, outcome: AttemptOutcome): void {
    if (this.#attempt === attempt) this.#attempt = undefined;
    const cr = this.#cluster!;
    const upstream = attempt.upstream;
    // HTTP/1.1 attempts learn their own connection's address (onConnected); an HTTP/2 endpoint has one session.
    if (upstream.kind === 'h2' && upstream.lastLocalAddress !== undefined) this.upstreamLocalAddress = upstream.lastLocalAddress;
    cr.endpoints.requestFinished(attempt.target, outcomeFor(outcome, this.responseCode));
    if (outcome.committed || this.#finished) return;
    const codec = this.#bodyCodecError;
    if (codec !== undefined && !this.#ds.headersSent) {
      // The client's body broke HTTP/1.1 framing: Envoy's codec answers that itself.
      this.#localReply(codec.reject.status, ResponseFlag.DPE, codec.reject.details, REASONS[codec.reject.status] ?? '');
      return;
    }
    if (this.#bodyFailed) {
      // The upstream failed because the client stopped sending: the client's disconnect (DC), no reply.
      this.responseCode = 0;
      this.responseFlags = addResponseFlag(this.responseFlags, ResponseFlag.DC);
      this.responseCodeDetails = D.DOWNSTREAM_REMOTE_DISCONNECT;
      this.#destroyDownstream();
      return;
    }
    const retry = this.#retry;
    const canRetry = retry !== undefined && retriable(retry, outcome);
    if (canRetry && this.#retriesDone < this.#maxRetries && !(this.#body instanceof CountingBody)) {
      this.#retriesDone++;
      setTimeout(() => this.#retryNow(), retryDelayMs(retry, this.#retriesDone));
      return;
    }
    if (canRetry && this.#maxRetries > 0) this.responseFlags = addResponseFlag(this.responseFlags, ResponseFlag.URX);
    this.#finalFailure(outcome);
  }

  #retryNow(): void {
    if (this.#finished) return;
    // Made on the first retry only, so a request that needs none allocates nothing for it.
    if (this.#target !== undefined) (this.#tried ??= new Set()).add(this.#target);
    this.#guard(this.#tryOnce, undefined);
  }

  // ---- called by Attempt

  get finished(): boolean {
    return this.#finished;
  }

  get downstreamIsH2(): boolean {
    return this.#isH2;
  }

  get downstream(): Downstream {
    return this.#ds;
  }

  flag(f: string): void {
    this.responseFlags = addResponseFlag(this.responseFlags, f);
  }

  countRequestBytes(n: number): void {
    this.bytesReceived += n;
  }

  downstreamBodyFailed(err: Error): void {
    this.#bodyFailed = true;
    if (err instanceof DownstreamCodecError) this.#bodyCodecError = err;
  }

  /**
   * Upstream response headers arrived (end-to-end ones only: the upstream side removed the
   * connection headers). Returns false when the status should be retried instead (the attempt
   * then aborts); otherwise writes the response head downstream.
   */
  upstreamHeaders(status: number, headers: HeaderMap, retryableStatus: boolean): boolean {
    if (this.#finished) return false;
    if (retryableStatus) return false;
    const ex = this;
    ex.upstreamServiceTimeMs = Math.round(performance.now() - this.#upstreamStartHr);
    headers['x-envoy-upstream-service-time'] = String(ex.upstreamServiceTimeMs);
    headers['server'] = this.#cfg.serverHeader;
    applyHeaderOps(headers, this.#route?.responseHeaders);
    applyHeaderOps(headers, this.#weighted?.responseHeaders);
    const g = headers['grpc-status'];
    if (typeof g === 'string') this.#grpcStatus = g;
    this.responseCode = status;
    this.responseCodeDetails = D.VIA_UPSTREAM;
    this.#respHeaders = headers;
    try {
      this.#ds.writeHead(status, headers);
    } catch {
      // A header node refuses (e.g. an invalid character) — the response cannot be relayed.
      this.#respHeaders = EMPTY_HEADERS;
      this.responseCode = 502;
      this.#localReply(502, ResponseFlag.UPE, D.UPSTREAM_PROTOCOL_ERROR, 'upstream response headers invalid');
      return false;
    }
    return true;
  }

  writeBody(chunk: Buffer): boolean {
    this.bytesSent += chunk.length;
    return this.#ds.write(chunk);
  }

  endResponse(trailers: HeaderMap | undefined): void {
    if (trailers !== undefined) {
      const g = trailers['grpc-status'];
      if (typeof g === 'string') this.#grpcStatus = g;
      let any = false;
      for (const _k in trailers) { any = true; break; }
      if (!any) trailers = undefined;
    }
    this.#ds.end(undefined, trailers);
  }

  /** The upstream failed after the response head was written: cut the downstream response. */
  resetAfterStart(flag: string, details: string): void {
    this.responseFlags = addResponseFlag(this.responseFlags, flag);
    this.responseCodeDetails = details;
    this.#destroyDownstream();
  }

  // ---- endings

  #onGlobalTimeout(): void {
    this.#globalTimer = undefined;
    if (this.#finished) return;
    this.#attempt?.abort();
    if (this.#ds.headersSent) {
      this.resetAfterStart(ResponseFlag.UT, D.RESPONSE_TIMEOUT);
      return;
    }
    this.#localReply(504, ResponseFlag.UT, D.RESPONSE_TIMEOUT, BODY_TIMEOUT);
  }


  #finalFailure(o: AttemptOutcome): void {
    switch (o.kind) {
      case 'connect':
        this.upstreamTransportFailureReason = o.transportReason;
        this.#localReply(503, ResponseFlag.UF, o.transportReason ? `upstream_reset_before_response_started{connection_failure,${o.transportReason}}` : D.UPSTREAM_CONNECTION_FAILURE,
          `${RESET_PREFIX}connection failure${o.transportReason ? `, transport failure reason: ${o.transportReason}` : ''}`);
        return;
      case 'reset':
        this.#localReply(503, ResponseFlag.UC, D.UPSTREAM_CONNECTION_TERMINATION, `${RESET_PREFIX}connection termination`);
        return;
      case 'refused':
        this.#localReply(503, ResponseFlag.UR, D.UPSTREAM_REMOTE_RESET, `${RESET_PREFIX}remote refused stream reset`);
        return;
      case 'protocol':
        // Envoy answers an upstream's protocol error 502 (before its 1.20 it was 503).
        this.#localReply(502, ResponseFlag.UPE, D.UPSTREAM_PROTOCOL_ERROR, `${RESET_PREFIX}protocol error`);
        return;
      case 'per-try-timeout':
        this.#localReply(504, ResponseFlag.UT, D.UPSTREAM_PER_TRY_TIMEOUT, BODY_TIMEOUT);
        return;
      case 'overflow':
        this.#localReply(503, ResponseFlag.UO, D.UPSTREAM_OVERFLOW, `${RESET_PREFIX}overflow`);
        return;
      case 'status':
        // The last try's retriable status goes downstream as the upstream sent it.
        this.#relayStatus(o);
        return;
    }
  }

  #relayStatus(o: AttemptOutcome): void {
    const headers = o.headers ?? {};
    if (!this.upstreamHeaders(o.status, headers, false)) return;
    if (o.body !== undefined && o.body.length > 0) this.writeBody(o.body);
    this.endResponse(undefined);
  }

  /** A response made by the proxy itself (Envoy's local reply). */
  #localReply(status: number, flag: string, details: string, body: string, route?: Route, location?: string): void {
    if (this.#finished) return;
    if (flag !== '') this.responseFlags = addResponseFlag(this.responseFlags, flag);
    this.responseCodeDetails = details;
    const ds = this.#ds;
    if (ds.headersSent) {
      this.#destroyDownstream();
      return;
    }
    this.responseCode = status;
    const headers: HeaderMap = { server: this.#cfg.serverHeader };
    if (location !== undefined) headers['location'] = location;
    const b = body === '' ? undefined : Buffer.from(body);
    if (b !== undefined) headers['content-type'] = 'text/plain';
    headers['content-length'] = String(b?.length ?? 0);
    if (route !== undefined) applyHeaderOps(headers, route.responseHeaders);
    this.#respHeaders = headers;
    try {
      ds.writeHead(status, headers);
      if (b !== undefined && this.method !== 'HEAD') {
        this.bytesSent += b.length;
        ds.end(b);
      } else {
        ds.end();
      }
    } catch {
      this.#destroyDownstream();
    }
    // The downstream may still be sending a body nobody reads; let it drain so keep-alive works.
    if (!ds.requestComplete) ds.discardBody();
  }

  internalError(err: unknown): void {
    this.#internalError(err);
  }

  #internalError(err: unknown): void {
    if (this.#finished) return;
    this.#localReply(500, '', 'internal_error', 'internal error');
    void err;
  }

  #destroyDownstream(): void {
    this.#ds.reset();
  }

  /**
   * True when the client already has the whole response body its headers announced: a client
   * that closes right after the last byte (before the upstream's end-of-message is processed)
   * did not disconnect early.
   */
  #bodyComplete(): boolean {
    if (!this.#ds.headersSent) return false;
    const cl = headerValue(this.#respHeaders['content-length']);
    return cl !== undefined && cl !== '' && Number(cl) === this.bytesSent;
  }

  #onClose = (): void => {
    if (this.#finished) return;
    this.#finished = true;
    if (this.#globalTimer !== undefined) clearTimeout(this.#globalTimer);
    if (this.#delayTimer !== undefined) clearTimeout(this.#delayTimer);
    const ds = this.#ds;
    // ended, not flushed: a client that read the whole response and closed at once can close
    // before the codec reports it written; the response was complete all the same.
    if (!ds.ended && !this.#bodyComplete()) {
      // The client left (or we cut it): Envoy's DC; code 0 if nothing was sent.
      if (this.#attempt !== undefined) this.#attempt.abort();
      if (this.responseCodeDetails === undefined || this.responseCodeDetails === D.VIA_UPSTREAM) {
        if (!ds.headersSent) this.responseCode = 0;
        this.responseFlags = addResponseFlag(this.responseFlags, ResponseFlag.DC);
        this.responseCodeDetails = D.DOWNSTREAM_REMOTE_DISCONNECT;
      }
    }
    if (this.#countedActive) this.#cluster!.active--;
    this.durationMs = Math.round(performance.now() - this.#startHr);
    const rt = this.#rt;
    rt.accessLog?.log(this);
    rt.metrics.recordRequest({
      cluster: this.#cluster?.cluster,
      clusterName: this.upstreamCluster ?? '',
      protocol: isGrpc(ds) ? 'grpc' : 'http',
      responseCode: this.responseCode,
      responseFlags: this.responseFlags,
      durationMs: this.durationMs,
      requestBytes: this.bytesReceived,
      responseBytes: this.bytesSent,
      ...(this.#grpcStatus !== undefined ? { grpcStatus: this.#grpcStatus } : {}),
      ...(this.peerUriSan !== undefined ? { peerUriSan: this.peerUriSan } : {}),
    });
  };
}

// ---------------------------------------------------------------------------------------------
// One upstream attempt over HTTP/1.1 (outpost's pool, ../upstream/h1-pool.ts) or HTTP/2 (node:http2).

interface AttemptOutcome {
  kind: FailureKind | 'status';
  committed: boolean;
  status: number;
  transportReason?: string;
  headers?: HeaderMap;
  body?: Buffer;
}

const COMMITTED: AttemptOutcome = { kind: 'status', committed: true, status: 0 };

class Attempt implements H1Handler {
  readonly #ex: Exchange;
  readonly #up: HttpUpstream;
  readonly target: UpstreamTarget;
  readonly #perTryMs: number | undefined;
  #settled = false;
  #connected = false;
  #started = false;
  #call: H1Call | undefined = undefined;
  #h2stream: http2.ClientHttp2Stream | undefined = undefined;
  #timer: NodeJS.Timeout | undefined = undefined;
  #aborted = false;
  /** A retriable status: its head and body are kept in case this was the last try. */
  #held: AttemptOutcome | undefined = undefined;
  #heldChunks: Buffer[] | undefined = undefined;
  retryStatus: ((status: number, headers: HeaderMap) => boolean) | undefined = undefined;
  /** The retry policy when this is the last allowed try: a retriable status then gets URX. */
  lastTry: RetryPolicy | undefined = undefined;

  constructor(ex: Exchange, up: HttpUpstream, target: UpstreamTarget, perTryMs: number | undefined) {
    this.#ex = ex;
    this.#up = up;
    this.target = target;
    this.#perTryMs = perTryMs;
  }

  get upstream(): HttpUpstream {
    return this.#up;
  }

  /** Dispatches the request; the outcome arrives through Exchange.attemptDone. */
  start(path: string, authority: string, headers: HeaderMap, body: Buffer | BodySource | null): void {
    if (this.#perTryMs !== undefined && this.#perTryMs > 0) {
      this.#timer = setTimeout(() => this.#onPerTryTimeout(), this.#perTryMs);
    }
    if (this.#up.kind === 'h1') {
      this.#call = this.#up.pool.dispatch({ method: this.#ex.method, path, authority, headers }, body, this);
    } else {
      this.#h2(path, authority, headers, body);
    }
  }

  abort(): void {
    if (this.#aborted) return;
    this.#aborted = true;
    // Settled first: whatever the abort raises in the upstream's callbacks is then ignored.
    this.#settle(COMMITTED);
    this.#call?.abort();
    if (this.#h2stream !== undefined && !this.#h2stream.destroyed) this.#h2stream.close(h2c.NGHTTP2_CANCEL);
  }

  #settle(o: AttemptOutcome): void {
    if (this.#settled) return;
    this.#settled = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    try {
      this.#ex.attemptDone(this, o);
    } catch (err) {
      // Never into the pool's or http2's callbacks: the exchange answers 500 and logs.
      this.#ex.internalError(err);
    }
  }

  #onPerTryTimeout(): void {
    this.#timer = undefined;
    if (this.#settled) return;
    if (this.#started) {
      // Response already flowing: the per-try timeout only guards the wait for headers.
      return;
    }
    this.#aborted = true;
    this.#settle({ kind: 'per-try-timeout', committed: false, status: 504 });
    this.#call?.abort();
    if (this.#h2stream !== undefined && !this.#h2stream.destroyed) this.#h2stream.close(h2c.NGHTTP2_CANCEL);
  }

  // Decides between relaying a response and retrying it (undefined: relay).
  #onHead(status: number, headers: HeaderMap): boolean {
    const ex = this.#ex;
    if (this.retryStatus !== undefined && this.retryStatus(status, headers)) {
      this.#held = { kind: 'status', committed: false, status, headers };
      this.#heldChunks = [];
      return false;
    }
    this.#started = true;
    const up = this.#up;
    if (up.kind === 'h2' && up.lastLocalAddress !== undefined) ex.upstreamLocalAddress = up.lastLocalAddress;
    if (this.lastTry !== undefined && retriableStatus(this.lastTry, status, headers)) ex.flag(ResponseFlag.URX);
    if (!ex.upstreamHeaders(status, headers, false)) {
      this.abort();
      return false;
    }
    return true;
  }

  // ---- H1Handler (the HTTP/1.1 pool's callbacks)

  onConnected(localAddress: string): void {
    this.#connected = true;
    this.#ex.upstreamLocalAddress = localAddress;
  }

  onHead(status: number, headers: HeaderMap): boolean {
    if (this.#settled && this.#held === undefined) return false;
    this.#onHead(status, headers);
    // Keep reading while relaying, or while holding a retriable answer for a possible last try.
    return this.#held !== undefined || (this.#started && !this.#settled);
  }

  onData(chunk: Buffer): void {
    if (this.#held !== undefined) {
      this.#heldChunks!.push(chunk);
      return;
    }
    if (this.#settled || this.#ex.finished) return;
    if (!this.#ex.writeBody(chunk)) {
      // Backpressure: only a slow client costs a listener.
      this.#call!.pause();
      this.#ex.downstream.onDrain(this.#resume);
    }
  }

  #resume = (): void => { this.#call?.resume(); };

  onEnd(trailers: HeaderMap | undefined): void {
    if (this.#held !== undefined) {
      this.#held.body = Buffer.concat(this.#heldChunks!);
      this.#settle(this.#held);
      return;
    }
    if (this.#settled) return;
    this.#ex.endResponse(trailers);
    this.#settle(COMMITTED);
  }

  onError(err: UpstreamError): void {
    if (this.#settled) return;
    this.#fail(err);
  }

  #fail(err: Error & { code?: string }): void {
    if (this.#started) {
      // Headers already went downstream: all we can do is cut the response.
      this.#ex.resetAfterStart(ResponseFlag.UC, isProtocolError(err) ? D.UPSTREAM_RESET_AFTER_RESPONSE_STARTED_PROTOCOL_ERROR : RESET_AFTER_START_TERMINATION);
      this.#settle(COMMITTED);
      return;
    }
    if (this.#held !== undefined) {
      this.#settle(this.#held);
      return;
    }
    const code = err.code ?? '';
    const kind = err instanceof UpstreamError ? err.kind : undefined;
    if (kind === 'connect' || (kind === undefined && (err instanceof ConnectError || isConnectError(code) || (!this.#connected && !isProtocolError(err))))) {
      this.#settle({ kind: 'connect', committed: false, status: 503, transportReason: transportReason(err) });
    } else if (kind === 'protocol' || (kind === undefined && isProtocolError(err))) {
      this.#settle({ kind: 'protocol', committed: false, status: 502 });
    } else {
      this.#settle({ kind: 'reset', committed: false, status: 503 });
    }
  }

  // ---- HTTP/2 upstream

  #h2(path: string, authority: string, headers: HeaderMap, body: Buffer | BodySource | null): void {
    const up = this.#up;
    if (up.kind !== 'h2') return;
    up.session.get().then((session) => {
      if (this.#settled) return;
      this.#connected = true;
      const h: http2.OutgoingHttpHeaders = { ...headers, ':method': this.#ex.method, ':path': path, ':authority': authority, ':scheme': 'http' };
      if (h['te'] !== undefined && h['te'] !== 'trailers') delete h['te'];
      let stream: http2.ClientHttp2Stream;
      try {
        stream = session.request(h, { endStream: body === null });
      } catch (err) {
        this.#fail(err as Error);
        return;
      }
      this.#h2stream = stream;
      stream.on('response', (rh) => {
        const status = Number(rh[':status']);
        const hm: HeaderMap = {};
        for (const k in rh) if (k.charCodeAt(0) !== 58) hm[k] = rh[k] as string | string[];
        // The HTTP/1.1 pool hands heads over without connection headers; node:http2 does not.
        cleanResponseHeaders(hm);
        this.#onHead(status, hm);
      });
      const resume = (): void => { stream.resume(); };
      stream.on('data', (chunk: Buffer) => {
        if (this.#held !== undefined) { this.#heldChunks!.push(chunk); return; }
        if (this.#settled || this.#ex.finished) return;
        if (!this.#ex.writeBody(chunk)) {
          stream.pause();
          this.#ex.downstream.onDrain(resume);
        }
      });
      let trailers: HeaderMap | undefined;
      stream.on('trailers', (t) => { trailers = t as HeaderMap; });
      stream.on('end', () => {
        if (this.#held !== undefined) { this.#held.body = Buffer.concat(this.#heldChunks!); this.#settle(this.#held); return; }
        if (this.#settled || !this.#started) return;
        this.#ex.endResponse(trailers);
        this.#settle(COMMITTED);
      });
      stream.on('error', (err) => this.#h2Error(stream, err));
      stream.on('close', () => {
        if (this.#settled) return;
        this.#h2Error(stream, new Error(`stream closed (code ${stream.rstCode})`));
      });
      if (body !== null) {
        if (Buffer.isBuffer(body)) stream.end(body);
        else pump(body, stream);
      }
    }, (err: Error) => {
      if (this.#settled) return;
      this.#fail(err);
    });
  }

  #h2Error(stream: http2.ClientHttp2Stream, err: Error): void {
    if (this.#settled) return;
    if (stream.rstCode === h2c.NGHTTP2_REFUSED_STREAM && !this.#started && this.#held === undefined) {
      this.#settle({ kind: 'refused', committed: false, status: 503 });
      return;
    }
    this.#fail(err);
  }
}

// ---------------------------------------------------------------------------------------------
// helpers

/** The downstream body on its way upstream, counted for %BYTES_RECEIVED% as it passes. */
class CountingBody implements BodySource, BodySink {
  readonly #ex: Exchange;
  readonly #ds: Downstream;
  #sink: BodySink | undefined = undefined;

  constructor(ex: Exchange, ds: Downstream) {
    this.#ex = ex;
    this.#ds = ds;
  }

  readBody(sink: BodySink): void {
    this.#sink = sink;
    this.#ds.readBody(this);
  }

  pauseBody(): void { this.#ds.pauseBody(); }
  resumeBody(): void { this.#ds.resumeBody(); }

  onData(chunk: Buffer): void {
    this.#ex.countRequestBytes(chunk.length);
    this.#sink!.onData(chunk);
  }

  onEnd(trailers: HeaderMap | undefined): void { this.#sink!.onEnd(trailers); }
  onError(err: Error): void {
    this.#ex.downstreamBodyFailed(err);
    this.#sink!.onError(err);
  }
}

/** Streams a request body into an HTTP/2 stream, with backpressure. */
function pump(src: BodySource, dst: http2.ClientHttp2Stream): void {
  const resume = (): void => src.resumeBody();
  src.readBody({
    onData(c) {
      if (dst.destroyed) return;
      if (!dst.write(c)) { src.pauseBody(); dst.once('drain', resume); }
    },
    onEnd() { if (!dst.destroyed) dst.end(); },
    onError() { if (!dst.destroyed) dst.close(h2c.NGHTTP2_CANCEL); },
  });
}

/** Reads a whole body up to `limit` bytes (undefined beyond it); a body cut short is what arrived. */
function readBounded(src: BodySource, limit: number, done: (body: Buffer | undefined, err?: Error) => void): void {
  const chunks: Buffer[] = [];
  let n = 0;
  let over = false;
  src.readBody({
    onData(c) {
      if (over) return;
      n += c.length;
      if (n > limit) { over = true; done(undefined); return; }
      chunks.push(c);
    },
    onEnd() { if (!over) done(Buffer.concat(chunks, n)); },
    onError(err) { if (!over) done(Buffer.concat(chunks, n), err); },
  });
}

function isGrpc(ds: Downstream): boolean {
  const ct = ds.headers['content-type'];
  return typeof ct === 'string' && ct.startsWith('application/grpc');
}

function hit(percentage: number): boolean {
  return percentage >= 100 || Math.random() * 100 < percentage;
}

const GRPC_RETRY_ON: Record<string, string> = { cancelled: '1', 'deadline-exceeded': '4', 'resource-exhausted': '8', internal: '13', unavailable: '14' };

/** The value a set/add map gives `:authority` or `host` (any case), if it names one. */
function authorityOp(m: Readonly<Record<string, string>> | undefined): string | undefined {
  if (m === undefined) return undefined;
  for (const name in m) {
    const n = name.toLowerCase();
    if (n === ':authority' || n === 'host') return m[name];
  }
  return undefined;
}

/**
 * The wait before retry number `n` (from 1). Without a configured backoff, Envoy's default: fully
 * jittered, 25 ms base doubling per retry, capped at 10 × the base. A configured base (Istio's
 * `retries.backoff`, Gateway API's `retry.backoff`) is a floor: retry n waits between the base and
 * base × 2^(n−1), capped at 10 × the base.
 */
export function retryDelayMs(p: RetryPolicy, n: number): number {
  const base = p.backoffBaseMs;
  if (base === undefined || base <= 0) return Math.random() * Math.min(25 * 2 ** (n - 1), 250);
  const upper = Math.min(base * 2 ** (n - 1), 10 * base);
  return base + Math.random() * (upper - base);
}

/** Whether retryOn covers this failure (Envoy's retry_on semantics). */
function retriable(p: RetryPolicy, o: AttemptOutcome): boolean {
  const on = p.retryOn;
  switch (o.kind) {
    case 'connect':
      return on.includes('connect-failure') || on.includes('5xx') || on.includes('gateway-error') || on.includes('reset');
    case 'reset':
      return on.includes('reset') || on.includes('5xx');
    case 'refused':
      return on.includes('refused-stream') || on.includes('5xx') || on.includes('reset');
    case 'protocol':
      return on.includes('reset') || on.includes('5xx');
    case 'per-try-timeout':
      return on.includes('5xx') || on.includes('gateway-error') || on.includes('reset');
    case 'overflow':
      return false;
    case 'status':
      return true;
  }
}

/** Whether a response status (or gRPC status) is one retryOn asks to retry. */
export function retriableStatus(p: RetryPolicy, status: number, headers: HeaderMap): boolean {
  for (const term of p.retryOn) {
    if (term === '5xx' && status >= 500) return true;
    if (term === 'gateway-error' && (status === 502 || status === 503 || status === 504)) return true;
    if (term === 'retriable-4xx' && status === 409) return true;
    if (term.length === 3 && Number(term) === status) return true;
    const g = GRPC_RETRY_ON[term];
    if (g !== undefined && headerValue(headers['grpc-status']) === g) return true;
  }
  return false;
}

function outcomeFor(o: AttemptOutcome, code: number): RequestOutcome {
  if (o.kind === 'connect') return 'connect-failure';
  if (!o.committed) return o.status === 502 || o.status === 503 || o.status === 504 ? 'gateway-error' : '5xx';
  if (code === 502 || code === 503 || code === 504) return 'gateway-error';
  if (code >= 500) return '5xx';
  return 'success';
}

function isConnectError(code: string): boolean {
  return code === 'ECONNREFUSED' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' ||
    code === 'EADDRNOTAVAIL' || code.startsWith('ERR_TLS') || code.includes('CERT') || code === 'ERR_SSL_WRONG_VERSION_NUMBER' ||
    code.startsWith('ERR_SSL');
}

function isProtocolError(err: Error & { code?: string }): boolean {
  const c = err.code ?? '';
  return c.startsWith('HPE_') || c === 'UND_ERR_INFO' || err.name === 'HTTPParserError' || c === 'ERR_HTTP2_PROTOCOL_ERROR';
}

/** UPSTREAM_TRANSPORT_FAILURE_REASON for a TLS failure, in Envoy's spirit (`TLS_error:…CERTIFICATE_VERIFY_FAILED`). */
function transportReason(err: Error & { code?: string }): string | undefined {
  const e = err instanceof ConnectError ? err.cause : err;
  const code = (e as { code?: string }).code ?? '';
  if (code.includes('CERT') || code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' || code.includes('SELF_SIGNED')) {
    return `TLS_error:|268435581:SSL_routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:${code}:TLS_error_end`;
  }
  if (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS')) return `TLS_error:${code}:TLS_error_end`;
  return undefined;
}

function hostOnly(authority: string): string {
  return splitHostPort(authority, 0).host;
}

/** `host[:port]` / `[v6]:port` → host and port (default when absent). */
export function splitHostPort(authority: string, defaultPort: number): { host: string; port: number } {
  if (authority.charCodeAt(0) === 91 /* [ */) {
    const end = authority.indexOf(']');
    const host = authority.slice(1, end);
    const rest = authority.slice(end + 1);
    return { host, port: rest.startsWith(':') ? Number(rest.slice(1)) || defaultPort : defaultPort };
  }
  const c = authority.lastIndexOf(':');
  if (c < 0) return { host: authority, port: defaultPort };
  return { host: authority.slice(0, c), port: Number(authority.slice(c + 1)) || defaultPort };
}
