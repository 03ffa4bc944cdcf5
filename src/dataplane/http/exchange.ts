// One HTTP request through the proxy, the routing level of the request path: route match,
// authorization, faults, local replies, the choice of cluster and endpoint, retries and timeouts;
// then the access-log line and the metrics. Below it, one Attempt per try (./attempt.ts) drives the
// upstream-call lifecycle (../upstream/call.ts) that every codec implements; which failures and
// statuses retry is ./retry-policy.ts.
//
// The Exchange object is the request's whole state and doubles as its access-log entry and as the
// RequestView routing reads, so the request path allocates little beyond the upstream headers.
import type { Socket } from 'node:net';
import type { ForwardAction, HeaderOperations, RequestMirror, RetryPolicy, Route, WeightedCluster } from '../../proxyconfig/types.js';
import { mirrorRequest } from './mirror.js';
import type { CompiledConfig } from '../config/compile.js';
import { newRequestId } from './request-id.js';
import { applyHeaderOps, pickWeighted, redirectLocation, rewritePath, type CompiledRouteTable, type HeaderMap, type RequestView } from '../routing/index.js';
import { LOCAL_REPLY_BODY, ResponseFlag, RESPONSE_CODE_DETAILS as D, addResponseFlag } from '../telemetry/flags.js';
import type { AccessLogEntry } from '../telemetry/accesslog.js';
import type { ClusterRuntime } from '../upstream/cluster-runtime.js';
import { upstreamHostOf, type RequestOutcome, type UpstreamTarget } from '../upstream/endpoints.js';
import { DnsError } from '../dns/resolver.js';
import { absoluteForm, DownstreamCodecError } from '../http1/framing.js';
import { REASONS } from '../http1/head.js';
import type { ProxyRuntime } from '../runtime.js';
import { headerValue, upstreamRequestHeaders } from './headers.js';
import type { Downstream } from './downstream.js';
import type { BodySink, BodySource } from './message.js';
import { peerOf, type PeerInfo } from '../identity/workload-identity.js';
import { authorityHost, splitHostPort } from '../../proxyconfig/authority.js';
import { RBAC_DENIED_BODY, auditMetadata } from '../authz/engine.js';
import { SSRF_DENIED_BODY, SSRF_FLAG, SsrfGuard, reportWouldDeny, ssrfDetails, wouldDenyMetadata } from '../upstream/ssrf-guard.js';
import { XFCC, clientCertDetails } from './xfcc.js';
import { log } from '../log.js';
import { Attempt, type AttemptOutcome, type AttemptOwner } from './attempt.js';
import { retriesFailure, retryDelayMs, type FailureKind } from './retry-policy.js';

const { NO_HEALTHY_UPSTREAM: BODY_NO_HEALTHY, TIMEOUT: BODY_TIMEOUT, FAULT: BODY_FAULT, RESET_PREFIX } = LOCAL_REPLY_BODY;

/** Buffer limit for a request body kept for retries (Envoy's per-connection buffer default, 1 MiB). */
const RETRY_BUFFER_LIMIT = 1024 * 1024;

const EMPTY_HEADERS: HeaderMap = {};

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

