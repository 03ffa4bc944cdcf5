// outpost's HTTP/1.x server codec (src/dataplane/http1/server.ts) on real sockets: node:http
// clients, raw sockets (exact bytes) and curl against an H1Server fed by a half-open net.Server.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { H1Server, type H1ClientError, type H1Limits } from '../../../src/dataplane/http1/server.js';
import { InvalidHeaderError } from '../../../src/dataplane/http1/head.js';
import type { Downstream } from '../../../src/dataplane/http/downstream.js';
import type { HeaderMap } from '../../../src/dataplane/routing/index.js';

const LIMITS: H1Limits = { headersTimeoutMs: 10_000, keepAliveTimeoutMs: 60_000, maxHeaderBytes: 60 * 1024 };

interface Harness {
  port: number;
  h1: H1Server;
  errors: H1ClientError[];
  /** Sockets the net.Server accepted. */
  accepted: number;
}

type App = (ds: Downstream) => void;

async function startServer(
  t: TestContext,
  app: App,
  limits: Partial<H1Limits> = {},
  onConnect?: (target: string, socket: net.Socket, head: Buffer) => void,
): Promise<Harness> {
  const errors: H1ClientError[] = [];
  const h1 = new H1Server(
    {
      onRequest: app,
      onClientError: (e) => {
        errors.push(e);
      },
      ...(onConnect !== undefined ? { onConnect } : {}),
    },
    { ...LIMITS, ...limits },
  );
  const h: Harness = { port: 0, h1, errors, accepted: 0 };
  const sockets = new Set<net.Socket>();
  const srv = net.createServer({ allowHalfOpen: true }, (s) => {
    h.accepted++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    h1.accept(s);
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  h.port = (srv.address() as net.AddressInfo).port;
  t.after(async () => {
    h1.destroyAll();
    // Sockets handed over (CONNECT) are no longer the codec's.
    for (const s of sockets) s.destroy();
    srv.close();
    await once(srv, 'close');
  });
  return h;
}

/** Reads a request body into one Buffer (with the trailers). */
function readAll(ds: Downstream, cb: (body: Buffer, trailers: HeaderMap | undefined, chunks: number) => void): void {
  const parts: Buffer[] = [];
  ds.readBody({
    onData: (c) => {
      parts.push(c);
    },
    onEnd: (t) => cb(Buffer.concat(parts), t, parts.length),
    onError: () => {
      /* the test notices the missing response */
    },
  });
}

/** The default app: routes by path, parameters in the query. */
const app: App = (ds) => {
  const u = new URL(ds.url, 'http://x');
  const q = u.searchParams;
  switch (u.pathname) {
    case '/echo':
      readAll(ds, (body, trailers) => {
        const out = Buffer.from(
          JSON.stringify({
            method: ds.method,
            url: ds.url,
            headers: ds.headers,
            authority: ds.authority,
            protocol: ds.protocol,
            badVersion: ds.badVersion,
            hasBody: ds.hasBody,
            body: body.toString(),
            trailers: trailers ?? null,
          }),
        );
        ds.writeHead(200, { 'content-type': 'application/json', 'content-length': String(out.length) });
        ds.end(out);
      });
      return;
    case '/fixed': {
      // Deterministic bytes: a fixed date; content-length only when asked.
      const h: HeaderMap = { date: 'D', 'content-type': 'text/plain' };
      if (q.has('cl')) h['content-length'] = '2';
      ds.writeHead(200, h);
      ds.end(Buffer.from('hi'));
      return;
    }
    case '/status': {
      const h: HeaderMap = { date: 'D' };
      const cl = q.get('cl');
      if (cl !== null) h['content-length'] = cl;
      ds.discardBody();
      ds.writeHead(Number(q.get('code')), h);
      const body = q.get('body');
      ds.end(body !== null ? Buffer.from(body) : undefined);
      return;
    }
    case '/chunked':
      ds.writeHead(200, { date: 'D' });
      ds.write(Buffer.from('hello'));
      ds.write(Buffer.from(' world'));
      ds.end(undefined, { 'x-checksum': 'abc', 'grpc-status': '0' });
      return;
    default:
      ds.writeHead(404, { 'content-length': '0' });
      ds.end();
  }
};

/** A raw client: bytes as they come, waits on conditions (bounded by the test's timeout). */
class Raw {
  readonly sock: net.Socket;
  buf = Buffer.alloc(0);
  ended = false;
  closed = false;
  #waiters: (() => void)[] = [];
  constructor(port: number) {
    this.sock = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    this.sock.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.#wake();
    });
    this.sock.on('end', () => {
      this.ended = true;
      this.#wake();
    });
    this.sock.on('close', () => {
      this.closed = true;
      this.#wake();
    });
    this.sock.on('error', () => {
      /* seen as close */
    });
  }
  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }
  get text(): string {
    return this.buf.toString('latin1');
  }
  async until(pred: (r: Raw) => boolean): Promise<void> {
    while (!pred(this)) {
      if (this.closed) throw new Error(`closed before condition; got ${JSON.stringify(this.text)}`);
      await new Promise<void>((res) => this.#waiters.push(res));
    }
  }
  /** Waits until the text contains `s` `n` times. */
  async untilCount(s: string, n: number): Promise<void> {
    await this.until((r) => count(r.text, s) >= n);
  }
  async untilEnd(): Promise<string> {
    while (!this.ended && !this.closed) await new Promise<void>((res) => this.#waiters.push(res));
    return this.text;
  }
  /** Waits for as many bytes as `exact` has, then takes them: they must be exactly `exact`. */
  async expectExactly(exact: string): Promise<void> {
    await this.until((x) => x.buf.length >= exact.length);
    assert.equal(this.take(), exact);
  }

  take(): string {
    const s = this.text;
    this.buf = Buffer.alloc(0);
    return s;
  }
  write(s: string | Buffer): void {
    this.sock.write(s);
  }
  destroy(): void {
    this.sock.destroy();
  }
}

function count(s: string, sub: string): number {
  let n = 0;
  for (let i = s.indexOf(sub); i >= 0; i = s.indexOf(sub, i + sub.length)) n++;
  return n;
}

function raw(t: TestContext, port: number): Raw {
  const r = new Raw(port);
  t.after(() => r.destroy());
  return r;
}

interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  trailers: NodeJS.Dict<string>;
  reused: boolean;
}

