// The mutating admission webhook that injects proxies (HTTPS, as the API server calls webhooks):
// POST /inject with an AdmissionReview; namespaces' labels come from the controller's cache.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Store } from '../store/types.js';
import { admissionResponse, type InjectionSettings } from './injection.js';

export const INJECT_PATH = '/inject';
const MAX_BODY = 3 * 1024 * 1024;

export interface InjectionWebhook {
  readonly url: string;
  close(): Promise<void>;
}

export async function startInjectionWebhook(opts: {
  host: string;
  port: number;
  certFile: string;
  keyFile: string;
  store: Store;
  settings: InjectionSettings;
  log: (line: string) => void;
}): Promise<InjectionWebhook> {
  const server: Server = createServer({ cert: readFileSync(opts.certFile), key: readFileSync(opts.keyFile) }, (req, res) => {
    if (req.method !== 'POST' || (req.url ?? '').split('?')[0] !== INJECT_PATH) {
      res.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      let review: unknown;
      try {
        review = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        res.writeHead(400, { 'Content-Type': 'text/plain' }).end('the body is not an AdmissionReview (JSON)');
        return;
      }
      const labels = (ns: string) => opts.store.get({ group: '', kind: 'Namespace', name: ns })?.metadata.labels ?? {};
      let answer: unknown;
      try {
        answer = admissionResponse(review, labels, opts.settings);
      } catch (err) {
        // Never block a pod on our bug: allow it uninjected, and say why.
        opts.log(`injection: ${(err as Error).stack ?? String(err)}`);
        answer = {
          apiVersion: 'admission.k8s.io/v1',
          kind: 'AdmissionReview',
          response: { uid: (review as { request?: { uid?: string } })?.request?.uid ?? '', allowed: true },
        };
      }
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    url: `https://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}${INJECT_PATH}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
