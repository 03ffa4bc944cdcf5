// One HTTP/1.x client connection of the server codec: llhttp parses requests off the socket, each
// becomes a RequestStream delivered in order (pipelined ones wait), responses are written with
// their framing, and the connection closes when HTTP says so. All socket listeners and parser
// callbacks are installed once here; requests carry no closures of their own.
import type { Socket } from 'node:net';
import { RESPONSE_CODE_DETAILS as D } from '../telemetry/flags.js';
import { headerMapFromRaw, REASONS, statusLine } from './head.js';
import type { HeaderMap } from '../http/message.js';
import { absoluteForm, DownstreamCodecError, parseErrorReject, requestHeadReject, type CodecReject } from './framing.js';
import { atBatch, flushWrites, writeDirect, writeSoon } from './socket-writes.js';
import { pushReadsAsData, readIntoBuffer } from '../node-internals.js';
import { simpleRequest, type SimpleHead } from './simple-message.js';
import {
  HTTPParser,
  METHODS,
  newParser,
  kOnBody,
  kOnHeaders,
  kOnHeadersComplete,
  kOnMessageBegin,
  kOnMessageComplete,
  type LlhttpParser,
  type ParseError,
} from './llhttp.js';
import { COALESCE_MAX, MAX_QUEUED_BODY, RequestStream } from './request-stream.js';
import type { H1ClientError, H1Limits, H1ServerHooks } from './server.js';
import { ConnList, type Listed } from '../conn-list.js';
import { allocSmall } from '../slab.js';

const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';
/** The head was not complete in time (Envoy: request_headers_timeout). */
const TIMEOUT: CodecReject = { status: 408, details: D.REQUEST_HEADERS_TIMEOUT };
const EMPTY = Buffer.alloc(0);

/**
 * A closing connection whose response is fully written waits this long for the client's FIN
 * (closing at once, with unread input, would send RST and could destroy the response in flight).
 */
const LINGER_MS = 5000;

function call(fn: () => void): void {
  fn();
}

/**
 * The head (`len` bytes of `head`) followed by `body`, in one buffer: in the head's own buffer
 * when it left room for the body (RequestStream.writeHead does for a small Content-Length body).
 */
function withHead(head: Buffer, len: number, body: Buffer): Buffer {
  const n = len + body.length;
  if (head.length >= n) {
    body.copy(head, len);
    return n === head.length ? head : head.subarray(0, n);
  }
  const buf = allocSmall(n);
  head.copy(buf, 0, 0, len);
  body.copy(buf, len);
  return buf;
}

/**
 * One read buffer for every plain-TCP client connection (reads are handled one at a time, on this
 * thread): no ArrayBuffer per read for the young-generation collector to sweep. Nothing keeps a
 * view of it past the read: llhttp and the simple-message path copy what they keep.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/** What the connections of one H1Server share. */
export class ServerShared {
  /** closeIdle was called: every response closes its connection. */
  draining = false;
  readonly conns = new ConnList<ServerConnection>();
  constructor(
    readonly hooks: H1ServerHooks,
    readonly limits: H1Limits,
  ) {}
}

function closeParser(p: LlhttpParser): void {
  p.close();
}

export class ServerConnection implements Listed {
  /** Its slot in shared.conns (ConnList). */
  listIndex = -1;
  /** llhttp, made for the first message the JS fast path (simple-message.ts) does not take. */
  #parser: LlhttpParser | null = null;
  readonly encrypted: boolean;
  /** The request whose response is being produced (delivered to onRequest, not ended). */
  active: RequestStream | null = null;
  /** The request whose message the parser is in (head done, body not finished). */
  parsing: RequestStream | null = null;
  /** Pipelined requests, parsed while a response was in flight, in arrival order. */
  held: RequestStream[] = [];
  /** A head longer than one flush of llhttp's (kOnHeaders), then trailers. */
  rawHead: string[] | null = null;
  urlPart = '';
  rawTrailers: string[] | null = null;
  /** When the head being received began (ms), 0 when none is. */
  headStart = 0;
  /** When the sweep first saw the connection idle (ms), 0 when not idle since. */
  idleSince = 0;
  /** When the sweep first saw the closing connection done writing (ms). */
  lingerSince = 0;
  /**
   * The final response head, held back to go out with the first body bytes (one syscall): its
   * first pendingHeadLen bytes (the rest is room for a small body).
   */
  pendingHead: Buffer | null = null;
  pendingHeadLen = 0;
  flushScheduled = false;
  nextScheduled = false;
  reading = true;
  /** No more requests are parsed from this connection (incoming bytes are dropped). */
  stopped = false;
  closing = false;
  closed = false;
  peerEnded = false;
  /** A codec error to answer once the responses in flight are done. */
  pendingError: CodecReject | null = null;
  /** A CONNECT to hand over (with the bytes after its head) once the responses in flight are done. */
  connectTarget: string | null = null;
  connectHead: Buffer = EMPTY;
  /** Plain TCP after its first read: reads land in READ_BUFFER, not in 'data' events. */
  direct = false;
  canReadDirect = false;

