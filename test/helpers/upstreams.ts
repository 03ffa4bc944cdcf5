// Local upstream servers for proxy tests: HTTP/1.1, HTTP/2 (h2c and TLS), HTTPS, TCP and TLS echo.
//
// HTTP upstreams answer with JSON describing what they received, and understand a few paths:
//   /status/<code>      reply with that status
//   /delay/<ms>         reply after ms
//   /reset              destroy the connection before answering
//   /garbage            write bytes that are not HTTP, then close
//   /bytes/<n>          reply with n bytes
//   /grpc               reply with gRPC-style trailers (grpc-status: 0)
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  readonly method: string;
  readonly url: string;
  readonly httpVersion: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  readonly servername?: string;
}

export interface HttpUpstream {
  readonly port: number;
  readonly address: string;
  readonly name: string;
  readonly requests: ReceivedRequest[];
  /** Connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

type AnyReq = http.IncomingMessage | http2.Http2ServerRequest;
type AnyRes = http.ServerResponse | http2.Http2ServerResponse;

function handle(name: string, requests: ReceivedRequest[], req: AnyReq, res: AnyRes): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('error', () => {});
  req.on('end', () => {
    const url = req.url ?? '/';
    const sock = req.socket as tls.TLSSocket;
    const rec: ReceivedRequest = {
      method: req.method ?? '',
      url,
      httpVersion: req.httpVersion,
      headers: req.headers,
      body: Buffer.concat(chunks).toString(),
      servername: (sock as { servername?: string }).servername || undefined,
    };
    requests.push(rec);
    const path = url.split('?')[0]!;
    let m: RegExpExecArray | null;
    if (path === '/reset') {
      req.socket.destroy();
      return;
    }
    if (path === '/garbage') {
      req.socket.end('\x00\x01garbage that is not http\r\n\r\n');
      return;
    }
    if ((m = /^\/delay\/(\d+)$/.exec(path))) {
      const t = setTimeout(() => reply(res, 200, name, rec), Number(m[1]));
      res.on('close', () => clearTimeout(t));
      return;
    }
    if ((m = /^\/status\/(\d+)$/.exec(path))) {
      reply(res, Number(m[1]), name, rec);
      return;
    }
    if ((m = /^\/bytes\/(\d+)$/.exec(path))) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-upstream': name });
      res.end(Buffer.alloc(Number(m[1]), 0x61));
      return;
    }
    if (path === '/grpc') {
      res.writeHead(200, { 'content-type': 'application/grpc', 'x-upstream': name });
      (res as http2.Http2ServerResponse).addTrailers({ 'grpc-status': '0', 'grpc-message': 'ok' });
      res.end(Buffer.from([0, 0, 0, 0, 2, 8, 1]));
      return;
    }
    reply(res, 200, name, rec);
  });
}

function reply(res: AnyRes, status: number, name: string, rec: ReceivedRequest): void {
  const body = JSON.stringify({ upstream: name, ...rec });
  res.writeHead(status, { 'content-type': 'application/json', 'x-upstream': name, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function track(server: net.Server): { count(): number; destroyAll(): void } {
  const sockets = new Set<net.Socket>();
  let n = 0;
  server.on('connection', (s: net.Socket) => {
    n++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  });
  server.on('secureConnection', (s: net.Socket) => {
    s.on('error', () => {});
  });
  return {
    count: () => n,
    destroyAll: () => {
      for (const s of sockets) s.destroy();
    },
  };
}

async function listen(server: net.Server, address: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, address, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

function closer(server: net.Server, t: { destroyAll(): void }, extra?: () => void): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      extra?.();
      t.destroyAll();
      server.close(() => resolve());
    });
}

export interface UpstreamOptions {
  name?: string;
  address?: string;
}

/** An HTTP/1.1 upstream. */
export async function startHttpUpstream(opts: UpstreamOptions = {}): Promise<HttpUpstream> {
  const name = opts.name ?? 'http1';
  const address = opts.address ?? '127.0.0.1';
  const requests: ReceivedRequest[] = [];
  const server = http.createServer({ keepAliveTimeout: 30_000 }, (req, res) => handle(name, requests, req, res));
  const t = track(server);
  const port = await listen(server, address);
  return { port, address, name, requests, connections: t.count, close: closer(server, t) };
}

/** An HTTPS (HTTP/1.1 over TLS) upstream; with `requestClientCert`, it demands a client certificate signed by `ca`. */
export async function startHttpsUpstream(
  opts: UpstreamOptions & { cert: string; key: string; ca?: string; requestClientCert?: boolean; h2?: boolean },
): Promise<HttpUpstream> {
  const name = opts.name ?? 'https';
  const address = opts.address ?? '127.0.0.1';
  const requests: ReceivedRequest[] = [];
  const tlsOpts = {
    cert: opts.cert,
    key: opts.key,
    ca: opts.ca,
    requestCert: !!opts.requestClientCert,
    rejectUnauthorized: !!opts.requestClientCert,
  };
  const server: net.Server = opts.h2
    ? http2.createSecureServer({ ...tlsOpts, allowHTTP1: true }, (req, res) => handle(name, requests, req, res))
    : https.createServer(tlsOpts, (req, res) => handle(name, requests, req, res));
  server.on('tlsClientError', () => {});
  const t = track(server);
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s: http2.ServerHttp2Session) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
    s.on('error', () => {});
  });
  const port = await listen(server, address);
  return {
    port,
    address,
    name,
    requests,
    connections: t.count,
    close: closer(server, t, () => {
      for (const s of sessions) s.destroy();
    }),
  };
}

