// One upstream HTTP/1.1 connection (a raw TCP or TLS socket plus one llhttp response parser), and
// the per-request state of a dispatched request. Listeners and parser callbacks are installed once
// per connection and act on the request currently assigned; nothing is allocated per request but
// the H1Request itself and the strings it sends.
import net from 'node:net';
import tls from 'node:tls';
import type { Socket } from 'node:net';
import { simpleResponse, type SimpleHead } from '../http1/simple-message.js';
import { HTTPParser, kOnBody, kOnHeaders, kOnHeadersComplete, kOnMessageComplete, newParser, type LlhttpParser, type ParseError } from '../http1/llhttp.js';
import { endToEndHeaderMap, headerLines, headerMapFromRaw, InvalidHeaderError, lowerName } from '../http1/head.js';
import { atBatch, flushWrites, writeDirect, writeSoon } from '../http1/socket-writes.js';
import { responseHeadReject } from '../http1/framing.js';
import type { BodySink, BodySource, HeaderMap } from '../http/message.js';
import type { H1Body, H1Call, H1Handler, H1PoolOptions } from './h1-pool.js';
import { connectError as connectFailure, errnoCode, UpstreamError } from './call.js';
import { allocSmall } from '../slab.js';

/** What a connection needs from its pool (implemented by the pool's internal state). */
export interface ConnOwner {
  readonly options: H1PoolOptions;
  readonly maxRequests: number;
  readonly maxHeaderBytes: number;
  /** A connection finished connecting (records UPSTREAM_LOCAL_ADDRESS). */
  connected(conn: H1Connection): void;
  /** A response completed on a reusable connection: next pending request, idle, or close. */
  release(conn: H1Connection): void;
  /** An idle connection is going away: take it off the idle list. */
  removeIdle(conn: H1Connection): void;
  /**
   * The socket closed; `retry` is a request to send again on a fresh connection; `connectError`
   * is set when the connection never connected (the queued requests then fail with it).
   */
  closed(conn: H1Connection, retry: H1Request | null, connectError: UpstreamError | null): void;
  /** A queued request was aborted. */
  unqueue(req: H1Request): void;
}

const EMPTY: string[] = [];

/** A dispatched request: the H1Call handed to the caller, and the sink of a streamed body. */
export class H1Request implements H1Call, BodySink {
  readonly owner: ConnOwner;
  /** Request line and headers (and a small whole body), ready to write (built once, also for a retry). */
  readonly head: Buffer;
  readonly body: H1Body;
  readonly handler: H1Handler;
  readonly isHead: boolean;
  /** Streamed body without content-length: sent with chunked framing. */
  readonly chunked: boolean;
  /** The connection writing/reading this request (also while it connects for it). */
  conn: H1Connection | null;
  /** onEnd/onError delivered or aborted: no handler call after this. */
  done: boolean;
  aborted: boolean;
  /** Still inside dispatch(): failures are reported on the next tick. */
  inDispatch: boolean;
  retried: boolean;
  /** The response head went to the handler: a failure from here on is 'reset-after-headers'. */
  headed: boolean;
  /** The whole request body was handed to the socket (a connection is reusable only then). */
  bodyDone: boolean;
  /** We paused the body source because the socket's buffer is full. */
  sourcePaused: boolean;
  /** The caller paused the response. */
  paused: boolean;
  trailers: HeaderMap | undefined;

  constructor(owner: ConnOwner, head: Buffer, body: H1Body, handler: H1Handler, isHead: boolean, chunked: boolean) {
    this.owner = owner;
    this.head = head;
    this.body = body;
    this.handler = handler;
    this.isHead = isHead;
    this.chunked = chunked;
    this.conn = null;
    this.done = false;
    this.aborted = false;
    this.inDispatch = true;
    this.retried = false;
    this.headed = false;
    this.bodyDone = false;
    this.sourcePaused = false;
    this.paused = false;
    this.trailers = undefined;
  }

  /** Reports a failure once (on the next tick while still inside dispatch). */
  fail(err: UpstreamError): void {
    if (this.done) return;
    this.done = true;
    this.conn = null;
    if (this.inDispatch) process.nextTick(emitError, this, err);
    else this.handler.onError(err);
  }

