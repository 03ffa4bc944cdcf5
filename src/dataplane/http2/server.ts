// The server side: a connection that accepts streams from a client (h2c prior knowledge, or h2
// after TLS), each one a Downstream for the Exchange.
import type { Socket } from 'node:net';
import type { Downstream } from '../http/downstream.js';
import { addHeader, type BodySink } from '../http/message.js';
import type { HeaderMap } from '../routing/index.js';
import { H2Connection, type H2Limits } from './connection.js';
import * as C from './constants.js';
import { H2ConnectionError } from './constants.js';
import { H2Stream } from './stream.js';
import { outgoingFields } from './fields.js';

export type H2RequestHandler = (ds: Downstream) => void;

export class H2ServerConnection extends H2Connection {
  readonly #onRequest: H2RequestHandler;
  readonly #onGone: ((c: H2ServerConnection) => void) | undefined;
  readonly encrypted: boolean;

  constructor(socket: Socket, limits: H2Limits, onRequest: H2RequestHandler, onGone?: (c: H2ServerConnection) => void) {
    super(socket, limits, true);
    this.#onRequest = onRequest;
    this.#onGone = onGone;
    this.encrypted = (socket as { encrypted?: boolean }).encrypted === true;
    this.sendPreamble(false);
  }

  protected isIdle(id: number): boolean {
    // Even ids would be server-initiated: this server opens none (no push).
    return (id & 1) === 0 || id > this.lastPeerStream;
  }

  protected onClosed(): void {
    this.#onGone?.(this);
  }

  protected onHeaderBlock(id: number, endStream: boolean, names: string[], values: string[], oversize: boolean, malformed: boolean): void {
    const existing = this.streams.get(id);
    if (existing !== undefined) {
      this.#trailers(existing as H2ServerStream, endStream, names, values, malformed);
      return;
    }
    if ((id & 1) === 0) throw new H2ConnectionError(C.E_PROTOCOL_ERROR, `client opened even stream ${id}`);
    if (id <= this.lastPeerStream) {
      throw new H2ConnectionError(this.wasRecentlyClosed(id) ? C.E_STREAM_CLOSED : C.E_PROTOCOL_ERROR, `HEADERS on closed stream ${id}`);
    }
    this.lastPeerStream = id;
    // After our GOAWAY, new streams are ignored (§6.8).
    if (this.goawaySent) return;
    if (this.streams.size >= this.limits.maxConcurrentStreams) {
      this.sendRst(id, C.E_REFUSED_STREAM);
      return;
    }
    if (oversize) {
      // Envoy answers headers over max_request_headers_kb with 431.
      this.writeHeaders(id, [':status', '431'], true);
      if (!endStream) this.sendRst(id, C.E_NO_ERROR);
      return;
    }
    // A field against §8.2 (the decoder judged each one) makes the request malformed.
    const req = malformed ? undefined : parseRequest(names, values);
    if (req === undefined) {
      this.sendRst(id, C.E_PROTOCOL_ERROR);
      return;
    }
    if (this.windowCheck(false)) return;
    const st = new H2ServerStream(this, id, req, endStream);
    this.addStream(st);
    if (endStream) st.remoteEnd(undefined);
    this.#onRequest(st);
  }

  #trailers(st: H2ServerStream, endStream: boolean, names: string[], values: string[], malformed: boolean): void {
    if (st.remoteEnded) {
      this.resetStream(st, C.E_STREAM_CLOSED);
      return;
    }
    if (!endStream || malformed) {
      this.resetStream(st, C.E_PROTOCOL_ERROR);
      return;
    }
    const t: HeaderMap = {};
    for (let i = 0; i < names.length; i++) {
      const n = names[i]!;
      if (n.charCodeAt(0) === 58) {
        this.resetStream(st, C.E_PROTOCOL_ERROR);
        return;
      }
      addHeader(t, n, values[i]!);
    }
    if (st.expectedLength >= 0 && st.received !== st.expectedLength) {
      this.resetStream(st, C.E_PROTOCOL_ERROR);
      return;
    }
    st.remoteEnd(t);
  }

  /** Stops taking streams; open ones finish (GOAWAY NO_ERROR). */
  closeIdle(): void {
    this.shutdown();
  }
}

