// The HTTP codecs of one listener: outpost's own HTTP/1.x codec (../http1/server.ts), its own
// HTTP/2 codec (../http2/server.ts: h2c prior knowledge, and h2 inside mesh mTLS) and, when the
// listener terminates TLS itself, node's HTTP/2 secure server with HTTP/1.1 fallback (ALPN).
// None of them listens: the listener's socket server hands connections over.
import http from 'node:http';
import http2 from 'node:http2';
import type { Socket } from 'node:net';
import type tls from 'node:tls';
import type { Downstream } from '../http/downstream.js';
import { NodeDownstream } from '../http/node-downstream.js';
import type { ProxyRuntime } from '../runtime.js';
import { ResponseFlag, RESPONSE_CODE_DETAILS as D } from '../telemetry/flags.js';
import { TcpLogEntry } from '../l4/tcp-proxy.js';
import { H1Server, type H1ClientError, type H1Limits } from '../http1/server.js';
import { parseErrorReject, rawRequestHeadReject, type CodecReject } from '../http1/framing.js';
import { REASONS, statusLine } from '../http1/head.js';
import type { ParseError } from '../http1/llhttp.js';
import { H2ServerConnection } from '../http2/server.js';
import { DEFAULT_H2_LIMITS } from '../http2/connection.js';

export type RequestHandler = (ds: Downstream) => void;
/** A CONNECT request on an HTTP/1 connection (outbound listeners): the socket is handed over. */
export type ConnectHandler = (target: string, socket: Socket, head: Buffer) => void;

/** A listener's HTTP limits: the HTTP/1 codec's (headers and keep-alive timeouts, head size). */
export type HttpLimits = H1Limits;

export const DEFAULT_LIMITS: HttpLimits = { headersTimeoutMs: 10_000, keepAliveTimeoutMs: 60_000, maxHeaderBytes: 60 * 1024 };

/** How often HTTP/2 sockets that nghttp2 stopped reading are switched back on (see #sweep). */
const H2_SWEEP_MS = 1000;

/** What #sweep reads of a socket: its stream handle (TCP or TLS) and, under TLS, the TCP socket's. */
interface SocketInternals {
  _handle?: { writeQueueSize?: number; readStart?: () => number } | null;
  _parent?: { _handle?: { writeQueueSize?: number } | null } | null;
}

/** The 24 bytes every HTTP/2 prior-knowledge connection starts with. */
const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

export class HttpServers {
  readonly h1: H1Server;
  #secure: http2.Http2SecureServer | undefined;
  #tlsKey = '';
  readonly #sockets = new Set<Socket>();
  readonly #sessions = new Set<http2.Http2Session>();
  readonly #h2conns = new Set<H2ServerConnection>();
  readonly #onRequest: RequestHandler;
  #sweepTimer: NodeJS.Timeout | undefined;

  readonly #onNodeRequest: (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => void;

