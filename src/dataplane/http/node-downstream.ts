// A Downstream over node's request/response objects: HTTP/2 (h2c and TLS) and HTTP/1.1 over TLS,
// which node:http2's secure server serves with ALPN fallback. Plain-text HTTP/1 goes through
// outpost's own codec (../http1/server.ts) instead.
import type http from 'node:http';
import type http2 from 'node:http2';
import { constants as h2c } from 'node:http2';
import type { Socket } from 'node:net';
import type { HeaderMap } from '../routing/index.js';
import type { Downstream } from './downstream.js';
import type { BodySink } from './message.js';
import { absoluteForm } from '../http1/framing.js';

type Req = http.IncomingMessage | http2.Http2ServerRequest;
type Res = http.ServerResponse | http2.Http2ServerResponse;

export class NodeDownstream implements Downstream {
  readonly method: string;
  readonly url: string;
  readonly headers: HeaderMap;
  readonly authority: string;
  readonly protocol: 'HTTP/1.0' | 'HTTP/1.1' | 'HTTP/2';
  readonly badVersion: boolean;
  readonly isH2: boolean;
  readonly encrypted: boolean;
  readonly socket: Socket | null;
  readonly hasBody: boolean;
  readonly #req: Req;
  readonly #res: Res;
  #discard = false;

  constructor(req: Req, res: Res) {
    this.#req = req;
    this.#res = res;
    // node's HTTP/1 parser accepts a request line claiming HTTP/2.0: only a real h2 stream counts.
    const isH2 = req.httpVersionMajor === 2 && (req as { stream?: unknown }).stream !== undefined;
    this.isH2 = isH2;
    this.badVersion = !isH2 && req.httpVersionMajor !== 1;
    this.method = req.method ?? 'GET';
    this.url = req.url ?? '/';
    const h = req.headers as HeaderMap;
    if (isH2) {
      // Pseudo-headers are not headers: they are method, url and authority here.
      const copy: HeaderMap = {};
      for (const k in h) if (k.charCodeAt(0) !== 58 /* : */) copy[k] = h[k];
      this.headers = copy;
      this.authority = (h[':authority'] as string | undefined) ?? (h['host'] as string | undefined) ?? '';
    } else {
      this.headers = h;
      const url = this.url;
      // An absolute-form target's authority wins over Host (RFC 9112 §3.2.2).
      this.authority = (url.charCodeAt(0) !== 47 /* / */ ? absoluteForm(url)?.authority : undefined) ?? (h['host'] as string | undefined) ?? '';
    }
    this.protocol = isH2 ? 'HTTP/2' : req.httpVersion === '1.0' ? 'HTTP/1.0' : 'HTTP/1.1';
    this.socket = isH2 ? h2Socket(req) : (req.socket as Socket | null);
    this.encrypted = (req.socket as { encrypted?: boolean } | null)?.encrypted === true;
    if (isH2) this.hasBody = !(req as http2.Http2ServerRequest).stream.endAfterHeaders;
    else {
      const cl = h['content-length'];
      this.hasBody = cl !== undefined ? cl !== '0' : h['transfer-encoding'] !== undefined;
    }
  }

  get requestComplete(): boolean {
    return this.#req.readableEnded || (this.#req as { complete?: boolean }).complete === true;
  }

  readBody(sink: BodySink): void {
    const req = this.#req;
    let done = false;
    req.on('data', (c: Buffer) => { if (!this.#discard) sink.onData(c); });
    req.once('end', () => {
      done = true;
      if (this.#discard) return;
      const t = (req as { trailers?: HeaderMap }).trailers;
      let any = false;
      if (t !== undefined) for (const _k in t) { any = true; break; }
      sink.onEnd(any ? t : undefined);
    });
    const fail = (): void => {
      if (done) return;
      done = true;
      if (!this.#discard) sink.onError(new Error('downstream closed before the request body ended'));
    };
    req.once('error', fail);
    req.once('close', fail);
  }

  pauseBody(): void { this.#req.pause(); }
  resumeBody(): void { this.#req.resume(); }

  discardBody(): void {
    this.#discard = true;
    if (!this.#req.readableEnded) this.#req.resume();
  }

  get headersSent(): boolean { return this.#res.headersSent; }
  get ended(): boolean { return this.#res.writableEnded; }

  writeHead(status: number, headers: HeaderMap): void {
    this.#res.writeHead(status, headers as http.OutgoingHttpHeaders);
  }

  write(chunk: Buffer): boolean {
    return (this.#res as http.ServerResponse).write(chunk);
  }

  onDrain(cb: () => void): void {
    (this.#res as http.ServerResponse).once('drain', cb);
  }

  end(chunk?: Buffer, trailers?: HeaderMap): void {
    const res = this.#res;
    if (trailers !== undefined) {
      try { res.addTrailers(trailers as http.OutgoingHttpHeaders); } catch { /* h1 without chunking: no trailers */ }
    }
    if (chunk !== undefined) (res as http.ServerResponse).end(chunk);
    else res.end();
  }

  reset(): void {
    if (this.isH2) {
      const stream = (this.#res as http2.Http2ServerResponse).stream;
      if (!stream.destroyed) stream.close(h2c.NGHTTP2_INTERNAL_ERROR);
    } else {
      (this.#res as http.ServerResponse).destroy();
    }
  }

  onClose(cb: () => void): void {
    this.#res.once('close', cb);
  }
}

/**
 * The connection's real socket. For HTTP/2, `req.socket` is a proxy that answers undefined once
 * the stream has closed (when the access log is written), so go through the session instead; net
 * caches the peer and local names after the first read.
 */
function h2Socket(req: Req): Socket | null {
  const stream = (req as { stream?: { session?: { socket?: Socket } } }).stream;
  return stream?.session?.socket ?? (req.socket as Socket | null);
}
