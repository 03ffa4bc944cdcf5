// HTTP/2 downstream (prior knowledge, ALPN on a TLS-terminating listener), HTTP/2 upstreams with
// gRPC trailers, and TLS origination (SIMPLE with SNI/SAN checks, MUTUAL with a client certificate).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import http2 from 'node:http2';
import tls from 'node:tls';
import { writeFileSync } from 'node:fs';
import { startHttpUpstream, startH2cUpstream, startHttpsUpstream } from '../../helpers/upstreams.js';
import { testCerts } from '../../helpers/certs.js';
import { startProxy, tempDir, parseLogLine, freePort, curl } from '../../helpers/proxy-harness.js';
import { proxyConfig, httpListener, routeTable, vhost, forward, staticCluster, textLog } from '../../helpers/proxyconfig.js';
import { H2_PREFACE, h2Frame, hpackGet, proxyHeldSockets } from '../../helpers/fuzz.js';
import type { Cluster } from '../../../src/proxyconfig/types.js';

async function gw(t: TestContext, clusters: Cluster[], routes: Parameters<typeof vhost>[2], tlsListener = false) {
  const c = testCerts();
  const port = await freePort();
  const dir = tempDir(t);
  const logPath = join(dir, 'access.log');
  writeFileSync(join(dir, 'ca.pem'), c.caPem);
  const cfg = proxyConfig({
    role: 'router',
    accessLog: textLog(logPath),
    listeners: [
      httpListener('http', port, 'http.80', tlsListener ? { tls: { mode: 'SIMPLE', certificateChain: c.serverCertPem, privateKey: c.serverKeyPem } } : {}),
    ],
    routeTables: [routeTable('http.80', [vhost('any', ['*'], routes)])],
    clusters,
  });
  const p = await startProxy(t, cfg, {}, logPath);
  return { p, port, caFile: join(dir, 'ca.pem'), c };
}

function h2get(url: string, path: string, opts: http2.SecureClientSessionOptions = {}, headers: http2.OutgoingHttpHeaders = {}) {
  return new Promise<{ status: number; body: string; trailers: http2.IncomingHttpHeaders }>((resolve, reject) => {
    const s = http2.connect(url, opts);
    s.on('error', reject);
    const r = s.request({ ':path': path, ':authority': 'grpc.example.com', ...headers });
    let status = 0;
    let body = '';
    let trailers: http2.IncomingHttpHeaders = {};
    r.on('response', (h) => {
      status = Number(h[':status']);
    });
    r.on('trailers', (tr) => {
      trailers = tr;
    });
    r.on('data', (d) => {
      body += d;
    });
    r.on('end', () => {
      s.close();
      resolve({ status, body, trailers });
    });
    r.on('error', reject);
    r.end();
  });
}

test('curl --http2-prior-knowledge reaches an HTTP/1.1 upstream; logged as HTTP/2', async (t) => {
  const up = await startHttpUpstream();
  t.after(() => up.close());
  const g = await gw(t, [staticCluster('outbound|80||a', [{ address: '127.0.0.1', port: up.port }])], [forward('outbound|80||a')]);
  const r = await curl(['--http2-prior-knowledge', '-o', '/dev/null', '-w', '%{http_code} %{http_version}', `http://127.0.0.1:${g.port}/h2`]);
  assert.equal(r.stdout, '200 2', r.stderr);
  assert.equal(up.requests[0]!.httpVersion, '1.1');
  const f = parseLogLine((await g.p.logLines(1))[0]!);
  assert.equal(f.request, 'GET /h2 HTTP/2');
});

test('gRPC over h2c end to end: trailers pass through', async (t) => {
  const up = await startH2cUpstream();
  t.after(() => up.close());
  const g = await gw(
    t,
    [staticCluster('outbound|50051||grpc', [{ address: '127.0.0.1', port: up.port }], { protocol: 'HTTP2' })],
    [forward('outbound|50051||grpc')],
  );
  const r = await h2get(`http://127.0.0.1:${g.port}`, '/grpc', {}, { ':method': 'POST', 'content-type': 'application/grpc', te: 'trailers' });
  assert.equal(r.status, 200);
  assert.equal(r.trailers['grpc-status'], '0');
  assert.equal(up.requests[0]!.httpVersion, '2.0');
  const metrics = g.p.proxy.metrics.render();
  assert.match(metrics, /request_protocol="grpc"/);
});

test('a TLS-terminating listener speaks h2 and HTTP/1.1 by ALPN', async (t) => {
  const up = await startHttpUpstream();
  t.after(() => up.close());
  const g = await gw(t, [staticCluster('outbound|80||a', [{ address: '127.0.0.1', port: up.port }])], [forward('outbound|80||a')], true);
  const h2 = await h2get(`https://localhost:${g.port}`, '/x', { ca: g.c.caPem });
  assert.equal(h2.status, 200);
  const r = await curl(['--http1.1', '--cacert', g.caFile, '-o', '/dev/null', '-w', '%{http_code}', `https://localhost:${g.port}/y`]);
  assert.equal(r.stdout, '200', r.stderr);
  const lines = (await g.p.logLines(2)).map(parseLogLine);
  assert.deepEqual(
    lines.map((l) => l.request),
    ['GET /x HTTP/2', 'GET /y HTTP/1.1'],
  );
});