function request(port: number, opts: http.RequestOptions, body?: Buffer | string): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, ...opts }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts), trailers: res.trailers, reused: req.reusedSocket }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const FIXED_10_CLOSE = 'HTTP/1.1 200 OK\r\ndate: D\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nhi';

test('GET keep-alive: several requests on one connection, head fields as parsed', { timeout: 20_000 }, async (t) => {
  const h = await startServer(t, app);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  for (let i = 0; i < 5; i++) {
    const r = await request(h.port, { agent, path: `/echo?i=${i}`, headers: { host: 'example.com:8080', 'x-multi': ['a', 'b'] } });
    assert.equal(r.status, 200);
    const j = JSON.parse(r.body.toString());
    assert.equal(j.method, 'GET');
    assert.equal(j.url, `/echo?i=${i}`);
    assert.equal(j.authority, 'example.com:8080');
    assert.equal(j.protocol, 'HTTP/1.1');
    assert.equal(j.hasBody, false);
    assert.deepEqual(j.headers['x-multi'], ['a', 'b']);
    assert.equal(r.reused, i > 0);
    assert.equal(typeof r.headers['date'], 'string');
    // HTTP/1.1 keeps the connection without saying so (as Envoy does).
    assert.equal(r.headers['connection'], undefined);
  }
  assert.equal(h.accepted, 1);
});

