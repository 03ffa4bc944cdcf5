// Distribution server: proxies subscribe over HTTP/2, get their full config on every change, ACK or NACK it.
// With `tls`, it is mutual TLS: a proxy proves who it is with its workload certificate and may
// subscribe only as the proxy that certificate was issued to; the bearer token then opens only proxy-status.
import http2 from 'node:http2';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { bearerMatches as tokenMatches } from '../../proxyconfig/bearer-token.js';
import type { ProxyConfig, ProxyIdentity } from '../../proxyconfig/types.js';
import {
  DISCOVERY_PATH,
  LineDecoder,
  NDJSON,
  PROXY_STATUS_PATH,
  encode,
  isValidIdentity,
  type ClientMessage,
  type ProxyStatusRow,
} from '../../proxyconfig/distribution/protocol.js';

export interface DistributionServerOptions {
  readonly host?: string;
  /** 0: ephemeral. */
  readonly port?: number;
  readonly token: string;
  /** The config this proxy should have now; throwing leaves the proxy on its current config. */
  readonly configFor: (identity: ProxyIdentity) => ProxyConfig;
  readonly log?: (line: string) => void;
  readonly tls?: DistributionTls;
  /** TLS without client certificates (a cluster: proxies authenticate with tokens); ignored with `tls`. */
  readonly serverTls?: { readonly cert: string; readonly key: string };
  /**
   * On a cluster: a bearer token other than the admin token is a proxy's service-account token,
   * checked here (TokenReview, as istiod does); then `authorizeToken` decides who it may subscribe as.
   */
  readonly tokenAuth?: DistributionTokenAuth;
  /**
   * Runs before a config is written to its proxy, which gets it only once this settles (a failure
   * is logged and the config sent anyway). The node uses it to make a captured pod's traffic rules
   * match the listeners of the config first, so a config the proxy has (and ACKs) is one its pod's
   * capture already sends traffic to.
   */
  readonly beforeSend?: (identity: ProxyIdentity, config: ProxyConfig) => Promise<void>;
}

/** Who a service-account token belongs to. */
export interface TokenPrincipal {
  readonly namespace: string;
  readonly serviceAccount: string;
  /** The pod the token is bound to, when it is. */
  readonly podName?: string;
}

export interface DistributionTokenAuth {
  /** undefined: not a valid token. */
  readonly authenticate: (token: string) => Promise<TokenPrincipal | undefined>;
  /** undefined: allowed; else why not (sent back with a 403). */
  readonly authorize: (principal: TokenPrincipal, identity: ProxyIdentity) => string | undefined;
}

/** The server's own certificate, the mesh's trust bundle, and who a client certificate may subscribe as. */
export interface DistributionTls {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
  /** undefined: allowed; else why not (sent back with a 403). */
  readonly authorize: (peer: { readonly fingerprint256: string; readonly uri?: string }, identity: ProxyIdentity) => string | undefined;
}

interface Subscription {
  readonly identity: ProxyIdentity;
  readonly stream: http2.ServerHttp2Stream;
  readonly connectedAt: string;
  sentVersion: string;
  sentNonce: string;
  ackedVersion: string;
  nackError?: string;
  /** Version of the config held for the proxy at the last push. */
  desiredVersion: string;
  /** The version being prepared by `beforeSend` (sent when that settles, unless a newer one came). */
  preparing?: string;
  /** Sends in order: a newer config waits for the one before it. */
  sending: Promise<void>;
}

export class DistributionServer {
  private server?: http2.Http2Server | http2.Http2SecureServer;
  private readonly subs = new Map<string, Subscription>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  private nonce = 0;
  private listeningUrl = '';

  constructor(private readonly opts: DistributionServerOptions) {}

  get url(): string {
    return this.listeningUrl;
  }

  async start(): Promise<void> {
    const tls = this.opts.tls;
    // Without a valid client certificate of the mesh's root the handshake itself fails.
    const plainTls = tls ? undefined : this.opts.serverTls;
    const server = tls
      ? http2.createSecureServer({ cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: true, rejectUnauthorized: true })
      : plainTls
        ? http2.createSecureServer({ cert: plainTls.cert, key: plainTls.key })
        : http2.createServer();
    this.server = server;
    server.on('session', (s) => {
      this.sessions.add(s);
      s.on('close', () => this.sessions.delete(s));
      s.on('error', () => undefined);
    });
    server.on('stream', (stream, headers) => this.onStream(stream, headers));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port ?? 0, this.opts.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address() as AddressInfo;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    this.listeningUrl = `${tls || plainTls ? 'https' : 'http'}://${host}:${addr.port}`;
  }

