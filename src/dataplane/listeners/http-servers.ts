// The HTTP codecs of one listener: outpost's own HTTP/1.x codec (../http1/server.ts) and HTTP/2
// codec (../http2/server.ts), for plain text (h2c prior knowledge or HTTP/1.1 by the first bytes,
// also inside mesh mTLS) and for TLS the listener terminates itself (h2 or HTTP/1.1 by ALPN).
// None of them listens: the listener's socket server hands connections over.
import type { Socket } from 'node:net';
import tls from 'node:tls';
import type { Downstream } from '../http/downstream.js';
import type { ProxyRuntime } from '../runtime.js';
import { ResponseFlag } from '../telemetry/flags.js';
import { TcpLogEntry } from '../l4/tcp-proxy.js';
import { H1Server, type H1ClientError, type H1Limits } from '../http1/server.js';
import { H2ServerConnection } from '../http2/server.js';
import { DEFAULT_H2_LIMITS } from '../http2/connection.js';
import { ConnList, ListedSocket } from '../conn-list.js';
import { giveBack, takeFirst } from './first-bytes.js';

export type RequestHandler = (ds: Downstream) => void;
/** A CONNECT request on an HTTP/1 connection (outbound listeners): the socket is handed over. */
export type ConnectHandler = (target: string, socket: Socket, head: Buffer) => void;

/** A listener's HTTP limits: the HTTP/1 codec's (headers and keep-alive timeouts, head size). */
export type HttpLimits = H1Limits;

export const DEFAULT_LIMITS: HttpLimits = { headersTimeoutMs: 10_000, keepAliveTimeoutMs: 60_000, maxHeaderBytes: 60 * 1024 };

/** The 24 bytes every HTTP/2 prior-knowledge connection starts with. */
const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

export class HttpServers {
  readonly h1: H1Server;
  /** TLS termination (the listener's certificate): ALPN picks h2 or HTTP/1.1, both on outpost's codecs. */
  #secure: tls.Server | undefined;
  #tlsKey = '';
  readonly #sockets = new ConnList<ListedSocket<Socket>>();
  readonly #h2conns = new Set<H2ServerConnection>();
  readonly #onRequest: RequestHandler;

  constructor(
    private readonly rt: ProxyRuntime,
    onRequest: RequestHandler,
    limits: HttpLimits,
    onConnect?: ConnectHandler,
  ) {
    this.#onRequest = onRequest;
    this.h1 = new H1Server(
      {
        onRequest,
        ...(onConnect !== undefined ? { onConnect } : {}),
        onClientError: this.#logClientError,
      },
      limits,
    );
  }

  /** Sets (or replaces) the TLS-terminating server; unchanged material keeps the existing one. */
  setTls(options: tls.TlsOptions | undefined, key: string): void {
    if (options === undefined) {
      this.#secure = undefined;
      this.#tlsKey = '';
      return;
    }
    if (this.#secure !== undefined && key === this.#tlsKey) return;
    if (this.#secure !== undefined) {
      this.#secure.setSecureContext(options);
    } else {
      const s = tls.createServer({ ALPNProtocols: ['h2', 'http/1.1'], ...options });
      s.on('secureConnection', this.#onSecure);
      s.on('tlsClientError', noop);
      this.#secure = s;
    }
    this.#tlsKey = key;
  }

  #onSecure = (t: tls.TLSSocket): void => {
    t.on('error', noop);
    if (t.alpnProtocol === 'h2') this.#h2(t);
    else this.h1.accept(t);
  };

  /**
   * A plain-text connection: HTTP/2 if it opens with the preface, HTTP/1.1 otherwise. `first`:
   * its first bytes when the caller already took them off the socket (./first-bytes.ts).
   */
  acceptPlain(socket: Socket, first: Buffer | undefined): void {
    this.#track(socket);
    if (first === undefined) {
      takeFirst(socket, (buf) => this.#dispatchPlain(socket, buf));
      return;
    }
    this.#dispatchPlain(socket, first);
  }

  acceptTls(socket: Socket): void {
    if (this.#secure === undefined) {
      socket.destroy();
      return;
    }
    this.#track(socket);
    this.#secure.emit('connection', socket);
  }

  #dispatchPlain(socket: Socket, buf: Buffer | null): void {
    if (buf === null) {
      socket.destroy();
      return;
    }
    const n = Math.min(buf.length, H2_PREFACE.length);
    if (buf[0] === 0x50 /* P */ && buf.subarray(0, n).equals(H2_PREFACE.subarray(0, n))) {
      giveBack(socket, buf);
      this.#h2(socket);
    } else this.h1.accept(socket, buf);
  }

  #h2(socket: Socket): void {
    // Listener sockets are half-open (for TCP tunnels); an h2 client's FIN ends the connection, as in Envoy.
    socket.allowHalfOpen = false;
    socket.setNoDelay(true);
    this.#h2conns.add(new H2ServerConnection(socket, DEFAULT_H2_LIMITS, this.#onRequest, this.#h2Gone));
  }

  #h2Gone = (c: H2ServerConnection): void => {
    this.#h2conns.delete(c);
  };

  #track(socket: Socket): void {
    const e = new ListedSocket(socket);
    this.#sockets.add(e);
    socket.once('close', () => this.#sockets.delete(e));
  }

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

  /** Stops accepting and closes idle connections; open requests finish. */
  closeIdle(): void {
    this.h1.closeIdle();
    for (const c of this.#h2conns) c.closeIdle();
  }

  destroyAll(): void {
    this.h1.destroyAll();
    for (const c of this.#h2conns) c.destroy();
    for (const e of this.#sockets.values()) e.socket.destroy();
  }

  get openConnections(): number {
    return this.#sockets.size;
  }
}

function noop(): void {}