  // ---- H1Call

  pause(): void {
    this.paused = true;
    const c = this.conn;
    if (c !== null && c.req === this) c.pauseReading();
  }

  resume(): void {
    this.paused = false;
    const c = this.conn;
    if (c !== null && c.req === this) c.resumeReading();
  }

  abort(): void {
    if (this.done) return;
    this.done = true;
    this.aborted = true;
    const c = this.conn;
    this.conn = null;
    if (c !== null) c.abandon(this);
    else this.owner.unqueue(this);
  }

  // ---- BodySink (a streamed request body)

  onData(chunk: Buffer): void {
    const c = this.conn;
    if (c !== null && c.req === this) c.writeBodyChunk(this, chunk);
  }

  onEnd(trailers: HeaderMap | undefined): void {
    const c = this.conn;
    if (c !== null && c.req === this) c.writeBodyEnd(this, trailers);
  }

  onError(err: Error): void {
    const c = this.conn;
    if (this.done || c === null) return;
    c.failRequest(this, new UpstreamError('body-aborted', 'ERR_BODY_ABORTED', `request body aborted: ${err.message}`, err));
  }
}

function emitError(req: H1Request, err: UpstreamError): void {
  req.handler.onError(err);
}

function emitConnected(req: H1Request, localAddress: string): void {
  if (!req.aborted && !req.done) req.handler.onConnected(localAddress);
}

/** A connection closed under `req` after it connected. */
function resetError(req: H1Request, cause: Error | undefined): UpstreamError {
  return new UpstreamError(
    req.headed ? 'reset-after-headers' : 'reset-before-headers',
    errnoCode(cause, 'ECONNRESET'),
    `upstream connection closed before the response completed${cause ? `: ${cause.message}` : ''}`,
    cause,
  );
}

const CONNECTING = 0;
const IDLE = 1;
const BUSY = 2;
const DEAD = 3;

/**
 * One read buffer for every plain-TCP upstream connection (reads are handled one at a time, on
 * this thread). A socket's own reads would each allocate an ArrayBuffer, and the young-generation
 * collector sweeps every one of them: at tens of thousands of responses a second that showed as
 * a third of each scavenge pause.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');

/** Where a head that starts at `from` in `b` ends (after its CRLF CRLF), or -1 if not in `b`. */
function headEndIn(b: Buffer, from: number): number {
  const i = b.indexOf(CRLFCRLF, from);
  return i < 0 ? -1 : i + 4;
}

/**
 * The body length a response head declares when Content-Length alone frames it; -1 otherwise
 * (Transfer-Encoding, no Content-Length, a list or anything but digits: llhttp's callback then).
 */
function contentLength(raw: readonly string[]): number {
  let n = -1;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 14 && lowerName(name) === 'content-length') {
      const v = raw[i + 1]!;
      if (n !== -1 || v.length === 0 || v.length > 15) return -1;
      for (let j = 0; j < v.length; j++) {
        const c = v.charCodeAt(j);
        if (c < 48 || c > 57) return -1;
      }
      n = Number(v);
    } else if (name.length === 17 && lowerName(name) === 'transfer-encoding') {
      return -1;
    }
  }
  return n;
}