  /** A rotated server certificate: new connections get it, open ones keep theirs. */
  setServerCertificate(cert: string, key: string): void {
    const server = this.server;
    if (server && 'setSecureContext' in server && this.opts.tls) server.setSecureContext({ cert, key, ca: this.opts.tls.ca });
  }

  async stop(): Promise<void> {
    for (const sub of this.subs.values()) sub.stream.close(http2.constants.NGHTTP2_NO_ERROR);
    this.subs.clear();
    for (const s of this.sessions) s.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Sends every subscribed proxy its config if it changed since the last send. */
  push(): void {
    for (const sub of this.subs.values()) this.send(sub);
  }

  status(): ProxyStatusRow[] {
    return [...this.subs.values()]
      .map((s) => ({
        id: s.identity.id,
        role: s.identity.role,
        namespace: s.identity.namespace,
        workload: s.identity.workload,
        sentVersion: s.sentVersion,
        ackedVersion: s.ackedVersion,
        ...(s.nackError !== undefined ? { nackError: s.nackError } : {}),
        connectedAt: s.connectedAt,
        synced: s.ackedVersion !== '' && s.ackedVersion === s.sentVersion && s.sentVersion === s.desiredVersion,
      }))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  private send(sub: Subscription): void {
    let config: ProxyConfig;
    try {
      config = this.opts.configFor(sub.identity);
    } catch (err) {
      this.opts.log?.(`distribution: config for ${sub.identity.id} failed: ${(err as Error).message}`);
      return;
    }
    sub.desiredVersion = config.version;
    if (sub.stream.destroyed) return;
    const before = this.opts.beforeSend;
    if (!before) {
      if (config.version !== sub.sentVersion) this.write(sub, config);
      return;
    }
    if (config.version === (sub.preparing ?? sub.sentVersion)) return;
    sub.preparing = config.version;
    sub.sending = sub.sending
      .then(() => before(sub.identity, config))
      .catch((err: unknown) => this.opts.log?.(`distribution: before sending ${config.version} to ${sub.identity.id}: ${(err as Error).message}`))
      .then(() => {
        // A newer config was asked for meanwhile: it follows, prepared in turn.
        if (sub.preparing !== config.version) return;
        sub.preparing = undefined;
        if (!sub.stream.destroyed && config.version !== sub.sentVersion) this.write(sub, config);
      });
  }

  private write(sub: Subscription, config: ProxyConfig): void {
    const nonce = String(++this.nonce);
    sub.sentVersion = config.version;
    sub.sentNonce = nonce;
    sub.stream.write(encode({ type: 'config', version: config.version, nonce, config }));
  }

  private onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    stream.on('error', () => undefined);
    const path = headers[':path'] ?? '';
    const auth = typeof headers.authorization === 'string' ? headers.authorization : undefined;
    const tokenAuth = this.opts.tokenAuth;
    if (tokenAuth && path === DISCOVERY_PATH && auth?.startsWith('Bearer ') && !tokenMatches(auth, this.opts.token)) {
      // A proxy's own token: the stream waits (paused) while the API says whose it is.
      tokenAuth.authenticate(auth.slice(7)).then(
        (principal) => {
          if (stream.destroyed) return;
          if (!principal) {
            stream.respond({ ':status': 401, 'content-type': 'application/json' });
            stream.end(JSON.stringify({ error: 'the token was not accepted' }));
            return;
          }
          this.serveDiscovery(stream, headers, (identity) => tokenAuth.authorize(principal, identity));
        },
        (err: unknown) => {
          this.opts.log?.(`distribution: token review failed: ${(err as Error).message}`);
          if (!stream.destroyed) {
            stream.respond({ ':status': 503, 'content-type': 'application/json' });
            stream.end(JSON.stringify({ error: 'cannot check the token now' }));
          }
        },
      );
      return;
    }
    if (tokenAuth && path === DISCOVERY_PATH) {
      // On a cluster the admin token opens only proxy-status: each proxy subscribes with its own token.
      stream.respond({ ':status': 403, 'content-type': 'application/json' });
      stream.end(JSON.stringify({ error: "subscribe with the proxy's own service-account token" }));
      return;
    }
    const byCertificate = this.opts.tls !== undefined && path === DISCOVERY_PATH;
    if (!byCertificate && !tokenMatches(auth, this.opts.token)) {
      stream.respond({ ':status': 401, 'content-type': 'application/json' });
      stream.end(JSON.stringify({ error: 'missing or wrong bearer token' }));
      return;
    }
    if (path === PROXY_STATUS_PATH && headers[':method'] === 'GET') {
      stream.respond({ ':status': 200, 'content-type': 'application/json' });
      stream.end(JSON.stringify(this.status()));
      return;
    }
    this.serveDiscovery(stream, headers, (identity) => this.refusal(stream, identity));
  }

  /** The subscription stream: `refusal` says why the client may not subscribe as an identity. */
  private serveDiscovery(
    stream: http2.ServerHttp2Stream,
    headers: http2.IncomingHttpHeaders,
    refusalOf: (identity: ProxyIdentity) => string | undefined,
  ): void {
    const path = headers[':path'] ?? '';
    if (path !== DISCOVERY_PATH || headers[':method'] !== 'POST') {
      stream.respond({ ':status': 404, 'content-type': 'application/json' });
      stream.end(JSON.stringify({ error: `no such endpoint: ${headers[':method']} ${path}` }));
      return;
    }
    let sub: Subscription | undefined;
    let refused = false;
    const decoder = new LineDecoder(
      (raw) => {
        const msg = raw as ClientMessage;
        if (refused) return;
        if (!sub) {
          if (msg?.type !== 'subscribe' || !isValidIdentity(msg.identity)) {
            stream.close(http2.constants.NGHTTP2_PROTOCOL_ERROR);
            return;
          }
          // Decided before the answer and before touching any subscription: a refused client
          // learns nothing of the config and cannot push the real proxy off its stream.
          const refusal = refusalOf(msg.identity);
          if (refusal !== undefined) {
            refused = true;
            this.opts.log?.(`distribution: refused a subscription as ${msg.identity.id}: ${refusal}`);
            stream.respond({ ':status': 403, 'content-type': 'application/json' });
            stream.end(JSON.stringify({ error: refusal }));
            return;
          }
          stream.respond({ ':status': 200, 'content-type': NDJSON });
          const previous = this.subs.get(msg.identity.id);
          if (previous && previous.stream !== stream) previous.stream.close(http2.constants.NGHTTP2_CANCEL);
          sub = {
            identity: msg.identity,
            stream,
            connectedAt: new Date().toISOString(),
            sentVersion: '',
            sentNonce: '',
            ackedVersion: '',
            desiredVersion: '',
            sending: Promise.resolve(),
          };
          this.subs.set(msg.identity.id, sub);
          this.opts.log?.(`distribution: ${msg.identity.id} (${msg.identity.role}) subscribed`);
          this.send(sub);
          return;
        }
        if (msg?.type === 'ack' && msg.nonce === sub.sentNonce) {
          sub.ackedVersion = msg.version;
          delete sub.nackError;
        } else if (msg?.type === 'nack' && msg.nonce === sub.sentNonce) {
          sub.nackError = String(msg.error);
          this.opts.log?.(`distribution: ${sub.identity.id} rejected ${sub.sentVersion}: ${sub.nackError}`);
        }
      },
      (err) => this.opts.log?.(`distribution: ${err.message}`),
    );
    stream.on('data', (chunk: Buffer) => {
      if (!stream.destroyed && !stream.closed) decoder.push(chunk);
    });
    const done = () => {
      if (sub && this.subs.get(sub.identity.id) === sub) {
        this.subs.delete(sub.identity.id);
        this.opts.log?.(`distribution: ${sub.identity.id} disconnected`);
      }
    };
    stream.on('close', done);
    stream.on('end', () => {
      if (!stream.destroyed) stream.end();
    });
  }

  /** Why this stream's client certificate may not subscribe as `identity` (undefined: it may, or TLS is off). */
  private refusal(stream: http2.ServerHttp2Stream, identity: ProxyIdentity): string | undefined {
    const tls = this.opts.tls;
    if (!tls) return undefined;
    const socket = stream.session?.socket as TLSSocket | undefined;
    const peer = socket?.getPeerCertificate?.();
    if (!socket?.authorized || !peer?.fingerprint256) return 'no client certificate of this mesh';
    const uri = /(?:^|, )URI:([^,]+)/.exec(peer.subjectaltname ?? '')?.[1];
    return tls.authorize({ fingerprint256: peer.fingerprint256, ...(uri ? { uri } : {}) }, identity);
  }
}
