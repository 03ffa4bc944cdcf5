// Upstream connections leave from the proxy's own workload address (ProxyIdentity.ip), as from a
// pod IP: the upstream sees it as the peer, and UPSTREAM_LOCAL_ADDRESS shows it.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { startProxy, tempDir, curl, parseLogLine, freePort } from '../../helpers/proxy-harness.js';
import { proxyConfig, httpListener, tcpListener, routeTable, vhost, forward, staticCluster, textLog } from '../../helpers/proxyconfig.js';
import { sourceAddressFor } from '../../../src/dataplane/upstream/source-address.js';

const PROXY_IP = '127.0.0.2';

/** Starts `server` on 127.0.0.1:0; records each connection's peer address; closed at test end. */
async function listenRecording(t: TestContext, server: net.Server): Promise<{ port: number; peers: string[] }> {
  const peers: string[] = [];
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    peers.push(s.remoteAddress ?? '');
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return { port: (server.address() as AddressInfo).port, peers };
}

async function gateway(t: TestContext, upstreamPort: number, protocol: 'HTTP1' | 'HTTP2' | 'TCP', ip: string | undefined) {
  const dir = tempDir(t);
  const logPath = join(dir, 'access.log');
  const port = await freePort();
  const cluster = 'outbound|80||httpbin.org';
  const cfg = proxyConfig({
    ...(ip !== undefined ? { ip } : {}),
    accessLog: textLog(logPath),
    listeners: [protocol === 'TCP' ? tcpListener('tcp', port, cluster) : httpListener('http.80', port, 'http.80')],
    routeTables: [routeTable('http.80', [vhost('httpbin.org:80', ['httpbin.org'], [forward(cluster)])])],
    clusters: [staticCluster(cluster, [{ address: '127.0.0.1', port: upstreamPort }], { protocol })],
  });
  const p = await startProxy(t, cfg, {}, logPath);
  return { p, port };
}

test('HTTP/1.1 upstream connections come from the proxy identity ip, and the log says so', async (t) => {
  const up = await listenRecording(
    t,
    http.createServer((_req, res) => res.end('ok')),
  );
  const g = await gateway(t, up.port, 'HTTP1', PROXY_IP);
  const r = await curl(['-H', 'Host: httpbin.org', `http://127.0.0.1:${g.port}/get`]);
  assert.equal(r.stdout, 'ok', r.stderr);
  assert.deepEqual(up.peers, [PROXY_IP]);
  const f = parseLogLine((await g.p.logLines(1))[0]!);
  assert.match(f.upstreamLocal, /^127\.0\.0\.2:\d+$/);
  assert.equal(f.upstreamHost, `127.0.0.1:${up.port}`);
});

test('HTTP/2 upstream sessions come from the proxy identity ip', async (t) => {
  const server = http2.createServer((_req, res) => res.end('ok'));
  server.on('session', (s) => s.on('error', () => {}));
  const up = await listenRecording(t, server);
  const g = await gateway(t, up.port, 'HTTP2', PROXY_IP);
  const r = await curl(['-H', 'Host: httpbin.org', `http://127.0.0.1:${g.port}/get`]);
  assert.equal(r.stdout, 'ok', r.stderr);
  assert.deepEqual(up.peers, [PROXY_IP]);
  const f = parseLogLine((await g.p.logLines(1))[0]!);
  assert.match(f.upstreamLocal, /^127\.0\.0\.2:\d+$/);
});

test('TCP tunnels connect from the proxy identity ip', async (t) => {
  const up = await listenRecording(
    t,
    net.createServer((s) => {
      s.on('error', () => {});
      s.end(`you are ${s.remoteAddress}\n`);
    }),
  );
  const g = await gateway(t, up.port, 'TCP', PROXY_IP);
  const got = await new Promise<string>((resolve, reject) => {
    const c = net.connect(g.port, '127.0.0.1');
    let data = '';
    c.setEncoding('utf8');
    c.on('data', (d: string) => {
      data += d;
    });
    c.on('error', reject);
    c.on('close', () => resolve(data));
  });
  assert.equal(got, `you are ${PROXY_IP}\n`);
  const f = parseLogLine((await g.p.logLines(1))[0]!);
  assert.match(f.upstreamLocal, /^127\.0\.0\.2:\d+$/);
});

test('without an identity ip the kernel picks the source', async (t) => {
  const up = await listenRecording(
    t,
    http.createServer((_req, res) => res.end('ok')),
  );
  const g = await gateway(t, up.port, 'HTTP1', undefined);
  const r = await curl(['-H', 'Host: httpbin.org', `http://127.0.0.1:${g.port}/get`]);
  assert.equal(r.stdout, 'ok', r.stderr);
  assert.deepEqual(up.peers, ['127.0.0.1']);
});

test('sourceAddressFor: same family and the same loopback-ness only', () => {
  assert.equal(sourceAddressFor('127.0.0.2', '127.0.0.1'), '127.0.0.2');
  // Not an address of this host: the kernel picks (binding it would fail every connection).
  assert.equal(sourceAddressFor('10.255.254.253', '93.184.216.34'), undefined);
  assert.equal(sourceAddressFor('127.0.0.2', '93.184.216.34'), undefined);
  assert.equal(sourceAddressFor('10.0.0.5', '127.0.0.1'), undefined);
  const own = Object.values(networkInterfaces())
    .flat()
    .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal);
  if (own !== undefined) assert.equal(sourceAddressFor(own.address, '93.184.216.34'), own.address);
  assert.equal(sourceAddressFor('127.0.0.2', '::1'), undefined);
  assert.equal(sourceAddressFor('fd00::5', '2001:db8::1'), undefined);
  assert.equal(sourceAddressFor('::1', '::1'), '::1');
  assert.equal(sourceAddressFor('0.0.0.0', '127.0.0.1'), undefined);
  assert.equal(sourceAddressFor(undefined, '127.0.0.1'), undefined);
  assert.equal(sourceAddressFor('127.0.0.2', 'httpbin.org'), undefined);
});

test('concurrent HTTP/1.1 requests each log the local address of their own upstream connection', async (t) => {
  // The upstream answers /a only once /b has arrived on a second connection, so /a's response
  // comes after the pool's newest connection is /b's: each line must still name its own.
  const pending = new Map<string, http.ServerResponse>();
  const release = (): void => {
    const a = pending.get('/a');
    const b = pending.get('/b');
    if (a === undefined || b === undefined) return;
    a.end(String(a.req.socket.remotePort));
    setImmediate(() => b.end(String(b.req.socket.remotePort)));
  };
  const up = await listenRecording(
    t,
    http.createServer((req, res) => {
      pending.set(req.url ?? '', res);
      release();
    }),
  );
  const g = await gateway(t, up.port, 'HTTP1', PROXY_IP);
  const get = (path: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: g.port, path, agent: false, headers: { host: 'httpbin.org' } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
    });
  const a = get('/a');
  // /b only once /a is waiting at the upstream, so the two ride different connections.
  await new Promise<void>((r) => {
    const poll = (): void => {
      if (pending.has('/a')) r();
      else setTimeout(poll, 5);
    };
    poll();
  });
  const [portA, portB] = await Promise.all([a, get('/b')]);
  assert.notEqual(portA, portB);
  const lines = (await g.p.logLines(2)).map(parseLogLine);
  const byPath = new Map(lines.map((l) => [l.request.split(' ')[1], l.upstreamLocal]));
  assert.equal(byPath.get('/a'), `${PROXY_IP}:${portA}`);
  assert.equal(byPath.get('/b'), `${PROXY_IP}:${portB}`);
});