test('many headers (more than llhttp passes at once); a repeated Host among them is 400', { timeout: 20_000 }, async (t) => {
  const h = await startServer(t, app);
  const long = (host: string): string => {
    let head = `GET /echo?long HTTP/1.1\r\nHost: first\r\n${host}`;
    for (let i = 0; i < 50; i++) head += `X-H${i}: v${i}\r\n`;
    return head;
  };
  const r = raw(t, h.port);
  const head = long('');
  // Split mid-head across two writes as well.
  r.write(head.slice(0, 100));
  await delay(10);
  r.write(head.slice(100) + 'Connection: close\r\n\r\n');
  const out = await r.untilEnd();
  const j = JSON.parse(out.slice(out.indexOf('\r\n\r\n') + 4));
  assert.equal(j.url, '/echo?long');
  assert.equal(j.authority, 'first');
  assert.equal(j.headers.host, 'first');
  for (let i = 0; i < 50; i++) assert.equal(j.headers[`x-h${i}`], `v${i}`);
  assert.ok(out.includes('\r\nconnection: close\r\n'));
  // RFC 9112 §3.2: several Host lines are a 400, however the head arrives.
  const r2 = raw(t, h.port);
  const dup = long('Host: second\r\n');
  r2.write(dup.slice(0, 100));
  await delay(10);
  r2.write(dup.slice(100) + '\r\n');
  assert.match(await r2.untilEnd(), /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.equal(h.errors.at(-1)!.details, 'http1.codec_error');
});

test('HTTP/1.0 without keep-alive: close-delimited, exact bytes, then EOF', { timeout: 20_000 }, async (t) => {
  const h = await startServer(t, app);
  const r = raw(t, h.port);
  r.write('GET /fixed HTTP/1.0\r\n\r\n');
  assert.equal(await r.untilEnd(), FIXED_10_CLOSE);
});

test('HTTP/1.0 with keep-alive: connection: keep-alive and reuse; no length → close-delimited', { timeout: 20_000 }, async (t) => {
  const h = await startServer(t, app);
  const r = raw(t, h.port);
  const ka = 'HTTP/1.1 200 OK\r\ndate: D\r\ncontent-type: text/plain\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nhi';
  r.write('GET /fixed?cl HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
  await r.expectExactly(ka);
  r.write('GET /fixed?cl HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
  await r.expectExactly(ka);
  r.write('GET /fixed HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
  assert.equal(await r.untilEnd(), FIXED_10_CLOSE);
  assert.equal(h.accepted, 1);
});

test('Connection: close from an HTTP/1.1 client closes after the response', { timeout: 20_000 }, async (t) => {
  const h = await startServer(t, app);
  const r = raw(t, h.port);
  r.write('GET /fixed?cl HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /fixed HTTP/1.1\r\nHost: a\r\n\r\n');
  const out = await r.untilEnd();
  assert.equal(out, 'HTTP/1.1 200 OK\r\ndate: D\r\ncontent-type: text/plain\r\ncontent-length: 2\r\nconnection: close\r\n\r\nhi');
});

test('HEAD: no body, a given content-length kept, connection reused', { timeout: 20_000 }, async (t) => {
  const h = await startServer(t, app);
  const r = raw(t, h.port);
  r.write('HEAD /status?code=200&cl=5&body=hello HTTP/1.1\r\nHost: a\r\n\r\n');
  const exp = 'HTTP/1.1 200 OK\r\ndate: D\r\ncontent-length: 5\r\n\r\n';
  await r.expectExactly(exp);
  r.write('HEAD /status?code=200&body=hello HTTP/1.1\r\nHost: a\r\n\r\n');
  const exp2 = 'HTTP/1.1 200 OK\r\ndate: D\r\n\r\n';
  await r.expectExactly(exp2);
  r.write('GET /fixed?cl HTTP/1.1\r\nHost: a\r\n\r\n');
  await r.untilCount('hi', 1);
  assert.ok(r.take().startsWith('HTTP/1.1 200 OK\r\n'), 'no stray body bytes after HEAD');
});

test('204 and 304: no body framing, connection reusable', { timeout: 20_000 }, async (t) => {
  const h = await startServer(t, app);
  const r = raw(t, h.port);
  r.write('GET /status?code=204&body=nope HTTP/1.1\r\nHost: a\r\n\r\n');
  const e204 = 'HTTP/1.1 204 No Content\r\ndate: D\r\n\r\n';
  await r.expectExactly(e204);
  r.write('GET /status?code=304 HTTP/1.1\r\nHost: a\r\n\r\n');
  const e304 = 'HTTP/1.1 304 Not Modified\r\ndate: D\r\n\r\n';
  await r.expectExactly(e304);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const a = await request(h.port, { agent, path: '/status?code=204' });
  const b = await request(h.port, { agent, path: '/status?code=304' });
  const c = await request(h.port, { agent, path: '/echo' });
  assert.deepEqual([a.status, b.status, c.status, a.body.length, b.body.length], [204, 304, 200, 0, 0]);
  assert.equal(c.reused, true);
  assert.equal(h.accepted, 2);
});

test('request bodies: content-length, and chunked with trailers, delivered in order', { timeout: 20_000 }, async (t) => {
  const h = await startServer(t, app);
  const r = raw(t, h.port);
  r.write('POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello');
  await delay(5);
  r.write(' world');
  await r.untilCount('"body":"hello world"', 1);
  const first = r.take();
  assert.ok(first.includes('"hasBody":true'));
  r.write('POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n');
  await delay(5);
  r.write('4\r\ndefg\r\n0\r\nX-Trailer: yes\r\nX-Other: 2\r\n\r\n');
  await r.untilCount('}', 1);
  const out = r.take();
  const j = JSON.parse(out.slice(out.indexOf('\r\n\r\n') + 4));
  assert.equal(j.body, 'abcdefg');
  assert.deepEqual(j.trailers, { 'x-trailer': 'yes', 'x-other': '2' });
  // node:http's client with trailers, through the chunked path.
  const res = await new Promise<Res>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: h.port, method: 'POST', path: '/echo', headers: { trailer: 'x-sum' } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts), trailers: res.trailers, reused: false }));
    });
    req.on('error', reject);
    for (let i = 0; i < 10; i++) req.write(`part${i};`);
    req.addTrailers({ 'x-sum': '10' });
    req.end();
  });
  const j2 = JSON.parse(res.body.toString());
  assert.equal(j2.body, Array.from({ length: 10 }, (_, i) => `part${i};`).join(''));
  assert.deepEqual(j2.trailers, { 'x-sum': '10' });
});

test('chunked response with trailers, read by a raw client', { timeout: 20_000 }, async (t) => {
  const h = await startServer(t, app);
  const r = raw(t, h.port);
  r.write('GET /chunked HTTP/1.1\r\nHost: a\r\nTE: trailers\r\n\r\n');
  const exp = 'HTTP/1.1 200 OK\r\ndate: D\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nx-checksum: abc\r\ngrpc-status: 0\r\n\r\n';
  await r.expectExactly(exp);
  const res = await request(h.port, { path: '/chunked' });
  assert.equal(res.body.toString(), 'hello world');
  assert.deepEqual(res.trailers, { 'x-checksum': 'abc', 'grpc-status': '0' });
});

