// The client side: one multiplexed connection per upstream endpoint (h2c prior knowledge, or h2
// over TLS with ALPN), opened on demand and replaced after GOAWAY. It implements the upstream-call
// lifecycle (../upstream/call.ts) as the HTTP/1.1 pool does, so the request path drives both
// codecs one way; failures are typed here, where the phase is known.
import net from 'node:net';
import tls from 'node:tls';
import type { Socket } from 'node:net';
import { addHeader, type BodySink, type BodySource } from '../http/message.js';
import type { HeaderMap } from '../routing/index.js';
import {
  connectError,
  UpstreamError,
  type UpstreamBody,
  type UpstreamCall,
  type UpstreamCallHandler,
  type UpstreamPool,
  type UpstreamRequestHead,
} from '../upstream/call.js';
import type { OriginationOptions } from '../upstream/tls-origination.js';
import { DEFAULT_H2_LIMITS, H2Connection, type H2Limits } from './connection.js';
import * as C from './constants.js';
import { H2ConnectionError } from './constants.js';
import { firstMalformed, outgoingFields } from './fields.js';
import { H2Stream } from './stream.js';
import { atBatch } from '../http1/socket-writes.js';

export interface H2PoolOptions {
  readonly address: string;
  readonly port: number;
  /** TLS origination (ALPN h2); plain h2c when undefined. */
  readonly tls?: OriginationOptions;
  readonly connectTimeoutMs: number;
  readonly localAddress?: string;
  readonly limits?: H2Limits;
}

/** Client ids run out at 2^31; a connection is retired well before. */
const MAX_STREAM_ID = 2 ** 31 - 1;

export class H2Pool implements UpstreamPool {
  readonly protocol = 'h2';
  readonly #o: H2PoolOptions;
  #conn: H2ClientConnection | undefined = undefined;
  #closed = false;
  lastLocalAddress: string | undefined = undefined;

  constructor(options: H2PoolOptions) {
    this.#o = options;
  }

  /** Sends a request; its outcome arrives through `handler`, never synchronously. */
  dispatch(head: UpstreamRequestHead, body: UpstreamBody, handler: UpstreamCallHandler): UpstreamCall {
    const req = new H2Request(head, body, handler);
    req.inDispatch = true;
    try {
      this.resubmit(req);
    } catch (err) {
      // Only bad options get here (an invalid address or port).
      req.fail(new UpstreamError('connect-refused', 'ERR_INVALID_ARG', `upstream connect error: ${(err as Error).message}`, err as Error));
    }
    req.inDispatch = false;
    return req;
  }

