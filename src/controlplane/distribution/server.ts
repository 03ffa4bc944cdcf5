// Distribution server: proxies subscribe over HTTP/2, get their full config on every change, ACK or NACK it.
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import type { ProxyConfig, ProxyIdentity } from '../../proxyconfig/types.js';
import { DISCOVERY_PATH, LineDecoder, NDJSON, PROXY_STATUS_PATH, encode, isValidIdentity, type ClientMessage, type ProxyStatusRow } from './protocol.js';

export interface DistributionServerOptions {
  readonly host?: string;
  /** 0: ephemeral. */
  readonly port?: number;
  readonly token: string;
  /** The config this proxy should have now; throwing leaves the proxy on its current config. */
  readonly configFor: (identity: ProxyIdentity) => ProxyConfig;
  readonly log?: (line: string) => void;
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
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header?.startsWith('Bearer ') ? header.slice(7) : '');
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

export class DistributionServer {
  private server?: http2.Http2Server;
  private readonly subs = new Map<string, Subscription>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  private nonce = 0;
  private listeningUrl = '';

  constructor(private readonly opts: DistributionServerOptions) {}

  get url(): string {
    return this.listeningUrl;
  }

  async start(): Promise<void> {
    const server = http2.createServer();
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
    this.listeningUrl = `http://${host}:${addr.port}`;
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
    return [...this.subs.values()].map((s) => ({
      id: s.identity.id,
      role: s.identity.role,
      namespace: s.identity.namespace,
      workload: s.identity.workload,
      sentVersion: s.sentVersion,
      ackedVersion: s.ackedVersion,
      ...(s.nackError !== undefined ? { nackError: s.nackError } : {}),
      connectedAt: s.connectedAt,
      synced: s.ackedVersion !== '' && s.ackedVersion === s.sentVersion && s.sentVersion === s.desiredVersion,
    })).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
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
    if (config.version === sub.sentVersion || sub.stream.destroyed) return;
    const nonce = String(++this.nonce);
    sub.sentVersion = config.version;
    sub.sentNonce = nonce;
    sub.stream.write(encode({ type: 'config', version: config.version, nonce, config }));
  }

  private onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    stream.on('error', () => undefined);
    const path = headers[':path'] ?? '';
    const auth = headers.authorization;
    if (!tokenMatches(typeof auth === 'string' ? auth : undefined, this.opts.token)) {
      stream.respond({ ':status': 401, 'content-type': 'application/json' });
      stream.end(JSON.stringify({ error: 'missing or wrong bearer token' }));
      return;
    }
    if (path === PROXY_STATUS_PATH && headers[':method'] === 'GET') {
      stream.respond({ ':status': 200, 'content-type': 'application/json' });
      stream.end(JSON.stringify(this.status()));
      return;
    }
    if (path !== DISCOVERY_PATH || headers[':method'] !== 'POST') {
      stream.respond({ ':status': 404, 'content-type': 'application/json' });
      stream.end(JSON.stringify({ error: `no such endpoint: ${headers[':method']} ${path}` }));
      return;
    }
    stream.respond({ ':status': 200, 'content-type': NDJSON });
    let sub: Subscription | undefined;
    const decoder = new LineDecoder(
      (raw) => {
        const msg = raw as ClientMessage;
        if (!sub) {
          if (msg?.type !== 'subscribe' || !isValidIdentity(msg.identity)) {
            stream.close(http2.constants.NGHTTP2_PROTOCOL_ERROR);
            return;
          }
          const previous = this.subs.get(msg.identity.id);
          if (previous && previous.stream !== stream) previous.stream.close(http2.constants.NGHTTP2_CANCEL);
          sub = { identity: msg.identity, stream, connectedAt: new Date().toISOString(), sentVersion: '', sentNonce: '', ackedVersion: '', desiredVersion: '' };
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
    stream.on('data', (chunk: Buffer) => decoder.push(chunk));
    const done = () => {
      if (sub && this.subs.get(sub.identity.id) === sub) {
        this.subs.delete(sub.identity.id);
        this.opts.log?.(`distribution: ${sub.identity.id} disconnected`);
      }
    };
    stream.on('close', done);
    stream.on('end', () => { if (!stream.destroyed) stream.end(); });
  }
}
