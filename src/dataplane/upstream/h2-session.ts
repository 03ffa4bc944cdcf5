// One multiplexed HTTP/2 connection to an upstream endpoint (h2c prior knowledge or h2 over TLS), reopened on demand.
import http2 from 'node:http2';
import type { ClientHttp2Session, SecureClientSessionOptions } from 'node:http2';
import type { OriginationOptions } from './tls-origination.js';
import { connectError, UpstreamError } from './call.js';

export class H2Session {
  #session: ClientHttp2Session | undefined;
  #connecting: Promise<ClientHttp2Session> | undefined;
  #closed = false;

  constructor(
    private readonly origin: string,
    private readonly tlsOptions: OriginationOptions | undefined,
    private readonly connectTimeoutMs: number,
    /** Source address of the connection (the proxy's workload address), or the kernel's choice. */
    private readonly localAddress: string | undefined = undefined,
    private readonly localAddressOf: (s: ClientHttp2Session) => void = () => {},
  ) {}

  /** The open session, connecting first when needed. Rejects with an UpstreamError of a connect kind. */
  get(): Promise<ClientHttp2Session> {
    const s = this.#session;
    if (s !== undefined && !s.closed && !s.destroyed) return Promise.resolve(s);
    if (this.#connecting !== undefined) return this.#connecting;
    if (this.#closed) return Promise.reject(new UpstreamError('connect-refused', 'ERR_POOL_CLOSED', 'the upstream session is closed (cluster removed)'));
    this.#connecting = new Promise<ClientHttp2Session>((resolve, reject) => {
      // noDelay, as on every other connection the proxy opens (Envoy sets TCP_NODELAY on all):
      // many streams share this one, and with Nagle's algorithm a frame written while the
      // previous one is unacknowledged would wait for the peer's ACK.
      const opts: SecureClientSessionOptions & { noDelay: boolean } = {
        ...(this.tlsOptions ?? {}), ...(this.localAddress !== undefined ? { localAddress: this.localAddress } : {}), noDelay: true,
      };
      const session = http2.connect(this.origin, opts);
      const timer = setTimeout(() => {
        fail(undefined, true);
        session.destroy();
      }, this.connectTimeoutMs);
      const fail = (err: Error | undefined, timedOut: boolean): void => {
        clearTimeout(timer);
        this.#connecting = undefined;
        const what = timedOut ? `connect timeout after ${this.connectTimeoutMs} ms` : err?.message ?? 'closed';
        reject(connectError(err, timedOut, `connect to ${this.origin} failed: ${what}`));
      };
      const onError = (err: Error): void => fail(err, false);
      session.once('error', onError);
      session.once('connect', () => {
        clearTimeout(timer);
        // net.connect honours noDelay; over TLS it is set here, once the handshake is done.
        try {
          session.socket.setNoDelay(true);
        } catch {
          // A socket that is already gone: the session's own error and close events report it.
        }
        session.off('error', onError);
        session.on('error', () => { /* streams see their own errors */ });
        const drop = (): void => { if (this.#session === session) this.#session = undefined; };
        session.once('close', drop);
        session.once('goaway', drop);
        session.unref();
        this.#session = session;
        this.#connecting = undefined;
        this.localAddressOf(session);
        resolve(session);
      });
    });
    return this.#connecting;
  }

  close(): void {
    this.#closed = true;
    this.#session?.close();
    this.#session = undefined;
  }
}
