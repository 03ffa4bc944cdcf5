// One HTTP/1.x request on outpost's own server codec, as the Exchange sees it (a Downstream): the
// parsed head, the body as it arrives (queued until read), and the response written through the
// connection. Everything about the socket (reading, writing, framing bytes) is the connection's.
import type { Socket } from 'node:net';
import type { Downstream } from '../http/downstream.js';
import type { BodySink } from '../http/message.js';
import type { HeaderMap } from '../routing/index.js';
import { headerLines, httpDate, renderHead, statusLine } from './head.js';
import type { ServerConnection } from './server-connection.js';

/** How the response body is delimited on the wire. */
const Framing = { None: 0, Length: 1, Chunked: 2, Close: 3 } as const;

/**
 * A head and a body up to this size go out as one buffer: one copy of a small body is cheaper
 * than the writev path (arrays, a write request per chunk); larger bodies are written as they are.
 */
export const COALESCE_MAX = 16 * 1024;

/** Body bytes queued (read but not delivered) before the socket stops reading. */
export const MAX_QUEUED_BODY = 64 * 1024;

export class RequestStream implements Downstream {
  readonly isH2 = false;
  socket: Socket | null;
  requestComplete = false;
  headersSent = false;
  ended = false;

  /** The head asked for `100-continue` and no body has arrived yet. */
  expectContinue: boolean;
  /** Chunks received before the sink could take them (not read yet, or paused). */
  queue: Buffer[] | null = null;
  queuedBytes = 0;
  sink: BodySink | null = null;
  /** The consumer paused the body (pauseBody). */
  paused = false;
  /** Body bytes are dropped (discardBody, or the response ended first). */
  discarding = false;
  /** The body ended while queued/paused: onEnd is owed, with these trailers. */
  bodyEnded = false;
  trailers: HeaderMap | undefined = undefined;
  /** The body failed while queued/paused: onError is owed. */
  bodyError: Error | null = null;
  /** The connection closes once this response has been written. */
  closeAfter: boolean;
  framing: number = Framing.None;
  drainCb: (() => void) | null = null;
  closeCb: (() => void) | null = null;
  /** The request is over for the Exchange (onClose has fired or would fire at once). */
  over = false;

  constructor(
    readonly conn: ServerConnection,
    readonly method: string,
    readonly url: string,
    readonly headers: HeaderMap,
    readonly authority: string,
    readonly protocol: 'HTTP/1.0' | 'HTTP/1.1',
    readonly badVersion: boolean,
    readonly encrypted: boolean,
    socket: Socket,
    readonly hasBody: boolean,
    /** The client may reuse the connection (llhttp's keep-alive verdict for the request). */
    readonly keepAlive: boolean,
    /** An Upgrade/CONNECT request delivered as a plain request: the connection ends with it. */
    readonly upgrade: boolean,
    expectContinue: boolean,
  ) {
    this.socket = socket;
    // Without content-length or transfer-encoding a request has no body: the head is all of it.
    this.requestComplete = !hasBody;
    this.expectContinue = expectContinue;
    this.closeAfter = !keepAlive || upgrade;
  }

  // ---- request body

  readBody(sink: BodySink): void {
    if (this.sink !== null) return;
    if (this.discarding) {
      // An upgrade's (dropped) body, or read after discardBody: nothing more will come.
      if (this.requestComplete) sink.onEnd(undefined);
      return;
    }
    this.sink = sink;
    this.flushBody();
  }

  pauseBody(): void {
    if (this.paused) return;
    this.paused = true;
    this.conn.updateReading();
  }

  resumeBody(): void {
    if (!this.paused) return;
    this.paused = false;
    this.flushBody();
    this.conn.updateReading();
  }

  discardBody(): void {
    if (this.discarding) return;
    this.discarding = true;
    this.sink = null;
    this.queue = null;
    this.queuedBytes = 0;
    this.conn.updateReading();
  }

  /** A body chunk from the parser. */
  onBodyChunk(chunk: Buffer): void {
    if (this.discarding) return;
    if (this.sink !== null && !this.paused && this.queue === null) {
      this.sink.onData(chunk);
      return;
    }
    if (this.queue === null) this.queue = [chunk];
    else this.queue.push(chunk);
    this.queuedBytes += chunk.length;
  }

  /** The message (body included) has been parsed. */
  onBodyEnd(trailers: HeaderMap | undefined): void {
    this.requestComplete = true;
    this.expectContinue = false;
    if (this.discarding) return;
    if (this.sink !== null && !this.paused && this.queue === null) {
      this.sink.onEnd(trailers);
      return;
    }
    this.bodyEnded = true;
    this.trailers = trailers;
  }

  /** The body cannot complete (connection closed or garbage on the wire). */
  onBodyError(err: Error): void {
    if (this.discarding || this.requestComplete) return;
    if (this.sink !== null && !this.paused && this.queue === null) {
      const sink = this.sink;
      this.sink = null;
      sink.onError(err);
      return;
    }
    this.bodyError = err;
  }

