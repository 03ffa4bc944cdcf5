// outpost's HTTP/1.1 upstream pool (src/dataplane/upstream/h1-pool.ts) against real servers on
// loopback: node:http/https servers, and raw net servers scripting exact response bytes.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { Worker } from 'node:worker_threads';
import type { AddressInfo } from 'node:net';
import { H1Pool, type H1Body, type H1Call, type H1PoolOptions, type H1RequestHead } from '../../../src/dataplane/upstream/h1-pool.js';
import { testCerts } from '../../helpers/certs.js';
import { ChunkedBody, digestBody, sendCall, sha256, type CallHooks, type CallOutcome } from '../../helpers/upstream-call.js';

// ---- helpers

type Outcome = CallOutcome;

/** One call, recording each response chunk as a `data` event. */
function send(pool: H1Pool, head: Partial<H1RequestHead>, body: H1Body = null, hooks: CallHooks = {}): { call: H1Call; done: Promise<Outcome> } {
  return sendCall(pool, head, body, { ...hooks, dataEvents: true });
}

function get(pool: H1Pool, head: Partial<H1RequestHead> = {}, body: H1Body = null): Promise<Outcome> {
  return send(pool, head, body).done;
}

function newPool(t: TestContext, port: number, extra: Partial<H1PoolOptions> = {}): H1Pool {
  const pool = new H1Pool({ address: '127.0.0.1', port, connectTimeoutMs: 2000, ...extra });
  t.after(() => pool.close());
  return pool;
}

interface Served {
  readonly port: number;
  /** Connections accepted so far. */
  readonly conns: net.Socket[];
  /** Resolves when the n-th accepted connection (0-based) has closed. */
  closedConn(i: number): Promise<void>;
}

async function listen(t: TestContext, server: net.Server, host = '127.0.0.1'): Promise<Served> {
  const conns: net.Socket[] = [];
  // One deferred per connection index, so a test may wait for a connection not yet accepted.
  const closed: { p: Promise<void>; r: () => void }[] = [];
  const slot = (i: number) => {
    while (closed.length <= i) {
      let r!: () => void;
      const p = new Promise<void>((res) => {
        r = res;
      });
      closed.push({ p, r });
    }
    return closed[i]!;
  };
  server.on(server instanceof https.Server ? 'secureConnection' : 'connection', (s: net.Socket) => {
    const d = slot(conns.length);
    conns.push(s);
    s.once('close', () => d.r());
  });
  await new Promise<void>((r) => server.listen(0, host, () => r()));
  t.after(
    () =>
      new Promise<void>((r) => {
        for (const s of conns) s.destroy();
        server.close(() => r());
      }),
  );
  return {
    port: (server.address() as AddressInfo).port,
    conns,
    closedConn: (i) => slot(i).p,
  };
}

function httpServer(t: TestContext, handler: http.RequestListener): Promise<Served> {
  const server = http.createServer({ keepAliveTimeout: 30_000 }, handler);
  return listen(t, server);
}

/** A raw TCP server; `onData` gets each read of each connection. */
function rawServer(t: TestContext, onData: (s: net.Socket, data: Buffer, connIndex: number) => void): Promise<Served> {
  let n = 0;
  const server = net.createServer((s) => {
    const i = n++;
    s.on('error', () => {});
    s.on('data', (d) => onData(s, d, i));
  });
  return listen(t, server);
}

/** Polls `cond` (state with no event of its own, such as pool stats) until true or `ms` elapse. */
async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A node:http server echoing what it received, as JSON. */
function echoServer(t: TestContext): Promise<Served> {
  return httpServer(t, (req, res) => {
    digestBody(req, ({ len, sha }) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, trailers: req.trailers, len, sha, remote: req.socket.remoteAddress }));
    });
  });
}

/** Deterministic body bytes for a size, so every byte of a response can be checked. */
function pattern(size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + size) & 255;
  return b;
}

// ---- responses

test('GET with a content-length body', async (t) => {
  const srv = await httpServer(t, (_req, res) => {
    res.setHeader('content-length', '11');
    res.end('hello world');
  });
  const pool = newPool(t, srv.port);
  const o = await get(pool, { path: '/x?y=1' });
  assert.equal(o.error, undefined);
  assert.equal(o.status, 200);
  assert.equal(o.headers['content-length'], '11');
  assert.equal(o.body.toString(), 'hello world');
  assert.equal(o.events[0], 'connected');
  assert.equal(o.events.at(-1), 'end');
  assert.match(o.local, /^127\.0\.0\.1:\d+$/);
  assert.equal(pool.lastLocalAddress, o.local);
  assert.equal(o.local, `${srv.conns[0]!.remoteAddress}:${srv.conns[0]!.remotePort}`);
});