test('a small response goes out in one write (head coalesced with the body)', { timeout: 20_000 }, async (t) => {
  const writes: number[] = [];
  const wrapped = new WeakSet<object>();
  const h = await startServer(t, (ds) => {
    const s = ds.socket!;
    if (wrapped.has(s)) {
      app(ds);
      return;
    }
    wrapped.add(s);
    // Count what reaches the socket's handle: writes and writevs each are one syscall.
    const handle = (s as unknown as { _handle: Record<string, (...a: unknown[]) => unknown> })._handle;
    for (const k of ['writev', 'writeLatin1String', 'writeBuffer', 'writeUtf8String']) {
      const f = handle[k]!;
      handle[k] = (...a: unknown[]) => {
        writes.push(1);
        return f.apply(handle, a);
      };
    }
    app(ds);
  });
  const r = raw(t, h.port);
  r.write('GET /fixed?cl HTTP/1.1\r\nHost: a\r\n\r\n');
  await r.untilCount('hi', 1);
  assert.equal(writes.length, 1);
  r.write('GET /chunked HTTP/1.1\r\nHost: a\r\n\r\n');
  await r.untilCount('\r\n0\r\n', 1);
  await r.untilCount('grpc-status: 0\r\n\r\n', 1);
  // Head + first chunk, second chunk, end: each write() call is one writev.
  assert.equal(writes.length, 4);
});

test('request body backpressure: pauseBody stops reading the socket, resumeBody delivers all in order', { timeout: 20_000 }, async (t) => {
  const SIZE = 24 * 1024 * 1024;
  const body = Buffer.alloc(SIZE);
  for (let i = 0; i < SIZE; i++) body[i] = i % 251;
  const want = createHash('sha256').update(body).digest('hex');
  let paused!: () => void;
  const pausedP = new Promise<void>((res) => {
    paused = res;
  });
  let streamDs!: Downstream;
  let received = 0;
  let duringPause = 0;
  let isPaused = false;
  let pausedOnce = false;
  const hash = createHash('sha256');
  const h = await startServer(t, (ds) => {
    streamDs = ds;
    ds.readBody({
      onData: (c) => {
        if (isPaused) duringPause += c.length;
        received += c.length;
        hash.update(c);
        if (received > 1024 * 1024 && !pausedOnce) {
          pausedOnce = true;
          isPaused = true;
          ds.pauseBody();
          paused();
        }
      },
      onEnd: () => {
        const d = Buffer.from(hash.digest('hex'));
        ds.writeHead(200, { 'content-length': String(d.length) });
        ds.end(d);
      },
      onError: () => {},
    });
  });
  const res = request(h.port, { method: 'POST', path: '/up', headers: { 'content-length': String(SIZE) } }, body);
  await pausedP;
  const readAtPause = streamDs.socket!.bytesRead;
  await delay(150);
  // Paused: the socket stopped reading (llhttp's queue and node's buffer are bounded).
  assert.equal(duringPause, 0);
  assert.ok(streamDs.socket!.bytesRead - readAtPause < 1024 * 1024, `read ${streamDs.socket!.bytesRead - readAtPause} bytes while paused`);
  assert.ok(streamDs.socket!.bytesRead < SIZE / 2);
  isPaused = false;
  streamDs.resumeBody();
  const r = await res;
  assert.equal(r.status, 200);
  assert.equal(received, SIZE);
  assert.equal(r.body.toString(), want);
});

test('response backpressure: 5 MiB to a slow-reading client, write() false then onDrain', { timeout: 20_000 }, async (t) => {
  const SIZE = 5 * 1024 * 1024;
  const CHUNK = 64 * 1024;
  let fullCount = 0;
  let sawFull!: () => void;
  const sawFullP = new Promise<void>((res) => {
    sawFull = res;
  });
  const h = await startServer(t, (ds) => {
    ds.writeHead(200, { 'content-length': String(SIZE) });
    let sent = 0;
    const pump = (): void => {
      while (sent < SIZE) {
        const c = Buffer.alloc(CHUNK, (sent / CHUNK) % 256);
        sent += CHUNK;
        if (sent === SIZE) {
          ds.end(c);
          return;
        }
        if (!ds.write(c)) {
          fullCount++;
          sawFull();
          ds.onDrain(pump);
          return;
        }
      }
    };
    pump();
  });
  const r = raw(t, h.port);
  r.sock.pause();
  r.write('GET /big HTTP/1.1\r\nHost: a\r\n\r\n');
  await sawFullP;
  r.sock.resume();
  const headEnd = '\r\n\r\n';
  await r.until((x) => {
    const i = x.buf.indexOf(headEnd);
    return i >= 0 && x.buf.length - i - 4 >= SIZE;
  });
  const i = r.buf.indexOf(headEnd);
  const payload = r.buf.subarray(i + 4);
  assert.equal(payload.length, SIZE);
  for (let k = 0; k < SIZE / CHUNK; k++) assert.equal(payload[k * CHUNK], k % 256);
  assert.ok(fullCount > 0);
});

