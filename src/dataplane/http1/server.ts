// outpost's HTTP/1.x server codec on raw sockets, with node's
// llhttp (./llhttp.ts) parsing requests. Each request becomes a Downstream
// (../http/downstream.ts); responses are written as one latin1 head plus body writes.
// Replaces node:http's server for plain-text HTTP listeners (and tunnels handed to them).
import type { Socket } from 'node:net';
import type { Downstream } from '../http/downstream.js';
import { ServerConnection, ServerShared } from './server-connection.js';

export interface H1Limits {
  /** A client that has not finished its request head by then gets 408 (Envoy: request_headers_timeout), ms. */
  readonly headersTimeoutMs: number;
  /** Idle keep-alive connections are closed after this, ms. */
  readonly keepAliveTimeoutMs: number;
  /** Max request head bytes; beyond: 431. */
  readonly maxHeaderBytes: number;
}

/** A request the codec answered itself (it never reaches onRequest): for the access log. */
export interface H1ClientError {
  readonly socket: Socket;
  /** 400 malformed, 408 head too slow, 431 head too large, 501 a transfer coding we do not implement. */
  readonly status: 400 | 408 | 431 | 501;
  /** Envoy's response code details: http1.codec_error, request_headers_timeout? (see telemetry/flags.ts). */
  readonly details: string;
  /** Bytes of the local reply's body. */
  readonly bodyBytes: number;
}

export interface H1ServerHooks {
  /** A request head arrived (body, if any, follows through Downstream.readBody). */
  onRequest(ds: Downstream): void;
  /**
   * A CONNECT request: the codec has stopped parsing and hands the socket over, with the bytes
   * that followed the head (`head`, maybe empty). Undefined: CONNECT is answered 405-free as a
   * normal request (onRequest).
   */
  onConnect?(target: string, socket: Socket, head: Buffer): void;
  /** A malformed/oversized/slow request was answered by the codec (then the connection closes). */
  onClientError(e: H1ClientError): void;
}

export class H1Server {
  readonly #shared: ServerShared;
  #sweepTimer: NodeJS.Timeout | undefined = undefined;
  readonly #sweepMs: number;

  constructor(
    readonly hooks: H1ServerHooks,
    readonly limits: H1Limits,
  ) {
    this.#shared = new ServerShared(hooks, limits);
    // One timer per server checks every connection's timeouts (headers, keep-alive, lingering
    // close), like node:http's connectionsCheckingInterval, instead of a timer per request.
    let ms = 1000;
    if (limits.headersTimeoutMs > 0) ms = Math.min(ms, limits.headersTimeoutMs);
    if (limits.keepAliveTimeoutMs > 0) ms = Math.min(ms, limits.keepAliveTimeoutMs);
    this.#sweepMs = Math.max(10, ms);
  }

  /**
   * Serves HTTP/1.x on `socket` (plain TCP, or a tunnel's socket). `first`: bytes the caller
   * already took off the socket (its first read), parsed before anything else; the socket may
   * also hold bytes given back to it. Reading starts here.
   */
  accept(socket: Socket, first?: Buffer): void {
    if (socket.destroyed) return;
    const c = new ServerConnection(this.#shared, socket);
    this.#shared.conns.add(c);
    if (this.#sweepTimer === undefined) {
      this.#sweepTimer = setInterval(this.#sweep, this.#sweepMs);
      this.#sweepTimer.unref();
    }
    // Listed first: the request may be answered, and the connection closed, within this call.
    if (first !== undefined) c.readFirst(first);
  }

  /** Closes connections with no request in flight; the others close after their response. New requests on them get `connection: close`. */
  closeIdle(): void {
    const sh = this.#shared;
    sh.draining = true;
    sh.conns.forEachLastFirst((c) => {
      if (c.idle) c.close();
    });
  }

  /** Destroys every connection. */
  destroyAll(): void {
    for (const c of this.#shared.conns.values()) c.destroy();
    this.#stopSweep();
  }

  get openConnections(): number {
    return this.#shared.conns.size;
  }

  #sweep = (): void => {
    const conns = this.#shared.conns;
    if (conns.size === 0) {
      this.#stopSweep();
      return;
    }
    const now = Date.now();
    conns.forEachLastFirst((c) => c.sweep(now));
  };

  #stopSweep(): void {
    if (this.#sweepTimer === undefined) return;
    clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
  }
}