test('chunked response', async (t) => {
  const srv = await httpServer(t, (_req, res) => {
    res.write('abc');
    res.write('defg');
    res.end('h');
  });
  const pool = newPool(t, srv.port);
  const o = await get(pool);
  // De-chunked, and the framing header is the connection's business: not handed on.
  assert.equal(o.headers['transfer-encoding'], undefined);
  assert.equal(o.headers['connection'], undefined);
  assert.equal(o.body.toString(), 'abcdefgh');
  assert.equal(o.trailers, undefined);
});

test('connection-specific response headers (and those Connection lists) are not handed on', async (t) => {
  const srv = await rawServer(t, (s) => {
    s.end('HTTP/1.1 200 OK\r\nConnection: close, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\nUpgrade: h2c\r\nX-End: 2\r\ncontent-length: 2\r\n\r\nok');
  });
  const pool = newPool(t, srv.port);
  const o = await get(pool);
  assert.deepEqual(o.headers, { 'x-end': '2', 'content-length': '2' });
  assert.equal(o.body.toString(), 'ok');
});

test('close-delimited response ends at EOF; the connection is not kept', async (t) => {
  const srv = await rawServer(t, (s) => {
    s.end('HTTP/1.1 200 OK\r\nx-a: 1\r\n\r\nhello until close');
  });
  const pool = newPool(t, srv.port);
  const o = await get(pool);
  assert.equal(o.error, undefined);
  assert.equal(o.body.toString(), 'hello until close');
  assert.equal(o.headers['x-a'], '1');
  await until(() => pool.stats.open === 0);
});

test('HEAD with content-length: no body is read and the connection is reused', async (t) => {
  const srv = await httpServer(t, (req, res) => {
    res.setHeader('content-length', '1234');
    if (req.method === 'HEAD') res.end();
    else res.end('x'.repeat(1234));
  });
  const pool = newPool(t, srv.port);
  const a = await get(pool, { method: 'HEAD' });
  assert.equal(a.error, undefined);
  assert.equal(a.headers['content-length'], '1234');
  assert.equal(a.body.length, 0);
  assert.deepEqual(a.events, ['connected', 'head', 'end']);
  const b = await get(pool, { method: 'HEAD' });
  const c = await get(pool);
  assert.equal(b.status, 200);
  assert.equal(c.body.length, 1234);
  assert.equal(srv.conns.length, 1);
});

test('204 and 304 have no body and keep the connection', async (t) => {
  const srv = await rawServer(t, (s, d) => {
    const path = d.toString('latin1').split(' ')[1];
    if (path === '/204') s.write('HTTP/1.1 204 No Content\r\nx-s: 204\r\n\r\n');
    // A 304 may carry the content-length of the representation, without the body.
    else if (path === '/304') s.write('HTTP/1.1 304 Not Modified\r\ncontent-length: 99\r\n\r\n');
    else s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
  });
  const pool = newPool(t, srv.port);
  const a = await get(pool, { path: '/204' });
  const b = await get(pool, { path: '/304' });
  const c = await get(pool, { path: '/200' });
  assert.deepEqual([a.status, b.status, c.status], [204, 304, 200]);
  assert.equal(a.headers['x-s'], '204');
  assert.deepEqual([a.body.length, b.body.length, c.body.toString()], [0, 0, 'ok']);
  assert.equal(srv.conns.length, 1);
});

test('100 Continue and 103 Early Hints are skipped; the final head is reported once', async (t) => {
  const srv = await rawServer(t, (s) => {
    s.write('HTTP/1.1 100 Continue\r\n\r\n');
    s.write('HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\n');
    s.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfinal');
  });
  const pool = newPool(t, srv.port);
  const o = await get(pool, { method: 'POST', headers: { expect: '100-continue' } }, Buffer.from('data'));
  assert.equal(o.status, 200);
  assert.equal(o.headers['link'], undefined);
  assert.equal(o.body.toString(), 'final');
  assert.deepEqual(
    o.events.filter((e) => e === 'head'),
    ['head'],
  );
});

test('101 Switching Protocols is a protocol error', async (t) => {
  const srv = await rawServer(t, (s) => {
    s.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n');
  });
  const pool = newPool(t, srv.port);
  const o = await get(pool);
  assert.equal(o.error?.kind, 'protocol');
  assert.ok(!o.events.includes('head'));
});

test('repeated response headers become arrays, names lower-cased', async (t) => {
  const srv = await rawServer(t, (s) => {
    s.write('HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nX-One: v\r\nset-cookie: b=2\r\nContent-Length: 0\r\n\r\n');
  });
  const pool = newPool(t, srv.port);
  const o = await get(pool);
  assert.deepEqual(o.headers['set-cookie'], ['a=1', 'b=2']);
  assert.equal(o.headers['x-one'], 'v');
  assert.equal(o.headers['content-length'], '0');
});

