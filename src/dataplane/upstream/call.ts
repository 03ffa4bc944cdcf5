// The upstream-call lifecycle: the one contract between the request path (the Exchange and its
// Attempts, ../http/) and an upstream codec (HTTP/1.1 in ./h1-pool.ts, HTTP/2 in ../http2/client.ts).
//
// Shaped like undici's dispatcher handler: the caller dispatches a request head and a body source
// and hears back, in order, onConnected → onHead → onData* → onEnd, or onError at any point. The
// codec does the wire work (framing, flow control, request-body backpressure); the caller does the
// policy (retries, holding a retriable answer, relaying with downstream backpressure), once, for
// every codec. Failures are typed by kind at the codec, where the phase of the failure is known;
// the caller switches on the kind and never reads error codes.
import type { HeaderMap } from '../routing/index.js';
import type { BodySource } from '../http/message.js';

/** What an upstream request needs besides its body. */
export interface UpstreamRequestHead {
  /** Upper-case method. */
  readonly method: string;
  /** Origin-form request target (path and query). */
  readonly path: string;
  /** Host (HTTP/1.1) or :authority (HTTP/2). */
  readonly authority: string;
  /**
   * The other request headers, lower-case names, hop-by-hop already removed (never host,
   * connection, transfer-encoding; `te` only as `trailers`). The codec adds its framing:
   * HTTP/1.1 content-length for a Buffer body or chunked for a streamed one; HTTP/2 its
   * pseudo-headers (`:scheme` from the connection: https over TLS).
   */
  readonly headers: HeaderMap;
}

/**
 * The request body: none, all of it (a retry or mirror keeps it), or streamed from the downstream.
 * A streamed body is read by the codec (readBody once) with backpressure: the codec calls
 * pauseBody while its connection's buffer is full and resumeBody once it drained.
 */
export type UpstreamBody = Buffer | BodySource | null;

/** The caller's side of one call; the codec calls these in order, never synchronously from dispatch. */
export interface UpstreamCallHandler {
  /**
   * A connection (new or reused) or stream was assigned and the request is being written.
   * `localAddress`: `ip:port` of the connection's local end (UPSTREAM_LOCAL_ADDRESS).
   */
  onConnected(localAddress: string): void;
  /**
   * The final response head (1xx interim heads are consumed by the codec). Lower-case names,
   * repeated ones as arrays, no pseudo-headers, without connection-specific headers (connection,
   * keep-alive, transfer-encoding, upgrade, proxy-connection and the names Connection lists).
   * Return false to abort the call (the codec then cancels it and calls nothing more).
   */
  onHead(status: number, headers: HeaderMap): boolean;
  /** Body bytes, de-framed; the handler may keep the chunk. Paused with UpstreamCall.pause. */
  onData(chunk: Buffer): void;
  /** The response completed; trailers when the upstream sent any. Never after onError. */
  onEnd(trailers: HeaderMap | undefined): void;
  /** The call failed; at most once, never after onEnd. */
  onError(err: UpstreamError): void;
}

/** A dispatched call: flow control of the response body, and cancellation. */
export interface UpstreamCall {
  /** Stop delivering response body (downstream backpressure); resume() continues. */
  pause(): void;
  resume(): void;
  /** Cancel: frees or closes the connection/stream; no handler method is called after this. */
  abort(): void;
}

/** One endpoint's connections for one codec: an HTTP/1.1 pool, an HTTP/2 session, … */
export interface UpstreamPool {
  readonly protocol: 'h1' | 'h2';
  /** `ip:port` of the connection used last (UPSTREAM_LOCAL_ADDRESS), once one connected. */
  readonly lastLocalAddress: string | undefined;
  /** Sends a request; the handler hears the outcome. Never throws; never calls the handler synchronously. */
  dispatch(head: UpstreamRequestHead, body: UpstreamBody, handler: UpstreamCallHandler): UpstreamCall;
  /** Graceful: calls in flight finish, idle connections close; later dispatches fail ('connect-refused'). */
  close(): void;
}

