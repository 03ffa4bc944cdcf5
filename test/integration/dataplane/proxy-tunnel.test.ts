// TCP tunnels carry bulk bytes exactly, in both directions, with a slow reader on the far side
// (the upstream side reads into one reused buffer and pauses while a write is queued).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { startProxy, freePort } from '../../helpers/proxy-harness.js';
import { proxyConfig, tcpListener, staticCluster } from '../../helpers/proxyconfig.js';

const SIZE = 8 * 1024 * 1024;

async function tunnelTo(t: TestContext, onConn: (s: net.Socket) => void): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    onConn(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  const port = await freePort();
  const cluster = 'outbound|9000||bulk.example';
  await startProxy(
    t,
    proxyConfig({
      listeners: [tcpListener('tcp', port, cluster)],
      clusters: [staticCluster(cluster, [{ address: '127.0.0.1', port: (server.address() as AddressInfo).port }], { protocol: 'TCP' })],
    }),
  );
  return port;
}

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

test('a download through a tunnel arrives byte for byte to a client that reads slowly', async (t) => {
  const data = randomBytes(SIZE);
  const port = await tunnelTo(t, (s) => s.end(data));
  const got = await new Promise<Buffer>((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let n = 0;
    c.on('data', (d: Buffer) => {
      chunks.push(d);
      // Stall every few reads so the proxy's writes queue up and its upstream reads pause.
      if (++n % 8 === 0) {
        c.pause();
        setTimeout(() => c.resume(), 5);
      }
    });
    c.on('end', () => resolve(Buffer.concat(chunks)));
    c.on('error', reject);
  });
  assert.equal(got.length, SIZE);
  assert.equal(sha(got), sha(data));
});

test('an upload through a tunnel arrives whole, and the reply after the client half-closes comes back', async (t) => {
  const data = randomBytes(SIZE);
  const port = await tunnelTo(t, (s) => {
    const h = createHash('sha256');
    let n = 0;
    s.on('data', (d: Buffer) => {
      h.update(d);
      n += d.length;
    });
    s.on('end', () => s.end(`${n} ${h.digest('hex')}`));
  });
  const reply = await new Promise<string>((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1', () => c.end(data));
    let text = '';
    c.setEncoding('utf8');
    c.on('data', (d: string) => {
      text += d;
    });
    c.on('end', () => resolve(text));
    c.on('error', reject);
  });
  assert.equal(reply, `${SIZE} ${sha(data)}`);
});