test('a response head split across reads, with more headers than llhttp flushes at once', async (t) => {
  const names = Array.from({ length: 45 }, (_, i) => `x-h${i}`);
  const head = 'HTTP/1.1 200 OK\r\n' + names.map((n, i) => `${n}: v${i}\r\n`).join('') + 'content-length: 3\r\n\r\n';
  const cut = Math.floor(head.length / 2);
  const srv = await rawServer(t, (s) => {
    s.write(head.slice(0, cut));
    // A separate segment: the parser sees the head in two reads.
    setTimeout(() => s.write(head.slice(cut) + 'abc'), 30);
  });
  const pool = newPool(t, srv.port);
  const o = await get(pool);
  assert.equal(o.error, undefined);
  for (let i = 0; i < names.length; i++) assert.equal(o.headers[names[i]!], `v${i}`);
  assert.equal(o.body.toString(), 'abc');
});

test('a Content-Length response cut at every byte offset: body exact, parser in step for the next response', async (t) => {
  const msg = 'HTTP/1.1 200 OK\r\ncontent-length: 10\r\nx-a: b\r\n\r\n0123456789';
  let cut = 1;
  const srv = await rawServer(t, (s) => {
    const at = cut++;
    s.write(msg.slice(0, at));
    // Apart by a timer: the pool reads the two pieces separately.
    setTimeout(() => s.write(msg.slice(at)), 3);
  });
  const pool = newPool(t, srv.port);
  for (let at = 1; at < msg.length; at++) {
    const o = await get(pool);
    assert.equal(o.error, undefined, `cut at ${at}`);
    assert.equal(o.status, 200);
    assert.equal(o.headers['x-a'], 'b');
    assert.equal(o.body.toString(), '0123456789', `cut at ${at}`);
  }
  assert.equal(srv.conns.length, 1, 'every response on one kept-alive connection');
});

test('an interim head, the final head and its body in one read', async (t) => {
  const srv = await rawServer(t, (s) => {
    s.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 5\r\n\r\nfinal');
  });
  const pool = newPool(t, srv.port);
  for (let i = 0; i < 3; i++) {
    const o = await get(pool, { method: 'POST' }, Buffer.from('x'));
    assert.equal(o.status, 201);
    assert.equal(o.body.toString(), 'final');
  }
  assert.equal(srv.conns.length, 1);
});