test('pipelining: 3 requests in one write answered in order, the later ones held until the first ends', { timeout: 20_000 }, async (t) => {
  const order: string[] = [];
  const h = await startServer(t, (ds) => {
    order.push(`start ${ds.url}`);
    if (ds.url === '/slow') {
      readAll(ds, (b) => {
        setTimeout(() => {
          order.push('end /slow');
          ds.writeHead(200, { 'content-length': String(b.length) });
          ds.end(b);
        }, 30);
      });
      return;
    }
    readAll(ds, (b) => {
      order.push(`end ${ds.url}`);
      ds.writeHead(200, {});
      ds.write(Buffer.from(`${ds.url}:`));
      ds.end(b);
    });
  });
  const r = raw(t, h.port);
  r.write(
    'POST /slow HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\none' +
      'POST /b HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\n' +
      'GET /c HTTP/1.1\r\nHost: a\r\n\r\n',
  );
  await r.untilCount('0\r\n\r\n', 2);
  const out = r.text;
  const i1 = out.indexOf('\r\n\r\none');
  const i2 = out.indexOf('/b:');
  const i3 = out.indexOf('/c:');
  assert.ok(i1 > 0 && i2 > i1 && i3 > i2, out);
  assert.ok(out.includes('3\r\n/b:\r\n3\r\ntwo\r\n0\r\n\r\n'));
  assert.deepEqual(order, ['start /slow', 'end /slow', 'start /b', 'end /b', 'start /c', 'end /c']);
  assert.equal(h.h1.openConnections, 1);
});

test('Expect: 100-continue with curl', { timeout: 20_000 }, async (t) => {
  const h = await startServer(t, app);
  const dir = mkdtempSync(join(tmpdir(), 'h1-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'body.bin');
  const data = 'x'.repeat(50_000) + 'END';
  writeFileSync(file, data);
  const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
    execFile(
      'curl',
      ['-sS', '-v', '--data-binary', `@${file}`, '-H', 'Expect: 100-continue', '--expect100-timeout', '20', `http://127.0.0.1:${h.port}/echo`],
      { timeout: 20_000, maxBuffer: 10 * 1024 * 1024 },
      (err, stdout, stderr) => (err ? reject(err) : resolve({ stdout, stderr })),
    );
  });
  assert.ok(stderr.includes('< HTTP/1.1 100 Continue'), stderr);
  const j = JSON.parse(stdout);
  assert.equal(j.body, data);
  assert.equal(j.headers['expect'], '100-continue');
});

test('Expect: 100-continue on a raw socket: 100 first, body after, then the response', { timeout: 20_000 }, async (t) => {
  const h = await startServer(t, app);
  const r = raw(t, h.port);
  r.write('POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n');
  await r.until((x) => x.buf.length >= 25);
  assert.equal(r.take(), 'HTTP/1.1 100 Continue\r\n\r\n');
  r.write('data');
  await r.untilCount('}', 1);
  assert.ok(r.text.startsWith('HTTP/1.1 200 OK\r\n'));
  assert.ok(r.text.includes('"body":"data"'));
});

const BAD_400 = 'HTTP/1.1 400 Bad Request\r\ncontent-length: 11\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nBad Request';

test('malformed request: exact 400 bytes, onClientError, close', { timeout: 20_000 }, async (t) => {
  let requests = 0;
  // Answered a little later, so the garbage behind a good request waits for its response.
  const h = await startServer(t, (ds) => {
    requests++;
    setTimeout(() => app(ds), 20);
  });
  const r = raw(t, h.port);
  r.write('GET / HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n');
  assert.equal(await r.untilEnd(), BAD_400);
  assert.equal(requests, 0);
  assert.equal(h.errors.length, 1);
  assert.equal(h.errors[0]!.status, 400);
  assert.equal(h.errors[0]!.details, 'http1.codec_error');
  assert.equal(h.errors[0]!.bodyBytes, 11);
  // Garbage after a good request: the good one is answered first, then the 400.
  const r2 = raw(t, h.port);
  r2.write('GET /fixed?cl HTTP/1.1\r\nHost: a\r\n\r\nNOT HTTP AT ALL\r\n\r\n');
  const out = await r2.untilEnd();
  assert.ok(out.startsWith('HTTP/1.1 200 OK\r\n'));
  assert.ok(out.endsWith('hi' + BAD_400), out);
  assert.equal(requests, 1);
  assert.equal(h.errors.length, 2);
});

test('oversized head: 431', { timeout: 20_000 }, async (t) => {
  const h = await startServer(t, app, { maxHeaderBytes: 1024 });
  const r = raw(t, h.port);
  r.write(`GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'b'.repeat(4000)}\r\n\r\n`);
  const body = 'Request Header Fields Too Large';
  assert.equal(
    await r.untilEnd(),
    `HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: ${body.length}\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n${body}`,
  );
  assert.equal(h.errors[0]!.status, 431);
  assert.equal(h.errors[0]!.details, 'http1.headers_too_large');
});