  constructor(
    readonly shared: ServerShared,
    readonly socket: Socket,
  ) {
    this.encrypted = (socket as { encrypted?: boolean }).encrypted === true;
    socket.setNoDelay(true);
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('error', this.#onError);
    socket.on('close', this.#onClose);
    socket.on('drain', this.#onDrain);
    this.canReadDirect = !this.encrypted;
    // A socket handed over paused (bytes given back to it, a tunnel) flows from here.
    socket.resume();
  }

  /** The connection's first bytes, taken off the socket by the listener that looked at them (../listeners/first-bytes.ts). */
  readFirst(first: Buffer): void {
    this.#onData(first);
  }

  /** Most connections only ever carry requests the fast path reads: no parser is made for them. */
  #llhttp(): LlhttpParser {
    if (this.#parser !== null) return this.#parser;
    const p = newParser(HTTPParser.REQUEST, this.shared.limits.maxHeaderBytes);
    p[kOnMessageBegin] = this.#onMessageBegin;
    p[kOnHeaders] = this.#onHeaders;
    p[kOnHeadersComplete] = this.#onHeadersComplete;
    p[kOnBody] = this.#onBody;
    p[kOnMessageComplete] = this.#onMessageComplete;
    this.#parser = p;
    return p;
  }

  /**
   * After the first read (the listener's first bytes, or bytes given back to the socket), plain
   * TCP reads into READ_BUFFER: no Buffer, stream push or 'data' event per read.
   */
  #startDirectReads(): void {
    this.canReadDirect = false;
    const s = this.socket;
    if (this.stopped || this.closed || s.readableLength > 0) return;
    this.direct = readIntoBuffer(s, READ_BUFFER, this.#onRead);
  }

  #onRead = (nread: number, buf: Buffer): boolean => {
    // The read's bytes are READ_BUFFER's first `nread`: a view of them is made only for llhttp.
    this.#onData(buf, nread);
    return true;
  };

  // ---- parsing

  /** The first `n` bytes of `d` were read (all of it for a 'data' event). */
  #onData = (d: Buffer, n: number = d.length): void => {
    if (this.stopped) {
      // Bytes for a CONNECT tunnel that waits for the responses before it (pipelined).
      if (this.connectTarget !== null) this.connectHead = Buffer.concat([this.connectHead, d.subarray(0, n)]);
      return;
    }
    // A whole request without a body, at a message boundary: read in JS (simple-message.ts);
    // llhttp, which never sees it, stays at the boundary too.
    const simple = this.parsing === null && this.headStart === 0 && this.rawHead === null ? simpleRequest(d, this.shared.limits.maxHeaderBytes, n) : null;
    if (simple !== null) this.#onSimpleRequest(simple);
    else if (!this.#execute(n === d.length ? d : d.subarray(0, n))) return;
    if (this.canReadDirect) this.#startDirectReads();
  };

  /** llhttp parses `d`; false when the connection is no longer HTTP's to read (error, CONNECT, gone). */
  #execute(d: Buffer): boolean {
    let r: number | ParseError;
    try {
      r = this.#llhttp().execute(d);
    } catch {
      // A handler threw inside a parser callback: the parser's state is lost with it.
      this.destroy();
      return false;
    }
    if (this.connectTarget !== null) {
      if (this.closed || this.closing) return false;
      // A copy: `d` may be READ_BUFFER, which the next read overwrites.
      if (typeof r === 'number') this.connectHead = Buffer.from(d.subarray(r));
      if (this.active === null && this.held.length === 0) this.#handover();
      else this.updateReading();
      return false;
    }
    if (typeof r !== 'number') {
      if (!this.stopped) this.fail(parseErrorReject(r));
      return false;
    }
    return true;
  }

  /** A request simpleRequest read: the events llhttp would have raised for it, in its order. */
  #onSimpleRequest(m: SimpleHead): void {
    this.idleSince = 0;
    try {
      this.#onHead(1, 1, m.headers, m.method, m.url, false, m.keepAlive);
      this.#onMessageComplete();
    } catch {
      this.destroy();
    }
  }