interface ParsedRequest {
  method: string;
  url: string;
  authority: string;
  headers: HeaderMap;
  contentLength: number;
}

/** Pseudo-headers and fields of a request (RFC 9113 §8.3.1, §8.2), each field well formed; undefined when malformed. */
function parseRequest(names: string[], values: string[]): ParsedRequest | undefined {
  let method: string | undefined;
  let scheme: string | undefined;
  let path: string | undefined;
  let authority: string | undefined;
  let regular = false;
  const headers: HeaderMap = {};
  let contentLength = -1;
  for (let i = 0; i < names.length; i++) {
    const n = names[i]!;
    const v = values[i]!;
    if (n.charCodeAt(0) === 58 /* : */) {
      if (regular) return undefined;
      if (n === ':method') {
        if (method !== undefined) return undefined;
        method = v;
      } else if (n === ':path') {
        if (path !== undefined) return undefined;
        path = v;
      } else if (n === ':scheme') {
        if (scheme !== undefined) return undefined;
        scheme = v;
      } else if (n === ':authority') {
        if (authority !== undefined) return undefined;
        authority = v;
      } else return undefined;
      continue;
    }
    regular = true;
    if (n === 'te' && v !== 'trailers') return undefined;
    if (n === 'content-length') {
      if (!/^\d{1,15}$/.test(v)) return undefined;
      const cl = Number(v);
      if (contentLength >= 0 && cl !== contentLength) return undefined;
      contentLength = cl;
    }
    if (n === 'cookie') {
      // Split crumbs are joined again for HTTP/1 hops (§8.2.3).
      const c = headers['cookie'];
      headers['cookie'] = c === undefined ? v : `${c as string}; ${v}`;
      continue;
    }
    addHeader(headers, n, v);
  }
  if (method === undefined) return undefined;
  if (method === 'CONNECT') {
    if (authority === undefined || scheme !== undefined || path !== undefined) return undefined;
    return { method, url: authority, authority, headers, contentLength };
  }
  if (scheme === undefined || path === undefined || path === '') return undefined;
  const host = headers['host'];
  return { method, url: path, authority: authority ?? (typeof host === 'string' ? host : ''), headers, contentLength };
}

const STATUS = Array.from({ length: 600 }, (_, i) => String(i));

/** A first body chunk up to this size may wait for the head's turn-end write (see write()). */
const HOLD_LIMIT = 16 * 1024;

export class H2ServerStream extends H2Stream implements Downstream {
  readonly method: string;
  readonly url: string;
  readonly headers: HeaderMap;
  readonly authority: string;
  readonly protocol = 'HTTP/2' as const;
  readonly badVersion = false;
  readonly isH2 = true;
  readonly encrypted: boolean;
  readonly socket: Socket | null;
  readonly hasBody: boolean;
  #sink: BodySink | undefined = undefined;
  #discard = false;
  #head: string[] | undefined = undefined;
  /** Body bytes written while the head still waited for the turn's end: they leave with it. */
  #held: Buffer | undefined = undefined;
  #headersSent = false;
  #ended = false;
  #closeCbs: Array<() => void> | undefined = undefined;
  #bodyDone = false;

  constructor(conn: H2ServerConnection, id: number, req: ParsedRequest, endStream: boolean) {
    super(conn, id, true);
    this.method = req.method;
    this.url = req.url;
    this.headers = req.headers;
    this.authority = req.authority;
    this.encrypted = conn.encrypted;
    this.socket = conn.socket;
    this.hasBody = !endStream;
    this.expectedLength = req.contentLength;
    if (endStream && req.contentLength > 0) {
      // A body announced but never sent: malformed (§8.1.1); reset once registered.
      queueMicrotask(() => conn.resetStream(this, C.E_PROTOCOL_ERROR));
    }
  }

  get requestComplete(): boolean {
    return this.remoteEnded;
  }

  protected get consuming(): boolean {
    return this.#sink !== undefined;
  }