test('bytes after a Content-Length body in the same read: the response is whole, the connection closes', async (t) => {
  const srv = await rawServer(t, (s) => s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokHTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nbad'));
  const pool = newPool(t, srv.port);
  const o = await get(pool);
  assert.equal(o.error, undefined);
  assert.equal(o.body.toString(), 'ok');
  await srv.closedConn(0);
});

test('Content-Length responses of many sizes, body bytes exact (one connection)', async (t) => {
  const sizes = [1, 255, 4095, 4096, 4097, 65535, 65536, 65537, 300_000];
  const srv = await httpServer(t, (req, res) => {
    const size = Number(req.url!.slice(1));
    res.setHeader('content-length', String(size));
    res.end(pattern(size));
  });
  const pool = newPool(t, srv.port);
  for (const size of sizes) {
    const o = await get(pool, { path: `/${size}` });
    assert.equal(o.body.length, size);
    assert.equal(sha256(o.body), sha256(pattern(size)), `size ${size}`);
  }
  assert.equal(srv.conns.length, 1);
});

test('trailers of a chunked response reach onEnd', async (t) => {
  const srv = await httpServer(t, (_req, res) => {
    res.setHeader('trailer', 'x-checksum, grpc-status');
    res.write('body');
    res.addTrailers({ 'X-Checksum': 'abc123', 'grpc-status': '0' });
    res.end();
  });
  const pool = newPool(t, srv.port);
  const o = await get(pool);
  assert.equal(o.body.toString(), 'body');
  assert.deepEqual(o.trailers, { 'x-checksum': 'abc123', 'grpc-status': '0' });
});

test('keep-alive: sequential requests share one connection', async (t) => {
  const srv = await httpServer(t, (req, res) => res.end(`r${req.url}`));
  const pool = newPool(t, srv.port);
  const locals = new Set<string>();
  for (let i = 0; i < 5; i++) {
    const o = await get(pool, { path: `/${i}` });
    assert.equal(o.body.toString(), `r/${i}`);
    locals.add(o.local);
  }
  assert.equal(srv.conns.length, 1);
  assert.equal(locals.size, 1);
  assert.deepEqual(pool.stats, { open: 1, idle: 1, idleRefed: 1, pending: 0 });
});

test('a request dispatched from onEnd reuses the connection just released', async (t) => {
  const srv = await httpServer(t, (_req, res) => res.end('ok'));
  const pool = newPool(t, srv.port);
  const second = new Promise<Outcome>((resolve) => {
    pool.dispatch({ method: 'GET', path: '/1', authority: 'a', headers: {} }, null, {
      onConnected() {},
      onHead() {
        return true;
      },
      onData() {},
      onError(e) {
        throw e;
      },
      onEnd() {
        resolve(get(pool, { path: '/2' }));
      },
    });
  });
  assert.equal((await second).body.toString(), 'ok');
  assert.equal(srv.conns.length, 1);
});

// ---- request bodies

test('POST with a Buffer body: content-length set, a wrong given one replaced', async (t) => {
  const srv = await echoServer(t);
  const pool = newPool(t, srv.port);
  const body = pattern(100_000);
  const o = await get(pool, { method: 'POST', path: '/p', headers: { 'content-length': '5', 'x-a': ['1', '2'] } }, body);
  const j = JSON.parse(o.body.toString());
  assert.equal(j.method, 'POST');
  assert.equal(j.url, '/p');
  assert.equal(j.headers['content-length'], '100000');
  assert.equal(j.headers['x-a'], '1, 2');
  assert.equal(j.headers['host'], 'upstream.test');
  assert.equal(j.len, 100_000);
  assert.equal(j.sha, sha256(body));
  // null body with a given content-length: 0 is sent as is
  const e = JSON.parse((await get(pool, { method: 'POST', headers: { 'content-length': '0' } })).body.toString());
  assert.equal(e.headers['content-length'], '0');
  assert.equal(e.len, 0);
});

test('streamed body with content-length is sent raw', async (t) => {
  const srv = await echoServer(t);
  const pool = newPool(t, srv.port);
  const chunks = [Buffer.from('hello '), Buffer.alloc(0), Buffer.from('streamed '), Buffer.from('world')];
  const o = await get(pool, { method: 'PUT', headers: { 'content-length': '20' } }, new ChunkedBody(chunks));
  const j = JSON.parse(o.body.toString());
  assert.equal(j.headers['content-length'], '20');
  assert.equal(j.headers['transfer-encoding'], undefined);
  assert.equal(j.sha, sha256(Buffer.concat(chunks)));
});

test('streamed body without content-length is chunked, with request trailers', async (t) => {
  const srv = await echoServer(t);
  const pool = newPool(t, srv.port);
  const chunks = [pattern(10), Buffer.alloc(0), pattern(70_000), pattern(3)];
  const o = await get(pool, { method: 'POST', headers: { te: 'trailers' } }, new ChunkedBody(chunks, { trailers: { 'x-body-sum': 'abc', 'x-r': ['1', '2'] } }));
  const j = JSON.parse(o.body.toString());
  assert.equal(j.headers['transfer-encoding'], 'chunked');
  assert.equal(j.len, 70_013);
  assert.equal(j.sha, sha256(Buffer.concat(chunks)));
  assert.equal(j.trailers['x-body-sum'], 'abc');
  assert.equal(j.trailers['x-r'], '1, 2');
  // The connection stays usable after a chunked request.
  const again = await get(pool, { method: 'POST' }, new ChunkedBody([Buffer.from('x')]));
  assert.equal(JSON.parse(again.body.toString()).len, 1);
  assert.equal(srv.conns.length, 1);
});

test('request body backpressure pauses and resumes the source', async (t) => {
  let upstreamReq: http.IncomingMessage | undefined;
  const srv = await httpServer(t, (req, res) => {
    upstreamReq = req;
    req.pause(); // resumed once the pool has had to pause the source
    digestBody(req, (d) => res.end(JSON.stringify(d)));
  });
  const pool = newPool(t, srv.port);
  const chunks = Array.from({ length: 256 }, (_, i) => pattern(65_536 + i));
  const src = new ChunkedBody(chunks);
  src.onPause = () => upstreamReq?.resume();
  const o = await get(pool, { method: 'POST' }, src);
  assert.ok(src.pauses >= 1, 'source never paused');
  const j = JSON.parse(o.body.toString());
  assert.equal(j.len, Buffer.concat(chunks).length);
  assert.equal(j.sha, sha256(Buffer.concat(chunks)));
});

test('a body source error aborts the request: reset ERR_BODY_ABORTED, connection closed', async (t) => {
  const srv = await echoServer(t);
  const pool = newPool(t, srv.port);
  const o = await get(pool, { method: 'POST' }, new ChunkedBody([Buffer.from('a'), Buffer.from('b')], { failAt: 1 }));
  assert.equal(o.error?.kind, 'body-aborted');
  assert.equal(o.error?.code, 'ERR_BODY_ABORTED');
  await srv.closedConn(0);
  await until(() => pool.stats.open === 0);
});

test('an invalid request header fails asynchronously as protocol, nothing sent', async (t) => {
  const srv = await echoServer(t);
  const pool = newPool(t, srv.port);
  const o = await get(pool, { headers: { 'x-bad': 'a\r\nx-injected: 1' } });
  assert.equal(o.error?.kind, 'protocol');
  assert.equal(o.error?.code, 'ERR_INVALID_HEADER');
  assert.deepEqual(o.events, ['error']);
  const p = await get(pool, { headers: { 'bad name': 'v' } });
  assert.equal(p.error?.code, 'ERR_INVALID_HEADER');
  assert.equal(srv.conns.length, 0);
  assert.equal(pool.stats.open, 0);
});

// ---- response flow control

test('backpressure: a 5 MiB response read with pause/resume', async (t) => {
  const big = pattern(5 * 1024 * 1024);
  const srv = await httpServer(t, (_req, res) => {
    res.setHeader('content-length', String(big.length));
    res.end(big);
  });
  const pool = newPool(t, srv.port);
  let paused = false;
  let dataWhilePaused = 0;
  let pauses = 0;
  const o = await send(pool, {}, null, {
    onData(call) {
      if (paused) dataWhilePaused++;
      paused = true;
      pauses++;
      call.pause();
      setImmediate(() => {
        paused = false;
        call.resume();
      });
    },
  }).done;
  assert.equal(o.error, undefined);
  assert.equal(o.body.length, big.length);
  assert.ok(o.body.equals(big));
  assert.ok(pauses > 1);
  assert.equal(dataWhilePaused, 0, 'data delivered while paused');
  // Reusable after a paused read.
  assert.equal((await get(pool)).body.length, big.length);
  assert.equal(srv.conns.length, 1);
});

// ---- failures

test('connect refused → connect ECONNREFUSED', async (t) => {
  const port = await new Promise<number>((r) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => r(p));
    });
  });
  const pool = newPool(t, port);
  const o = await get(pool);
  assert.equal(o.error?.kind, 'connect-refused');
  assert.equal(o.error?.code, 'ECONNREFUSED');
  assert.ok(o.error?.cause instanceof Error);
  assert.deepEqual(o.events, ['error']);
  assert.equal(pool.stats.open, 0);
});

