import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { ConfigClient } from '../../../src/proxyconfig/distribution/client.js';

// A control plane that vanished without closing the connection (a partition, a frozen host): the
// socket stays open and nothing ever answers. The client must notice through its keepalive PING
// and reconnect, rather than stay "connected" forever.
test('a control plane that stops answering is noticed by the keepalive and the client reconnects', async (t) => {
  const sockets = new Set<net.Socket>();
  let connections = 0;
  let sawSecond!: () => void;
  const second = new Promise<void>((r) => (sawSecond = r));
  const blackHole = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.resume(); // read and drop everything, answer nothing
    if (++connections === 2) sawSecond();
  });
  await new Promise<void>((r) => blackHole.listen(0, '127.0.0.1', r));
  t.after(() => {
    for (const s of sockets) s.destroy();
    blackHole.close();
  });
  const { port } = blackHole.address() as net.AddressInfo;
  const logs: string[] = [];
  const client = new ConfigClient({
    url: `http://127.0.0.1:${port}`,
    identity: { id: 'p.ns', role: 'sidecar', namespace: 'ns', workload: 'p', labels: {} },
    onConfig: async () => {},
    keepaliveMs: 150,
    minBackoffMs: 10,
    maxBackoffMs: 50,
    log: (l) => logs.push(l),
  });
  client.start();
  t.after(() => client.stop());
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no reconnect after 5 s; log: ${logs.join(' | ')}`)), 5000);
  });
  try {
    await Promise.race([second, bound]);
  } finally {
    clearTimeout(timer);
  }
  assert.ok(
    logs.some((l) => /keepalive/.test(l)),
    logs.join('\n'),
  );
});
