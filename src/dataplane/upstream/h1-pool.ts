// outpost's HTTP/1.1 upstream client. One pool per endpoint (address:port, TLS SNI); keep-alive
// connections on raw sockets with node's llhttp (../http1/llhttp.ts) parsing responses; the
// request head is written as one latin1 string. Replaces undici's Pool on the request path.
// The per-connection codec is ./h1-connection.ts.
import { renderRequestHead } from '../http1/head.js';
import { COALESCE_MAX } from '../http1/request-stream.js';
import { H1Connection, H1Request, invalidHeader, type ConnOwner } from './h1-connection.js';
import {
  errnoCode,
  UpstreamError,
  type UpstreamBody,
  type UpstreamCall,
  type UpstreamCallHandler,
  type UpstreamPool,
  type UpstreamRequestHead,
} from './call.js';
import type { OriginationOptions } from './tls-origination.js';

/** The HTTP/1.1 names of the upstream-call lifecycle (./call.ts), which this pool implements. */
export type H1RequestHead = UpstreamRequestHead;
export type H1Body = UpstreamBody;
export type H1Handler = UpstreamCallHandler;
export type H1Call = UpstreamCall;
export { UpstreamError };

export interface H1PoolOptions {
  readonly address: string;
  readonly port: number;
  /** TLS origination (DestinationRule SIMPLE/MUTUAL); plain TCP when undefined. */
  readonly tls?: OriginationOptions;
  readonly connectTimeoutMs: number;
  /** Bind upstream connections to this source address. */
  readonly localAddress?: string;
  /** At most this many connections; further requests wait (FIFO) for one to be free. Default: unlimited. */
  readonly maxConnections?: number;
  /** Idle keep-alive connections are closed after this, ms (default 60 s). */
  readonly idleTimeoutMs?: number;
  /** A connection is closed after this many requests (default: unlimited). */
  readonly maxRequestsPerConnection?: number;
  /** Max response head bytes (default 60 KiB, Envoy's max_response_headers_kb); beyond: 'protocol' HPE_HEADER_OVERFLOW. */
  readonly maxResponseHeaderBytes?: number;
}

/** The pool's state, also the connections' view of their pool (kept off H1Pool's public API). */
class PoolState implements ConnOwner {
  readonly options: H1PoolOptions;
  readonly maxRequests: number;
  readonly maxHeaderBytes: number;
  readonly maxConnections: number;
  readonly idleTimeoutMs: number;
  /** Idle connections, most recently used last (LIFO reuse; the oldest are swept first). */
  readonly idle: H1Connection[] = [];
  /** Requests waiting for a connection (FIFO). */
  readonly pending: H1Request[] = [];
  open = 0;
  closing = false;
  lastLocalAddress: string | undefined = undefined;
  #sweepTimer: NodeJS.Timeout | undefined = undefined;
  /** How often idle connections are swept (closed after idleTimeoutMs, unref'd after one period). */
  readonly #sweepEvery: number;
  readonly #sweepBound = this.#sweep.bind(this);

  constructor(options: H1PoolOptions) {
    this.options = options;
    this.maxRequests = options.maxRequestsPerConnection !== undefined && options.maxRequestsPerConnection > 0 ? options.maxRequestsPerConnection : Infinity;
    this.maxHeaderBytes = options.maxResponseHeaderBytes ?? 60 * 1024;
    this.maxConnections = options.maxConnections !== undefined && options.maxConnections > 0 ? options.maxConnections : Infinity;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
    this.#sweepEvery = Math.max(5, Math.min(1000, this.idleTimeoutMs / 4));
  }

  acquire(req: H1Request): void {
    const c = this.idle.pop();
    if (c !== undefined) {
      this.lastLocalAddress = c.localAddress;
      c.start(req, true);
    } else if (this.open < this.maxConnections) {
      this.#open(req);
    } else {
      this.pending.push(req);
    }
  }