  #onMessageBegin = (): void => {
    if (this.stopped) return;
    this.headStart = Date.now();
    this.idleSince = 0;
  };

  #onHeaders = (raw: string[], url: string): void => {
    if (this.parsing !== null) {
      this.rawTrailers = this.rawTrailers === null ? raw : this.rawTrailers.concat(raw);
      return;
    }
    this.rawHead = this.rawHead === null ? raw : this.rawHead.concat(raw);
    if (url !== undefined) this.urlPart += url;
  };

  #onHeadersComplete = (
    major: number,
    minor: number,
    raw: string[] | undefined,
    method: number,
    url: string | undefined,
    _status: number,
    _msg: string | undefined,
    upgrade: boolean,
    keepAlive: boolean,
  ): void => {
    if (this.stopped) return;
    this.headStart = 0;
    if (raw === undefined) {
      raw = this.rawHead ?? [];
      url = this.urlPart;
    } else if (this.rawHead !== null) {
      raw = this.rawHead.concat(raw);
      url = this.urlPart + (url ?? '');
    }
    this.rawHead = null;
    this.urlPart = '';
    const m = METHODS[method] ?? 'GET';
    if (upgrade && m === 'CONNECT' && this.shared.hooks.onConnect !== undefined) {
      // Parsing stops here; the socket is handed over after execute returns (with the rest of the read).
      this.connectTarget = url ?? '';
      this.stopped = true;
      return;
    }
    this.#onHead(major, minor, headerMapFromRaw(raw), m, url, upgrade, keepAlive);
  };

  /** A request head, from llhttp or simpleRequest: checked, then delivered or held behind the one in flight. */
  #onHead(major: number, minor: number, headers: HeaderMap, m: string, url: string | undefined, upgrade: boolean, keepAlive: boolean): void {
    const http10 = major === 1 && minor === 0;
    const reject = requestHeadReject(headers, http10);
    if (reject !== undefined) {
      // Answered here, before anything is routed: llhttp may go on to parse what follows as a
      // body or a next request (a smuggled one), and every callback from now on is ignored.
      this.fail(reject);
      return;
    }
    const host = headers['host'];
    let authority = typeof host === 'string' ? host : '';
    // An absolute-form target's authority wins over Host (RFC 9112 §3.2.2).
    if (url !== undefined && url.charCodeAt(0) !== 47 /* / */) authority = absoluteForm(url)?.authority ?? authority;
    let hasBody = false;
    if (!upgrade) {
      if (headers['transfer-encoding'] !== undefined) hasBody = true;
      else {
        const cl = headers['content-length'];
        if (cl !== undefined) {
          const v = typeof cl === 'string' ? cl : (cl[0] ?? '');
          hasBody = v !== '0' && Number(v) > 0;
        }
      }
    }
    let expectContinue = false;
    if (hasBody && major === 1 && minor === 1) {
      const e = headers['expect'];
      expectContinue = typeof e === 'string' && e.length === 12 && e.toLowerCase() === '100-continue';
    }
    const req = new RequestStream(
      this,
      m,
      url ?? '',
      headers,
      authority,
      http10 ? 'HTTP/1.0' : 'HTTP/1.1',
      major !== 1,
      this.encrypted,
      this.socket,
      hasBody,
      keepAlive,
      upgrade,
      expectContinue,
    );
    // An upgrade is served as a plain request without body; what follows the head is not HTTP.
    if (upgrade) req.discarding = true;
    this.parsing = req;
    if (this.active === null && this.held.length === 0) {
      this.active = req;
      this.#deliver(req);
    } else {
      this.held.push(req);
      this.updateReading();
    }
  }

  #onBody = (chunk: Buffer): void => {
    const p = this.parsing;
    if (p === null || this.stopped) return;
    try {
      p.onBodyChunk(chunk);
    } catch {
      // Nothing above a socket callback would catch it (it would end the process).
      this.destroy();
      return;
    }
    if (p.queue !== null) this.updateReading();
  };

  #onMessageComplete = (): void => {
    const p = this.parsing;
    if (p === null || this.stopped) return;
    this.parsing = null;
    const t = this.rawTrailers;
    this.rawTrailers = null;
    // After a request that closes the connection (or an upgrade), nothing more is HTTP to us.
    if (!p.keepAlive || p.upgrade) this.stopped = true;
    try {
      p.onBodyEnd(t === null ? undefined : headerMapFromRaw(t));
    } catch {
      this.destroy();
      return;
    }
    this.updateReading();
  };

  #deliver(req: RequestStream): void {
    if (req.expectContinue && !req.requestComplete) writeDirect(this.socket, CONTINUE);
    try {
      this.shared.hooks.onRequest(req);
    } catch {
      // A handler's bug: this connection goes, the proxy stays (nothing above a socket callback catches).
      this.destroy();
    }
  }

  /** Runs the next pipelined request (deferred: the previous one's end() is still on the stack). */
  #startNext = (): void => {
    this.nextScheduled = false;
    if (this.closed || this.closing || this.active !== null) return;
    const req = this.held.shift();
    if (req === undefined) {
      this.#afterResponse();
      return;
    }
    this.active = req;
    this.updateReading();
    try {
      this.#deliver(req);
    } catch {
      this.destroy();
    }
  };

  /** Reads from the socket unless a consumer or a held pipelined request wants it paused. */
  updateReading(): void {
    if (this.closed) return;
    let want = true;
    if (!this.stopped) {
      if (this.held.length > 0) want = false;
      else {
        const p = this.parsing;
        if (p !== null && !p.discarding && (p.paused || p.queuedBytes > MAX_QUEUED_BODY)) want = false;
      }
    } else if (this.connectTarget !== null && !this.closing) want = false;
    if (want === this.reading) return;
    this.reading = want;
    // Direct reads too: the socket's pause and resume stop and start its handle's reads.
    if (want) this.socket.resume();
    else this.socket.pause();
  }

  // ---- writing (called by RequestStream)

  /** The response should say `connection: close` for reasons of the connection's. */
  mustCloseAfterResponse(): boolean {
    return this.shared.draining || (this.peerEnded && this.held.length === 0);
  }

  writeInformational(head: string): void {
    if (!this.closed) writeDirect(this.socket, head);
  }

  setHead(head: Buffer, len: number): void {
    this.pendingHead = head;
    this.pendingHeadLen = len;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      atBatch(call, this.#flushHead, undefined);
    }
  }

  /** A head no body write took along by the time this turn's writes go out goes out alone. */
  #flushHead = (): void => {
    this.flushScheduled = false;
    const h = this.pendingHead;
    if (h === null) return;
    this.pendingHead = null;
    if (!this.closed && !this.socket.destroyed) writeSoon(this.socket, h.subarray(0, this.pendingHeadLen));
  };

  writeBody(chunk: Buffer, chunked: boolean): boolean {
    const s = this.socket;
    if (this.closed || s.destroyed) return true;
    const head = this.pendingHead;
    const len = this.pendingHeadLen;
    if (chunked) {
      this.pendingHead = null;
      flushWrites(s);
      s.cork();
      if (head !== null) s.write(head.subarray(0, len));
      s.write(chunk.length.toString(16) + '\r\n', 'latin1');
      s.write(chunk);
      const r = s.write('\r\n', 'latin1');
      s.uncork();
      return r;
    }
    if (head === null) return writeDirect(s, chunk);
    this.pendingHead = null;
    if (chunk.length <= COALESCE_MAX) {
      // The head and a small body: one message, sent with the turn's batch.
      writeSoon(s, withHead(head, len, chunk));
      return true;
    }
    flushWrites(s);
    s.cork();
    s.write(head.subarray(0, len));
    const r = s.write(chunk);
    s.uncork();
    return r;
  }

  /** The last bytes of `req`'s response (head if still held, body, chunked tail), then what comes next. */
  endResponse(req: RequestStream, body: Buffer | undefined, chunked: boolean, tail: string): void {
    const s = this.socket;
    const head = this.pendingHead;
    const len = this.pendingHeadLen;
    this.pendingHead = null;
    if (!this.closed && !s.destroyed) {
      // Only a chunked body has a tail (its last chunk and trailers).
      if (body !== undefined && !chunked && (head === null || body.length <= COALESCE_MAX)) {
        // The common case: one write (head and body together when both are still to go).
        if (head === null) writeDirect(s, body);
        else writeSoon(s, withHead(head, len, body));
      } else if (body !== undefined) {
        // Chunked, or a head with a body too large to copy next to it.
        flushWrites(s);
        s.cork();
        if (head !== null) s.write(head.subarray(0, len));
        if (chunked) {
          s.write(body.length.toString(16) + '\r\n', 'latin1');
          s.write(body);
          tail = '\r\n' + tail;
        } else {
          s.write(body);
        }
        if (tail !== '') s.write(tail, 'latin1');
        s.uncork();
      } else if (head !== null) {
        writeSoon(s, tail === '' ? head.subarray(0, len) : withHead(head, len, Buffer.from(tail, 'latin1')));
      } else if (tail !== '') {
        writeSoon(s, tail);
      }
    }
    if (this.active === req) this.active = null;
    // The response is complete before the request: the rest of the body is read and dropped.
    if (this.parsing === req) req.discardBody();
    req.finish();
    if (this.closed || this.closing) return;
    if (req.closeAfter || this.shared.draining) {
      if (this.pendingError !== null && this.held.length === 0) this.#replyError(this.pendingError);
      else this.close();
      return;
    }
    this.#afterResponse();
  }

  /** No response in flight: the next pipelined request, a pending error or handover, or idle. */
  #afterResponse(): void {
    if (this.active !== null) return;
    if (this.held.length > 0) {
      if (!this.nextScheduled) {
        this.nextScheduled = true;
        process.nextTick(this.#startNext);
      }
      return;
    }
    if (this.pendingError !== null) {
      this.#replyError(this.pendingError);
      return;
    }
    if (this.connectTarget !== null) {
      this.#handover();
      return;
    }
    if (this.peerEnded) {
      this.close();
      return;
    }
    this.updateReading();
  }

  // ---- errors, timeouts, closing

  /** The codec answers the request itself (400/501 malformed, 408 head too slow, 431 head too large). */
  fail(r: CodecReject): void {
    if (this.stopped || this.closing || this.closed) return;
    this.stopped = true;
    this.headStart = 0;
    const p = this.parsing;
    if (p !== null) {
      this.parsing = null;
      if (p === this.active && this.held.length === 0) {
        // Its exchange answers (with r while no response has started), then the connection closes.
        p.closeAfter = true;
        p.onBodyError(new DownstreamCodecError(r));
        this.updateReading();
        return;
      }
      p.onBodyError(new DownstreamCodecError(r));
    }
    if (this.active !== null || this.held.length > 0) {
      this.pendingError = r;
      this.updateReading();
      return;
    }
    this.#replyError(r);
  }

  #replyError(r: CodecReject): void {
    this.pendingError = null;
    const s = this.socket;
    if (this.closed || s.destroyed || !s.writable) {
      this.destroy();
      return;
    }
    const status = r.status;
    const body = status === 408 ? 'request timeout' : REASONS[status]!;
    writeDirect(s, `${statusLine(status)}content-length: ${body.length}\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n${body}`);
    this.close();
    const e: H1ClientError = { socket: s, status, details: r.details, bodyBytes: body.length };
    try {
      this.shared.hooks.onClientError(e);
    } catch {
      // The access log's problem; the connection is closing either way.
    }
  }

  /** Ends the connection after what was written; incoming bytes are read and dropped meanwhile. */
  close(): void {
    if (this.closing || this.closed) return;
    this.closing = true;
    this.stopped = true;
    this.updateReading();
    this.#flushHead();
    flushWrites(this.socket);
    this.socket.end();
  }

  destroy(): void {
    if (this.closed) return;
    this.stopped = true;
    this.socket.destroy();
  }

  get idle(): boolean {
    return (
      this.active === null &&
      this.held.length === 0 &&
      this.parsing === null &&
      this.headStart === 0 &&
      !this.closing &&
      !this.closed &&
      this.connectTarget === null
    );
  }

  /** Timeouts, checked by the server's sweep: headers, keep-alive, lingering close. */
  sweep(now: number): void {
    if (this.closed) return;
    const limits = this.shared.limits;
    if (this.closing) {
      if (!this.socket.writableFinished) return;
      if (this.lingerSince === 0) this.lingerSince = now;
      else if (now - this.lingerSince >= LINGER_MS) this.socket.destroy();
      return;
    }
    if (this.headStart !== 0) {
      // A head we are not reading (held behind pipelined requests) is not the client's delay.
      if (!this.reading) this.headStart = now;
      else if (limits.headersTimeoutMs > 0 && now - this.headStart >= limits.headersTimeoutMs) this.fail(TIMEOUT);
      return;
    }
    if (!this.idle) {
      this.idleSince = 0;
      return;
    }
    if (limits.keepAliveTimeoutMs <= 0) return;
    if (this.idleSince === 0) this.idleSince = now;
    else if (now - this.idleSince >= limits.keepAliveTimeoutMs) this.close();
  }

  /** Hands a CONNECT's socket to hooks.onConnect: this connection lets go of it entirely. */
  #handover(): void {
    const target = this.connectTarget ?? '';
    const head = this.connectHead;
    this.connectTarget = null;
    this.connectHead = EMPTY;
    const s = this.socket;
    flushWrites(s);
    this.#detach();
    // Neither flowing nor paused: the new owner's first 'data' listener starts the flow.
    (s as unknown as { readableFlowing: boolean | null }).readableFlowing = null;
    this.shared.hooks.onConnect!(target, s, head);
  }

  #detach(): void {
    this.closed = true;
    this.stopped = true;
    this.shared.conns.delete(this);
    const s = this.socket;
    s.off('data', this.#onData);
    s.off('end', this.#onEnd);
    s.off('error', this.#onError);
    s.off('close', this.#onClose);
    s.off('drain', this.#onDrain);
    // The next owner reads 'data' events; the parser is freed only after the read being parsed,
    // if any, has returned.
    if (this.direct) pushReadsAsData(s);
    if (this.#parser !== null) setImmediate(closeParser, this.#parser);
  }

  // ---- socket events

  #onEnd = (): void => {
    this.peerEnded = true;
    if (this.closing || this.closed) return;
    this.headStart = 0;
    const p = this.parsing;
    if (p !== null) {
      this.parsing = null;
      p.onBodyError(new Error('downstream closed before the request body ended'));
    }
    // A partial head is dropped; requests in flight or held are still answered, then we close.
    this.stopped = true;
    if (this.active === null && this.held.length === 0 && this.connectTarget === null) {
      if (this.pendingError !== null) this.#replyError(this.pendingError);
      else this.close();
    }
  };

  #onError = (): void => {
    // A broken peer (ECONNRESET, EPIPE…): 'close' follows and ends what is in flight.
    this.socket.destroy();
  };

  #onDrain = (): void => {
    const a = this.active;
    if (a === null) return;
    const cb = a.drainCb;
    if (cb === null) return;
    a.drainCb = null;
    cb();
  };

  #onClose = (): void => {
    if (this.closed) return;
    this.#detach();
    const p = this.parsing;
    const a = this.active;
    this.parsing = null;
    this.active = null;
    this.held.length = 0;
    if (p === null && a === null) return;
    const err = new Error('downstream connection closed');
    if (p !== null && p !== a) p.onBodyError(err);
    if (a !== null) a.connectionGone(err);
  };
}
