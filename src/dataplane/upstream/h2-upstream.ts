// The upstream-call lifecycle (./call.ts) on node:http2: one multiplexed session per endpoint
// (./h2-session.ts), one stream per call. Only the wire work is here (pseudo-headers, the request
// body pumped with the stream's backpressure, stream events turned into handler calls and typed
// failures); holding, relaying and retrying are the request path's, shared with HTTP/1.1.
import type http2 from 'node:http2';
import { constants as h2c } from 'node:http2';
import type { HeaderMap } from '../routing/index.js';
import type { BodySource } from '../http/downstream.js';
import { cleanResponseHeaders } from '../http/headers.js';
import { H2Session } from './h2-session.js';
import type { OriginationOptions } from './tls-origination.js';
import {
  errnoCode, UpstreamError, type UpstreamBody, type UpstreamCall, type UpstreamCallHandler, type UpstreamPool, type UpstreamRequestHead,
} from './call.js';

export class H2Upstream implements UpstreamPool {
  readonly protocol = 'h2';
  lastLocalAddress: string | undefined = undefined;
  readonly #session: H2Session;
  readonly scheme: 'http' | 'https';

  constructor(origin: string, tlsOptions: OriginationOptions | undefined, connectTimeoutMs: number, localAddress: string | undefined) {
    this.scheme = tlsOptions !== undefined ? 'https' : 'http';
    this.#session = new H2Session(origin, tlsOptions, connectTimeoutMs, localAddress, (s) => {
      const sock = s.socket;
      if (sock) this.lastLocalAddress = `${sock.localAddress}:${sock.localPort}`;
    });
  }

  get session(): H2Session {
    return this.#session;
  }

  dispatch(head: UpstreamRequestHead, body: UpstreamBody, handler: UpstreamCallHandler): UpstreamCall {
    const call = new H2Call(this, head, body, handler);
    this.#session.get().then(call.open, call.connectFailed);
    return call;
  }

  close(): void {
    this.#session.close();
  }
}

class H2Call implements UpstreamCall {
  readonly #up: H2Upstream;
  readonly #head: UpstreamRequestHead;
  readonly #body: UpstreamBody;
  readonly #handler: UpstreamCallHandler;
  #stream: http2.ClientHttp2Stream | undefined = undefined;
  /** onEnd/onError delivered, or aborted: nothing more goes to the handler. */
  #done = false;
  #headed = false;
  #paused = false;
  #trailers: HeaderMap | undefined = undefined;

  constructor(up: H2Upstream, head: UpstreamRequestHead, body: UpstreamBody, handler: UpstreamCallHandler) {
    this.#up = up;
    this.#head = head;
    this.#body = body;
    this.#handler = handler;
  }

  // ---- UpstreamCall

  pause(): void {
    this.#paused = true;
    this.#stream?.pause();
  }

  resume(): void {
    this.#paused = false;
    this.#stream?.resume();
  }

