// The sidecar's outbound listener as an explicit proxy: absolute-form HTTP, CONNECT to TLS
// listeners, ALLOW_ANY passthrough and REGISTRY_ONLY blocking — each logged.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { startHttpUpstream, startHttpsUpstream } from '../../helpers/upstreams.js';
import { startDnsServer } from '../../helpers/dns-server.js';
import { testCerts } from '../../helpers/certs.js';
import { startProxy, tempDir, curl, parseLogLine, freePort } from '../../helpers/proxy-harness.js';
import {
  proxyConfig,
  httpListener,
  tlsListener,
  sniChain,
  outboundListener,
  routeTable,
  vhost,
  forward,
  dnsCluster,
  passthroughCluster,
  blackholeCluster,
  fallbackTables,
  textLog,
} from '../../helpers/proxyconfig.js';

async function sidecar(t: TestContext, policy: 'ALLOW_ANY' | 'REGISTRY_ONLY') {
  const certs = testCerts();
  const docs = await startHttpUpstream({ name: 'docs' });
  const docsTls = await startHttpsUpstream({ name: 'docs-tls', cert: certs.serverCertPem, key: certs.serverKeyPem });
  const other = await startHttpUpstream({ name: 'httpbin' });
  const otherTls = await startHttpsUpstream({ name: 'httpbin-tls', cert: certs.serverCertPem, key: certs.serverKeyPem });
  const dns = await startDnsServer({ 'docs.redhat.com': ['127.0.0.1'], 'httpbin.org': ['127.0.0.1'] });
  t.after(async () => {
    await docs.close();
    await docsTls.close();
    await other.close();
    await otherTls.close();
    await dns.close();
  });
  const dir = tempDir(t);
  const logPath = join(dir, 'access.log');
  writeFileSync(join(dir, 'ca.pem'), certs.caPem);
  const port = await freePort();
  const cfg = proxyConfig({
    role: 'sidecar',
    policy,
    accessLog: textLog(logPath),
    listeners: [
      outboundListener(port, policy),
      httpListener('0.0.0.0_80', 80, '80', { bindToPort: false, address: '0.0.0.0' }),
      tlsListener('0.0.0.0_443', 443, [sniChain(['docs.redhat.com'], 'outbound|443||docs.redhat.com')], { bindToPort: false, address: '0.0.0.0' }),
    ],
    routeTables: [
      routeTable('80', [vhost('docs.redhat.com:80', ['docs.redhat.com', 'docs.redhat.com:80'], [forward('outbound|80||docs.redhat.com')])]),
      ...fallbackTables(),
    ],
    clusters: [
      dnsCluster('outbound|80||docs.redhat.com', 'docs.redhat.com', docs.port),
      dnsCluster('outbound|443||docs.redhat.com', 'docs.redhat.com', docsTls.port, { protocol: 'TCP' }),
      passthroughCluster(),
      blackholeCluster(),
    ],
  });
  const p = await startProxy(t, cfg, { resolver: { server: dns.address } }, logPath);
  return { p, port, docs, docsTls, other, otherTls, ca: join(dir, 'ca.pem') };
}

test('absolute-form HTTP through the sidecar goes to the port-80 listener and its cluster', async (t) => {
  const s = await sidecar(t, 'REGISTRY_ONLY');
  const r = await curl(['-o', '/dev/null', '-w', '%{http_code}', '-x', `http://127.0.0.1:${s.port}`, 'http://docs.redhat.com/guide']);
  assert.equal(r.stdout, '200', r.stderr);
  assert.equal(s.docs.requests[0]!.url, '/guide');
  assert.equal(s.docs.requests[0]!.headers.host, 'docs.redhat.com');
  // A sidecar does not touch x-forwarded-for.
  assert.equal(s.docs.requests[0]!.headers['x-forwarded-for'], undefined);
  const f = parseLogLine((await s.p.logLines(1))[0]!);
  assert.equal(f.request, 'GET /guide HTTP/1.1');
  assert.equal(f.code, '200');
  assert.equal(f.upstreamCluster, 'outbound|80||docs.redhat.com');
  assert.equal(f.upstreamHost, `127.0.0.1:${s.docs.port}`);
  assert.equal(f.authority, 'docs.redhat.com');
});

test('fresh downstream connections with Connection: close each close after their response, and share one kept-alive upstream connection', async (t) => {
  // As Envoy: `Connection: close` is hop-by-hop, so the client's close ends its own connection
  // only; the upstream pool keeps its connection (no connect per request).
  const s = await sidecar(t, 'REGISTRY_ONLY');
  const n = 6;
  const w = '%{http_code} %{num_connects}\\n';
  const abs = await curl([
    '-s',
    '-o',
    '/dev/null',
    '-H',
    'Connection: close',
    '-w',
    w,
    '-x',
    `http://127.0.0.1:${s.port}`,
    `http://docs.redhat.com/abs?n=[1-${n}]`,
  ]);
  const byHost = await curl([
    '-s',
    '-o',
    '/dev/null',
    '-H',
    'Connection: close',
    '-H',
    'Host: docs.redhat.com',
    '-w',
    w,
    `http://127.0.0.1:${s.port}/host?n=[1-${n}]`,
  ]);
  for (const r of [abs, byHost]) {
    // One new downstream connection per request: the proxy closed each after its response.
    assert.deepEqual(r.stdout.trim().split('\n'), Array<string>(n).fill('200 1'), r.stderr);
  }
  assert.equal(s.docs.requests.length, 2 * n);
  assert.ok(
    s.docs.requests.every((q) => q.headers.connection !== 'close'),
    'the downstream Connection header is not forwarded',
  );
  assert.equal(s.docs.connections(), 1, 'one upstream connection for all requests');
  const lines = await s.p.logLines(2 * n);
  assert.equal(lines.length, 2 * n);
  assert.ok(lines.map(parseLogLine).every((f) => f.code === '200' && f.flags === '-'));
});