  constructor(private readonly rt: ProxyRuntime, onRequest: RequestHandler, limits: HttpLimits, onConnect?: ConnectHandler) {
    this.#onRequest = onRequest;
    this.#onNodeRequest = (req, res) => {
      if (req.httpVersionMajor === 1) {
        // node:http (HTTP/1.1 over TLS) lets these through, or rejects them only after this call.
        const reject = rawRequestHeadReject(req.rawHeaders, req.httpVersionMinor === 0);
        if (reject !== undefined) {
          this.#rejectNodeRequest(req as http.IncomingMessage, res as http.ServerResponse, reject);
          return;
        }
      }
      onRequest(new NodeDownstream(req, res));
    };
    this.h1 = new H1Server({
      onRequest,
      ...(onConnect !== undefined ? { onConnect } : {}),
      onClientError: this.#logClientError,
    }, limits);
  }

  /** Sets (or replaces) the TLS-terminating codec; unchanged material keeps the existing server. */
  setTls(options: tls.TlsOptions | undefined, key: string): void {
    if (options === undefined) { this.#secure = undefined; this.#tlsKey = ''; return; }
    if (this.#secure !== undefined && key === this.#tlsKey) return;
    if (this.#secure !== undefined) {
      this.#secure.setSecureContext(options);
    } else {
      const s = http2.createSecureServer({ ...options, allowHTTP1: true, maxSessionMemory: 64 }, this.#onNodeRequest);
      s.on('tlsClientError', () => {});
      s.on('clientError', this.#onClientError);
      this.#watchSessions(s);
      this.#secure = s;
    }
    this.#tlsKey = key;
  }

  /** A plain-text connection: HTTP/2 if it opens with the preface, HTTP/1.1 otherwise. */
  acceptPlain(socket: Socket, first: Buffer | undefined): void {
    this.#track(socket);
    if (first === undefined) {
      sniffFirst(socket, (buf) => this.#dispatchPlain(socket, buf));
      return;
    }
    this.#dispatchPlain(socket, first);
  }

  acceptTls(socket: Socket): void {
    if (this.#secure === undefined) { socket.destroy(); return; }
    this.#track(socket);
    this.#secure.emit('connection', socket);
  }

  #dispatchPlain(socket: Socket, buf: Buffer | null): void {
    if (buf === null) { socket.destroy(); return; }
    const n = Math.min(buf.length, H2_PREFACE.length);
    if (buf[0] === 0x50 /* P */ && buf.subarray(0, n).equals(H2_PREFACE.subarray(0, n))) {
      // Listener sockets are half-open (for TCP tunnels); an h2 client's FIN ends the connection,
      // as in Envoy, or node's session would sit in CLOSE-WAIT forever.
      socket.allowHalfOpen = false;
      socket.setNoDelay(true);
      const c = new H2ServerConnection(socket, DEFAULT_H2_LIMITS, this.#onRequest, this.#h2Gone);
      this.#h2conns.add(c);
    } else this.h1.accept(socket);
  }

  #h2Gone = (c: H2ServerConnection): void => { this.#h2conns.delete(c); };

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
  }

  #watchSessions(s: http2.Http2Server | http2.Http2SecureServer): void {
    s.on('session', (session: http2.Http2Session) => {
      this.#sessions.add(session);
      session.on('error', () => {});
      // As for h2c (#dispatchPlain): the client's FIN ends the connection. The TLS socket the
      // secure server made takes the listener socket's half-open setting otherwise.
      const sock = session.socket as unknown as { allowHalfOpen?: boolean } | undefined;
      if (sock !== undefined) sock.allowHalfOpen = false;
      this.#startSweep();
      session.once('close', () => this.#sessions.delete(session));
    });
    s.on('sessionError', () => {});
  }

  #startSweep(): void {
    if (this.#sweepTimer !== undefined) return;
    this.#sweepTimer = setInterval(this.#sweep, H2_SWEEP_MS);
    this.#sweepTimer.unref();
  }

  /**
   * Once nghttp2 has sent a GOAWAY for a protocol error it never reads the connection again, so
   * the client's FIN goes unseen and the socket sits in CLOSE-WAIT for ever (and RFC 9113 §5.4.1
   * says to close it). Node stops reading in only two cases: while a write is in progress (then
   * the socket's write queue is not empty, and Node resumes by itself) and when nghttp2 wants no
   * more input. So a socket with nothing queued is read again: a closed peer then shows as end
   * of stream and the socket closes (allowHalfOpen is off); nghttp2 drops any further bytes.
   * For a session that is reading anyway, readStart is a no-op.
   */
  #sweep = (): void => {
    if (this.#sessions.size === 0) {
      clearInterval(this.#sweepTimer);
      this.#sweepTimer = undefined;
      return;
    }
    for (const session of this.#sessions) {
      if (session.destroyed) continue;
      const socket = session.socket as unknown as SocketInternals | undefined;
      const handle = socket?._handle;
      if (handle?.writeQueueSize !== 0 || typeof handle.readStart !== 'function') continue;
      // Under TLS, the encrypted bytes may still be queued on the TCP socket below.
      const below = socket?._parent?._handle;
      if (below !== undefined && below !== null && below.writeQueueSize !== 0) continue;
      try { handle.readStart(); } catch { /* a closing handle: nothing left to read */ }
    }
  };

  /** A request outpost's HTTP/1 codec answered itself (400, 408, 431): logged as Envoy does. */
  #logClientError = (c: H1ClientError): void => {
    const rt = this.rt;
    if (rt.accessLog === undefined) return;
    const e = new TcpLogEntry(c.socket, Date.now(), undefined, undefined);
    (e as { protocol: string | undefined }).protocol = 'HTTP/1.1';
    e.responseCode = c.status;
    e.responseFlags = c.status === 408 ? '-' : ResponseFlag.DPE;
    e.responseCodeDetails = c.details;
    e.bytesSent = c.bodyBytes;
    rt.accessLog.log(e);
  };

  /** A request node:http parsed that breaks HTTP/1.1 framing (../http1/framing.ts): answered as the codec would, logged, closed. */
  #rejectNodeRequest(req: http.IncomingMessage, res: http.ServerResponse, r: CodecReject): void {
    const socket = req.socket;
    this.#rejected.add(socket);
    const body = REASONS[r.status] ?? 'Bad Request';
    res.shouldKeepAlive = false;
    res.writeHead(r.status, { 'content-length': String(body.length), 'content-type': 'text/plain', connection: 'close' });
    res.end(body);
    // Nothing after this head is read as HTTP: it may be a smuggled request.
    res.once('finish', () => socket.destroySoon());
    req.resume();
    const rt = this.rt;
    if (rt.accessLog !== undefined) {
      const e = new TcpLogEntry(socket, Date.now(), undefined, undefined);
      (e as { protocol: string | undefined }).protocol = 'HTTP/1.1';
      e.responseCode = r.status;
      e.responseFlags = ResponseFlag.DPE;
      e.responseCodeDetails = r.details;
      e.bytesSent = body.length;
      rt.accessLog.log(e);
    }
  }

  /** Sockets whose request #rejectNodeRequest answered: node's own parse error after it is not answered again. */
  readonly #rejected = new WeakSet<Socket>();

  /** Malformed HTTP/1.1 (400), oversized headers (431), headers too slow (408) on node's TLS HTTP/1.1: answered, logged. */
  #onClientError = (err: Error & { code?: string; reason?: string }, socket: Socket): void => {
    // Already answered by #rejectNodeRequest: closes once that answer is out.
    if (this.#rejected.has(socket)) { socket.destroySoon(); return; }
    if (socket.destroyed || !socket.writable || err.code === 'ECONNRESET') { socket.destroy(); return; }
    const r: CodecReject = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? { status: 408, details: D.REQUEST_HEADERS_TIMEOUT }
      : parseErrorReject({ code: err.code ?? '', reason: err.reason } as ParseError);
    const body = r.status === 408 ? 'request timeout' : REASONS[r.status] ?? 'Bad Request';
    socket.end(`${statusLine(r.status)}content-length: ${body.length}\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n${body}`);
    const rt = this.rt;
    if (rt.accessLog !== undefined) {
      const e = new TcpLogEntry(socket, Date.now(), undefined, undefined);
      (e as { protocol: string | undefined }).protocol = 'HTTP/1.1';
      e.responseCode = r.status;
      e.responseFlags = r.status === 408 ? '-' : ResponseFlag.DPE;
      e.responseCodeDetails = r.details;
      e.bytesSent = body.length;
      rt.accessLog.log(e);
    }
  };

  /** Stops accepting and closes idle connections; open requests finish. */
  closeIdle(): void {
    this.h1.closeIdle();
    for (const c of this.#h2conns) c.closeIdle();
    for (const s of this.#sessions) s.close();
  }

  destroyAll(): void {
    clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
    this.h1.destroyAll();
    for (const c of this.#h2conns) c.destroy();
    for (const s of this.#sessions) s.destroy();
    for (const s of this.#sockets) s.destroy();
  }

  get openConnections(): number {
    return this.#sockets.size;
  }
}

/** Waits for a connection's first bytes and gives them back (unshifted). null: closed first. */
export function sniffFirst(socket: Socket, cb: (first: Buffer | null) => void): void {
  const onReadable = (): void => {
    const b = socket.read() as Buffer | null;
    if (b === null) return;
    cleanup();
    socket.unshift(b);
    cb(b);
  };
  const onEnd = (): void => { cleanup(); cb(null); };
  const cleanup = (): void => {
    socket.off('readable', onReadable);
    socket.off('end', onEnd);
    socket.off('close', onEnd);
  };
  socket.on('readable', onReadable);
  socket.once('end', onEnd);
  socket.once('close', onEnd);
}