  abort(): void {
    if (this.#done) return;
    this.#done = true;
    const s = this.#stream;
    if (s !== undefined && !s.destroyed) s.close(h2c.NGHTTP2_CANCEL);
  }

  // ---- the stream

  connectFailed = (err: unknown): void => {
    this.#fail(err instanceof UpstreamError ? err : new UpstreamError('internal', 'ERR_H2_SESSION', String(err), err as Error));
  };

  open = (session: http2.ClientHttp2Session): void => {
    if (this.#done) return;
    const head = this.#head;
    const body = this.#body;
    const h: http2.OutgoingHttpHeaders = { ...head.headers, ':method': head.method, ':path': head.path, ':authority': head.authority, ':scheme': this.#up.scheme };
    if (h['te'] !== undefined && h['te'] !== 'trailers') delete h['te'];
    let stream: http2.ClientHttp2Stream;
    try {
      stream = session.request(h, { endStream: body === null });
    } catch (err) {
      this.#fail(requestError(err as Error));
      return;
    }
    this.#stream = stream;
    this.#handler.onConnected(this.#up.lastLocalAddress ?? '');
    if (this.#done) return; // aborted from onConnected
    if (this.#paused) stream.pause();
    stream.on('response', this.#onResponse);
    stream.on('data', this.#onData);
    stream.on('trailers', this.#onTrailers);
    stream.on('end', this.#onEnd);
    stream.on('error', this.#onError);
    stream.on('close', this.#onClose);
    if (body !== null) {
      if (Buffer.isBuffer(body)) stream.end(body);
      else pump(body, stream, this.#bodyFailed);
    }
  };

  #onResponse = (rh: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader): void => {
    if (this.#done) return;
    const status = Number(rh[':status']);
    const hm: HeaderMap = {};
    for (const k in rh) if (k.charCodeAt(0) !== 58) hm[k] = rh[k] as string | string[];
    // The HTTP/1.1 pool hands heads over without connection headers; node:http2 does not.
    cleanResponseHeaders(hm);
    this.#headed = true;
    if (!this.#handler.onHead(status, hm)) this.abort();
  };

  #onData = (chunk: Buffer): void => {
    if (!this.#done) this.#handler.onData(chunk);
  };

  #onTrailers = (t: http2.IncomingHttpHeaders): void => {
    this.#trailers = t as HeaderMap;
  };

  #onEnd = (): void => {
    // An end without a head is a broken stream: its 'close' reports it.
    if (this.#done || !this.#headed) return;
    this.#done = true;
    this.#handler.onEnd(this.#trailers);
  };

  #onError = (err: Error): void => {
    this.#streamFailed(err);
  };

  #onClose = (): void => {
    this.#streamFailed(undefined);
  };

  #bodyFailed = (err: Error): void => {
    this.#fail(new UpstreamError('body-aborted', 'ERR_BODY_ABORTED', `request body aborted: ${err.message}`, err));
  };

  #streamFailed(err: Error | undefined): void {
    if (this.#done) return;
    const stream = this.#stream!;
    const rst = stream.rstCode;
    if (rst === h2c.NGHTTP2_REFUSED_STREAM && !this.#headed) {
      this.#fail(new UpstreamError('refused-stream', 'NGHTTP2_REFUSED_STREAM', 'upstream refused the stream', err));
      return;
    }
    const kind = this.#headed ? 'reset-after-headers' : 'reset-before-headers';
    this.#fail(new UpstreamError(kind, errnoCode(err, `RST_STREAM(${rst ?? 'none'})`), err?.message ?? `stream closed (code ${rst})`, err));
  }

  #fail(err: UpstreamError): void {
    if (this.#done) return;
    this.#done = true;
    const s = this.#stream;
    if (s !== undefined && !s.destroyed) s.close(h2c.NGHTTP2_CANCEL);
    this.#handler.onError(err);
  }
}

/** session.request refused the request: headers node cannot encode, no stream left, a session going away. */
function requestError(err: Error): UpstreamError {
  const code = errnoCode(err, 'ERR_HTTP2_ERROR');
  if (code === 'ERR_HTTP2_OUT_OF_STREAMS') return new UpstreamError('overflow', code, err.message, err);
  if (code.startsWith('ERR_HTTP2_INVALID_') || code === 'ERR_INVALID_CHAR' || code === 'ERR_INVALID_HTTP_TOKEN') {
    return new UpstreamError('protocol', code, `invalid request header: ${err.message}`, err);
  }
  return new UpstreamError('reset-before-headers', code, err.message, err);
}

/** Streams a request body into an HTTP/2 stream, with the stream's backpressure. */
function pump(src: BodySource, dst: http2.ClientHttp2Stream, failed: (err: Error) => void): void {
  const resume = (): void => src.resumeBody();
  src.readBody({
    onData(c) {
      if (dst.destroyed) return;
      if (!dst.write(c)) { src.pauseBody(); dst.once('drain', resume); }
    },
    onEnd() { if (!dst.destroyed) dst.end(); },
    onError(err) { failed(err); },
  });
}
