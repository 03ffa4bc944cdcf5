// Protocol fuzz: seeded random and mutated HTTP/1.1, HTTP/2 and TLS bytes at every listener kind;
// after each input the proxy must still serve a good request (and never throw).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { request } from 'undici';
import { startHttpUpstream, startTlsEcho } from '../helpers/upstreams.js';
import { testCerts } from '../helpers/certs.js';
import { startProxy, freePort } from '../helpers/proxy-harness.js';
import {
  proxyConfig, httpListener, tlsListener, sniChain, outboundListener, routeTable, vhost, forward, staticCluster,
  fallbackTables, passthroughCluster, blackholeCluster,
} from '../helpers/proxyconfig.js';

/** mulberry32: a small seeded PRNG, so a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HTTP1_SEEDS = [
  'GET / HTTP/1.1\r\nHost: fuzz.example\r\n\r\n',
  'POST /x HTTP/1.1\r\nHost: fuzz.example\r\nContent-Length: 5\r\n\r\nhello',
  'GET http://fuzz.example/abs HTTP/1.1\r\nHost: fuzz.example\r\n\r\n',
  'CONNECT fuzz.example:443 HTTP/1.1\r\nHost: fuzz.example:443\r\n\r\n',
  'POST / HTTP/1.1\r\nHost: fuzz.example\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
];

function mutate(rand: () => number, input: Buffer): Buffer {
  const b = Buffer.from(input);
  const ops = 1 + Math.floor(rand() * 4);
  let out = b;
  for (let i = 0; i < ops; i++) {
    const kind = Math.floor(rand() * 4);
    const pos = Math.floor(rand() * Math.max(1, out.length));
    if (kind === 0) out[pos] = Math.floor(rand() * 256);
    else if (kind === 1) out = out.subarray(0, pos);
    else if (kind === 2) out = Buffer.concat([out.subarray(0, pos), randomBytes(rand, 1 + Math.floor(rand() * 16)), out.subarray(pos)]);
    else out = Buffer.concat([out, out.subarray(pos)]);
  }
  return out;
}

function randomBytes(rand: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

function h2Garbage(rand: () => number): Buffer {
  const frames: Buffer[] = [Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')];
  const n = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < n; i++) {
    const payload = randomBytes(rand, Math.floor(rand() * 40));
    const h = Buffer.alloc(9);
    h.writeUIntBE(payload.length, 0, 3);
    h[3] = Math.floor(rand() * 10);
    h[4] = Math.floor(rand() * 256);
    h.writeUInt32BE(Math.floor(rand() * 8), 5);
    frames.push(h, payload);
  }
  return Buffer.concat(frames);
}

function tlsGarbage(rand: () => number, hello: Buffer): Buffer {
  return rand() < 0.5 ? mutate(rand, hello) : Buffer.concat([Buffer.from([0x16, 0x03, 0x01]), randomBytes(rand, 2 + Math.floor(rand() * 200))]);
}

/** Sends bytes on a fresh connection; resolves when the proxy closes it, or after a bounded wait. */
function poke(port: number, data: Buffer, tlsWrap = false, ca?: string): Promise<void> {
  return new Promise((resolve) => {
    const s: net.Socket = tlsWrap
      ? tls.connect({ port, host: '127.0.0.1', ca, servername: 'fuzz.example', checkServerIdentity: () => undefined }, () => s.write(data))
      : net.connect(port, '127.0.0.1', () => s.write(data));
    const done = () => { clearTimeout(timer); s.destroy(); resolve(); };
    const timer = setTimeout(done, 120);
    s.on('error', done);
    s.on('close', done);
    s.resume();
  });
}

async function captureClientHello(): Promise<Buffer> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  const got = new Promise<Buffer>((resolve) => srv.once('connection', (s) => s.once('data', (d: Buffer) => { resolve(d); s.destroy(); })));
  const c = tls.connect({ port, host: '127.0.0.1', servername: 'edition.cnn.com' });
  c.on('error', () => {});
  const hello = await got;
  c.destroy();
  srv.close();
  return hello;
}

test('random and mutated bytes at every listener kind never break the proxy', async (t) => {
  const c = testCerts();
  const up = await startHttpUpstream();
  const tlsUp = await startTlsEcho({ cert: c.serverCertPem, key: c.serverKeyPem });
  t.after(async () => { await up.close(); await tlsUp.close(); });
  const [httpPort, httpsPort, tlsPort, outPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const cfg = proxyConfig({
    role: 'sidecar',
    listeners: [
      httpListener('http', httpPort, 'rt'),
      httpListener('https', httpsPort, 'rt', { tls: { mode: 'SIMPLE', certificateChain: c.serverCertPem, privateKey: c.serverKeyPem } }),
      tlsListener('tls', tlsPort, [sniChain(['edition.cnn.com'], 'tls-up')]),
      outboundListener(outPort, 'ALLOW_ANY'),
      httpListener('0.0.0.0_80', 80, 'rt', { bindToPort: false, address: '0.0.0.0' }),
    ],
    routeTables: [routeTable('rt', [vhost('v', ['*'], [forward('up')])]), ...fallbackTables()],
    clusters: [
      staticCluster('up', [{ address: '127.0.0.1', port: up.port }]),
      staticCluster('tls-up', [{ address: '127.0.0.1', port: tlsUp.port }], { protocol: 'TCP' }),
      passthroughCluster(), blackholeCluster(),
    ],
  });
  await startProxy(t, cfg, { helloTimeoutMs: 200, http: { headersTimeoutMs: 250 } });
  const hello = await captureClientHello();
  const rand = prng(0x5eed);
  const good = async () => {
    const r = await request(`http://127.0.0.1:${httpPort}/ok`, { headers: { host: 'fuzz.example' } });
    await r.body.text();
    assert.equal(r.statusCode, 200);
    const o = await request(`http://127.0.0.1:${outPort}/ok`, { headers: { host: 'fuzz.example' } });
    await o.body.text();
    assert.equal(o.statusCode, 200);
  };
  const ROUNDS = 20;
  for (let i = 0; i < ROUNDS; i++) {
    const h1 = mutate(rand, Buffer.from(HTTP1_SEEDS[Math.floor(rand() * HTTP1_SEEDS.length)]!));
    await poke(httpPort, h1);
    await poke(outPort, h1);
    await poke(httpPort, h2Garbage(rand));
    await poke(httpsPort, rand() < 0.5 ? h1 : h2Garbage(rand), true, c.caPem);
    await poke(httpsPort, tlsGarbage(rand, hello));
    await poke(tlsPort, tlsGarbage(rand, hello));
    await poke(outPort, tlsGarbage(rand, hello));
    await poke(tlsPort, randomBytes(rand, 1 + Math.floor(rand() * 64)));
    await good();
  }
});