  protected deliver(chunk: Buffer): void {
    if (!this.#discard) this.#sink!.onData(chunk);
  }

  protected deliverEnd(trailers: HeaderMap | undefined): void {
    this.#bodyDone = true;
    if (!this.#discard) this.#sink!.onEnd(trailers);
  }

  readBody(sink: BodySink): void {
    if (this.#sink !== undefined) return;
    this.#sink = sink;
    if (this.closed && !this.remoteEnded) {
      this.#bodyDone = true;
      sink.onError(new Error('downstream stream reset before the request body ended'));
      return;
    }
    this.flushIn();
  }

  pauseBody(): void {
    this.pause();
  }
  resumeBody(): void {
    this.resume();
  }

  discardBody(): void {
    this.#discard = true;
    if (this.#sink === undefined) this.#sink = { onData() {}, onEnd() {}, onError() {} };
    this.resume();
  }

  get headersSent(): boolean {
    return this.#headersSent;
  }
  get ended(): boolean {
    return this.#ended;
  }

  writeHead(status: number, headers: HeaderMap): void {
    if (this.#headersSent) throw new Error('headers already sent');
    const f: string[] = [':status', STATUS[status] ?? String(status)];
    outgoingFields(f, headers);
    this.#headersSent = true;
    if (this.closed) return;
    this.#head = f;
    (this.conn as H2ServerConnection).queueHead(this);
  }

  override emitHead(endStream: boolean): void {
    const h = this.#head;
    if (h === undefined || this.closed) return;
    this.#head = undefined;
    this.conn.writeHeaders(this.id, h, endStream);
    const held = this.#held;
    if (held !== undefined) {
      this.#held = undefined;
      this.writeData(held);
    }
  }

  #headNow(): void {
    if (this.#head === undefined) return;
    this.conn.unqueueHead(this);
    this.emitHead(false);
  }

  write(chunk: Buffer): boolean {
    if (this.#head !== undefined && this.#held === undefined && chunk.length <= HOLD_LIMIT && !this.closed) {
      // The head waits for the end of the turn; a small first chunk waits with it, so a response
      // whose end comes in the same turn leaves as HEADERS + one DATA frame carrying END_STREAM
      // (not a third, empty DATA frame to end it). Nothing is queued against the window yet.
      this.#held = chunk;
      return true;
    }
    this.#headNow();
    return this.writeData(chunk);
  }

  end(chunk?: Buffer, trailers?: HeaderMap): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.closed) return;
    let t: string[] | undefined;
    if (trailers !== undefined) {
      t = [];
      try {
        outgoingFields(t, trailers);
      } catch {
        t = undefined;
      }
      if (t !== undefined && t.length === 0) t = undefined;
    }
    const held = this.#held;
    this.#held = undefined;
    let body = chunk;
    if (held !== undefined) body = body === undefined || body.length === 0 ? held : Buffer.concat([held, body]);
    if (this.#head !== undefined && (body === undefined || body.length === 0) && t === undefined) {
      // The whole response in one HEADERS frame.
      this.conn.unqueueHead(this);
      this.emitHead(true);
      this.localEnd();
      return;
    }
    this.#headNow();
    if (body !== undefined && body.length > 0 && this.queuedBytes === 0) {
      // The last bytes and the end in one frame (DATA with END_STREAM), unless trailers follow.
      this.active = true;
      this.outQueue.push(body);
      this.queuedBytes += body.length;
      this.endAfterQueue = true;
      this.trailersAfterQueue = t;
      this.conn.pumpStream(this);
      return;
    }
    if (body !== undefined && body.length > 0) this.writeData(body);
    this.writeEnd(t);
  }

  reset(): void {
    if (!this.closed) this.conn.resetStream(this, C.E_INTERNAL_ERROR);
  }

  onClose(cb: () => void): void {
    if (this.closed) {
      cb();
      return;
    }
    (this.#closeCbs ??= []).push(cb);
  }

  protected closedWith(code: number, _byPeer: boolean, _connGone: boolean): void {
    if (!this.#bodyDone && this.#sink !== undefined && !this.#discard && code !== -1 && code !== C.E_NO_ERROR) {
      this.#bodyDone = true;
      this.#sink.onError(new Error(`downstream stream reset (${C.errorName(code)}) before the request body ended`));
    }
    const cbs = this.#closeCbs;
    this.#closeCbs = undefined;
    if (cbs !== undefined) for (const cb of cbs) cb();
  }
}