test('slow head: 408 after headersTimeoutMs', { timeout: 20_000 }, async (t) => {
  const h = await startServer(t, app, { headersTimeoutMs: 200 });
  const r = raw(t, h.port);
  const t0 = Date.now();
  r.write('GET / HTTP/1.1\r\nHost: a\r\n');
  const out = await r.untilEnd();
  const took = Date.now() - t0;
  assert.equal(out, 'HTTP/1.1 408 Request Timeout\r\ncontent-length: 15\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nrequest timeout');
  assert.ok(took >= 190 && took < 2000, `took ${took} ms`);
  assert.equal(h.errors[0]!.status, 408);
  assert.equal(h.errors[0]!.details, 'request_header_timeout');
  assert.equal(h.errors[0]!.bodyBytes, 15);
});

test('keep-alive timeout closes an idle connection, not a busy one', async (t) => {
  let release!: () => void;
  const h = await startServer(
    t,
    (ds) => {
      if (ds.url === '/hold') {
        release = () => {
          ds.writeHead(200, { 'content-length': '2' });
          ds.end(Buffer.from('ok'));
        };
        return;
      }
      app(ds);
    },
    { keepAliveTimeoutMs: 200, headersTimeoutMs: 5000 },
  );
  const idle = raw(t, h.port);
  const busy = raw(t, h.port);
  idle.write('GET /fixed?cl HTTP/1.1\r\nHost: a\r\n\r\n');
  busy.write('GET /hold HTTP/1.1\r\nHost: a\r\n\r\n');
  await idle.untilCount('hi', 1);
  const t0 = Date.now();
  await idle.untilEnd();
  const took = Date.now() - t0;
  assert.ok(took >= 190 && took < 2000, `took ${took} ms`);
  assert.equal(idle.text.endsWith('hi'), true);
  // The busy connection (a request in flight for longer than the timeout) is still there.
  await delay(300);
  assert.equal(busy.ended, false);
  release();
  await busy.untilCount('ok', 1);
  assert.ok(busy.text.includes('content-length: 2\r\n'));
});

test('client disconnect mid-response: onClose fires, the server keeps serving', { timeout: 20_000 }, async (t) => {
  let closed!: (v: { ended: boolean; writes: number }) => void;
  const closedP = new Promise<{ ended: boolean; writes: number }>((res) => {
    closed = res;
  });
  const h = await startServer(t, (ds) => {
    if (ds.url !== '/partial') {
      app(ds);
      return;
    }
    // Streams until the client is gone (as an upstream body would): the write after the
    // client's close meets its RST.
    let writes = 0;
    const timer = setInterval(() => {
      writes++;
      ds.write(Buffer.alloc(1000, 97));
    }, 5);
    ds.onClose(() => {
      clearInterval(timer);
      closed({ ended: ds.ended, writes });
    });
    ds.writeHead(200, { 'content-length': '100000000' });
  });
  const r = raw(t, h.port);
  r.write('GET /partial HTTP/1.1\r\nHost: a\r\n\r\n');
  await r.untilCount('aaaa', 1);
  r.destroy();
  const c = await closedP;
  assert.equal(c.ended, false);
  assert.ok(c.writes >= 1);
  assert.equal(h.h1.openConnections, 0);
  const res = await request(h.port, { path: '/fixed?cl', agent: false });
  assert.equal(res.body.toString(), 'hi');
});

test('socket reset by the peer while the request body streams: sink onError and onClose', { timeout: 20_000 }, async (t) => {
  let errored!: () => void;
  const erroredP = new Promise<void>((res) => {
    errored = res;
  });
  let closed!: () => void;
  const closedP = new Promise<void>((res) => {
    closed = res;
  });
  let gotData!: () => void;
  const gotDataP = new Promise<void>((res) => {
    gotData = res;
  });
  const h = await startServer(t, (ds) => {
    ds.onClose(closed);
    ds.readBody({ onData: () => gotData(), onEnd: () => {}, onError: () => errored() });
  });
  const r = raw(t, h.port);
  r.write('POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nabc');
  await gotDataP;
  r.sock.resetAndDestroy();
  await erroredP;
  await closedP;
  assert.equal(h.h1.openConnections, 0);
});

test('client half-close after sending a request still gets the response', { timeout: 20_000 }, async (t) => {
  let serverClosed: Promise<unknown> | undefined;
  const h = await startServer(t, (ds) => {
    serverClosed ??= once(ds.socket!, 'close');
    // Answer later, after the FIN has been seen.
    setTimeout(() => app(ds), 30);
  });
  const r = raw(t, h.port);
  r.sock.end('GET /fixed?cl HTTP/1.1\r\nHost: a\r\n\r\nGET /chunked HTTP/1.1\r\nHost: a\r\n\r\n');
  const out = await r.untilEnd();
  assert.ok(out.startsWith('HTTP/1.1 200 OK\r\ndate: D\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nhi'), out);
  assert.ok(
    out.endsWith('transfer-encoding: chunked\r\nconnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nx-checksum: abc\r\ngrpc-status: 0\r\n\r\n'),
    out,
  );
  // The server's side closes by itself once its FIN is out (the client's came first).
  await serverClosed;
  assert.equal(h.h1.openConnections, 0);
});

