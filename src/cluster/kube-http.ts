// JSON requests to a Kubernetes API server with a client-node KubeConfig's server, credentials and
// CA (token, client certificate, exec plugins, in-cluster service account): what the controller's
// list and write calls use. Raw JSON, not client-node's typed models, so unknown fields survive.
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { request as httpRequest } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';

export class KubeHttpError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'KubeHttpError';
  }
}

export interface KubeRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  body?: unknown;
  contentType?: string;
  timeoutMs?: number;
}

export class KubeHttp {
  readonly server: string;

  constructor(private readonly kc: KubeConfig) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    this.server = cluster.server.replace(/\/+$/, '');
  }

  async json<T = unknown>(req: KubeRequest): Promise<T> {
    const url = new URL(this.server + req.path);
    const opts: RequestOptions = { method: req.method, headers: { Accept: 'application/json' } };
    await this.kc.applyToHTTPSOptions(opts);
    const body = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body));
    const headers = opts.headers as Record<string, string>;
    if (body) {
      headers['Content-Type'] = req.contentType ?? 'application/json';
      headers['Content-Length'] = String(body.length);
    }
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<T>((resolve, reject) => {
      const r = send(url, opts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = undefined;
          }
          const code = res.statusCode ?? 0;
          if (code >= 200 && code < 300) return resolve(parsed as T);
          const status = (parsed ?? {}) as { reason?: string; message?: string };
          reject(new KubeHttpError(code, status.reason ?? String(code), `${req.method} ${req.path}: ${code} ${status.message ?? text.slice(0, 200)}`));
        });
      });
      r.setTimeout(req.timeoutMs ?? 30_000, () => r.destroy(new Error(`${req.method} ${req.path}: no answer in ${req.timeoutMs ?? 30_000} ms`)));
      r.on('error', reject);
      r.end(body);
    });
  }
}