test('connect timeout → connect ETIMEDOUT (a listener whose accept queue is full)', async (t) => {
  // The listener lives on a worker thread blocked in Atomics.wait, so it never accepts: with
  // backlog 1 the kernel queues two connections, then drops further SYNs.
  const gate = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `
    const { parentPort, workerData } = require('node:worker_threads');
    const net = require('node:net');
    const s = net.createServer();
    s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
      parentPort.postMessage(s.address().port);
      Atomics.wait(workerData, 0, 0, 20000);
      s.close();
    });`,
    { eval: true, workerData: gate },
  );
  const exited = new Promise((r) => worker.once('exit', r));
  const fillers: net.Socket[] = [];
  t.after(async () => {
    for (const f of fillers) f.destroy();
    Atomics.store(gate, 0, 1);
    Atomics.notify(gate, 0);
    await exited;
  });
  const port = await new Promise<number>((r) => worker.once('message', r));
  // Fill the accept queue: connect until one connection does not complete within 300 ms.
  let full = false;
  for (let i = 0; i < 8 && !full; i++) {
    const f = net.connect({ host: '127.0.0.1', port });
    f.on('error', () => {});
    fillers.push(f);
    full = !(await new Promise<boolean>((r) => {
      const timer = setTimeout(() => r(false), 300);
      f.once('connect', () => {
        clearTimeout(timer);
        r(true);
      });
    }));
  }
  assert.ok(full, 'accept queue never filled');
  const pool = newPool(t, port, { connectTimeoutMs: 200 });
  const t0 = Date.now();
  const o = await get(pool);
  assert.equal(o.error?.kind, 'connect-timeout');
  assert.equal(o.error?.code, 'ETIMEDOUT');
  assert.ok(Date.now() - t0 >= 190);
  assert.equal(pool.stats.open, 0);
});

test('reset before the response head on a fresh connection → reset (no retry)', async (t) => {
  const srv = await rawServer(t, (s) => s.resetAndDestroy());
  const pool = newPool(t, srv.port);
  const o = await get(pool);
  assert.equal(o.error?.kind, 'reset-before-headers');
  assert.equal(o.error?.code, 'ECONNRESET');
  assert.deepEqual(o.events, ['connected', 'error']);
  assert.equal(srv.conns.length, 1);
});

test('stale keep-alive connection: upstream drops the 2nd request without answering, the pool retries once on a fresh connection', async (t) => {
  const perConn: number[] = [];
  const srv = await rawServer(t, (s, _d, i) => {
    perConn[i] = (perConn[i] ?? 0) + 1;
    if (perConn[i] === 1) s.write('HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nc' + i + '#1');
    else s.destroy();
  });
  const pool = newPool(t, srv.port);
  const a = await get(pool);
  assert.equal(a.body.toString(), 'c0#1');
  const b = await get(pool, {}, Buffer.from('retry-safe body'));
  assert.equal(b.error, undefined);
  assert.equal(b.body.toString(), 'c1#1');
  assert.equal(srv.conns.length, 2);
  assert.deepEqual(b.events.filter((e) => e === 'connected').length, 2);
  // A streamed body cannot be sent again: the same situation is a reset.
  const c = await get(pool, { method: 'POST', headers: { 'content-length': '1' } }, new ChunkedBody([Buffer.from('x')]));
  assert.equal(c.error?.kind, 'reset-before-headers');
});

