// A local stand-in for httpbin.org (no outside network on the machines outpost is tried on):
// /get, /headers, /ip, /status/N, /user-agent, answering as httpbin does.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StandInServer {
  host: string;
  port: number;
  close(): Promise<void>;
}

function headersOf(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    // httpbin shows header names in canonical Title-Case.
    const name = req.rawHeaders[i]!.split('-')
      .map((w) => w.charAt(0).toUpperCase() + w.slice(1).toLowerCase())
      .join('-');
    out[name] = req.rawHeaders[i + 1]!;
  }
  return out;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2) + '\n';
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'access-control-allow-origin': '*' });
  res.end(text);
}

export function httpbinHandler(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'httpbin.org'}`);
  const origin = req.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '';
  const status = /^\/status\/(\d{3})$/.exec(url.pathname);
  req.resume();
  if (url.pathname === '/get' || url.pathname === '/anything') {
    return json(res, 200, {
      args: Object.fromEntries(url.searchParams),
      headers: headersOf(req),
      origin,
      url: `http://${req.headers.host ?? 'httpbin.org'}${url.pathname}${url.search}`,
    });
  }
  if (url.pathname === '/headers') return json(res, 200, { headers: headersOf(req) });
  if (url.pathname === '/ip') return json(res, 200, { origin });
  if (url.pathname === '/user-agent') return json(res, 200, { 'user-agent': req.headers['user-agent'] ?? null });
  if (status) {
    res.writeHead(Number(status[1]), { 'content-length': 0 });
    return void res.end();
  }
  if (url.pathname === '/') {
    const html = '<!DOCTYPE html><html><head><title>httpbin.org (outpost stand-in)</title></head><body>httpbin.org stand-in</body></html>\n';
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html) });
    return void res.end(html);
  }
  res.writeHead(404, { 'content-type': 'text/html', 'content-length': 0 });
  res.end();
}

export async function startHttpStandIn(host: string, port: number, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<StandInServer> {
  const server: Server = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    host,
    port: addr.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
