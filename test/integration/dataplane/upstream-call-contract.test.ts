// The upstream-call lifecycle (src/dataplane/upstream/call.ts) as a contract every codec keeps:
// the same cases against each UpstreamPool implementation, on loopback against node:http and
// node:http2 servers. A new codec joins by adding its factory to CODECS.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { H1Pool } from '../../../src/dataplane/upstream/h1-pool.js';
import { H2Pool } from '../../../src/dataplane/http2/client.js';
import type { UpstreamBody, UpstreamCall, UpstreamPool, UpstreamRequestHead } from '../../../src/dataplane/upstream/call.js';
import { closedPort } from '../../helpers/upstreams.js';
import { T, literal } from '../../helpers/h2raw.js';
import { h2Frame } from '../../helpers/fuzz.js';
import { ChunkedBody, digestBody, sendCall, sha256, type CallOutcome } from '../../helpers/upstream-call.js';

type Req = http.IncomingMessage | http2.Http2ServerRequest;
type Res = http.ServerResponse | http2.Http2ServerResponse;

interface Codec {
  readonly name: string;
  /** A server speaking this codec's protocol on loopback. */
  server(t: TestContext, handler: (req: Req, res: Res) => void): Promise<number>;
  pool(t: TestContext, port: number): UpstreamPool;
  /** Resets the request's stream (HTTP/2) or connection (HTTP/1.1). */
  reset(req: Req): void;
}

async function listen(t: TestContext, server: net.Server): Promise<number> {
  const socks = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    socks.add(s);
    s.on('close', () => socks.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(
    () =>
      new Promise<void>((r) => {
        for (const s of socks) s.destroy();
        server.close(() => r());
      }),
  );
  return (server.address() as AddressInfo).port;
}

const CODECS: Codec[] = [
  {
    name: 'h1 (H1Pool)',
    server: (t, handler) => listen(t, http.createServer({ keepAliveTimeout: 30_000 }, handler)),
    pool: (t, port) => {
      const p = new H1Pool({ address: '127.0.0.1', port, connectTimeoutMs: 2000 });
      t.after(() => p.close());
      return p;
    },
    reset: (req) => (req as http.IncomingMessage).socket.resetAndDestroy(),
  },
  {
    name: "h2 (H2Pool, outpost's codec, against node:http2)",
    server: (t, handler) => {
      const s = http2.createServer(handler);
      s.on('sessionError', () => {});
      return listen(t, s);
    },
    pool: (t, port) => {
      const p = new H2Pool({ address: '127.0.0.1', port, connectTimeoutMs: 2000 });
      t.after(() => p.close());
      return p;
    },
    reset: (req) => (req as http2.Http2ServerRequest).stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR),
  },
];

/** One call, with a hook on each response chunk. */
function send(
  pool: UpstreamPool,
  head: Partial<UpstreamRequestHead>,
  body: UpstreamBody = null,
  onData?: (call: UpstreamCall, chunk: Buffer) => void,
): { call: UpstreamCall; done: Promise<CallOutcome> } {
  return sendCall(pool, head, body, onData ? { onData } : {});
}

function echo(req: Req, res: Res): void {
  digestBody(req, ({ len, sha }) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ method: req.method, url: req.url, host: req.headers.host ?? req.headers[':authority'], x: req.headers['x-test'], len, sha }));
  });
}