test('REGISTRY_ONLY: an unknown HTTP host gets 502 from block_all, logged', async (t) => {
  const s = await sidecar(t, 'REGISTRY_ONLY');
  const r = await curl(['-o', '/dev/null', '-w', '%{http_code}', '-x', `http://127.0.0.1:${s.port}`, `http://httpbin.org:${s.other.port}/get`]);
  assert.equal(r.stdout, '502');
  assert.equal(s.other.requests.length, 0);
  const f = parseLogLine((await s.p.logLines(1))[0]!);
  assert.equal(f.code, '502');
  assert.equal(f.details, 'direct_response');
  assert.equal(f.route, 'block_all');
});

test('ALLOW_ANY: an unknown HTTP host goes to PassthroughCluster (its own destination)', async (t) => {
  const s = await sidecar(t, 'ALLOW_ANY');
  const r = await curl(['-o', '/dev/null', '-w', '%{http_code}', '-x', `http://127.0.0.1:${s.port}`, `http://httpbin.org:${s.other.port}/get`]);
  assert.equal(r.stdout, '200', r.stderr);
  assert.equal(s.other.requests.length, 1);
  const f = parseLogLine((await s.p.logLines(1))[0]!);
  assert.equal(f.upstreamCluster, 'PassthroughCluster');
  assert.equal(f.route, 'allow_any');
  assert.equal(f.upstreamHost, `127.0.0.1:${s.other.port}`);
});

test("CONNECT to a known TLS host is routed by the TLS listener's SNI chains and logged as TCP", async (t) => {
  const s = await sidecar(t, 'REGISTRY_ONLY');
  const r = await curl(['-o', '/dev/null', '-w', '%{http_code}', '--cacert', s.ca, '-p', '-x', `http://127.0.0.1:${s.port}`, 'https://docs.redhat.com/']);
  assert.equal(r.stdout, '200', r.stderr);
  assert.equal(s.docsTls.requests.length, 1);
  const f = parseLogLine((await s.p.logLines(1))[0]!);
  assert.equal(f.request, '- - -');
  assert.equal(f.code, '0');
  assert.equal(f.upstreamCluster, 'outbound|443||docs.redhat.com');
  assert.equal(f.sni, 'docs.redhat.com');
  assert.ok(Number(f.bytesReceived) > 0 && Number(f.bytesSent) > 0);
  assert.equal(f.upstreamHost, `127.0.0.1:${s.docsTls.port}`);
});

test('REGISTRY_ONLY: CONNECT to an unknown host gets 503 UH and no tunnel (BlackHoleCluster), logged', async (t) => {
  const s = await sidecar(t, 'REGISTRY_ONLY');
  const r = await curl(['-w', '%{http_connect}', '--cacert', s.ca, '-p', '-x', `http://127.0.0.1:${s.port}`, `https://httpbin.org:${s.otherTls.port}/`]);
  assert.notEqual(r.exitCode, 0);
  assert.equal(r.stdout, '503', 'the CONNECT itself is answered 503, as Envoy answers it');
  assert.equal(s.otherTls.requests.length, 0);
  const f = parseLogLine((await s.p.logLines(1))[0]!);
  assert.equal(f.upstreamCluster, 'BlackHoleCluster');
  assert.equal(f.sni, 'httpbin.org');
  assert.equal(f.code, '503');
  assert.equal(f.flags, 'UH');
});

test("ALLOW_ANY: CONNECT to a port where nothing listens gets 503 UF with Envoy's body, never a 200", async (t) => {
  const s = await sidecar(t, 'ALLOW_ANY');
  const closed = await freePort();
  const r = await curl(['-sS', '-w', '%{http_connect}', '-p', '-x', `http://127.0.0.1:${s.port}`, `https://httpbin.org:${closed}/`]);
  assert.notEqual(r.exitCode, 0);
  assert.equal(r.stdout, '503', r.stderr);
  const f = parseLogLine((await s.p.logLines(1))[0]!);
  assert.equal(f.upstreamCluster, 'PassthroughCluster');
  assert.equal(f.code, '503');
  assert.equal(f.flags, 'UF');
  assert.equal(f.upstreamHost, `127.0.0.1:${closed}`);
});

test('ALLOW_ANY: CONNECT to an unknown host:port tunnels to it (PassthroughCluster)', async (t) => {
  const s = await sidecar(t, 'ALLOW_ANY');
  const r = await curl([
    '-o',
    '/dev/null',
    '-w',
    '%{http_code}',
    '--cacert',
    s.ca,
    '-p',
    '-x',
    `http://127.0.0.1:${s.port}`,
    `https://httpbin.org:${s.otherTls.port}/`,
  ]);
  assert.equal(r.stdout, '200', r.stderr);
  const f = parseLogLine((await s.p.logLines(1))[0]!);
  assert.equal(f.upstreamCluster, 'PassthroughCluster');
  assert.equal(f.upstreamHost, `127.0.0.1:${s.otherTls.port}`);
});