export class H1Connection {
  readonly owner: ConnOwner;
  readonly socket: Socket;
  readonly parser: LlhttpParser;
  state: number;
  connected: boolean;
  /** The request in flight (or the one this connection was opened for, while connecting). */
  req: H1Request | null;
  /** `ip:port` of our end, computed once at connect. */
  localAddress: string;
  /** Requests assigned (for maxRequestsPerConnection). */
  assigned: number;
  /** Responses completed: from one on, the connection is "reused" (stale keep-alive retry). */
  served: number;
  idleSince: number;
  refed: boolean;
  readPaused: boolean;
  /** Response bytes arrived for the current request. */
  gotBytes: boolean;
  /** EOF from the peer. */
  ended: boolean;
  error: Error | null;
  /** The connect timer fired (the close is then a connect timeout). */
  timedOut: boolean;
  connectTimer: NodeJS.Timeout | undefined;
  // ---- response parse state
  headRaw: string[] | null;
  trailerRaw: string[] | null;
  inBody: boolean;
  interim: boolean;
  keepAlive: boolean;
  /** The request whose response completed during the current execute (finished after it). */
  completed: H1Request | null;
  /** Bytes arrived that belong to no request: the connection must close. */
  stray: boolean;
  // ---- Content-Length bodies taken from the reads directly (see onSocketData)
  /** The llhttp body callback, unset while we take a body ourselves. */
  readonly onBody: (chunk: Buffer) => void;
  /** The read being parsed, while execute runs. */
  cur: Buffer | null;
  /** In `cur`: where the response head llhttp is parsing ends (-1: not known). */
  headEnd: number;
  /** In `cur`: the body bytes to deliver after execute. */
  bodyFrom: number;
  bodyTo: number;
  /** Body bytes still to come in later reads. */
  bodyLeft: number;

  constructor(owner: ConnOwner, req: H1Request) {
    this.owner = owner;
    this.state = CONNECTING;
    this.connected = false;
    this.req = req;
    this.localAddress = '';
    this.assigned = 0;
    this.served = 0;
    this.idleSince = 0;
    this.refed = true;
    this.readPaused = false;
    this.gotBytes = false;
    this.ended = false;
    this.error = null;
    this.timedOut = false;
    this.connectTimer = undefined;
    this.headRaw = null;
    this.trailerRaw = null;
    this.inBody = false;
    this.interim = false;
    this.keepAlive = false;
    this.completed = null;
    this.stray = false;
    this.cur = null;
    this.headEnd = -1;
    this.bodyFrom = 0;
    this.bodyTo = 0;
    this.bodyLeft = 0;
    req.conn = this;

    const o = owner.options;
    const p = newParser(HTTPParser.RESPONSE, owner.maxHeaderBytes);
    p[kOnHeaders] = this.onParserHeaders.bind(this);
    p[kOnHeadersComplete] = this.onParserHeadersComplete.bind(this);
    this.onBody = this.onParserBody.bind(this);
    p[kOnBody] = this.onBody;
    p[kOnMessageComplete] = this.onParserMessageComplete.bind(this);
    this.parser = p;

    // Throws only on invalid options (bad port/address): the pool turns that into a 'connect' error.
    let s: Socket;
    if (o.tls !== undefined) {
      s = tls.connect({ ...o.tls, host: o.address, port: o.port, ...(o.localAddress !== undefined ? { localAddress: o.localAddress } : {}) });
      s.setNoDelay(true);
      s.on('secureConnect', this.onConnect.bind(this));
    } else {
      // Plain TCP reads land in one buffer shared by every upstream connection (see READ_BUFFER).
      s = net.connect({
        host: o.address,
        port: o.port,
        noDelay: true,
        ...(o.localAddress !== undefined ? { localAddress: o.localAddress } : {}),
        onread: { buffer: READ_BUFFER, callback: this.onSocketRead.bind(this) },
      });
      s.on('connect', this.onConnect.bind(this));
    }
    this.socket = s;
    if (o.tls !== undefined) s.on('data', this.onSocketData.bind(this));
    s.on('end', this.onSocketEnd.bind(this));
    s.on('error', this.onSocketError.bind(this));
    s.on('close', this.onSocketClose.bind(this));
    s.on('drain', this.onSocketDrain.bind(this));
    if (o.connectTimeoutMs > 0) {
      this.connectTimer = setTimeout(this.onConnectTimeout.bind(this), o.connectTimeoutMs);
    }
  }

  get isIdle(): boolean {
    return this.state === IDLE;
  }

  // ---- lifecycle

  private onConnect(): void {
    if (this.connectTimer !== undefined) {
      clearTimeout(this.connectTimer);
      this.connectTimer = undefined;
    }
    if (this.state === DEAD) return;
    this.connected = true;
    const s = this.socket;
    this.localAddress = `${s.localAddress}:${s.localPort}`;
    this.owner.connected(this);
    const req = this.req;
    if (req !== null) {
      this.req = null;
      this.start(req, false);
    } else {
      // The request it was opened for was aborted meanwhile: serve another, or go idle.
      this.owner.release(this);
    }
  }