test('upstream closes an idle kept-alive connection: noticed while idle, next request on a new one', async (t) => {
  const srv = await httpServer(t, (_req, res) => res.end('ok'));
  const pool = newPool(t, srv.port);
  assert.equal((await get(pool)).body.toString(), 'ok');
  assert.equal(pool.stats.idle, 1);
  srv.conns[0]!.end();
  await srv.closedConn(0);
  await until(() => pool.stats.open === 0);
  const o = await get(pool);
  assert.equal(o.body.toString(), 'ok');
  assert.equal(srv.conns.length, 2);
});

test('reset mid-body → reset after onHead', async (t) => {
  const srv = await rawServer(t, (s) => {
    s.write('HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n0123456789', () => s.resetAndDestroy());
  });
  const pool = newPool(t, srv.port);
  const o = await get(pool);
  assert.equal(o.status, 200);
  assert.equal(o.error?.kind, 'reset-after-headers');
  assert.equal(o.events[1], 'head');
  assert.equal(o.events.at(-1), 'error');
  assert.equal(o.body.toString(), '0123456789');
});

test('body truncated by a clean close → reset', async (t) => {
  const srv = await rawServer(t, (s) => s.end('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nshort'));
  const pool = newPool(t, srv.port);
  const o = await get(pool);
  assert.equal(o.error?.kind, 'reset-after-headers');
  assert.ok(o.events.includes('head'));
});

test('garbage response → protocol HPE_*', async (t) => {
  const srv = await rawServer(t, (s) => s.end('\x00\x01garbage that is not http\r\n\r\n'));
  const pool = newPool(t, srv.port);
  const o = await get(pool);
  assert.equal(o.error?.kind, 'protocol');
  assert.match(o.error!.code, /^HPE_/);
  await until(() => pool.stats.open === 0);
});

test('an oversized response head → protocol HPE_HEADER_OVERFLOW', async (t) => {
  const srv = await rawServer(t, (s) => s.write(`HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(4000)}\r\ncontent-length: 0\r\n\r\n`));
  const pool = newPool(t, srv.port, { maxResponseHeaderBytes: 1024 });
  const o = await get(pool);
  assert.equal(o.error?.kind, 'protocol');
  assert.equal(o.error?.code, 'HPE_HEADER_OVERFLOW');
});

test('bytes on an idle connection close it', async (t) => {
  const srv = await rawServer(t, (s) => {
    s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    setTimeout(() => s.write('HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\n\r\n'), 20);
  });
  const pool = newPool(t, srv.port);
  assert.equal((await get(pool)).body.toString(), 'ok');
  await srv.closedConn(0);
  await until(() => pool.stats.open === 0);
});

// ---- pool limits

test('maxConnections=2: 10 concurrent dispatches use at most 2 connections and all succeed', async (t) => {
  // Responses are held until two requests are in flight: both connections are busy at once.
  let held: (() => void)[] = [];
  let peakInFlight = 0;
  const srv = await httpServer(t, (req, res) => {
    held.push(() => res.end(`done ${req.url}`));
    peakInFlight = Math.max(peakInFlight, held.length);
    if (held.length === 2) {
      const h = held;
      held = [];
      for (const f of h) f();
    }
  });
  const pool = newPool(t, srv.port, { maxConnections: 2 });
  const calls = Array.from({ length: 10 }, (_, i) => get(pool, { path: `/${i}` }));
  assert.deepEqual(pool.stats, { open: 2, idle: 0, idleRefed: 0, pending: 8 });
  const outs = await Promise.all(calls);
  for (let i = 0; i < 10; i++) assert.equal(outs[i]!.body.toString(), `done /${i}`);
  assert.equal(srv.conns.length, 2);
  assert.equal(peakInFlight, 2);
  assert.deepEqual(pool.stats, { open: 2, idle: 2, idleRefed: 2, pending: 0 });
});

test('a failed connect also fails the requests queued behind it', async (t) => {
  const port = await new Promise<number>((r) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => r(p));
    });
  });
  const pool = newPool(t, port, { maxConnections: 1 });
  const outs = await Promise.all([get(pool), get(pool), get(pool)]);
  for (const o of outs) {
    assert.equal(o.error?.kind, 'connect-refused');
    assert.equal(o.error?.code, 'ECONNREFUSED');
  }
  assert.deepEqual(pool.stats, { open: 0, idle: 0, idleRefed: 0, pending: 0 });
});

