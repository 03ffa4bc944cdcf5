// Route actions and policies on a gateway: redirect, direct response, rewrite, header operations,
// faults, timeouts, retries and connection-pool overflow — each with its status, flags and log line.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { request } from 'undici';
import type { Route } from '../../../src/proxyconfig/types.js';
import { startHttpUpstream, closedPort } from '../../helpers/upstreams.js';
import { startProxy, tempDir, parseLogLine, freePort, curl } from '../../helpers/proxy-harness.js';
import { proxyConfig, httpListener, routeTable, vhost, forward, staticCluster, textLog } from '../../helpers/proxyconfig.js';

const C = 'outbound|80||api.example.com';

async function gw(t: TestContext, routes: Route[], clusterOpts: Parameters<typeof staticCluster>[2] = {}, extraEndpoints: number[] = []) {
  const up = await startHttpUpstream({ name: 'api' });
  t.after(() => up.close());
  const port = await freePort();
  const logPath = join(tempDir(t), 'access.log');
  const cfg = proxyConfig({
    role: 'router',
    accessLog: textLog(logPath),
    listeners: [httpListener('http', port, 'http.80')],
    routeTables: [routeTable('http.80', [vhost('api.example.com:80', ['api.example.com'], routes)])],
    clusters: [staticCluster(C, [...extraEndpoints.map((p) => ({ address: '127.0.0.1', port: p })), { address: '127.0.0.1', port: up.port }], clusterOpts)],
  });
  const p = await startProxy(t, cfg, {}, logPath);
  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await request(`http://127.0.0.1:${port}${path}`, { headers: { host: 'api.example.com', ...headers } });
    const body = await res.body.text();
    return { status: res.statusCode, headers: res.headers, body };
  };
  return { up, port, p, get };
}

test('redirect, direct response, rewrite and header operations', async (t) => {
  const g = await gw(t, [
    { name: 'moved', match: { path: { kind: 'prefix', value: '/old/' } }, action: { kind: 'redirect', scheme: 'https', prefixRewrite: '/new/', code: 301 } },
    { name: 'teapot', match: { path: { kind: 'exact', value: '/tea' } }, action: { kind: 'directResponse', status: 418, body: 'short and stout' } },
    forward(C, {
      name: 'rw',
      match: { path: { kind: 'prefix', value: '/v1/' } },
      rewrite: { pathPrefix: '/api/', authority: 'internal.api' },
      requestHeaders: { set: { 'x-set': 'yes' }, remove: ['x-drop'] },
      responseHeaders: { add: { 'x-resp': 'added' } },
    }),
  ]);
  const r1 = await g.get('/old/page?a=1');
  assert.equal(r1.status, 301);
  assert.equal(r1.headers.location, 'https://api.example.com/new/page?a=1');
  const r2 = await g.get('/tea');
  assert.equal(r2.status, 418);
  assert.equal(r2.body, 'short and stout');
  const r3 = await g.get('/v1/items?x=2', { 'x-drop': 'gone' });
  assert.equal(r3.status, 200);
  assert.equal(r3.headers['x-resp'], 'added');
  const seen = g.up.requests[0]!;
  assert.equal(seen.url, '/api/items?x=2');
  assert.equal(seen.headers.host, 'internal.api');
  assert.equal(seen.headers['x-set'], 'yes');
  assert.equal(seen.headers['x-drop'], undefined);
  const lines = (await g.p.logLines(3)).map(parseLogLine);
  assert.deepEqual(
    lines.map((l) => [l.code, l.details, l.route]),
    [
      ['301', 'direct_response', 'moved'],
      ['418', 'direct_response', 'teapot'],
      ['200', 'via_upstream', 'rw'],
    ],
  );
  assert.equal(lines[2]!.request, 'GET /v1/items?x=2 HTTP/1.1', 'the log shows the original path');
});

test('fault abort (FI) and delay (DI)', async (t) => {
  const g = await gw(t, [
    forward(C, { match: { path: { kind: 'prefix', value: '/abort' } }, fault: { abort: { httpStatus: 503, percentage: 100 } } }),
    forward(C, { match: { path: { kind: 'prefix', value: '/delay' } }, fault: { delay: { fixedDelayMs: 20, percentage: 100 } } }),
  ]);
  assert.equal((await g.get('/abort')).status, 503);
  assert.equal((await g.get('/delay')).status, 200);
  const lines = (await g.p.logLines(2)).map(parseLogLine);
  assert.deepEqual(
    lines.map((l) => [l.flags, l.details]),
    [
      ['FI', 'fault_filter_abort'],
      ['DI', 'via_upstream'],
    ],
  );
  assert.equal(g.up.requests.length, 1);
});