test('CONNECT with onConnect: socket handed over with the bytes after the head', { timeout: 20_000 }, async (t) => {
  let got!: (v: { target: string; head: string }) => void;
  const gotP = new Promise<{ target: string; head: string }>((res) => {
    got = res;
  });
  const h: Harness = await startServer(t, app, {}, (target, socket, head) => {
    assert.equal(h.h1.openConnections, 0);
    got({ target, head: head.toString() });
    socket.write('HTTP/1.1 200 Connection established\r\n\r\n');
    socket.on('data', (d: Buffer) => socket.write(d.toString().toUpperCase()));
    socket.on('end', () => socket.end());
    socket.on('error', () => {});
  });
  const r = raw(t, h.port);
  r.write('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\nhello');
  assert.deepEqual(await gotP, { target: 'example.com:443', head: 'hello' });
  await r.untilCount('\r\n\r\n', 1);
  assert.equal(r.take(), 'HTTP/1.1 200 Connection established\r\n\r\n');
  r.write('GET / HTTP/1.1\r\n\r\n'); // not HTTP to the codec any more
  await r.untilCount('GET / HTTP/1.1', 1);
  assert.equal(r.text, 'GET / HTTP/1.1\r\n\r\n');
});

test('CONNECT on a kept-alive connection after a first request (llhttp reading the socket itself by then)', { timeout: 20_000 }, async (t) => {
  let got!: (v: { target: string; head: string }) => void;
  const gotP = new Promise<{ target: string; head: string }>((res) => {
    got = res;
  });
  const h = await startServer(
    t,
    (ds) => {
      ds.writeHead(200, { 'content-length': '2', date: 'D' });
      ds.end(Buffer.from('ok'));
    },
    {},
    (target, socket, head) => {
      got({ target, head: head.toString() });
      socket.write('HTTP/1.1 200 Connection established\r\n\r\n');
      socket.on('data', (d: Buffer) => socket.write(d.toString().toUpperCase()));
      socket.on('end', () => socket.end());
      socket.on('error', () => {});
    },
  );
  const r = raw(t, h.port);
  r.write('GET /first HTTP/1.1\r\nHost: a\r\n\r\n');
  await r.untilCount('ok', 1);
  assert.match(r.take(), /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nok$/);
  // A later read: one into the shared read buffer, so the hand-over copies what follows the head
  // and passes the reads after it on as 'data'.
  r.write('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\nhello');
  assert.deepEqual(await gotP, { target: 'example.com:443', head: 'hello' });
  await r.untilCount('\r\n\r\n', 1);
  assert.equal(r.take(), 'HTTP/1.1 200 Connection established\r\n\r\n');
  r.write('tunnel bytes');
  await r.untilCount('TUNNEL BYTES', 1);
  assert.equal(r.text, 'TUNNEL BYTES');
});

