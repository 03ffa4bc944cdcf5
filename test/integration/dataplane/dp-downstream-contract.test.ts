// The Downstream contract (src/dataplane/http/downstream.ts), run against both implementations:
// outpost's HTTP/1 codec (H1Server → RequestStream) and its HTTP/2 codec (H2ServerConnection →
// H2ServerStream, h2c). The Exchange relies on every one of these.
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net, { type AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import type { Downstream } from '../../../src/dataplane/http/downstream.js';
import { H2ServerConnection } from '../../../src/dataplane/http2/server.js';
import { DEFAULT_H2_LIMITS } from '../../../src/dataplane/http2/connection.js';
import { H1Server } from '../../../src/dataplane/http1/server.js';
import type { HeaderMap } from '../../../src/dataplane/routing/index.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

interface Wire {
  readonly name: string;
  readonly protocol: Downstream['protocol'];
  /** Starts a server on 127.0.0.1 that hands each request to `onRequest`; returns its port. */
  serve(t: TestContext, onRequest: (ds: Downstream) => void): Promise<number>;
  /** One request; rejects when the response is cut off. */
  request(port: number, opts: { method: string; path: string; headers?: Record<string, string>; body?: string }): Promise<Reply>;
}

async function listen(t: TestContext, server: net.Server | http.Server | http2.Http2Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
}

function h1Request(port: number, opts: { method: string; path: string; headers?: Record<string, string>; body?: string }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: opts.method, path: opts.path, headers: { host: 'svc.test', ...opts.headers }, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

const WIRES: Wire[] = [
  {
    name: "outpost's HTTP/1 codec",
    protocol: 'HTTP/1.1',
    async serve(t, onRequest) {
      const h1 = new H1Server(
        { onRequest, onClientError: () => undefined },
        { headersTimeoutMs: 10_000, keepAliveTimeoutMs: 10_000, maxHeaderBytes: 60 * 1024 },
      );
      const server = net.createServer((socket) => h1.accept(socket));
      t.after(() => h1.destroyAll());
      return listen(t, server);
    },
    request: h1Request,
  },
  {
    name: "outpost's HTTP/2 codec (h2c)",
    protocol: 'HTTP/2',
    async serve(t, onRequest) {
      const sockets = new Set<net.Socket>();
      const server = net.createServer((socket) => {
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
        new H2ServerConnection(socket, DEFAULT_H2_LIMITS, onRequest);
      });
      t.after(() => sockets.forEach((s) => s.destroy()));
      return listen(t, server);
    },
    request(port, opts) {
      return new Promise((resolve, reject) => {
        const session = http2.connect(`http://127.0.0.1:${port}`);
        session.on('error', reject);
        const stream = session.request(
          { ':method': opts.method, ':path': opts.path, ':authority': 'svc.test', ...opts.headers },
          { endStream: opts.body === undefined },
        );
        let status = 0;
        let headers: Reply['headers'] = {};
        let body = '';
        stream.on('response', (h) => {
          status = Number(h[':status']);
          headers = h as Reply['headers'];
        });
        stream.setEncoding('utf8');
        stream.on('data', (d: string) => (body += d));
        stream.on('end', () => {
          session.close();
          if (stream.rstCode !== undefined && stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR) reject(new Error(`stream reset (${stream.rstCode})`));
          else resolve({ status, headers, body });
        });
        stream.on('error', (err) => {
          session.destroy();
          reject(err);
        });
        if (opts.body !== undefined) stream.end(opts.body);
      });
    },
  },
];

/** The request's body through readBody, with the trailers onEnd got. */
function readWhole(ds: Downstream): Promise<{ body: string; trailers: HeaderMap | undefined }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    ds.readBody({ onData: (c) => chunks.push(c), onEnd: (trailers) => resolve({ body: Buffer.concat(chunks).toString(), trailers }), onError: reject });
  });
}