  /** A request that was waiting on a connection that went away (GOAWAY) before it started. */
  resubmit(req: H2Request): void {
    if (req.aborted) return;
    if (this.#closed) {
      req.fail(new UpstreamError('connect-refused', 'ECONNREFUSED', 'upstream pool closed'));
      return;
    }
    let c = this.#conn;
    if (c === undefined || !c.usable) {
      c = new H2ClientConnection(this.#o, this);
      this.#conn = c;
    }
    c.submit(req);
  }

  /** A connection will take no more requests. */
  retired(c: H2ClientConnection): void {
    if (this.#conn === c) this.#conn = undefined;
  }

  connected(c: H2ClientConnection): void {
    this.lastLocalAddress = c.localAddress;
  }

  /** Lets in-flight streams finish; no new ones. */
  close(): void {
    this.#closed = true;
    this.#conn?.shutdown();
    this.#conn = undefined;
  }
}

/** One request: the call handed back to the exchange, waiting for or riding on a stream. */
export class H2Request implements UpstreamCall {
  readonly head: UpstreamRequestHead;
  readonly body: UpstreamBody;
  readonly handler: UpstreamCallHandler;
  stream: H2ClientStream | undefined = undefined;
  aborted = false;
  done = false;
  /** Set while dispatch() runs: handler calls then wait for a microtask (never synchronous). */
  inDispatch = false;
  /** The response head went to the handler: a reset now is reset-after-headers. */
  headed = false;
  #paused = false;

  constructor(head: UpstreamRequestHead, body: UpstreamBody, handler: UpstreamCallHandler) {
    this.head = head;
    this.body = body;
    this.handler = handler;
  }

  pause(): void {
    this.#paused = true;
    this.stream?.pause();
  }
  resume(): void {
    this.#paused = false;
    this.stream?.resume();
  }
  get paused(): boolean {
    return this.#paused;
  }

  abort(): void {
    if (this.aborted || this.done) return;
    this.aborted = true;
    const st = this.stream;
    if (st !== undefined && !st.closed) st.conn.resetStream(st, C.E_CANCEL);
  }

  fail(err: UpstreamError): void {
    if (this.aborted || this.done) return;
    this.done = true;
    if (this.inDispatch) {
      queueMicrotask(() => this.#tellError(err));
      return;
    }
    this.#tellError(err);
  }

  #tellError(err: UpstreamError): void {
    if (this.aborted) return;
    try {
      this.handler.onError(err);
    } catch {
      // The handler's own failure: nothing more to tell it.
    }
  }

  connected(localAddress: string): void {
    if (this.inDispatch) {
      // After the caller's stack, before this turn's writes leave (as the HTTP/1.1 pool tells it):
      // no closure or microtask per request.
      atBatch(tellConnected, this, localAddress);
      return;
    }
    tellConnected(this, localAddress);
  }

  /** A reset or close of the stream, typed by whether the head had been delivered. */
  resetError(code: string, message: string, cause?: Error): UpstreamError {
    return new UpstreamError(this.headed ? 'reset-after-headers' : 'reset-before-headers', code, message, cause);
  }
}

function tellConnected(req: H2Request, localAddress: string): void {
  if (!req.aborted && !req.done) req.handler.onConnected(localAddress);
}

export class H2ClientConnection extends H2Connection {
  readonly #pool: H2Pool;
  /** :scheme of every request on this connection. */
  readonly #scheme: string;
  #ready = false;
  #retired = false;
  #nextId = 1;
  /** Requests waiting for the connection or for a stream slot (SETTINGS_MAX_CONCURRENT_STREAMS). */
  readonly #waiting: H2Request[] = [];
  #connectTimer: NodeJS.Timeout | undefined;
  #connectError: UpstreamError | undefined = undefined;
  #connectCause: Error | undefined = undefined;
  #timedOut = false;

  constructor(o: H2PoolOptions, pool: H2Pool) {
    const s = H2ClientConnection.#open(o);
    super(s, o.limits ?? DEFAULT_H2_LIMITS, false);
    this.#pool = pool;
    this.#scheme = o.tls !== undefined ? 'https' : 'http';
    this.#connectTimer = setTimeout(() => {
      this.#timedOut = true;
      this.#connectError = connectError(undefined, true, `upstream connect timeout after ${o.connectTimeoutMs} ms`);
      s.destroy();
    }, o.connectTimeoutMs);
    const onError = (err: Error): void => {
      if (this.#ready || this.#connectError !== undefined) return;
      this.#connectCause = err;
      this.#connectError = connectError(err, false, `upstream connect error: ${err.message}`);
    };
    s.on('error', onError);
    s.once(o.tls !== undefined ? 'secureConnect' : 'connect', () => {
      clearTimeout(this.#connectTimer);
      if (o.tls !== undefined && (s as tls.TLSSocket).alpnProtocol !== 'h2') {
        this.#connectError = new UpstreamError(
          'tls',
          'ERR_HTTP2_ALPN',
          'upstream did not negotiate h2 (ALPN)',
          undefined,
          'TLS_error:no_h2_alpn:TLS_error_end',
        );
        s.destroy();
        return;
      }
      s.setNoDelay(true);
      this.#ready = true;
      this.#pool.connected(this);
      this.sendPreamble(true);
      this.#startWaiting();
    });
  }

  static #open(o: H2PoolOptions): Socket {
    const local = o.localAddress !== undefined ? { localAddress: o.localAddress } : {};
    if (o.tls !== undefined) return tls.connect({ ...o.tls, ALPNProtocols: ['h2'], host: o.address, port: o.port, ...local });
    return net.connect({ host: o.address, port: o.port, noDelay: true, ...local });
  }