test('TLS origination SIMPLE: a plain request leaves as HTTPS with SNI = host; a bad CA fails with UF', async (t) => {
  const c = testCerts();
  const up = await startHttpsUpstream({ cert: c.serverCertPem, key: c.serverKeyPem });
  t.after(() => up.close());
  const ep = [{ address: '127.0.0.1', port: up.port }];
  const g = await gw(
    t,
    [
      staticCluster('outbound|443||nginx.example.com', ep, { tls: { mode: 'SIMPLE', caCertificates: c.caPem } }),
      staticCluster('outbound|443||bad', ep, { tls: { mode: 'SIMPLE', caCertificates: c.otherCaPem } }),
    ],
    [forward('outbound|443||bad', { match: { path: { kind: 'prefix', value: '/bad' } } }), forward('outbound|443||nginx.example.com')],
  );
  const r = await curl(['-o', '/dev/null', '-w', '%{http_code}', '-H', 'Host: nginx.example.com', `http://127.0.0.1:${g.port}/`]);
  assert.equal(r.stdout, '200', r.stderr);
  assert.equal(up.requests[0]!.servername, 'nginx.example.com');
  const bad = await curl(['-o', '/dev/null', '-w', '%{http_code}', '-H', 'Host: nginx.example.com', `http://127.0.0.1:${g.port}/bad`]);
  assert.equal(bad.stdout, '503');
  const lines = (await g.p.logLines(2)).map(parseLogLine);
  assert.equal(lines[1]!.flags, 'UF');
  assert.match(lines[1]!.transportFailure, /CERTIFICATE_VERIFY_FAILED/);
});

test('TLS origination MUTUAL presents the client certificate', async (t) => {
  const c = testCerts();
  const up = await startHttpsUpstream({ cert: c.serverCertPem, key: c.serverKeyPem, ca: c.caPem, requestClientCert: true });
  t.after(() => up.close());
  const ep = [{ address: '127.0.0.1', port: up.port }];
  const g = await gw(
    t,
    [
      staticCluster('mtls', ep, {
        tls: { mode: 'MUTUAL', caCertificates: c.caPem, clientCertificate: c.clientCertPem, privateKey: c.clientKeyPem, sni: 'nginx.example.com' },
      }),
      staticCluster('no-cert', ep, { tls: { mode: 'SIMPLE', caCertificates: c.caPem, sni: 'nginx.example.com' } }),
    ],
    [forward('no-cert', { match: { path: { kind: 'prefix', value: '/nocert' } } }), forward('mtls')],
  );
  const ok = await curl(['-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${g.port}/`]);
  assert.equal(ok.stdout, '200', ok.stderr);
  const no = await curl(['-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${g.port}/nocert`]);
  assert.equal(no.stdout, '503');
});

test('HTTP/2 over TLS: a client that leaves, cleanly or after drawing a GOAWAY, is let go (no CLOSE-WAIT)', async (t) => {
  const up = await startHttpUpstream();
  t.after(() => up.close());
  const g = await gw(t, [staticCluster('c', [{ address: '127.0.0.1', port: up.port }])], [forward('c')], true);
  const settings = h2Frame(0x4, 0, 0, Buffer.alloc(0));
  const cases: Array<[string, Buffer]> = [
    ['a GET, then gone', Buffer.concat([H2_PREFACE, settings, h2Frame(0x1, 0x5, 1, hpackGet('good.example'))])],
    // DATA on an idle stream: a connection error; nghttp2 answers GOAWAY and reads no more.
    ['a protocol error, then gone', Buffer.concat([H2_PREFACE, settings, h2Frame(0x0, 0x1, 99, Buffer.from('xx'))])],
  ];
  for (const [what, bytes] of cases) {
    const s = tls.connect({ port: g.port, host: '127.0.0.1', ALPNProtocols: ['h2'], ca: g.c.caPem, servername: 'localhost', rejectUnauthorized: false });
    s.on('error', () => {});
    s.on('data', () => {});
    await new Promise((r) => s.once('secureConnect', r));
    assert.equal(s.alpnProtocol, 'h2');
    s.write(bytes);
    await new Promise((r) => setTimeout(r, 100));
    const localPort = s.localPort!;
    s.destroy();
    assert.equal(await proxyHeldSockets(g.port, 3000, localPort), 0, `${what}: the proxy still holds the connection`);
  }
  const r = await h2get(`https://127.0.0.1:${g.port}`, '/after', { ca: g.c.caPem, servername: 'localhost', rejectUnauthorized: false });
  assert.equal(r.status, 200);
});