test('CONNECT pipelined behind a request: handed over after that response, with every byte that followed', { timeout: 20_000 }, async (t) => {
  let got!: (v: { target: string; head: string }) => void;
  const gotP = new Promise<{ target: string; head: string }>((res) => {
    got = res;
  });
  let release!: () => void;
  let arrived!: () => void;
  const arrivedP = new Promise<void>((res) => {
    arrived = res;
  });
  const h = await startServer(
    t,
    (ds) => {
      release = () => {
        ds.writeHead(200, { 'content-length': '2', date: 'D' });
        ds.end(Buffer.from('ok'));
      };
      arrived();
    },
    {},
    (target, socket, head) => {
      // What the codec had read comes as `head`; the rest is still in the socket.
      let bytes = head.toString();
      socket.on('data', (d: Buffer) => {
        bytes += d.toString();
        if (bytes.length >= 7) got({ target, head: bytes });
      });
      socket.on('error', () => {});
      if (bytes.length >= 7) got({ target, head: bytes });
    },
  );
  const r = raw(t, h.port);
  r.write('GET /first HTTP/1.1\r\nHost: a\r\n\r\nCONNECT b:443 HTTP/1.1\r\nHost: b:443\r\n\r\none,');
  await arrivedP;
  r.write('two');
  await delay(20);
  release();
  assert.deepEqual(await gotP, { target: 'b:443', head: 'one,two' });
  await r.untilCount('ok', 1);
  assert.equal(r.text, 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\ndate: D\r\n\r\nok');
});

test('CONNECT without onConnect and Upgrade requests: plain requests, connection closed after', { timeout: 20_000 }, async (t) => {
  const h = await startServer(t, (ds) => {
    const out = Buffer.from(`${ds.method} ${ds.url} body=${ds.hasBody}`);
    ds.writeHead(200, { 'content-length': String(out.length) });
    ds.end(out);
  });
  const r = raw(t, h.port);
  r.write('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\nrest');
  const out = await r.untilEnd();
  assert.ok(out.endsWith('connection: close\r\n\r\nCONNECT example.com:443 body=false'), out);
  const r2 = raw(t, h.port);
  r2.write('GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x05hello');
  const out2 = await r2.untilEnd();
  assert.ok(out2.endsWith('connection: close\r\n\r\nGET /ws body=false'), out2);
});

test('writeHead with an invalid header value throws, sends nothing, and the stream can still reply 502', { timeout: 20_000 }, async (t) => {
  let threw: unknown;
  const h = await startServer(t, (ds) => {
    try {
      ds.writeHead(200, { 'x-ok': 'fine', 'x-bad': 'a\r\nb' });
    } catch (e) {
      threw = e;
    }
    assert.equal(ds.headersSent, false);
    ds.writeHead(502, { 'content-length': '3', date: 'D' });
    ds.end(Buffer.from('bad'));
  });
  const r = raw(t, h.port);
  r.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
  const exp = 'HTTP/1.1 502 Bad Gateway\r\ncontent-length: 3\r\ndate: D\r\n\r\nbad';
  await r.until((x) => x.buf.length >= exp.length);
  assert.equal(r.text, exp);
  assert.ok(threw instanceof InvalidHeaderError);
});

test('HTTP/2.0 request line over HTTP/1: badVersion, answered by the app, connection closed', { timeout: 20_000 }, async (t) => {
  const h = await startServer(t, (ds) => {
    const out = Buffer.from(`bad=${ds.badVersion}`);
    ds.writeHead(400, { 'content-length': String(out.length), date: 'D' });
    ds.end(out);
  });
  const r = raw(t, h.port);
  r.write('GET / HTTP/2.0\r\nHost: a\r\n\r\n');
  assert.equal(await r.untilEnd(), 'HTTP/1.1 400 Bad Request\r\ncontent-length: 8\r\ndate: D\r\nconnection: close\r\n\r\nbad=true');
});

test('local reply before the request body: discardBody keeps the connection usable', { timeout: 20_000 }, async (t) => {
  const h = await startServer(t, (ds) => {
    if (ds.url === '/deny') {
      ds.writeHead(403, { 'content-length': '6', date: 'D' });
      ds.end(Buffer.from('denied'));
      ds.discardBody();
      return;
    }
    app(ds);
  });
  const r = raw(t, h.port);
  r.write('POST /deny HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n01234');
  await r.untilCount('denied', 1);
  r.write('56789GET /fixed?cl HTTP/1.1\r\nHost: a\r\n\r\n');
  await r.untilCount('hi', 1);
  assert.ok(r.text.startsWith('HTTP/1.1 403 Forbidden\r\n'));
  assert.ok(r.text.endsWith('content-length: 2\r\n\r\nhi'));
});

test('closeIdle: idle connections close now, busy ones after their response with connection: close', { timeout: 20_000 }, async (t) => {
  let release!: () => void;
  let arrived!: () => void;
  const arrivedP = new Promise<void>((res) => {
    arrived = res;
  });
  const serverClosed: Promise<unknown>[] = [];
  const h = await startServer(t, (ds) => {
    serverClosed.push(once(ds.socket!, 'close'));
    if (ds.url === '/hold') {
      release = () => {
        ds.writeHead(200, { 'content-length': '2', date: 'D' });
        ds.end(Buffer.from('ok'));
      };
      arrived();
      return;
    }
    app(ds);
  });
  const idle = raw(t, h.port);
  const busy = raw(t, h.port);
  idle.write('GET /fixed?cl HTTP/1.1\r\nHost: a\r\n\r\n');
  await idle.untilCount('hi', 1);
  busy.write('GET /hold HTTP/1.1\r\nHost: a\r\n\r\n');
  await arrivedP;
  assert.equal(h.h1.openConnections, 2);
  h.h1.closeIdle();
  await idle.untilEnd();
  assert.equal(busy.ended, false);
  release();
  assert.equal(await busy.untilEnd(), 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\ndate: D\r\nconnection: close\r\n\r\nok');
  busy.sock.end();
  idle.sock.end();
  await Promise.all([once(busy.sock, 'close'), once(idle.sock, 'close')]);
  // The server side goes once both FINs are through.
  await Promise.all(serverClosed);
  assert.equal(h.h1.openConnections, 0);
});

test('load: 5000 requests over 32 keep-alive connections, every response checked', { timeout: 30_000 }, async (t) => {
  const h = await startServer(t, app);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  t.after(() => agent.destroy());
  const N = 5000;
  let next = 0;
  let ok = 0;
  const t0 = Date.now();
  const worker = async (): Promise<void> => {
    while (next < N) {
      const i = next++;
      const post = i % 3 === 0;
      const r = await request(
        h.port,
        { agent, method: post ? 'POST' : 'GET', path: `/echo?i=${i}`, headers: post ? { 'content-length': String(String(i).length) } : {} },
        post ? String(i) : undefined,
      );
      assert.equal(r.status, 200);
      const j = JSON.parse(r.body.toString());
      assert.equal(j.url, `/echo?i=${i}`);
      assert.equal(j.body, post ? String(i) : '');
      ok++;
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  assert.equal(ok, N);
  assert.ok(h.accepted <= 32, `accepted ${h.accepted}`);
  assert.ok(Date.now() - t0 < 25_000);
});