  private onConnectTimeout(): void {
    this.connectTimer = undefined;
    if (this.connected || this.state === DEAD) return;
    const err = new Error(`connect timeout after ${this.owner.options.connectTimeoutMs} ms`) as NodeJS.ErrnoException;
    err.code = 'ETIMEDOUT';
    this.error = err;
    this.timedOut = true;
    this.destroy();
  }

  /** Assigns `req` to this connected connection and writes it. `sync`: called from dispatch(). */
  start(req: H1Request, sync: boolean): void {
    this.state = BUSY;
    this.req = req;
    req.conn = this;
    this.assigned++;
    this.gotBytes = false;
    this.stray = false;
    if (!this.refed) {
      this.socket.ref();
      this.refed = true;
    }
    if (req.paused) this.pauseReading();
    if (sync) {
      // The handler may not be called synchronously from dispatch: it hears of the connection
      // when this turn's writes go out, before the request's own bytes (so before any response).
      atBatch(emitConnected, req, this.localAddress);
    } else {
      req.handler.onConnected(this.localAddress);
      if (this.req !== req) return; // aborted from onConnected
    }
    const s = this.socket;
    const b = req.body;
    if (b === null) {
      req.bodyDone = true;
      writeSoon(s, req.head);
    } else if (Buffer.isBuffer(b)) {
      req.bodyDone = true;
      // Head and body leave in one writev.
      flushWrites(s);
      s.cork();
      s.write(req.head);
      if (b.length > 0) s.write(b);
      s.uncork();
    } else {
      writeDirect(s, req.head);
      (b as BodySource).readBody(req);
    }
  }

  /**
   * Idle in the pool, still reading so a close by the upstream is noticed. It stays ref'd: the
   * pool's sweep unrefs it once it has been idle a whole sweep period (ref and unref per request
   * were two native calls each time a connection went back and forth under load).
   */
  toIdle(now: number): void {
    this.state = IDLE;
    this.idleSince = now;
    if (this.readPaused) this.resumeReading();
  }

  /** Idle for a while: it no longer keeps the process alive. */
  unrefIdle(): void {
    if (this.refed && this.state === IDLE) {
      this.socket.unref();
      this.refed = false;
    }
  }

  destroy(): void {
    if (this.state === DEAD) return;
    if (this.state === IDLE) this.owner.removeIdle(this);
    this.state = DEAD;
    this.socket.destroy();
  }

  /** The caller aborted `req`: this connection cannot be reused (unless it is still connecting). */
  abandon(req: H1Request): void {
    if (this.req !== req) return;
    this.req = null;
    if (this.state === CONNECTING) return; // goes to the pool once connected
    this.destroy();
  }

  /** Fails the current request and closes the connection. */
  failRequest(req: H1Request, err: UpstreamError): void {
    if (this.req === req) this.req = null;
    this.destroy();
    req.fail(err);
  }

  pauseReading(): void {
    if (!this.readPaused) {
      this.readPaused = true;
      this.socket.pause();
    }
  }

  resumeReading(): void {
    if (this.readPaused) {
      this.readPaused = false;
      this.socket.resume();
    }
  }

  // ---- request body

  writeBodyChunk(req: H1Request, chunk: Buffer): void {
    const s = this.socket;
    let ok: boolean;
    flushWrites(s);
    if (req.chunked) {
      if (chunk.length === 0) return; // a zero-size chunk would end the body
      s.cork();
      s.write(chunk.length.toString(16) + '\r\n', 'latin1');
      s.write(chunk);
      ok = s.write('\r\n', 'latin1');
      s.uncork();
    } else {
      ok = s.write(chunk);
    }
    if (!ok && !req.sourcePaused) {
      req.sourcePaused = true;
      (req.body as BodySource).pauseBody();
    }
  }

