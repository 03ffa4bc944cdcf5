// ConfigClient: a proxy's side of distribution — subscribe, apply, ACK/NACK, reconnect with jittered backoff, keep the last good config.
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import type { ProxyConfig, ProxyIdentity } from '../types.js';
import { Backoff } from './backoff.js';
import { checkControlPlaneIdentity, readClientCredentials } from './client-identity.js';
import { DISCOVERY_PATH, LineDecoder, NDJSON, encode, type ClientMessage, type ServerMessage } from './protocol.js';

export interface ConfigClientOptions {
  readonly url: string;
  readonly token?: string;
  /** A file holding the bearer token, read at every connect (a pod's projected token rotates). */
  readonly tokenFile?: string;
  /** An https url without mutual TLS (a cluster): the CA (PEM) the server's certificate must chain to. */
  readonly ca?: string;
  /** Mutual TLS (an https url): the proxy's identity dir (cert-chain.pem, key.pem, root-cert.pem). */
  readonly identityDir?: string;
  readonly identity: ProxyIdentity;
  /** Applies a config; a rejection is NACKed with its message and the previous config stays. */
  readonly onConfig: (cfg: ProxyConfig) => Promise<void>;
  readonly onState?: (s: 'connected' | 'disconnected') => void;
  /** First reconnect delay, ms (default 100); doubles per failure up to maxBackoffMs. */
  readonly minBackoffMs?: number;
  /** HTTP/2 PING interval (and answer deadline) to notice a control plane that vanished silently; 0 turns it off. Default 15 s. */
  readonly keepaliveMs?: number;
  /** Default 5000. */
  readonly maxBackoffMs?: number;
  readonly log?: (line: string) => void;
}

function readTokenFile(file: string, log?: (line: string) => void): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim() || undefined;
  } catch (err) {
    log?.(`distribution: cannot read token file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return undefined;
  }
}

export class ConfigClient {
  private session?: http2.ClientHttp2Session;
  private stream?: http2.ClientHttp2Stream;
  private timer?: NodeJS.Timeout;
  private stopped = true;
  private readonly backoff: Backoff;
  private connected = false;
  /** Version of the config last applied successfully. */
  private appliedVersion = '';
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly opts: ConfigClientOptions) {
    this.backoff = new Backoff({ minMs: opts.minBackoffMs ?? 100, maxMs: opts.maxBackoffMs ?? 5000 });
  }

  /** Version of the last config applied ('' before the first). */
  get version(): string {
    return this.appliedVersion;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const session = this.session;
    this.stream?.close();
    this.session = undefined;
    this.stream = undefined;
    if (session && !session.destroyed) {
      await new Promise<void>((resolve) => {
        session.close(() => resolve());
        setTimeout(() => {
          session.destroy();
          resolve();
        }, 1000).unref();
      });
    }
    await this.queue.catch(() => undefined);
    this.setState(false);
  }

  private setState(connected: boolean): void {
    if (this.connected === connected) return;
    this.connected = connected;
    this.opts.onState?.(connected ? 'connected' : 'disconnected');
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.timer) return;
    this.setState(false);
    // Resubscribing on the new connection gets the control plane's current config; until then
    // the proxy serves the last one it applied.
    const delay = this.backoff.next();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.connect();
    }, delay);
    this.timer.unref?.();
  }

  private teardown(): void {
    const session = this.session;
    this.session = undefined;
    this.stream = undefined;
    if (session && !session.destroyed) session.destroy();
  }

  private connect(): void {
    if (this.stopped) return;
    this.teardown();
    let session: http2.ClientHttp2Session;
    try {
      // Read at each connect: a rotated certificate is used from the next connection on.
      const tls =
        this.opts.identityDir !== undefined
          ? { ...readClientCredentials(this.opts.identityDir), checkServerIdentity: checkControlPlaneIdentity }
          : this.opts.ca !== undefined
            ? { ca: this.opts.ca }
            : {};
      session = http2.connect(this.opts.url, tls);
    } catch (err) {
      this.opts.log?.(`config client: ${(err as Error).message}`);
      this.scheduleReconnect();
      return;
    }
    this.session = session;
    const lost = () => {
      if (this.session !== session) return;
      this.teardown();
      this.scheduleReconnect();
    };
    session.on('error', (err) => {
      this.opts.log?.(`config client: ${err.message}`);
      lost();
    });
    session.on('close', lost);
    session.on('goaway', lost);
    // A control plane that vanishes without closing the connection (a partition, a frozen host)
    // is noticed by an unanswered HTTP/2 PING, as xDS clients use keepalives.
    const keepaliveMs = this.opts.keepaliveMs ?? 15_000;
    if (keepaliveMs > 0) {
      const pinger = setInterval(() => {
        if (this.session !== session) {
          clearInterval(pinger);
          return;
        }
        const deadline = setTimeout(() => {
          this.opts.log?.('config client: the control plane did not answer a keepalive ping');
          lost();
        }, keepaliveMs);
        deadline.unref?.();
        try {
          session.ping((err) => {
            clearTimeout(deadline);
            if (err) lost();
          });
        } catch {
          clearTimeout(deadline);
          lost();
        }
      }, keepaliveMs);
      pinger.unref?.();
      session.once('close', () => clearInterval(pinger));
    }
    const headers: http2.OutgoingHttpHeaders = { ':method': 'POST', ':path': DISCOVERY_PATH, 'content-type': NDJSON };
    const token = this.opts.tokenFile ? readTokenFile(this.opts.tokenFile, this.opts.log) : this.opts.token;
    if (token) headers.authorization = `Bearer ${token}`;
    const stream = session.request(headers, { endStream: false });
    this.stream = stream;
    stream.on('error', () => lost());
    stream.on('close', lost);
    stream.on('response', (h) => {
      const status = Number(h[':status']);
      if (status !== 200) {
        this.opts.log?.(`config client: control plane answered ${status}`);
        lost();
        return;
      }
      this.backoff.reset();
      this.setState(true);
    });
    const decoder = new LineDecoder(
      (msg) => this.onMessage(stream, msg as ServerMessage),
      (err) => this.opts.log?.(`config client: ${err.message}`),
    );
    stream.on('data', (chunk: Buffer) => decoder.push(chunk));
    this.write(stream, { type: 'subscribe', identity: this.opts.identity });
  }

  private write(stream: http2.ClientHttp2Stream, msg: ClientMessage): void {
    if (!stream.destroyed && stream === this.stream) stream.write(encode(msg));
  }

  private onMessage(stream: http2.ClientHttp2Stream, msg: ServerMessage): void {
    if (msg?.type !== 'config' || !msg.config) return;
    // Configs apply one at a time, in the order they arrive.
    this.queue = this.queue.then(async () => {
      if (msg.version === this.appliedVersion) {
        this.write(stream, { type: 'ack', version: msg.version, nonce: msg.nonce });
        return;
      }
      try {
        await this.opts.onConfig(msg.config);
        this.appliedVersion = msg.version;
        this.write(stream, { type: 'ack', version: msg.version, nonce: msg.nonce });
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        this.write(stream, { type: 'nack', version: msg.version, nonce: msg.nonce, error });
      }
    });
  }
}
