// A listener looks at a new connection's first bytes to pick its reader (listeners/first-bytes.ts):
// taken with one 'data' event, parsed by the HTTP/1 codec in the same turn, or given back to
// another reader. Real sockets: nothing read before, between or after the hand-over may be lost
// or reordered.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { giveBack, takeFirst } from '../../../src/dataplane/listeners/first-bytes.js';
import { H1Server } from '../../../src/dataplane/http1/server.js';

/** A half-open server whose connections go to `onSocket`; stopped with the test. */
async function listen(t: TestContext, onSocket: (s: net.Socket) => void): Promise<number> {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    onSocket(s);
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => srv.close(r));
  });
  return (srv.address() as net.AddressInfo).port;
}

async function connect(t: TestContext, port: number): Promise<net.Socket> {
  const c = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  t.after(() => c.destroy());
  await once(c, 'connect');
  return c;
}

/** Resolves once the socket holds `n` unread bytes (or has ended), checking once per turn, at most 10,000 turns. */
async function buffered(s: net.Socket, n: number): Promise<void> {
  for (let i = 0; i < 10_000 && s.readableLength < n && !s.readableEnded; i++) await new Promise((r) => setImmediate(r));
}

test('bytes given back reach the next reader first, followed by what arrived meanwhile, in order', async (t) => {
  let firstBytes: Buffer | null | undefined;
  let server!: net.Socket;
  const handedBack = new Promise<void>((resolve) => {
    void listen(t, (s) =>
      takeFirst(s, (first) => {
        firstBytes = first;
        server = s;
        if (first !== null) giveBack(s, first);
        // The client sends more only now, while no one reads the socket.
        s.write('go');
        resolve();
      }),
    ).then(async (port) => {
      const c = await connect(t, port);
      c.write('first!');
      await once(c, 'data');
      c.end('second');
    });
  });
  await handedBack;
  assert.equal(firstBytes?.toString(), 'first!');
  await buffered(server, 'first!second'.length);
  const parts: Buffer[] = [];
  server.on('data', (d: Buffer) => parts.push(d));
  await once(server, 'end');
  assert.equal(Buffer.concat(parts).toString(), 'first!second');
});

test('a connection closed before its first byte gives null', async (t) => {
  const first = new Promise<Buffer | null>((resolve) => {
    void listen(t, (s) => takeFirst(s, resolve)).then(async (port) => (await connect(t, port)).end());
  });
  assert.equal(await first, null);
});

test('the HTTP/1 codec parses the taken bytes itself: a head split over several reads is answered', async (t) => {
  const h1 = new H1Server(
    {
      onRequest: (ds) => {
        const body = Buffer.from(`${ds.method} ${ds.url} ${ds.headers['x-part'] as string}`);
        ds.writeHead(200, { 'content-length': String(body.length) });
        ds.end(body);
      },
      onClientError: () => {},
    },
    { headersTimeoutMs: 10_000, keepAliveTimeoutMs: 60_000, maxHeaderBytes: 60 * 1024 },
  );
  t.after(() => h1.destroyAll());
  let accepted!: () => void;
  const firstTaken = new Promise<void>((r) => (accepted = r));
  const port = await listen(t, (s) =>
    takeFirst(s, (first) => {
      if (first === null) s.destroy();
      else h1.accept(s, first);
      accepted();
    }),
  );
  const c = await connect(t, port);
  const reply: Buffer[] = [];
  c.on('data', (d: Buffer) => reply.push(d));
  // The first read is an incomplete head: the JS fast path declines it and llhttp (made now) takes it.
  c.write('GET /split HT');
  await firstTaken;
  c.write('TP/1.1\r\nhost: a\r\nx-part: one\r\n\r\n');
  c.write('GET /next HTTP/1.1\r\nhost: a\r\nx-part: two\r\nconnection: close\r\n\r\n');
  await once(c, 'end');
  const text = Buffer.concat(reply).toString();
  assert.match(text, /^HTTP\/1\.1 200 OK\r\n[\s\S]*?\r\n\r\nGET \/split one/);
  assert.match(text, /HTTP\/1\.1 200 OK\r\n[\s\S]*?\r\n\r\nGET \/next two$/);
});