  /** Takes new requests: connecting or open, no GOAWAY either way, ids left. */
  get usable(): boolean {
    return !this.closed && !this.#retired && !this.goawayReceived && !this.goawaySent && this.#nextId < MAX_STREAM_ID;
  }

  submit(req: H2Request): void {
    this.#waiting.push(req);
    if (this.#ready) this.#startWaiting();
  }

  #startWaiting(): void {
    const w = this.#waiting;
    while (w.length > 0 && this.streams.size < this.peerMaxConcurrent && !this.closed) {
      const req = w.shift()!;
      if (req.aborted) continue;
      this.#start(req);
    }
  }

  #start(req: H2Request): void {
    const id = this.#nextId;
    this.#nextId += 2;
    if (this.#nextId >= MAX_STREAM_ID) this.#retire();
    this.lastPeerStream = id;
    const h = req.head;
    const fields: string[] = [':method', h.method, ':scheme', this.#scheme, ':authority', h.authority, ':path', h.path];
    try {
      outgoingFields(fields, h.headers);
    } catch (err) {
      req.fail(new UpstreamError('protocol', 'ERR_INVALID_HEADER', `invalid request header: ${(err as Error).message}`, err as Error));
      return;
    }
    // Only `te: trailers` may cross (RFC 9113 §8.2.2); host is :authority now.
    for (let i = 8; i < fields.length; i += 2) {
      const n = fields[i]!;
      if (n === 'host' || (n === 'te' && fields[i + 1] !== 'trailers')) {
        fields.splice(i, 2);
        i -= 2;
      }
    }
    const st = new H2ClientStream(this, id, req);
    req.stream = st;
    this.addStream(st);
    if (req.paused) st.pause();
    const body = req.body;
    const endStream = body === null || (Buffer.isBuffer(body) && body.length === 0);
    this.writeHeaders(id, fields, endStream);
    try {
      req.connected(this.localAddress);
    } catch (err) {
      st.failWith(new UpstreamError('internal', 'ERR_HANDLER', `handler failed: ${(err as Error)?.message}`, err as Error), C.E_CANCEL);
      return;
    }
    if (st.closed) return;
    if (endStream) {
      st.localEnd();
      return;
    }
    if (Buffer.isBuffer(body)) {
      st.writeData(body);
      st.writeEnd(undefined);
    } else st.pumpBody(body!);
  }

  protected isIdle(id: number): boolean {
    return (id & 1) === 0 || id >= this.#nextId;
  }

  protected onHeaderBlock(id: number, endStream: boolean, names: string[], values: string[], oversize: boolean, malformed: boolean): void {
    const st = this.streams.get(id) as H2ClientStream | undefined;
    if (st === undefined) {
      if (this.isIdle(id)) throw new H2ConnectionError(C.E_PROTOCOL_ERROR, `HEADERS on idle stream ${id}`);
      return; // a stream we reset: its frames may still be on the way
    }
    if (oversize) {
      st.failWith(new UpstreamError('protocol', 'ERR_HTTP2_HEADER_OVERFLOW', 'upstream response headers above the header list limit'), C.E_CANCEL);
      return;
    }
    if (malformed) {
      st.failWith(protocolError(`malformed response header ${firstMalformed(names, values)}`), C.E_PROTOCOL_ERROR);
      return;
    }
    st.onHeaders(endStream, names, values);
  }

  protected override onGoaway(lastStream: number, code: number): void {
    this.#retire();
    // Streams above lastStream were never processed: safe to retry (REFUSED_STREAM semantics).
    for (const st of this.streams.values()) {
      if (st.id > lastStream) (st as H2ClientStream).refused(`upstream sent GOAWAY (${C.errorName(code)})`);
    }
    for (const req of this.#waiting.splice(0)) this.#pool.resubmit(req);
  }

  override closeStream(st: H2Stream, code: number, byPeer: boolean, connGone = false): void {
    super.closeStream(st, code, byPeer, connGone);
    if (this.#waiting.length > 0 && this.#ready) this.#startWaiting();
  }

  protected onClosed(): void {
    clearTimeout(this.#connectTimer);
    this.#retire();
    const err = this.#ready
      ? new UpstreamError('reset-before-headers', 'ECONNRESET', 'upstream connection closed')
      : (this.#connectError ?? connectError(this.#connectCause, this.#timedOut, 'upstream connection closed before it was established'));
    for (const req of this.#waiting.splice(0)) req.fail(err.copy());
  }

  #retire(): void {
    if (this.#retired) return;
    this.#retired = true;
    this.#pool.retired(this);
  }

  /** Whether the connection was ever established (streams only exist once it was). */
  get ready(): boolean {
    return this.#ready;
  }
}

export class H2ClientStream extends H2Stream {
  readonly req: H2Request;
  #status = 0;
  #started = false;

  constructor(conn: H2ClientConnection, id: number, req: H2Request) {
    super(conn, id, false);
    this.req = req;
  }

  protected get consuming(): boolean {
    return this.#started;
  }

  protected deliver(chunk: Buffer): void {
    const r = this.req;
    if (r.aborted || r.done) return;
    try {
      r.handler.onData(chunk);
    } catch (err) {
      this.failWith(new UpstreamError('internal', 'ERR_HANDLER', `response handler failed: ${(err as Error)?.message}`, err as Error), C.E_CANCEL);
    }
  }

  protected deliverEnd(trailers: HeaderMap | undefined): void {
    const r = this.req;
    if (r.aborted || r.done) return;
    r.done = true;
    try {
      r.handler.onEnd(trailers);
    } catch {
      // The request is over for the handler: it reports its own failure.
    }
  }

  /** A header block of well-formed fields (the decoder judged each one). */
  onHeaders(endStream: boolean, names: string[], values: string[]): void {
    if (this.#status !== 0) {
      // Trailers: must end the stream and carry no pseudo-headers.
      if (!endStream) {
        this.failWith(protocolError('trailers without END_STREAM'), C.E_PROTOCOL_ERROR);
        return;
      }
      const t: HeaderMap = {};
      for (let i = 0; i < names.length; i++) {
        if (names[i]!.charCodeAt(0) === 58) {
          this.failWith(protocolError('pseudo-header in trailers'), C.E_PROTOCOL_ERROR);
          return;
        }
        addHeader(t, names[i]!, values[i]!);
      }
      this.#endWith(t);
      return;
    }
    let status = 0;
    const h: HeaderMap = {};
    for (let i = 0; i < names.length; i++) {
      const n = names[i]!;
      const v = values[i]!;
      if (n.charCodeAt(0) === 58) {
        if (n !== ':status' || status !== 0 || i !== 0) {
          this.failWith(protocolError(`bad pseudo-header ${n}`), C.E_PROTOCOL_ERROR);
          return;
        }
        status = threeDigits(v);
        continue;
      }
      if (n === 'content-length') this.expectedLength = Number(v);
      addHeader(h, n, v);
    }
    if (status < 100) {
      this.failWith(protocolError('response without a valid :status'), C.E_PROTOCOL_ERROR);
      return;
    }
    if (status < 200) {
      // Interim (1xx): the final head follows on the same stream.
      if (endStream) this.failWith(protocolError('interim response with END_STREAM'), C.E_PROTOCOL_ERROR);
      this.expectedLength = -1;
      return;
    }
    this.#status = status;
    const r = this.req;
    if (r.aborted || r.done) return;
    let go: boolean;
    r.headed = true;
    try {
      go = r.handler.onHead(status, h);
    } catch (err) {
      this.failWith(new UpstreamError('internal', 'ERR_HANDLER', `response handler failed: ${(err as Error)?.message}`, err as Error), C.E_CANCEL);
      return;
    }
    if (!go) {
      r.aborted = true;
      if (!this.closed) this.conn.resetStream(this, C.E_CANCEL);
      return;
    }
    this.#started = true;
    if (endStream) this.#endWith(undefined);
    else this.flushIn();
  }

  #endWith(t: HeaderMap | undefined): void {
    if (this.expectedLength >= 0 && this.received !== this.expectedLength) {
      this.failWith(protocolError('response body shorter than content-length'), C.E_PROTOCOL_ERROR);
      return;
    }
    this.remoteEnd(t);
  }

  /** Fails the request and resets the stream. */
  failWith(err: UpstreamError, code: number): void {
    this.req.fail(err);
    if (!this.closed) this.conn.resetStream(this, code);
  }

  /** The server will not process this stream (GOAWAY above it, or REFUSED_STREAM): retriable. */
  refused(why: string): void {
    this.req.fail(new UpstreamError('refused-stream', 'REFUSED_STREAM', why));
    if (!this.closed) this.conn.closeStream(this, -1, true);
  }

  /** Streams the request body with backpressure from the stream's window and the socket. */
  pumpBody(src: BodySource): void {
    const resume = (): void => src.resumeBody();
    const sink: BodySink = {
      onData: (c) => {
        if (this.closed) return;
        if (!this.writeData(c)) {
          src.pauseBody();
          this.onDrain(resume);
        }
      },
      onEnd: (trailers) => {
        if (this.closed) return;
        let t: string[] | undefined;
        if (trailers !== undefined) {
          t = [];
          try {
            outgoingFields(t, trailers);
          } catch {
            t = undefined;
          }
        }
        this.writeEnd(t !== undefined && t.length > 0 ? t : undefined);
      },
      onError: (err) => this.failWith(new UpstreamError('body-aborted', 'ERR_BODY_ABORTED', `request body aborted: ${err.message}`, err), C.E_CANCEL),
    };
    src.readBody(sink);
  }

  protected closedWith(code: number, byPeer: boolean, connGone: boolean): void {
    const r = this.req;
    if (r.done || r.aborted) return;
    if (code === -1 && this.remoteEnded) return;
    if (connGone) {
      const f = this.conn.failedWith;
      if (f !== 0 && f !== C.E_INTERNAL_ERROR)
        r.fail(new UpstreamError('protocol', `ERR_HTTP2_${C.errorName(f)}`, `upstream broke HTTP/2 (${C.errorName(f)})`));
      else r.fail(r.resetError('ECONNRESET', 'upstream connection closed'));
      return;
    }
    if (byPeer && code === C.E_REFUSED_STREAM && !r.headed) {
      r.fail(new UpstreamError('refused-stream', 'REFUSED_STREAM', 'upstream refused the stream (REFUSED_STREAM)'));
      return;
    }
    if (byPeer && code === C.E_NO_ERROR && this.remoteEnded) return;
    // Our own resets for frames the upstream got wrong (flow control, stream state) are protocol errors.
    if (!byPeer && code !== C.E_CANCEL) {
      r.fail(new UpstreamError('protocol', `ERR_HTTP2_${C.errorName(code)}`, `upstream broke HTTP/2 (${C.errorName(code)})`));
      return;
    }
    r.fail(r.resetError(`RST_STREAM(${C.errorName(code)})`, `upstream stream reset (${C.errorName(code)})`));
  }

  override idleTimeout(): void {
    this.failWith(this.req.resetError('ETIMEDOUT', 'upstream stream idle timeout'), C.E_CANCEL);
  }
}

function protocolError(message: string): UpstreamError {
  return new UpstreamError('protocol', 'ERR_HTTP2_PROTOCOL_ERROR', `upstream sent malformed HTTP/2: ${message}`);
}

/** A :status value's number: three digits exactly, or -1. */
function threeDigits(v: string): number {
  if (v.length !== 3) return -1;
  let n = 0;
  for (let i = 0; i < 3; i++) {
    const d = v.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}