for (const codec of CODECS) {
  test(`${codec.name}: request head, response head without connection headers, body, end`, async (t) => {
    const port = await codec.server(t, echo);
    const pool = codec.pool(t, port);
    const o = await send(pool, { method: 'GET', path: '/p?q=1', authority: 'a.example:81', headers: { 'x-test': 'v' } }).done;
    assert.deepEqual(o.events, ['connected', 'head', 'end']);
    assert.equal(o.status, 200);
    assert.match(o.local, /^127\.0\.0\.1:\d+$/);
    for (const name of Object.keys(o.headers))
      assert.ok(!name.startsWith(':') && name !== 'connection' && name !== 'keep-alive' && name !== 'transfer-encoding', name);
    const got = JSON.parse(o.body.toString()) as Record<string, unknown>;
    assert.equal(got['method'], 'GET');
    assert.equal(got['url'], '/p?q=1');
    assert.equal(got['host'], 'a.example:81');
    assert.equal(got['x'], 'v');
    assert.equal(pool.lastLocalAddress, o.local);
  });

  test(`${codec.name}: a streamed 4 MiB request body, with backpressure, and a Buffer body`, async (t) => {
    const port = await codec.server(t, echo);
    const pool = codec.pool(t, port);
    const chunks = Array.from({ length: 64 }, (_, i) => Buffer.alloc(64 * 1024, i));
    const src = new ChunkedBody(chunks, { burst: true });
    const o = await send(pool, { method: 'POST' }, src).done;
    assert.equal(o.status, 200, o.error?.message);
    const got = JSON.parse(o.body.toString()) as { len: number; sha: string };
    assert.equal(got.len, 4 * 1024 * 1024);
    assert.equal(got.sha, sha256(Buffer.concat(chunks)));
    assert.ok(src.pauses > 0, 'the codec never paused the body source');
    const b = Buffer.from('all of it');
    const o2 = await send(pool, { method: 'PUT' }, b).done;
    assert.equal((JSON.parse(o2.body.toString()) as { sha: string }).sha, sha256(b));
  });

  test(`${codec.name}: trailers reach onEnd`, async (t) => {
    const port = await codec.server(t, (_req, res) => {
      if (res instanceof http.ServerResponse) res.setHeader('trailer', 'grpc-status');
      (res as http.ServerResponse).write('x');
      res.addTrailers({ 'grpc-status': '0' });
      res.end();
    });
    const o = await send(codec.pool(t, port), {}).done;
    assert.deepEqual(o.events, ['connected', 'head', 'end']);
    assert.equal(o.trailers?.['grpc-status'], '0');
  });

  test(`${codec.name}: pause() stops the response body until resume()`, async (t) => {
    const big = Buffer.alloc(2 * 1024 * 1024, 7);
    const port = await codec.server(t, (_req, res) => res.end(big));
    let paused = false;
    let during = 0;
    const { done } = send(codec.pool(t, port), {}, null, (call) => {
      if (paused) {
        during++;
        return;
      }
      paused = true;
      call.pause();
      // Long enough for a whole 2 MiB to arrive if pause did nothing (loopback), then resume.
      setTimeout(() => {
        paused = false;
        call.resume();
      }, 200);
    });
    const o = await done;
    assert.equal(o.body.length, big.length);
    // A codec may hand over what it already had in hand, not the rest of the body.
    assert.ok(during < 16, `${during} chunks arrived while paused`);
  });

  test(`${codec.name}: connect refused → connect-refused`, async (t) => {
    const o = await send(codec.pool(t, await closedPort()), {}).done;
    assert.deepEqual(o.events, ['error']);
    assert.equal(o.error?.kind, 'connect-refused');
  });

  test(`${codec.name}: reset before the response head → reset-before-headers; after it → reset-after-headers`, async (t) => {
    const port = await codec.server(t, (req, res) => {
      if (req.url === '/before') {
        codec.reset(req);
        return;
      }
      res.writeHead(200, { 'content-length': '1000' });
      (res as http.ServerResponse).write('0123456789', () => setTimeout(() => codec.reset(req), 20));
    });
    const pool = codec.pool(t, port);
    const a = await send(pool, { path: '/before' }).done;
    assert.equal(a.error?.kind, 'reset-before-headers', a.error?.message);
    assert.ok(!a.events.includes('head'));
    const b = await send(pool, { path: '/after' }).done;
    assert.equal(b.error?.kind, 'reset-after-headers', b.error?.message);
    assert.equal(b.status, 200);
    assert.equal(b.body.toString(), '0123456789');
  });

  test(`${codec.name}: the request body source fails → body-aborted`, async (t) => {
    const port = await codec.server(t, echo);
    const src = new ChunkedBody([Buffer.from('a'), Buffer.from('b'), Buffer.from('c')], { failAt: 2, burst: true });
    const o = await send(codec.pool(t, port), { method: 'POST' }, src).done;
    assert.equal(o.error?.kind, 'body-aborted');
  });

  test(`${codec.name}: abort() ends the call; nothing is called after it, and the pool serves the next call`, async (t) => {
    let arrived!: () => void;
    const seen = new Promise<void>((r) => {
      arrived = r;
    });
    const port = await codec.server(t, (req, res) => {
      if (req.url === '/hang') {
        arrived();
        return;
      }
      res.end('ok');
    });
    const pool = codec.pool(t, port);
    const { call, done } = send(pool, { path: '/hang' });
    let after = false;
    void done.then(() => {
      after = true;
    });
    await seen;
    call.abort();
    const o = await send(pool, { path: '/next' }).done;
    assert.equal(o.body.toString(), 'ok');
    assert.equal(after, false, 'a callback after abort()');
  });
}

test('h2 (H2Pool): RST_STREAM(REFUSED_STREAM) before the head → refused-stream', async (t) => {
  const codec = CODECS[1]!;
  const port = await codec.server(t, (req) => (req as http2.Http2ServerRequest).stream.close(http2.constants.NGHTTP2_REFUSED_STREAM));
  const o = await send(codec.pool(t, port), {}).done;
  assert.equal(o.error?.kind, 'refused-stream');
});

test('h2 (H2Pool): a header HTTP/2 cannot carry → protocol', async (t) => {
  const codec = CODECS[1]!;
  const port = await codec.server(t, echo);
  const o = await send(codec.pool(t, port), { headers: { 'x bad': 'v' } }).done;
  assert.equal(o.error?.kind, 'protocol', o.error?.message);
});

test('h2 (H2Pool): a malformed response field (upper-case name, connection-specific by static index) → protocol, naming it', async (t) => {
  for (const [field, named] of [
    [literal('X-Upper', 'a'), 'X-Upper'],
    [Buffer.from([0x80 | 57]), 'transfer-encoding'],
  ] as const) {
    // A raw HTTP/2 server: its SETTINGS, then the response head on stream 1 once the client speaks.
    const port = await listen(
      t,
      net.createServer((s) => {
        s.once('data', () =>
          s.write(Buffer.concat([h2Frame(T.SETTINGS, 0, 0, Buffer.alloc(0)), h2Frame(T.HEADERS, 0x5, 1, Buffer.concat([Buffer.from([0x88]), field]))])),
        );
        s.on('error', () => {});
      }),
    );
    const pool = new H2Pool({ address: '127.0.0.1', port, connectTimeoutMs: 2000 });
    t.after(() => pool.close());
    const o = await send(pool, {}).done;
    assert.equal(o.error?.kind, 'protocol', o.error?.message);
    assert.match(o.error?.message ?? '', new RegExp(`malformed response header ${named}`));
  }
});