  /** Delivers what was queued, as long as the sink is not paused (it may pause from onData). */
  flushBody(): void {
    const sink = this.sink;
    if (sink === null) return;
    const q = this.queue;
    if (q !== null) {
      let i = 0;
      while (i < q.length && !this.paused && this.sink !== null) {
        const c = q[i++]!;
        this.queuedBytes -= c.length;
        sink.onData(c);
      }
      if (this.queue !== q) return; // discarded from onData
      if (i < q.length) {
        q.splice(0, i);
        return;
      }
      this.queue = null;
    }
    if (this.paused || this.sink === null) return;
    if (this.bodyEnded) {
      this.bodyEnded = false;
      const t = this.trailers;
      this.trailers = undefined;
      sink.onEnd(t);
    } else if (this.bodyError !== null) {
      const err = this.bodyError;
      this.bodyError = null;
      this.sink = null;
      sink.onError(err);
    }
  }

  // ---- response

  writeHead(status: number, headers: HeaderMap): void {
    if (this.headersSent) throw new Error('response headers already sent');
    if (status < 200 && status !== 101) {
      // Informational: sent as is (throws InvalidHeaderError first), the final response follows.
      this.conn.writeInformational(statusLine(status) + headerLines(headers) + '\r\n');
      return;
    }
    let extra = '';
    if (headers['date'] === undefined) extra = 'date: ' + httpDate() + '\r\n';
    const noBody = status === 204 || status === 304 || status === 101 || this.method === 'HEAD';
    let closeAfter = this.closeAfter || this.conn.mustCloseAfterResponse();
    let framing: number;
    const cl = headers['content-length'];
    if (cl !== undefined) framing = noBody ? Framing.None : Framing.Length;
    else if (noBody) framing = Framing.None;
    else if (this.protocol === 'HTTP/1.0') {
      framing = Framing.Close;
      closeAfter = true;
    } else {
      framing = Framing.Chunked;
      extra += 'transfer-encoding: chunked\r\n';
    }
    const given = headers['connection'];
    if (given !== undefined) {
      if (given === 'close') closeAfter = true;
    } else if (closeAfter) extra += 'connection: close\r\n';
    else if (this.protocol === 'HTTP/1.0') extra += 'connection: keep-alive\r\n';
    // Room after the head for a small body announced by Content-Length: head and body then leave
    // in the head's own buffer.
    let room = 0;
    if (framing === Framing.Length && typeof cl === 'string') {
      const n = Number(cl);
      if (n > 0 && n <= COALESCE_MAX) room = n;
    }
    // Throws InvalidHeaderError before anything changes.
    const head = renderHead(statusLine(status), headers, extra, room);
    this.framing = framing;
    this.closeAfter = closeAfter;
    this.headersSent = true;
    this.conn.setHead(head, head.length - room);
  }

  write(chunk: Buffer): boolean {
    if (!this.headersSent) this.writeHead(200, {});
    if (this.ended || this.over) return true;
    if (this.framing === Framing.None || chunk.length === 0) return true;
    return this.conn.writeBody(chunk, this.framing === Framing.Chunked);
  }

  onDrain(cb: () => void): void {
    if (this.over) {
      cb();
      return;
    }
    this.drainCb = cb;
  }

  end(chunk?: Buffer, trailers?: HeaderMap): void {
    if (this.ended) return;
    if (!this.headersSent) this.writeHead(200, chunk === undefined ? { 'content-length': '0' } : {});
    this.ended = true;
    if (this.over) return;
    let tail = '';
    if (this.framing === Framing.Chunked) {
      tail = '0\r\n';
      if (trailers !== undefined) {
        try {
          tail += headerLines(trailers);
        } catch {
          // A trailer that cannot be sent is dropped, as node:http's addTrailers would refuse it.
        }
      }
      tail += '\r\n';
    }
    const body = chunk !== undefined && chunk.length > 0 && this.framing !== Framing.None ? chunk : undefined;
    this.conn.endResponse(this, body, this.framing === Framing.Chunked, tail);
  }

  reset(): void {
    this.conn.destroy();
  }

  onClose(cb: () => void): void {
    if (this.over) {
      cb();
      return;
    }
    this.closeCb = cb;
  }

  /** The request is over (response handed over, or connection gone): onClose, once. */
  finish(): void {
    if (this.over) return;
    this.over = true;
    this.drainCb = null;
    const cb = this.closeCb;
    if (cb !== null) {
      this.closeCb = null;
      cb();
    }
  }

  /** The connection closed before the response ended. */
  connectionGone(err: Error): void {
    this.socket = null;
    if (!this.requestComplete) this.onBodyError(err);
    const d = this.drainCb;
    if (d !== null) {
      this.drainCb = null;
      d();
    }
    this.finish();
  }
}