test('route timeout: 504 UT response_timeout', async (t) => {
  const g = await gw(t, [forward(C, { timeoutMs: 100 })]);
  const r = await g.get('/delay/2000');
  assert.equal(r.status, 504);
  assert.equal(r.body, 'upstream request timeout');
  const f = parseLogLine((await g.p.logLines(1))[0]!);
  assert.equal(f.flags, 'UT');
  assert.equal(f.details, 'response_timeout');
});

test('retries: a refused endpoint is retried on connect-failure; exhausted retries give UF,URX', async (t) => {
  const dead = await closedPort();
  const g = await gw(t, [forward(C, { retry: { attempts: 2, retryOn: ['connect-failure'] } })], {}, [dead]);
  // Round robin over [dead, live]: every request succeeds, some after a retry.
  for (let i = 0; i < 4; i++) assert.equal((await g.get('/')).status, 200);

  const g2 = await gw(t, [forward(C, { retry: { attempts: 2, retryOn: ['connect-failure'] } })]);
  await g2.up.close();
  const r = await g2.get('/');
  assert.equal(r.status, 503);
  const f = parseLogLine((await g2.p.logLines(1))[0]!);
  assert.equal(f.flags, 'UF,URX');
  assert.equal(f.details, 'upstream_reset_before_response_started{connection_failure}');
});

test('retries on 5xx re-send the request and relay the last answer with URX', async (t) => {
  const g = await gw(t, [forward(C, { retry: { attempts: 2, retryOn: ['5xx'] } })]);
  const r = await g.get('/status/503');
  assert.equal(r.status, 503);
  assert.equal(g.up.requests.length, 3);
  const f = parseLogLine((await g.p.logLines(1))[0]!);
  assert.equal(f.flags, 'URX');
  assert.equal(f.details, 'via_upstream');
});

test('an upstream that resets or answers garbage gives 503 UC / 502 UPE, and the proxy keeps serving', async (t) => {
  const g = await gw(t, [forward(C)]);
  assert.equal((await g.get('/reset')).status, 503);
  assert.equal((await g.get('/garbage')).status, 502);
  assert.equal((await g.get('/')).status, 200);
  const lines = (await g.p.logLines(3)).map(parseLogLine);
  assert.equal(lines[0]!.flags, 'UC');
  assert.equal(lines[1]!.flags, 'UPE');
  assert.equal(lines[2]!.flags, '-');
});

test('connection pool: maxConnections 1 + http1MaxPendingRequests 1 overflows with 503 UO', async (t) => {
  const g = await gw(t, [forward(C)], { connectionPool: { maxConnections: 1, http1MaxPendingRequests: 1 } });
  const results = await Promise.all(Array.from({ length: 4 }, () => g.get('/delay/200')));
  const codes = results.map((r) => r.status).sort();
  assert.deepEqual(codes, [200, 200, 503, 503]);
  const lines = (await g.p.logLines(4)).map(parseLogLine);
  assert.equal(lines.filter((l) => l.flags === 'UO').length, 2);
});

test('malformed request line gets 400, oversized headers 431; the listener keeps serving', async (t) => {
  const g = await gw(t, [forward(C)]);
  const net = await import('node:net');
  const raw = (data: string) =>
    new Promise<string>((resolve) => {
      const s = net.connect(g.port, '127.0.0.1', () => s.write(data));
      let buf = '';
      s.on('data', (d) => {
        buf += d;
      });
      s.on('close', () => resolve(buf));
      s.on('error', () => resolve(buf));
    });
  assert.match(await raw('GARBAGE\r\n\r\n'), /^HTTP\/1.1 400/);
  assert.match(await raw(`GET / HTTP/1.1\r\nHost: api.example.com\r\nX-Big: ${'a'.repeat(100_000)}\r\n\r\n`), /^HTTP\/1.1 431/);
  const r = await curl(['-o', '/dev/null', '-w', '%{http_code}', '-H', 'Host: api.example.com', `http://127.0.0.1:${g.port}/`]);
  assert.equal(r.stdout, '200');
  const lines = (await g.p.logLines(3)).map(parseLogLine);
  assert.deepEqual(
    lines.slice(0, 2).map((l) => [l.code, l.flags]),
    [
      ['400', 'DPE'],
      ['431', 'DPE'],
    ],
  );
});