/**
 * Why an upstream call failed, decided by the codec from the phase it failed in. The request
 * path maps each kind to a response flag, a local reply and a retry decision
 * (../http/retry-policy.ts) and never looks at the error's code.
 */
export type UpstreamErrorKind =
  /** No connection: refused, unreachable, no route, the pool closed, a bad address. */
  | 'connect-refused'
  /** The connection (TCP, and TLS handshake) did not complete within the cluster's connect timeout. */
  | 'connect-timeout'
  /** The TLS handshake failed (certificate verification, no shared protocol, a non-TLS peer). */
  | 'tls'
  /** The connection or stream closed or was reset after the request was sent, before the response head. */
  | 'reset-before-headers'
  /** The connection or stream closed or was reset after the response head was delivered. */
  | 'reset-after-headers'
  /** HTTP/2 REFUSED_STREAM (or a GOAWAY below the stream's id): the upstream did not process the request. */
  | 'refused-stream'
  /** The upstream broke the protocol (bad HTTP/1.1, an HTTP/2 protocol error), or the request could not be encoded. */
  | 'protocol'
  /** The codec's own limit: no stream or connection slot could be had (HTTP/2 max concurrent streams). */
  | 'overflow'
  /** The request body the codec was sending failed (the downstream went away mid-body). */
  | 'body-aborted'
  /** A bug: the handler (or the codec) threw. Logged with its stack by the request path. */
  | 'internal';

export class UpstreamError extends Error {
  constructor(
    readonly kind: UpstreamErrorKind,
    /** Diagnostic only (logs, tests): ECONNREFUSED, ETIMEDOUT, HPE_…, ERR_TLS_…, an HTTP/2 error name … */
    readonly code: string,
    message: string,
    override readonly cause?: Error,
    /** For kind 'tls': UPSTREAM_TRANSPORT_FAILURE_REASON, in Envoy's form. */
    readonly transportReason?: string,
  ) {
    super(message);
    this.name = 'UpstreamError';
  }

  /** The same failure reported for another request (a failed connect fails every queued request). */
  copy(): UpstreamError {
    return new UpstreamError(this.kind, this.code, this.message, this.cause, this.transportReason);
  }
}

/** `code` of a node error, or `dflt`. */
export function errnoCode(err: unknown, dflt: string): string {
  const code = (err as NodeJS.ErrnoException | null | undefined)?.code;
  return typeof code === 'string' && code !== '' ? code : dflt;
}

/**
 * UPSTREAM_TRANSPORT_FAILURE_REASON of a connect failure that was a TLS failure, in Envoy's spirit
 * (`TLS_error:|268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:…:TLS_error_end`);
 * undefined for any other connect failure. Node tells TLS failures only by their codes: this is
 * the one place that reads them, for a codec deciding between 'tls' and 'connect-refused'.
 */
export function tlsTransportReason(err: Error | undefined): string | undefined {
  const code = errnoCode(err, '');
  if (code.includes('CERT') || code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' || code.includes('SELF_SIGNED')) {
    return `TLS_error:|268435581:SSL_routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:${code}:TLS_error_end`;
  }
  if (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS')) return `TLS_error:${code}:TLS_error_end`;
  return undefined;
}

/** The typed error for a connection that could not be made (`timedOut`: the connect timer fired). */
export function connectError(err: Error | undefined, timedOut: boolean, message: string): UpstreamError {
  if (timedOut) return new UpstreamError('connect-timeout', 'ETIMEDOUT', message, err);
  const reason = tlsTransportReason(err);
  if (reason !== undefined) return new UpstreamError('tls', errnoCode(err, 'ERR_TLS'), message, err, reason);
  return new UpstreamError('connect-refused', errnoCode(err, 'ECONNRESET'), message, err);
}
