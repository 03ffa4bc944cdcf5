// Fake "external services" on loopback for end-to-end tests: docs.redhat.com (301 to /en/, then
// 200), httpbin.org (/get and friends) and an unregistered host, each on its own 127.2xx address,
// port 80, with a hosts file that maps the names to them.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { httpbinHandler, startHttpStandIn, type StandInServer } from '../../src/runtime/httpbin-stand-in.js';

export interface SeenRequest {
  method: string;
  url: string;
  host: string;
  remoteAddress: string;
  headers: Record<string, string | string[] | undefined>;
}

export interface ExternalServices {
  /** name → address (port 80). */
  addresses: Record<string, string>;
  hostsFile: string;
  /** Requests each host received, in order. */
  seen: Record<string, SeenRequest[]>;
  close(): Promise<void>;
}

export const DOCS_HOST = 'docs.redhat.com';
export const HTTPBIN_HOST = 'httpbin.org';
/** A host no ServiceEntry names: ALLOW_ANY passes it through, REGISTRY_ONLY blocks it. */
export const UNLISTED_HOST = 'unlisted.example.com';

function docsHandler(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  const path = (req.url ?? '/').replace(/^https?:\/\/[^/]+/, '');
  if (path === '/' || path === '') {
    // The seed's first answer: a redirect to the documentation's language root.
    res.writeHead(301, { location: `http://${DOCS_HOST}/en`, 'content-length': 0 });
    return void res.end();
  }
  const body = '<!DOCTYPE html><html><head><title>Red Hat Documentation</title></head><body>docs stand-in</body></html>\n';
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function unlistedHandler(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  const body = 'unlisted host reached\n';
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function randomAddress(used: Set<string>): string {
  for (;;) {
    const ip = `127.${200 + Math.floor(Math.random() * 50)}.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 254)}`;
    if (!used.has(ip)) {
      used.add(ip);
      return ip;
    }
  }
}

export async function startExternalServices(): Promise<ExternalServices> {
  const used = new Set<string>();
  const handlers: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {
    [DOCS_HOST]: docsHandler,
    [HTTPBIN_HOST]: httpbinHandler,
    [UNLISTED_HOST]: unlistedHandler,
  };
  const servers: StandInServer[] = [];
  const addresses: Record<string, string> = {};
  const seen: Record<string, SeenRequest[]> = {};
  try {
    for (const [name, handler] of Object.entries(handlers)) {
      seen[name] = [];
      for (let attempt = 0; ; attempt++) {
        const ip = randomAddress(used);
        try {
          servers.push(
            await startHttpStandIn(ip, 80, (req, res) => {
              seen[name]!.push({
                method: req.method ?? '',
                url: req.url ?? '',
                host: req.headers.host ?? '',
                remoteAddress: req.socket.remoteAddress ?? '',
                headers: req.headers,
              });
              handler(req, res);
            }),
          );
          addresses[name] = ip;
          break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt > 5) throw err;
        }
      }
    }
  } catch (err) {
    for (const s of servers) await s.close();
    throw err;
  }
  const dir = mkdtempSync(join(tmpdir(), 'outpost-ext-'));
  const hostsFile = join(dir, 'hosts');
  writeFileSync(
    hostsFile,
    Object.entries(addresses)
      .map(([name, ip]) => `${ip} ${name}\n`)
      .join(''),
  );
  return {
    addresses,
    hostsFile,
    seen,
    close: async () => {
      for (const s of servers) await s.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
