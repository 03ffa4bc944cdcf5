// The running mesh's control endpoint: what the Kubernetes API does not carry (workloads and
// their addresses, proxy status, proxy config, shutdown). Token-protected, loopback only.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpFetch } from '../apiserver/http-fetch.js';
import { bearerMatches } from '../proxyconfig/bearer-token.js';

export interface ControlHandlers {
  workloads(): unknown;
  proxyStatus(): unknown | Promise<unknown>;
  /** The ProxyConfig the control plane holds for a proxy, and what the proxy itself reports. */
  proxyConfig(proxyId: string): Promise<unknown | undefined>;
  /** Resolves once the named workloads (or all) are ready; the ones still not ready otherwise. */
  waitReady(namespace: string | undefined, timeoutMs: number): Promise<unknown>;
  /** Resolves once every proxy has ACKed the config built from the store as it is now. */
  waitSynced(timeoutMs: number): Promise<unknown>;
  /** The dashboard's address and a one-time login link for it; undefined when the mesh serves none. */
  dashboardLogin(): { url: string; login: string } | undefined;
  shutdown(): void;
}

export interface ControlServer {
  url: string;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export async function startControlServer(opts: { host: string; port?: number; token: string; handlers: ControlHandlers }): Promise<ControlServer> {
  const h = opts.handlers;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      if (!bearerMatches(req.headers.authorization, opts.token)) return send(res, 401, { error: 'unauthorized' });
      const url = new URL(req.url ?? '/', 'http://control');
      const q = url.searchParams;
      const timeoutMs = Math.min(Number(q.get('timeoutMs') ?? 30_000) || 30_000, 120_000);
      try {
        switch (`${req.method} ${url.pathname}`) {
          case 'GET /v1/health':
            return send(res, 200, { ok: true, pid: process.pid });
          case 'GET /v1/workloads':
            return send(res, 200, h.workloads());
          case 'GET /v1/proxy-status':
            return send(res, 200, await h.proxyStatus());
          case 'GET /v1/proxy-config': {
            const id = q.get('proxy') ?? '';
            const cfg = await h.proxyConfig(id);
            return cfg === undefined ? send(res, 404, { error: `proxy ${id} not found` }) : send(res, 200, cfg);
          }
          case 'GET /v1/wait-ready':
            return send(res, 200, await h.waitReady(q.get('namespace') ?? undefined, timeoutMs));
          case 'GET /v1/wait-synced':
            return send(res, 200, await h.waitSynced(timeoutMs));
          case 'POST /v1/dashboard-login': {
            const link = h.dashboardLogin();
            return link ? send(res, 200, link) : send(res, 404, { error: 'this mesh serves no dashboard (started with --no-dashboard)' });
          }
          case 'POST /v1/shutdown':
            send(res, 202, { stopping: true });
            h.shutdown();
            return;
          default:
            return send(res, 404, { error: `no such endpoint: ${req.method} ${url.pathname}` });
        }
      } catch (err) {
        send(res, 500, { error: err instanceof Error ? err.message : String(err) });
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    url: `http://${opts.host}:${addr.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The CLI's side of the control endpoint. */
export class ControlClient {
  constructor(
    private readonly url: string,
    private readonly token: string,
  ) {}

  async get<T>(path: string, params: Record<string, string | number | undefined> = {}, timeoutMs = 130_000): Promise<T> {
    const u = new URL(path, this.url);
    for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, String(v));
    const res = await httpFetch(u, { headers: { authorization: `Bearer ${this.token}` }, signal: AbortSignal.timeout(timeoutMs) });
    const body = (await res.json()) as T & { error?: string };
    if (!res.ok) throw new ControlError(res.status, body.error ?? `HTTP ${res.status}`);
    return body;
  }

  /** POSTs without a body and reads the JSON answer. */
  async postJson<T>(path: string, timeoutMs = 5000): Promise<T> {
    const res = await fetch(new URL(path, this.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${this.token}` },
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await res.json()) as T & { error?: string };
    if (!res.ok) throw new ControlError(res.status, body.error ?? `HTTP ${res.status}`);
    return body;
  }

  async post(path: string): Promise<void> {
    const res = await httpFetch(new URL(path, this.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${this.token}` },
      signal: AbortSignal.timeout(5000),
    });
    res.body.resume();
  }
}

export class ControlError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ControlError';
  }
}