export class Exchange implements AccessLogEntry, RequestView, AttemptOwner {
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
      this.path = url.charCodeAt(0) === 47 /* / */ ? url : (absoluteForm(url)?.path ?? url);
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
    return s === null ? '-' : addressesOf(s).local;
  }

  get downstreamRemoteAddress(): string {
    const s = this.#sock;
    return s === null ? '-' : addressesOf(s).remote;
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
    this.#tlsHost = authorityHost(this.#upAuthority);

    const ready = cr.ready();
    if (ready !== undefined) {
      ready.then(
        () => this.#guard(this.#admit, a),
        (err: unknown) => this.#internalError(err),
      );
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
      cr.endpoints.resolveOriginal(host, port).then(
        (t) => {
          if (!this.#finished) this.#guard(this.#attemptTo, t);
        },
        (err: unknown) => {
          if (err instanceof DnsError) this.#localReply(503, ResponseFlag.DF, D.DNS_RESOLUTION_FAILED, `${RESET_PREFIX}dns resolution failure`);
          else this.#internalError(err);
        },
      );
      return;
    }
    this.#attemptTo(cr.endpoints.pick(this.#tried));
  }

  #attemptTo(target: UpstreamTarget | undefined): void {
    if (target === undefined) {
      // A DNS cluster whose names did not resolve (or not in time) has no endpoints because of DNS.
      if (this.#cluster!.endpoints.dnsFailure !== undefined)
        this.#localReply(503, ResponseFlag.DF, D.DNS_RESOLUTION_FAILED, `${RESET_PREFIX}dns resolution failure`);
      else this.#localReply(503, ResponseFlag.UH, D.NO_HEALTHY_UPSTREAM, BODY_NO_HEALTHY);
      return;
    }
    const cr = this.#cluster!;
    this.#target = target;
    this.upstreamHost = upstreamHostOf(target);
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
      if (this.#retriesDone < this.#maxRetries) attempt.retryOn = retry;
      else attempt.lastTry = retry;
    }
    this.#attempt = attempt;
    attempt.start({ method: this.method, path: this.#upPath, authority: this.#upAuthority, headers: this.#upHeaders! }, this.#body);
  }

  /** An attempt ended: committed downstream, or a failure (or retriable status) to retry or answer. */
  attemptDone(attempt: Attempt, outcome: AttemptOutcome): void {
    if (this.#attempt === attempt) this.#attempt = undefined;
    const cr = this.#cluster!;
    cr.endpoints.requestFinished(attempt.target, outcomeFor(outcome, this.responseCode));
    if (outcome.kind === 'committed' || this.#finished) return;
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
    if (outcome.kind === 'failure' && outcome.failure === 'internal') {
      this.#internalError(outcome.error);
      return;
    }
    const retry = this.#retry;
    const canRetry = retry !== undefined && (outcome.kind === 'status' || retriesFailure(retry.retryOn, outcome.failure));
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
   * Upstream response headers arrived (end-to-end ones only: the codec removed the connection
   * headers): writes the response head downstream. False when it could not (the attempt aborts).
   */
  upstreamHeaders(status: number, headers: HeaderMap): boolean {
    if (this.#finished) return false;
    this.upstreamServiceTimeMs = Math.round(performance.now() - this.#upstreamStartHr);
    headers['x-envoy-upstream-service-time'] = String(this.upstreamServiceTimeMs);
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
      for (const _k in trailers) {
        any = true;
        break;
      }
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

  #finalFailure(o: AttemptOutcome & { kind: 'status' | 'failure' }): void {
    if (o.kind === 'status') {
      // The last try's retriable status goes downstream as the upstream sent it.
      this.#relayStatus(o);
      return;
    }
    const f = o.failure;
    switch (f) {
      case 'connect-refused':
      case 'connect-timeout':
      case 'tls': {
        const reason = o.error?.transportReason;
        this.upstreamTransportFailureReason = reason;
        this.#localReply(
          503,
          ResponseFlag.UF,
          reason ? `upstream_reset_before_response_started{connection_failure,${reason}}` : D.UPSTREAM_CONNECTION_FAILURE,
          `${RESET_PREFIX}connection failure${reason ? `, transport failure reason: ${reason}` : ''}`,
        );
        return;
      }
      case 'reset-before-headers':
      case 'reset-after-headers':
      case 'body-aborted':
        this.#localReply(503, ResponseFlag.UC, D.UPSTREAM_CONNECTION_TERMINATION, `${RESET_PREFIX}connection termination`);
        return;
      case 'refused-stream':
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
      case 'internal':
        this.#internalError(o.error);
        return;
    }
  }

  #relayStatus(o: AttemptOutcome & { kind: 'status' }): void {
    if (!this.upstreamHeaders(o.status, o.headers)) return;
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

  /** A bug on the request path: logged with its stack (whenever it happens), answered 500 if still possible. */
  #internalError(err: unknown): void {
    log('error', `http: internal error on a request to ${this.authority || '-'} (${this.routeName ?? 'no route'}): ${describeBug(err)}`);
    if (this.#finished) return;
    this.#localReply(500, '', 'internal_error', 'internal error');
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
      // Always both keys (undefined when absent): one object shape for every request.
      grpcStatus: this.#grpcStatus,
      peerUriSan: this.peerUriSan,
    });
  };
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

  pauseBody(): void {
    this.#ds.pauseBody();
  }
  resumeBody(): void {
    this.#ds.resumeBody();
  }

  onData(chunk: Buffer): void {
    this.#ex.countRequestBytes(chunk.length);
    this.#sink!.onData(chunk);
  }

  onEnd(trailers: HeaderMap | undefined): void {
    this.#sink!.onEnd(trailers);
  }
  onError(err: Error): void {
    this.#ex.downstreamBodyFailed(err);
    this.#sink!.onError(err);
  }
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
      if (n > limit) {
        over = true;
        done(undefined);
        return;
      }
      chunks.push(c);
    },
    onEnd() {
      if (!over) done(Buffer.concat(chunks, n));
    },
    onError(err) {
      if (!over) done(Buffer.concat(chunks, n), err);
    },
  });
}

/** A connection's `ip:port` pair as logged, made once per connection (not per request). */
interface Addresses {
  readonly local: string;
  readonly remote: string;
}
const ADDRESSES = new WeakMap<Socket, Addresses>();

function addressesOf(s: Socket): Addresses {
  let a = ADDRESSES.get(s);
  if (a !== undefined) return a;
  a = {
    local: s.localAddress ? `${s.localAddress}:${s.localPort}` : '-',
    remote: s.remoteAddress ? `${s.remoteAddress}:${s.remotePort}` : '-',
  };
  // Only once both are known: a socket read after it closed may not have them yet.
  if (a.local !== '-' && a.remote !== '-') ADDRESSES.set(s, a);
  return a;
}

function isGrpc(ds: Downstream): boolean {
  const ct = ds.headers['content-type'];
  return typeof ct === 'string' && ct.startsWith('application/grpc');
}

function hit(percentage: number): boolean {
  return percentage >= 100 || Math.random() * 100 < percentage;
}

/** The value a set/add map gives `:authority` or `host` (any case), if it names one. */
function authorityOp(m: Readonly<Record<string, string>> | undefined): string | undefined {
  if (m === undefined) return undefined;
  for (const name in m) {
    const n = name.toLowerCase();
    if (n === ':authority' || n === 'host') return m[name];
  }
  return undefined;
}

/** Endpoint health (outlier detection) for how an attempt ended; `code` is the response's status. */
function outcomeFor(o: AttemptOutcome, code: number): RequestOutcome {
  switch (o.kind) {
    case 'committed':
      if (code === 502 || code === 503 || code === 504) return 'gateway-error';
      return code >= 500 ? '5xx' : 'success';
    case 'status':
      return o.status === 502 || o.status === 503 || o.status === 504 ? 'gateway-error' : '5xx';
    case 'failure':
      return CONNECT_FAILURES.has(o.failure) ? 'connect-failure' : 'gateway-error';
  }
}

const CONNECT_FAILURES: ReadonlySet<FailureKind> = new Set(['connect-refused', 'connect-timeout', 'tls']);

/** An internal error for the log: its stack, and its causes' (an UpstreamError of kind 'internal' wraps the throw). */
function describeBug(err: unknown): string {
  let out = err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err);
  let cause = err instanceof Error ? err.cause : undefined;
  for (let depth = 0; cause !== undefined && depth < 3; depth++) {
    out += `\ncaused by: ${cause instanceof Error ? (cause.stack ?? cause.message) : String(cause)}`;
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return out;
}

/** `host[:port]` / `[v6]:port` → host and port (default when absent). */
