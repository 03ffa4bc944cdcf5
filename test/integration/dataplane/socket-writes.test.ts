// The HTTP/1 codecs' socket writes (src/dataplane/http1/socket-writes.ts) on real loopback
// sockets: batched and direct writes keep their order, ends come after queued bytes, a full
// kernel buffer reports backpressure and 'drain', and batch hooks run before the batch's bytes.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { atBatch, directWritesAvailable, flushWrites, writeDirect, writeSoon } from '../../../src/dataplane/http1/socket-writes.js';

/** A connected pair: `client` is ours to write on, `server` the peer that reads (paused until `read()`). */
async function pair(t: TestContext): Promise<{ client: net.Socket; server: net.Socket; received: () => Promise<Buffer> }> {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const client = net.connect((srv.address() as AddressInfo).port, '127.0.0.1');
  const [[server]] = await Promise.all([once(srv, 'connection') as Promise<[net.Socket]>, once(client, 'connect')]);
  server.pause();
  t.after(() => {
    client.destroy();
    server.destroy();
    srv.close();
  });
  const received = async (): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    server.on('data', (c: Buffer) => chunks.push(c));
    server.resume();
    await once(server, 'end');
    return Buffer.concat(chunks);
  };
  return { client, server, received };
}

test('direct writes to the TCP handle are available on this node', () => {
  assert.equal(directWritesAvailable, true);
});

test('queued and direct writes keep their order; flushWrites before end sends the queued bytes', async (t) => {
  const { client, received } = await pair(t);
  writeSoon(client, 'a1 ');
  writeDirect(client, Buffer.from('b2 ')); // goes after the queued a1
  writeSoon(client, 'c3 ');
  writeSoon(client, Buffer.from('d4 ')); // a second message in one turn: c3 leaves first
  await new Promise((r) => setImmediate(r));
  writeSoon(client, 'e5');
  flushWrites(client);
  client.end();
  assert.equal((await received()).toString('latin1'), 'a1 b2 c3 d4 e5');
});

test('a queued write goes out with the turn; batch hooks run after the current stack', async (t) => {
  const { client, server } = await pair(t);
  const order: string[] = [];
  writeSoon(client, 'x');
  atBatch((a: string, b: number) => order.push(`hook ${a} ${b}`), 'h', 1);
  order.push('stack');
  server.resume();
  const [data] = (await once(server, 'data')) as [Buffer];
  order.push('peer read');
  assert.equal(data.toString(), 'x');
  assert.deepEqual(order, ['stack', 'hook h 1', 'peer read']);
});

test('a full kernel buffer: writeDirect returns false, then drain, and every byte arrives in order', { timeout: 30_000 }, async (t) => {
  const { client, received } = await pair(t);
  const chunk = Buffer.alloc(1 << 20);
  let n = 0;
  let refused = false;
  // The peer reads nothing yet: within 256 MiB the socket buffers fill and a write is refused.
  while (n < 256) {
    chunk.fill(n & 255);
    n++;
    if (!writeDirect(client, Buffer.from(chunk))) {
      refused = true;
      break;
    }
  }
  assert.ok(refused, 'a write was refused while the peer did not read');
  const drained = once(client, 'drain');
  const all = received();
  await drained;
  client.end();
  const got = await all;
  assert.equal(got.length, n << 20);
  for (let i = 0; i < n; i++) assert.equal(got[i << 20], i & 255, `chunk ${i} in order`);
});

test('writes to a destroyed socket are dropped without throwing', async (t) => {
  const { client } = await pair(t);
  writeSoon(client, 'late');
  client.destroy();
  await new Promise((r) => setImmediate(r));
  assert.doesNotThrow(() => flushWrites(client));
});
