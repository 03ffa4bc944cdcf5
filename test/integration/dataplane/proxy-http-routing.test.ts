// Gateway HTTP listener: routing, local replies (NR, NC, UH, UF), header handling and the access-log line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { request } from 'undici';
import { startHttpUpstream, closedPort } from '../../helpers/upstreams.js';
import { startProxy, tempDir, curl, parseLogLine, freePort } from '../../helpers/proxy-harness.js';
import { proxyConfig, httpListener, routeTable, vhost, forward, staticCluster, textLog } from '../../helpers/proxyconfig.js';

const CLUSTER = 'outbound|80||docs.redhat.com';

async function gateway(t: import('node:test').TestContext) {
  const up = await startHttpUpstream({ name: 'docs' });
  t.after(() => up.close());
  const dead = await closedPort();
  const port = await freePort();
  const logPath = join(tempDir(t), 'access.log');
  const cfg = proxyConfig({
    role: 'router',
    accessLog: textLog(logPath),
    listeners: [httpListener('0.0.0.0_80', port, 'http.80')],
    routeTables: [
      routeTable('http.80', [
        vhost('docs.redhat.com:80', ['docs.redhat.com', 'docs.redhat.com:80'], [forward(CLUSTER, { name: 'docs-route' })]),
        vhost('missing.example:80', ['missing.example'], [forward('outbound|80||missing.example')]),
        vhost('empty.example:80', ['empty.example'], [forward('outbound|80||empty.example')]),
        vhost('dead.example:80', ['dead.example'], [forward('outbound|80||dead.example')]),
      ]),
    ],
    clusters: [
      staticCluster(CLUSTER, [{ address: '127.0.0.1', port: up.port }]),
      staticCluster('outbound|80||empty.example', []),
      staticCluster('outbound|80||dead.example', [{ address: '127.0.0.1', port: dead }]),
    ],
  });
  const p = await startProxy(t, cfg, {}, logPath);
  return { up, port, p };
}

test("a routed request reaches the upstream and is logged in Istio's default format", async (t) => {
  const { up, port, p } = await gateway(t);
  const r = await curl(['-D', '-', '-o', '/dev/null', '-H', 'Host: docs.redhat.com', '-A', 'curl/test', `http://127.0.0.1:${port}/some/path?q=1`]);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /^HTTP\/1.1 200/);
  assert.match(r.stdout, /x-envoy-upstream-service-time: \d+/);
  assert.match(r.stdout, /server: istio-envoy/);
  assert.equal(up.requests.length, 1);
  const got = up.requests[0]!;
  assert.equal(got.url, '/some/path?q=1');
  assert.equal(got.headers.host, 'docs.redhat.com');
  assert.match(String(got.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  assert.equal(got.headers['x-forwarded-for'], '127.0.0.1');

  const [line] = await p.logLines(1);
  const f = parseLogLine(line!);
  assert.match(f.start, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(f.request, 'GET /some/path?q=1 HTTP/1.1');
  assert.equal(f.code, '200');
  assert.equal(f.flags, '-');
  assert.equal(f.details, 'via_upstream');
  assert.equal(f.termination, '-');
  assert.equal(f.transportFailure, '-');
  assert.equal(f.bytesReceived, '0');
  assert.ok(Number(f.bytesSent) > 0);
  assert.match(f.upstreamServiceTime, /^\d+$/);
  assert.equal(f.xff, '127.0.0.1');
  assert.equal(f.userAgent, 'curl/test');
  assert.equal(f.requestId, got.headers['x-request-id']);
  assert.equal(f.authority, 'docs.redhat.com');
  assert.equal(f.upstreamHost, `127.0.0.1:${up.port}`);
  assert.equal(f.upstreamCluster, CLUSTER);
  assert.match(f.upstreamLocal, /^127\.0\.0\.1:\d+$/);
  assert.equal(f.downstreamLocal, `127.0.0.1:${port}`);
  assert.match(f.downstreamRemote, /^127\.0\.0\.1:\d+$/);
  assert.equal(f.sni, '-');
  assert.equal(f.route, 'docs-route');
});

test('keep-alive requests share upstream connections and bodies stream both ways', async (t) => {
  const { up, port } = await gateway(t);
  for (let i = 0; i < 5; i++) {
    const res = await request(`http://127.0.0.1:${port}/echo`, { method: 'POST', headers: { host: 'docs.redhat.com' }, body: 'x'.repeat(100_000) });
    assert.equal(res.statusCode, 200);
    const body = (await res.body.json()) as { body: string };
    assert.equal(body.body.length, 100_000);
  }
  const res = await request(`http://127.0.0.1:${port}/bytes/300000`, { headers: { host: 'docs.redhat.com' } });
  assert.equal((await res.body.arrayBuffer()).byteLength, 300_000);
  assert.equal(up.connections(), 1);
});

test('no virtual host: 404 NR route_not_found; missing cluster: 503 NC; no endpoints: 503 UH; refused: 503 UF', async (t) => {
  const { port, p } = await gateway(t);
  const cases: Array<[string, number, string, string]> = [
    ['unknown.example', 404, 'NR', 'route_not_found'],
    ['missing.example', 503, 'NC', 'cluster_not_found'],
    ['empty.example', 503, 'UH', 'no_healthy_upstream'],
    ['dead.example', 503, 'UF', 'upstream_reset_before_response_started{connection_failure}'],
  ];
  for (const [host, status] of cases) {
    const res = await request(`http://127.0.0.1:${port}/`, { headers: { host } });
    await res.body.text();
    assert.equal(res.statusCode, status, host);
  }
  const lines = await p.logLines(cases.length);
  cases.forEach(([host, status, flags, details], i) => {
    const f = parseLogLine(lines[i]!);
    assert.equal(f.authority, host);
    assert.equal(f.code, String(status));
    assert.equal(f.flags, flags);
    assert.equal(f.details, details);
  });
  assert.equal(parseLogLine(lines[0]!).upstreamCluster, '-');
  assert.equal(parseLogLine(lines[1]!).upstreamCluster, 'outbound|80||missing.example');
});