for (const wire of WIRES) {
  test(`${wire.name}: a request's method, target, headers and authority as the Exchange reads them`, async (t) => {
    let seen: Downstream | undefined;
    const port = await wire.serve(t, (ds) => {
      seen = ds;
      ds.writeHead(204, {});
      ds.end();
    });
    const reply = await wire.request(port, { method: 'GET', path: '/a/b?q=1', headers: { 'x-one': 'v' } });
    assert.equal(reply.status, 204);
    assert.ok(seen);
    assert.equal(seen.method, 'GET');
    assert.equal(seen.url, '/a/b?q=1');
    assert.equal(seen.authority, 'svc.test');
    assert.equal(seen.protocol, wire.protocol);
    assert.equal(seen.isH2, wire.protocol === 'HTTP/2');
    assert.equal(seen.badVersion, false);
    assert.equal(seen.encrypted, false);
    assert.equal(seen.headers['x-one'], 'v');
    assert.ok(
      Object.keys(seen.headers).every((k) => k === k.toLowerCase() && !k.startsWith(':')),
      'lower-case names, no pseudo-headers',
    );
    assert.equal(seen.hasBody, false);
    assert.equal(seen.requestComplete, true);
  });

  test(`${wire.name}: a request body arrives whole through readBody, then onEnd`, async (t) => {
    const body = 'x'.repeat(100_000);
    const got = new Promise<{ hasBody: boolean; body: string }>((resolve, reject) => {
      void wire
        .serve(t, (ds) => {
          readWhole(ds).then((r) => {
            resolve({ hasBody: ds.hasBody, body: r.body });
            ds.writeHead(200, { 'content-type': 'text/plain' });
            ds.end(Buffer.from(String(r.body.length)));
          }, reject);
        })
        .then((port) => wire.request(port, { method: 'POST', path: '/', headers: { 'content-length': String(body.length) }, body }))
        .then((reply) => assert.equal(reply.body, String(body.length)))
        .catch(reject);
    });
    const r = await got;
    assert.equal(r.hasBody, true);
    assert.equal(r.body, body);
  });

  test(`${wire.name}: writeHead, write and end give the client status, repeated headers and body; onClose follows`, async (t) => {
    let flags: { before: boolean; afterHead: boolean; ended: boolean } | undefined;
    let closed!: () => void;
    const closedP = new Promise<void>((resolve) => (closed = resolve));
    const port = await wire.serve(t, (ds) => {
      ds.onClose(closed);
      const before = ds.headersSent;
      ds.writeHead(201, { 'x-a': 'b', 'set-cookie': ['a=1', 'b=2'] });
      const afterHead = ds.headersSent;
      ds.write(Buffer.from('hello '));
      ds.end(Buffer.from('world'));
      flags = { before, afterHead, ended: ds.ended };
    });
    const reply = await wire.request(port, { method: 'GET', path: '/' });
    await closedP;
    assert.equal(reply.status, 201);
    assert.equal(reply.headers['x-a'], 'b');
    assert.deepEqual(reply.headers['set-cookie'], ['a=1', 'b=2']);
    assert.equal(reply.body, 'hello world');
    assert.deepEqual(flags, { before: false, afterHead: true, ended: true });
  });

  test(`${wire.name}: writeHead throws on a header value that cannot be sent, sending nothing`, async (t) => {
    let threw: unknown;
    const port = await wire.serve(t, (ds) => {
      try {
        ds.writeHead(200, { 'x-bad': 'a\r\nb' });
      } catch (err) {
        threw = err;
      }
      assert.equal(ds.headersSent, false);
      ds.writeHead(502, {});
      ds.end();
    });
    const reply = await wire.request(port, { method: 'GET', path: '/' });
    assert.ok(threw instanceof Error, 'writeHead threw');
    assert.equal(reply.status, 502);
    assert.equal(reply.headers['x-bad'], undefined);
  });

  test(`${wire.name}: reset cuts the response off (the client sees an error, not a clean end)`, async (t) => {
    let closed!: () => void;
    const closedP = new Promise<void>((resolve) => (closed = resolve));
    const port = await wire.serve(t, (ds) => {
      ds.onClose(closed);
      ds.writeHead(200, { 'content-length': '100' });
      ds.write(Buffer.from('partial'));
      ds.reset();
    });
    await assert.rejects(wire.request(port, { method: 'GET', path: '/' }));
    await closedP;
  });
}