test('invalid pool options fail the request asynchronously instead of throwing', async (t) => {
  const pool = newPool(t, 70_000);
  const o = await get(pool);
  assert.equal(o.error?.kind, 'connect-refused');
  assert.equal(o.error?.code, 'ERR_SOCKET_BAD_PORT');
  assert.equal(pool.stats.open, 0);
});

test('aborting a queued request removes it from the queue', async (t) => {
  let release: (() => void) | undefined;
  const srv = await httpServer(t, (_req, res) => {
    release = () => res.end('first');
  });
  const pool = newPool(t, srv.port, { maxConnections: 1 });
  const first = get(pool);
  const second = send(pool, {});
  assert.equal(pool.stats.pending, 1);
  second.call.abort();
  assert.equal(pool.stats.pending, 0);
  await until(() => release !== undefined);
  release!();
  assert.equal((await first).body.toString(), 'first');
  const settled = await Promise.race([second.done.then(() => 'called'), new Promise((r) => setImmediate(() => r('silent')))]);
  assert.equal(settled, 'silent');
});

test('idle timeout closes idle connections', async (t) => {
  const srv = await httpServer(t, (_req, res) => res.end('ok'));
  const pool = newPool(t, srv.port, { idleTimeoutMs: 150 });
  const t0 = Date.now();
  await Promise.all([get(pool), get(pool)]);
  assert.equal(pool.stats.idle, 2);
  await Promise.all([srv.closedConn(0), srv.closedConn(1)]);
  assert.ok(Date.now() - t0 >= 140, 'closed too early');
  await until(() => pool.stats.open === 0);
});

test("an idle connection stays ref'd between requests and is unref'd once idle a sweep period", async (t) => {
  const srv = await httpServer(t, (_req, res) => res.end('ok'));
  // Sweeps every 100 ms (a quarter of the idle timeout).
  const pool = newPool(t, srv.port, { idleTimeoutMs: 400 });
  assert.equal((await get(pool)).status, 200);
  assert.equal(pool.stats.idle, 1);
  // Just released: no unref per request (that was two native calls per request under load).
  assert.equal(pool.stats.idleRefed, 1);
  const liveSockets = (): number => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
  const before = liveSockets();
  // Idle for a sweep period: no longer keeps the process alive.
  await until(() => pool.stats.idleRefed === 0);
  assert.equal(liveSockets(), before - 1, "the socket handle itself is unref'd");
  assert.equal(pool.stats.idle, 1, "unref'd, not closed");
  // Taken again: ref'd while in use and right after.
  assert.equal((await get(pool)).status, 200);
  assert.equal(srv.conns.length, 1, 'the same connection');
  assert.equal(pool.stats.idleRefed, 1);
});

test('maxRequestsPerConnection=3: a new connection every 3 requests', async (t) => {
  const srv = await httpServer(t, (_req, res) => res.end('ok'));
  const pool = newPool(t, srv.port, { maxRequestsPerConnection: 3 });
  for (let i = 0; i < 7; i++) assert.equal((await get(pool)).body.toString(), 'ok');
  assert.equal(srv.conns.length, 3);
  await Promise.all([srv.closedConn(0), srv.closedConn(1)]);
});

test('abort() mid-response: no handler call after it, the connection is not reused', async (t) => {
  const srv = await rawServer(t, (s, _d, i) => {
    if (i === 0) {
      s.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789');
    } else {
      s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    }
  });
  const pool = newPool(t, srv.port);
  const events: string[] = [];
  let aborted = false;
  const call = pool.dispatch({ method: 'GET', path: '/', authority: 'a', headers: {} }, null, {
    onConnected() {
      events.push('connected');
    },
    onHead() {
      events.push('head');
      return true;
    },
    onData() {
      events.push('data');
      if (!aborted) {
        aborted = true;
        call.abort();
      }
    },
    onEnd() {
      events.push('end');
    },
    onError() {
      events.push('error');
    },
  });
  await srv.closedConn(0);
  // A second abort is harmless.
  call.abort();
  const o = await get(pool);
  assert.equal(o.body.toString(), 'ok');
  assert.deepEqual(events, ['connected', 'head', 'data']);
  assert.equal(srv.conns.length, 2);
});

test('onHead returning false aborts: connection closed, nothing more called', async (t) => {
  const srv = await httpServer(t, (_req, res) => res.end('body'));
  const pool = newPool(t, srv.port);
  const r = send(pool, {}, null, { onHead: () => false });
  await srv.closedConn(0);
  await until(() => pool.stats.open === 0);
  const settled = await Promise.race([r.done.then(() => 'called'), new Promise((res) => setImmediate(() => res('silent')))]);
  assert.equal(settled, 'silent');
});

// ---- addresses and TLS