/** A cleartext HTTP/2 (prior knowledge) upstream. */
export async function startH2cUpstream(opts: UpstreamOptions = {}): Promise<HttpUpstream> {
  const name = opts.name ?? 'h2c';
  const address = opts.address ?? '127.0.0.1';
  const requests: ReceivedRequest[] = [];
  const server = http2.createServer((req, res) => handle(name, requests, req, res));
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
    s.on('error', () => {});
  });
  const t = track(server);
  const port = await listen(server, address);
  return {
    port,
    address,
    name,
    requests,
    connections: t.count,
    close: closer(server, t, () => {
      for (const s of sessions) s.destroy();
    }),
  };
}

export interface TcpUpstream {
  readonly port: number;
  readonly address: string;
  connections(): number;
  /** SNI of each TLS connection (TLS echo only). */
  readonly servernames: string[];
  close(): Promise<void>;
}

/** A TCP echo server; with a greeting, it writes it first. */
export async function startTcpEcho(opts: UpstreamOptions & { greeting?: string } = {}): Promise<TcpUpstream> {
  const address = opts.address ?? '127.0.0.1';
  const server = net.createServer((s) => {
    s.on('error', () => {});
    if (opts.greeting) s.write(opts.greeting);
    s.pipe(s);
  });
  const t = track(server);
  const port = await listen(server, address);
  return { port, address, connections: t.count, servernames: [], close: closer(server, t) };
}

/** A TLS server that echoes what it reads, prefixed once with `hello from <name>\n`. */
export async function startTlsEcho(opts: UpstreamOptions & { cert: string; key: string }): Promise<TcpUpstream> {
  const address = opts.address ?? '127.0.0.1';
  const servernames: string[] = [];
  const server = tls.createServer({ cert: opts.cert, key: opts.key }, (s) => {
    s.on('error', () => {});
    servernames.push(s.servername || '');
    s.write(`hello from ${opts.name ?? 'tls'}\n`);
    s.pipe(s);
  });
  server.on('tlsClientError', () => {});
  const t = track(server);
  const port = await listen(server, address);
  return { port, address, connections: t.count, servernames, close: closer(server, t) };
}

/** A port that refuses connections: listen, note the port, close. */
export async function closedPort(address = '127.0.0.1'): Promise<number> {
  const s = net.createServer();
  const port = await listen(s, address);
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
