// The proxy's admin endpoint (loopback): /ready, /config_dump, /stats/prometheus, /clusters, /logging.
// Reads are open on the admin address; with an admin token, every other method (a /logging change)
// needs `Authorization: Bearer <token>`. config_dump never shows private keys.
import { bearerMatches } from '../proxyconfig/bearer-token.js';
import { chmodSync, rmSync } from 'node:fs';
import http from 'node:http';
import { redactSecrets } from '../proxyconfig/redact.js';
import type { AddressInfo } from 'node:net';
import type { ProxyConfig } from '../proxyconfig/types.js';
import type { EndpointSnapshot } from './upstream/endpoints.js';
import { isLogLevel, logLevel, setLogLevel, log, type LogLevel } from './log.js';

export interface ClusterStat {
  name: string;
  type: string;
  activeRequests: number;
  endpoints: EndpointSnapshot[];
}

/** What the admin endpoint shows: one proxy process, or the primary of several worker processes. */
export interface AdminView {
  readonly ready: boolean;
  readonly config: ProxyConfig | undefined;
  readonly lastNack: { version: string; error: string; time: number } | undefined;
  /** The /stats/prometheus body (all workers' series added up). */
  prometheus(): Promise<string>;
  clusterStats(): Promise<ClusterStat[]>;
  /** Also applies a /logging level change elsewhere (the workers). */
  onLogLevel?(level: LogLevel): void;
}

export class AdminServer {
  readonly #server: http.Server;
  /** The same endpoint on a Unix socket (mode 0600): how the node reaches a proxy inside a pod's network namespace. */
  readonly #unix: http.Server | undefined;
  #port: number | undefined;

  constructor(
    private readonly proxy: AdminView,
    private readonly address: string,
    private readonly wantedPort: number,
    private readonly token?: string,
    private readonly socketPath?: string,
  ) {
    this.#server = http.createServer((req, res) => this.#handle(req, res));
    this.#server.on('clientError', (_err, socket) => socket.destroy());
    if (socketPath !== undefined) {
      this.#unix = http.createServer((req, res) => this.#handle(req, res));
      this.#unix.on('clientError', (_err, socket) => socket.destroy());
    }
  }

  get port(): number | undefined {
    return this.#port;
  }

  start(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#server.once('error', (err: NodeJS.ErrnoException) =>
        reject(new Error(`admin: cannot bind ${this.address}:${this.wantedPort}: ${err.code ?? err.message}`)),
      );
      this.#server.listen(this.wantedPort, this.address, () => {
        this.#server.removeAllListeners('error');
        this.#server.on('error', () => {});
        this.#port = (this.#server.address() as AddressInfo).port;
        log('info', `admin endpoint on ${this.address}:${this.#port}`);
        resolve();
      });
    }).then(() => this.#listenUnix());
  }

  #listenUnix(): Promise<void> {
    const unix = this.#unix;
    const path = this.socketPath;
    if (unix === undefined || path === undefined) return Promise.resolve();
    rmSync(path, { force: true });
    return new Promise((resolve, reject) => {
      unix.once('error', (err: NodeJS.ErrnoException) => reject(new Error(`admin: cannot bind ${path}: ${err.code ?? err.message}`)));
      unix.listen(path, () => {
        unix.removeAllListeners('error');
        unix.on('error', () => {});
        chmodSync(path, 0o600);
        resolve();
      });
    });
  }

  close(): Promise<void> {
    const unix = this.#unix;
    const unixClosed = unix?.listening
      ? new Promise<void>((resolve) => {
          unix.closeAllConnections();
          unix.close(() => resolve());
        })
      : Promise.resolve();
    const tcpClosed = new Promise<void>((resolve) => {
      this.#server.closeAllConnections();
      this.#server.close(() => resolve());
      if (this.#port === undefined) resolve();
    });
    return Promise.all([tcpClosed, unixClosed]).then(() => undefined);
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.#route(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, `admin: ${err instanceof Error ? err.message : String(err)}\n`);
      else res.destroy();
    });
  }

  async #route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin');
    const p = this.proxy;
    if (req.method !== 'GET' && req.method !== 'HEAD' && !this.#mayMutate(req)) {
      send(res, 401, "admin: changes need the proxy's admin token (Authorization: Bearer <token>)\n");
      return;
    }
    switch (url.pathname) {
      case '/ready':
        send(res, p.ready ? 200 : 503, p.ready ? 'LIVE\n' : 'PRE_INITIALIZING\n');
        return;
      case '/config_dump':
        sendJson(res, 200, { version: p.config?.version ?? null, config: p.config ? redactSecrets(p.config) : null, lastNack: p.lastNack ?? null });
        return;
      case '/stats/prometheus':
        if (!p.ready) {
          send(res, 200, '');
          return;
        }
        {
          const body = await p.prometheus();
          res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
          res.end(body);
          return;
        }
      case '/clusters':
        await this.#clusters(url, res);
        return;
      case '/logging': {
        const level = url.searchParams.get('level');
        if (level !== null) {
          if (req.method !== 'POST') {
            send(res, 405, 'use POST to change the level\n');
            return;
          }
          if (!isLogLevel(level)) {
            send(res, 400, `unknown level ${level}; use debug, info, warning or error\n`);
            return;
          }
          setLogLevel(level);
          p.onLogLevel?.(level);
        }
        send(res, 200, `active loggers:\n  outpost: ${logLevel()}\n`);
        return;
      }
      default:
        send(res, 404, 'admin paths: /ready /config_dump /stats/prometheus /clusters /logging\n');
    }
  }

  #mayMutate(req: http.IncomingMessage): boolean {
    if (this.token === undefined) return true;
    return bearerMatches(req.headers.authorization, this.token);
  }

  async #clusters(url: URL, res: http.ServerResponse): Promise<void> {
    const clusters = this.proxy.ready ? await this.proxy.clusterStats() : [];
    if (url.searchParams.get('format') === 'json') {
      sendJson(res, 200, { clusters });
      return;
    }
    // Envoy's text form: cluster::host:port::field::value
    let out = '';
    for (const c of clusters) {
      for (const e of c.endpoints) {
        const h = `${c.name}::${e.address}:${e.port}`;
        out += `${h}::hostname::${e.hostname ?? ''}\n${h}::rq_active::${e.active}\n${h}::rq_total::${e.total}\n${h}::rq_error::${e.failures}\n`;
        out += `${h}::health_flags::${e.healthy ? 'healthy' : '/failed_outlier_check'}\n`;
      }
    }
    send(res, 200, out);
  }
}

function send(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function sendJson(res: http.ServerResponse, status: number, v: unknown): void {
  const body = JSON.stringify(v, null, 2);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