test('localAddress: the upstream sees 127.0.0.2 as the peer', async (t) => {
  const srv = await echoServer(t);
  const pool = newPool(t, srv.port, { localAddress: '127.0.0.2' });
  const o = await get(pool);
  assert.equal(JSON.parse(o.body.toString()).remote, '127.0.0.2');
  assert.match(o.local, /^127\.0\.0\.2:\d+$/);
  assert.equal(pool.lastLocalAddress, o.local);
});

function tlsServer(t: TestContext): Promise<Served> {
  const c = testCerts();
  const server = https.createServer({ key: c.serverKeyPem, cert: c.serverCertPem, keepAliveTimeout: 30_000 }, (req, res) => {
    res.end(JSON.stringify({ servername: (req.socket as tls.TLSSocket).servername, url: req.url }));
  });
  return listen(t, server);
}

function origination(servername: string, ca: string) {
  return {
    servername,
    ca,
    rejectUnauthorized: true,
    checkServerIdentity: (_h: string, cert: tls.PeerCertificate) => tls.checkServerIdentity(servername, cert),
  };
}

test('TLS origination: SNI sent, certificate verified, connection reused', async (t) => {
  const srv = await tlsServer(t);
  const pool = newPool(t, srv.port, { tls: origination('upstream.test', testCerts().caPem) });
  const a = await get(pool, { path: '/a' });
  const b = await get(pool, { path: '/b' });
  assert.equal(a.error, undefined);
  assert.deepEqual(JSON.parse(a.body.toString()), { servername: 'upstream.test', url: '/a' });
  assert.equal(JSON.parse(b.body.toString()).url, '/b');
  assert.match(a.local, /^127\.0\.0\.1:\d+$/);
  assert.equal(srv.conns.length, 1);
});

test('TLS origination: untrusted certificate → connect with the verification code', async (t) => {
  const srv = await tlsServer(t);
  const pool = newPool(t, srv.port, { tls: origination('upstream.test', testCerts().otherCaPem) });
  const o = await get(pool);
  assert.equal(o.error?.kind, 'tls');
  assert.equal(o.error?.code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  assert.deepEqual(o.events, ['error']);
});

test('TLS origination: a name the certificate does not cover → connect ERR_TLS_CERT_ALTNAME_INVALID', async (t) => {
  const srv = await tlsServer(t);
  const pool = newPool(t, srv.port, { tls: origination('not-in-the-cert.invalid', testCerts().caPem) });
  const o = await get(pool);
  assert.equal(o.error?.kind, 'tls');
  assert.equal(o.error?.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
});

// ---- close

test('close(): idle connections close now, busy ones after their response, new dispatches fail', async (t) => {
  let release: (() => void) | undefined;
  const srv = await httpServer(t, (req, res) => {
    if (req.url === '/hold') release = () => res.end('held');
    else res.end('quick');
  });
  const pool = newPool(t, srv.port);
  await Promise.all([get(pool), get(pool)]);
  assert.equal(pool.stats.idle, 2);
  const held = get(pool, { path: '/hold' });
  await until(() => release !== undefined);
  // The most recently used connection (LIFO) serves /hold; the other one is idle.
  pool.close();
  assert.equal(pool.stats.idle, 0);
  await srv.closedConn(0);
  const late = await get(pool);
  assert.equal(late.error?.kind, 'connect-refused');
  assert.equal(late.error?.code, 'ERR_POOL_CLOSED');
  release!();
  const h = await held;
  assert.equal(h.body.toString(), 'held');
  await srv.closedConn(1);
  await until(() => pool.stats.open === 0);
});

// ---- load

test('load: 2000 requests, 32 concurrent, every body byte checked', { timeout: 60_000 }, async (t) => {
  const sizes = [0, 1, 100, 4096, 70_000, 300_000];
  const bodies = sizes.map(pattern);
  const srv = await httpServer(t, (req, res) => {
    const i = Number(req.url!.slice(1)) % sizes.length;
    const b = bodies[i]!;
    if (i % 2 === 0) {
      res.setHeader('content-length', String(b.length));
      res.end(b);
    } else {
      // chunked, in two writes
      res.write(b.subarray(0, b.length >> 1));
      res.end(b.subarray(b.length >> 1));
    }
  });
  const pool = newPool(t, srv.port, { maxConnections: 32 });
  const total = 2000;
  const deadline = Date.now() + 45_000;
  let next = 0;
  let ok = 0;
  const worker = async () => {
    while (next < total && Date.now() < deadline) {
      const n = next++;
      const o = await get(pool, { path: `/${n}` });
      assert.equal(o.error, undefined);
      assert.ok(o.body.equals(bodies[n % sizes.length]!), `body of /${n}`);
      ok++;
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  assert.equal(ok, total);
  assert.ok(srv.conns.length <= 32);
  assert.equal(pool.stats.pending, 0);
});