  writeBodyEnd(req: H1Request, trailers: HeaderMap | undefined): void {
    if (req.chunked) {
      let last = '0\r\n';
      if (trailers !== undefined) {
        try {
          last += headerLines(trailers);
        } catch (err) {
          this.failRequest(req, invalidHeader(err as Error));
          return;
        }
      }
      writeDirect(this.socket, last + '\r\n');
    }
    req.bodyDone = true;
  }

  private onSocketDrain(): void {
    const req = this.req;
    if (req !== null && req.sourcePaused) {
      req.sourcePaused = false;
      (req.body as BodySource).resumeBody();
    }
  }

  // ---- response

  /** Reads into READ_BUFFER (plain TCP), parsed at once. */
  private onSocketRead(nread: number, buf: Buffer): boolean {
    this.onSocketData(buf, nread);
    return true;
  }

  /**
   * Content-Length bodies do not go through llhttp's body callback, which copies every chunk into
   * an ArrayBuffer of its own (and the young-generation collector then sweeps each one: ~40 % of
   * every scavenge pause under load). llhttp still parses and counts them; the bytes are taken
   * from the read here, at offsets known exactly: a response starts at the first byte of a read
   * (the connection is quiet between a response and the next request), and node's llhttp ends a
   * head only at the first CRLF CRLF (no bare LF, no folding). Chunked and close-delimited bodies,
   * and heads split over reads, go through the callback as before.
   */
  private onSocketData(data: Buffer, n: number = data.length): void {
    const req = this.req;
    if (req === null) {
      // An idle connection (or an abandoned one) has nothing to read.
      this.destroy();
      return;
    }
    this.gotBytes = true;
    const left = this.bodyLeft;
    this.bodyFrom = 0;
    this.bodyTo = 0;
    if (left <= 0 && !this.inBody && this.headRaw === null && !req.isHead) {
      // A whole response in this read, simply framed: read in JS, llhttp not involved (it stays
      // at a message boundary, where the next response starts). Read from the first `n` bytes of
      // the shared buffer itself: a view of them is made only for what follows.
      const m = simpleResponse(data, this.owner.maxHeaderBytes, n);
      if (m !== null) {
        this.simpleMessage(req, data, m);
        return;
      }
    }
    if (n !== data.length) data = data.subarray(0, n);
    if (left > 0) {
      // The rest of a body we take ourselves.
      const take = left < data.length ? left : data.length;
      this.bodyTo = take;
      this.bodyLeft = left - take;
      this.headEnd = -1;
    } else if (!this.inBody && this.headRaw === null) {
      this.headEnd = headEndIn(data, 0);
    } else {
      this.headEnd = -1;
    }
    this.cur = data;
    try {
      const r = this.parser.execute(data);
      this.cur = null;
      if (typeof r !== 'number') this.onParseError(r);
      else if (this.bodyTo > this.bodyFrom) this.deliverBody(req, data);
      if (this.completed !== null || this.stray) this.afterParse();
    } catch (err) {
      this.cur = null;
      this.handlerThrew(err);
    }
  }

  /** A response simpleResponse read: its head, body and end, in the order llhttp would give them. */
  private simpleMessage(req: H1Request, data: Buffer, m: SimpleHead): void {
    this.inBody = true;
    this.keepAlive = m.keepAlive;
    this.bodyFrom = m.headEnd;
    this.bodyTo = m.headEnd + m.bodyLength;
    try {
      this.deliverHead(req, m.status, m.headers);
      this.onParserMessageComplete();
      if (this.bodyTo > this.bodyFrom) this.deliverBody(req, data);
      if (this.completed !== null || this.stray) this.afterParse();
    } catch (err) {
      this.handlerThrew(err);
    }
  }

  /** Hands the body bytes of this read to the request (before its end, which afterParse reports). */
  private deliverBody(req: H1Request, data: Buffer): void {
    const from = this.bodyFrom;
    const to = this.bodyTo;
    const complete = this.completed === req;
    if (req.done || (!complete && this.req !== req)) return; // aborted or failed meanwhile: the connection goes
    if (complete !== (this.bodyLeft === 0)) {
      // llhttp ends the message where the body we counted ends, or something is badly wrong.
      this.completed = null;
      this.failRequest(req, new UpstreamError('protocol', 'HPE_INVALID_CONTENT_LENGTH', 'upstream body framing out of step'));
      return;
    }
    let chunk: Buffer;
    if (data.buffer === READ_BUFFER.buffer) {
      // READ_BUFFER is overwritten by the next read: copy (small copies are cut from a slab).
      chunk = allocSmall(to - from);
      data.copy(chunk, 0, from, to);
    } else {
      chunk = data.subarray(from, to);
    }
    req.handler.onData(chunk);
  }