  #open(req: H1Request): void {
    this.open++;
    try {
      new H1Connection(this, req);
    } catch (err) {
      // Only invalid options get here (a bad port or address).
      this.open--;
      req.fail(
        new UpstreamError(
          'connect-refused',
          errnoCode(err, 'ERR_INVALID_ARG_VALUE'),
          `cannot connect to ${this.options.address}:${this.options.port}: ${(err as Error).message}`,
          err as Error,
        ),
      );
    }
  }

  connected(conn: H1Connection): void {
    this.lastLocalAddress = conn.localAddress;
  }

  release(conn: H1Connection): void {
    const next = this.pending.shift();
    if (next !== undefined) {
      this.lastLocalAddress = conn.localAddress;
      conn.start(next, false);
      return;
    }
    if (this.closing) {
      conn.destroy();
      return;
    }
    conn.toIdle(Date.now());
    this.idle.push(conn);
    if (this.#sweepTimer === undefined) {
      this.#sweepTimer = setInterval(this.#sweepBound, this.#sweepEvery);
      this.#sweepTimer.unref();
    }
  }

  removeIdle(conn: H1Connection): void {
    const i = this.idle.lastIndexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
  }

  closed(_conn: H1Connection, retry: H1Request | null, connectError: UpstreamError | null): void {
    this.open--;
    if (retry !== null) this.#open(retry);
    if (connectError !== null) {
      // As Envoy: a failed connect fails the requests waiting for a connection, rather than each
      // of them waiting out its own connect attempt to an upstream that is down.
      const waiting = this.pending.splice(0);
      for (const r of waiting) r.fail(connectError.copy());
      return;
    }
    // A connection slot is free: the oldest waiting request gets a new connection.
    while (this.pending.length > 0 && this.open < this.maxConnections) this.#open(this.pending.shift()!);
  }

  unqueue(req: H1Request): void {
    const i = this.pending.indexOf(req);
    if (i >= 0) this.pending.splice(i, 1);
  }

  #sweep(): void {
    const now = Date.now();
    const cutoff = now - this.idleTimeoutMs;
    const idle = this.idle;
    // The oldest idle connections are at the bottom of the stack.
    while (idle.length > 0 && idle[0]!.idleSince <= cutoff) idle[0]!.destroy();
    // Idle for a sweep period: unref'd, so idle connections alone do not keep the process alive.
    const settled = now - this.#sweepEvery;
    for (let i = 0; i < idle.length && idle[i]!.idleSince <= settled; i++) idle[i]!.unrefIdle();
    if (idle.length === 0) this.stopSweep();
  }

  stopSweep(): void {
    if (this.#sweepTimer !== undefined) {
      clearInterval(this.#sweepTimer);
      this.#sweepTimer = undefined;
    }
  }

  close(): void {
    this.closing = true;
    this.stopSweep();
    while (this.idle.length > 0) this.idle[this.idle.length - 1]!.destroy();
  }
}

const NO_HEAD: Buffer = Buffer.alloc(0);

/** A request line target or authority that cannot be sent as is. */
function unsendable(head: H1RequestHead): string | undefined {
  const m = head.method;
  for (let i = 0; i < m.length; i++) {
    const c = m.charCodeAt(i);
    if (c <= 32 || c >= 127) return 'method';
  }
  const p = head.path;
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i);
    // obs bytes (a raw UTF-8 path read as latin1) pass through; controls and spaces cannot.
    if (c <= 32 || c === 127 || c > 255) return 'path';
  }
  const a = head.authority;
  for (let i = 0; i < a.length; i++) {
    const c = a.charCodeAt(i);
    if (c < 32 || c === 127 || c > 255) return 'host';
  }
  return m.length === 0 || p.length === 0 ? 'request line' : undefined;
}

export class H1Pool implements UpstreamPool {
  readonly protocol = 'h1';
  readonly #s: PoolState;

  constructor(readonly options: H1PoolOptions) {
    this.#s = new PoolState(options);
  }

  /** `ip:port` of the connection used last (UPSTREAM_LOCAL_ADDRESS). */
  get lastLocalAddress(): string | undefined {
    return this.#s.lastLocalAddress;
  }

  /**
   * Connections open (busy + idle), idle ones still ref'd (keeping the process alive), and
   * requests waiting for one. For tests and the admin endpoint.
   */
  get stats(): { open: number; idle: number; idleRefed: number; pending: number } {
    const s = this.#s;
    return { open: s.open, idle: s.idle.length, idleRefed: s.idle.filter((c) => c.refed).length, pending: s.pending.length };
  }

  /** Sends a request; the handler hears the outcome. Never throws; never calls the handler synchronously. */
  dispatch(head: H1RequestHead, body: H1Body, handler: H1Handler): H1Call {
    const s = this.#s;
    let headBuf: Buffer = NO_HEAD;
    let joined = false;
    let chunked = false;
    let bad: UpstreamError | undefined;
    const bodyIsBuffer = body !== null && Buffer.isBuffer(body);
    try {
      let h = head.headers;
      const given = h['content-length'];
      let framing = '';
      // A whole body small enough joins the head in its buffer: one write.
      let room = 0;
      if (bodyIsBuffer) {
        const len = String(body.length);
        if (given !== len) {
          if (given !== undefined) {
            h = { ...h };
            delete h['content-length'];
          }
          framing = 'content-length: ' + len + '\r\n';
        }
        if (body.length <= COALESCE_MAX) room = body.length;
      } else if (body !== null && given === undefined) {
        chunked = true;
        framing = 'transfer-encoding: chunked\r\n';
      }
      const what = unsendable(head);
      if (what !== undefined) {
        bad = new UpstreamError('protocol', 'ERR_INVALID_REQUEST', `invalid request ${what}`);
      } else {
        headBuf = renderRequestHead(head.method, head.path, head.authority, h, framing, room);
        if (room > 0) {
          (body as Buffer).copy(headBuf, headBuf.length - room);
          joined = true;
        }
      }
    } catch (err) {
      bad = invalidHeader(err as Error);
    }
    const req = new H1Request(s, headBuf, joined ? null : body, handler, head.method === 'HEAD', chunked);
    if (bad !== undefined) req.fail(bad);
    else if (s.closing) req.fail(new UpstreamError('connect-refused', 'ERR_POOL_CLOSED', 'the upstream connection pool is closed'));
    else s.acquire(req);
    req.inDispatch = false;
    return req;
  }

  /** Graceful: idle connections close now, busy ones after their response; new dispatches fail ('connect-refused'). */
  close(): void {
    this.#s.close();
  }
}