  /**
   * A handler threw inside a socket callback (a bug on the caller's side). Thrown from here it
   * would take the whole proxy down with it; instead the connection is dropped and the request,
   * if it is still current, fails as a reset.
   */
  private handlerThrew(err: unknown): void {
    this.stray = true;
    const req = this.req;
    this.req = null;
    this.destroy();
    if (req === null || req.done) return;
    try {
      req.fail(new UpstreamError('internal', 'ERR_HANDLER', `request handler failed: ${(err as Error)?.message ?? String(err)}`, err as Error));
    } catch {
      // The handler failed again: nothing more to tell it.
    }
  }

  private onParseError(e: ParseError): void {
    const req = this.req;
    this.stray = true;
    if (req !== null) this.failRequest(req, new UpstreamError('protocol', e.code, `upstream sent invalid HTTP/1.1: ${e.reason ?? e.message}`, e));
  }

  /** Finishes a response completed during execute/finish, then drops the connection on stray bytes. */
  private afterParse(): void {
    const req = this.completed;
    if (req !== null) {
      this.completed = null;
      this.served++;
      if (this.state === BUSY && !this.stray && !this.ended && this.keepAlive && req.bodyDone && this.assigned < this.owner.maxRequests) {
        this.owner.release(this);
      } else {
        this.destroy();
      }
      if (!req.done) {
        req.done = true;
        req.handler.onEnd(req.trailers);
      }
    }
    if (this.stray) this.destroy();
  }

  private onParserHeaders(raw: string[]): void {
    // Before the head completes: a head too long for one flush; after it: trailers.
    if (this.inBody) this.trailerRaw = this.trailerRaw === null ? raw : this.trailerRaw.concat(raw);
    else this.headRaw = this.headRaw === null ? raw : this.headRaw.concat(raw);
  }

  private onParserHeadersComplete(
    _maj: number,
    minor: number,
    rawHeaders: string[] | undefined,
    _method: number,
    _url: string | undefined,
    status: number,
    _msg: string | undefined,
    _upgrade: boolean,
    shouldKeepAlive: boolean,
  ): number {
    let raw = rawHeaders;
    const pre = this.headRaw;
    if (pre !== null) {
      this.headRaw = null;
      raw = raw === undefined ? pre : pre.concat(raw);
    }
    const req = this.req;
    if (req === null) {
      this.stray = true;
      return 0;
    }
    if (status < 200) {
      // The final head follows this one (1xx have no body).
      const cur = this.cur;
      this.headEnd = cur !== null && this.headEnd >= 0 ? headEndIn(cur, this.headEnd) : -1;
      if (status === 101) {
        this.failRequest(req, new UpstreamError('protocol', 'ERR_UNEXPECTED_UPGRADE', 'upstream switched protocols (101) on a plain request'));
        return 0;
      }
      this.interim = true; // 100 Continue, 103 Early Hints: wait for the final head
      return 0;
    }
    const framing = responseHeadReject(raw ?? EMPTY, minor === 0);
    if (framing !== undefined) {
      // Framing we cannot trust: nothing of this response is relayed, the connection goes.
      this.stray = true;
      this.failRequest(req, new UpstreamError('protocol', 'HPE_INVALID_TRANSFER_ENCODING', `upstream sent invalid HTTP/1.1: ${framing}`));
      return 0;
    }
    this.inBody = true;
    this.keepAlive = shouldKeepAlive;
    const headEnd = this.headEnd;
    this.headEnd = -1;
    if (headEnd >= 0 && !req.isHead && status !== 204 && status !== 304) {
      const n = contentLength(raw ?? EMPTY);
      const cur = this.cur!;
      if (n > 0) {
        // Ours to take (see onSocketData): llhttp skips the body bytes when no callback is set.
        this.parser[kOnBody] = null;
        const avail = cur.length - headEnd;
        const take = n < avail ? n : avail;
        this.bodyFrom = headEnd;
        this.bodyTo = headEnd + take;
        this.bodyLeft = n - take;
      }
    }
    if (!this.deliverHead(req, status, endToEndHeaderMap(raw ?? EMPTY))) return 0;
    return req.isHead ? 1 : 0;
  }

  /** The final head to the request's handler; false when the request is gone after it (aborted, or refused by onHead). */
  private deliverHead(req: H1Request, status: number, headers: HeaderMap): boolean {
    req.headed = true;
    const ok = req.handler.onHead(status, headers);
    if (this.req !== req) return false; // aborted from onHead
    if (ok === false) {
      req.done = true;
      req.aborted = true;
      req.conn = null;
      this.req = null;
      this.destroy();
      return false;
    }
    return true;
  }

  private onParserBody(chunk: Buffer): void {
    const req = this.req;
    // llhttp's binding hands body bytes over as a copy of their own, never a view of the read
    // buffer: safe to keep, even with the shared READ_BUFFER.
    if (req !== null && this.inBody) req.handler.onData(chunk);
  }

  private onParserMessageComplete(): void {
    if (this.interim) {
      this.interim = false;
      return;
    }
    if (this.parser[kOnBody] !== this.onBody && this.bodyLeft === 0) this.parser[kOnBody] = this.onBody;
    const req = this.req;
    this.inBody = false;
    const t = this.trailerRaw;
    this.trailerRaw = null;
    if (req === null) {
      this.stray = true;
      return;
    }
    this.req = null;
    req.conn = null;
    req.trailers = t === null || t.length === 0 ? undefined : headerMapFromRaw(t);
    this.completed = req;
  }

  private onSocketEnd(): void {
    this.ended = true;
    if (this.req !== null && this.gotBytes && this.inBody) {
      // A close-delimited body ends here; an incomplete one fails in onSocketClose.
      try {
        this.parser.finish();
        if (this.completed !== null) this.afterParse();
      } catch (err) {
        this.handlerThrew(err);
      }
    }
    this.destroy();
  }

  private onSocketError(err: Error): void {
    if (this.error === null) this.error = err;
  }

  private onSocketClose(): void {
    if (this.connectTimer !== undefined) {
      clearTimeout(this.connectTimer);
      this.connectTimer = undefined;
    }
    if (this.state === IDLE) this.owner.removeIdle(this);
    this.state = DEAD;
    this.parser.close();
    const req = this.req;
    this.req = null;
    let retry: H1Request | null = null;
    let err: UpstreamError | null = null;
    let connectError: UpstreamError | null = null;
    const cause = this.error ?? undefined;
    if (!this.connected && (cause !== undefined || req !== null)) {
      const o = this.owner.options;
      connectError = connectFailure(cause, this.timedOut, `connect to ${o.address}:${o.port} failed${cause ? `: ${cause.message}` : ''}`);
    }
    if (req !== null && !req.done) {
      if (connectError !== null) {
        err = connectError;
      } else if (!this.gotBytes && this.served > 0 && !req.retried && (req.body === null || Buffer.isBuffer(req.body))) {
        // The upstream closed a kept-alive connection as we reused it: send once more on a fresh one.
        req.retried = true;
        req.conn = null;
        retry = req;
      } else {
        err = resetError(req, cause);
      }
    }
    // The pool first (counts, queue), so a retry the handler dispatches from onError sees a free slot.
    this.owner.closed(this, retry, connectError);
    if (err !== null) {
      try {
        req!.fail(err);
      } catch {
        // A handler's bug must not escape a socket's 'close' event (it would end the process).
      }
    }
  }
}

export function invalidHeader(err: Error): UpstreamError {
  const name = err instanceof InvalidHeaderError ? err.header : '';
  return new UpstreamError('protocol', 'ERR_INVALID_HEADER', `invalid request header ${JSON.stringify(name)}`, err);
}
