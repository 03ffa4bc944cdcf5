// The SSRF guard with real sockets: PassthroughCluster, CONNECT tunnels and DNS clusters never dial
// a proxy's admin port, loopback or an address a name re-resolved to, unless a ServiceEntry named
// it; each denial is a local reply (403, flag SSRF, details) that is logged and counted, and
// REPORT_ONLY lets everything through while logging and counting what it would have denied.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { join } from 'node:path';
import { startHttpUpstream, startTcpEcho } from '../../helpers/upstreams.js';
import { startDnsServer } from '../../helpers/dns-server.js';
import { startProxy, tempDir, curl, freePort, waitFor } from '../../helpers/proxy-harness.js';
import {
  proxyConfig,
  httpListener,
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
import type { ProxyConfig, SsrfGuardSettings } from '../../../src/proxyconfig/types.js';
import { BUILT_IN_DENY_RANGES } from '../../../src/controlplane/translate/ssrf-guard.js';
import { normalizeAddress } from '../../../src/dataplane/upstream/ssrf-guard.js';

const LOG_FORMAT =
  '%RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %UPSTREAM_CLUSTER% %UPSTREAM_HOST% %DYNAMIC_METADATA(outpost.ssrf_guard:would_deny)%\n';

interface Sidecar {
  port: number;
  adminPort: number;
  lines(n: number): Promise<string[]>;
  metrics(): string;
}

async function sidecar(
  t: TestContext,
  guard: Partial<SsrfGuardSettings> | undefined,
  dnsServer: string,
  extra: Partial<Pick<ProxyConfig, 'clusters' | 'routeTables' | 'listeners'>> = {},
  format?: string,
): Promise<Sidecar> {
  const dir = tempDir(t);
  const logPath = join(dir, 'access.log');
  const port = await freePort();
  const adminPort = await freePort();
  const base = proxyConfig({
    role: 'sidecar',
    policy: 'ALLOW_ANY',
    accessLog: format === undefined ? { ...textLog(logPath), format: LOG_FORMAT } : textLog(logPath),
    listeners: [outboundListener(port, 'ALLOW_ANY'), ...(extra.listeners ?? [])],
    routeTables: [...fallbackTables(), ...(extra.routeTables ?? [])],
    clusters: [passthroughCluster(), blackholeCluster(), ...(extra.clusters ?? [])],
  });
  const cfg: ProxyConfig =
    guard === undefined
      ? base
      : {
          ...base,
          version: `${base.version}-g`,
          mesh: { ...base.mesh, ssrfGuard: { mode: 'ENFORCE', denyRanges: BUILT_IN_DENY_RANGES, adminPorts: [adminPort], ...guard } },
        };
  const p = await startProxy(t, cfg, { resolver: { server: dnsServer }, adminAddress: '127.0.0.1', adminPort }, logPath);
  assert.equal(p.proxy.lastNack, undefined);
  return { port, adminPort, lines: (n) => p.logLines(n), metrics: () => p.proxy.metrics.render() };
}

function fields(line: string): string[] {
  return line.split(' ');
}

test('IPv4-mapped IPv6 addresses are checked as their IPv4 address', () => {
  const table: Array<[string, string]> = [
    ['::ffff:127.0.0.1', '127.0.0.1'],
    ['::ffff:7f00:1', '127.0.0.1'],
    ['0:0:0:0:0:ffff:a9fe:a9fe', '169.254.169.254'],
    ['[::FFFF:10.1.2.3]', '10.1.2.3'],
    ['::1', '::1'],
    ['fe80::1%lo', 'fe80::1'],
    ['2001:db8::ffff:7f00:1', '2001:db8::ffff:7f00:1'],
  ];
  for (const [given, want] of table) assert.equal(normalizeAddress(given), want, given);
});

test('passthrough to a proxy admin port and to loopback: 403, flag SSRF, logged and counted; nothing reaches them', async (t) => {
  const dns = await startDnsServer({});
  const upstream = await startHttpUpstream({ name: 'internal' });
  t.after(async () => {
    await dns.close();
    await upstream.close();
  });
  const s = await sidecar(t, {}, dns.address);
  const proxy = `http://127.0.0.1:${s.port}`;
  const cases: Array<{ url: string; reason: string; host: string }> = [
    { url: `http://127.0.0.1:${s.adminPort}/config_dump`, reason: 'proxy_admin', host: `127.0.0.1:${s.adminPort}` },
    { url: `http://127.0.0.1:${upstream.port}/internal`, reason: 'loopback', host: `127.0.0.1:${upstream.port}` },
    { url: `http://[::ffff:127.0.0.1]:${upstream.port}/mapped`, reason: 'loopback', host: `[::ffff:127.0.0.1]:${upstream.port}` },
  ];
  for (const [i, c] of cases.entries()) {
    const r = await curl(['-o', '-', '-w', ' %{http_code}', '-x', proxy, c.url]);
    assert.equal(r.stdout, 'SSRF guard: destination denied 403', `${c.url}: ${r.stderr}`);
    const f = fields((await s.lines(i + 1))[i]!);
    assert.deepEqual(f.slice(0, 5), ['403', 'SSRF', `ssrf_guard_denied{${c.reason}}`, 'PassthroughCluster', c.host], c.url);
  }
  assert.equal(upstream.requests.length, 0);
  const m = s.metrics();
  assert.match(m, /^outpost_ssrf_guard_total\{decision="denied",reason="proxy_admin",protocol="http"\} 1$/m);
  assert.match(m, /^outpost_ssrf_guard_total\{decision="denied",reason="loopback",protocol="http"\} 2$/m);
  assert.match(m, /istio_requests_total\{[^}]*destination_service_name="PassthroughCluster"[^}]*response_flags="SSRF"[^}]*response_code="403"[^}]*\} 3/);
});

test('CONNECT to an IP in a denied range gets 403 before any tunnel; a ServiceEntry address is allowed', async (t) => {
  const dns = await startDnsServer({});
  const echo = await startTcpEcho({ address: '127.0.0.2', greeting: 'hello\n' });
  const internal = await startTcpEcho({ address: '127.0.0.1', greeting: 'internal\n' });
  t.after(async () => {
    await dns.close();
    await echo.close();
    await internal.close();
  });
  const s = await sidecar(t, { allowAddresses: ['127.0.0.2/32'] }, dns.address);
  const connect = (target: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const sock = net.connect(s.port, '127.0.0.1');
      let got = '';
      sock.setEncoding('utf8');
      sock.on('data', (d: string) => {
        got += d;
        if (got.includes('hello\n')) sock.end();
      });
      sock.on('error', reject);
      sock.on('close', () => resolve(got));
      sock.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
    });
  const denied = await connect(`127.0.0.1:${internal.port}`);
  assert.match(denied, /^HTTP\/1\.1 403 Forbidden\r\n/);
  assert.match(denied, /SSRF guard: destination denied$/);
  assert.equal(internal.connections(), 0, 'nothing dialled');
  const allowed = await connect(`127.0.0.2:${echo.port}`);
  assert.match(allowed, /^HTTP\/1\.1 200 Connection established\r\n\r\nhello\n/);
  const lines = await s.lines(2);
  const byHost = (h: string) => fields(lines.find((l) => l.includes(h))!);
  assert.deepEqual(byHost(`127.0.0.1:${internal.port}`).slice(0, 4), ['403', 'SSRF', 'ssrf_guard_denied{loopback}', 'PassthroughCluster']);
  assert.deepEqual(byHost(`127.0.0.2:${echo.port}`).slice(0, 4), ['0', '-', '-', 'PassthroughCluster']);
  assert.match(s.metrics(), /^outpost_ssrf_guard_total\{decision="denied",reason="loopback",protocol="tcp"\} 1$/m);
});

test('DNS rebinding: a name that resolves (or re-resolves) to loopback is denied at connect time', async (t) => {
  const allowedUp = await startHttpUpstream({ name: 'public', address: '127.0.0.2' });
  const internal = await startHttpUpstream({ name: 'internal', address: '127.0.0.1' });
  const dns = await startDnsServer({ 'rebind.test': { addresses: ['127.0.0.2'], ttl: 1 }, 'evil.test': ['127.0.0.1'] });
  t.after(async () => {
    await dns.close();
    await allowedUp.close();
    await internal.close();
  });
  // The DNS cluster for rebind.test: its endpoints are whatever the name resolves to now.
  const s = await sidecar(t, { allowAddresses: ['127.0.0.2/32'] }, dns.address, {
    listeners: [httpListener('0.0.0.0_8080', 8080, '8080', { bindToPort: false, address: '0.0.0.0' })],
    routeTables: [routeTable('8080', [vhost('rebind.test:8080', ['rebind.test', 'rebind.test:8080'], [forward('outbound|8080||rebind.test')])])],
    clusters: [dnsCluster('outbound|8080||rebind.test', 'rebind.test', allowedUp.port)],
  });
  const proxy = `http://127.0.0.1:${s.port}`;
  // Passthrough to a name that resolves to loopback.
  const evil = await curl(['-o', '/dev/null', '-w', '%{http_code}', '-x', proxy, `http://evil.test:${internal.port}/`]);
  assert.equal(evil.stdout, '403', evil.stderr);
  // The DNS cluster: first the allowed address, then the name moves to loopback (same port: the internal server's).
  const first = await curl(['-o', '/dev/null', '-w', '%{http_code}', '-x', proxy, 'http://rebind.test:8080/']);
  assert.equal(first.stdout, '200', first.stderr);
  assert.equal(allowedUp.requests.length, 1);
  dns.set('rebind.test', ['127.0.0.1'], 1);
  await waitFor(
    async () => (await curl(['-o', '/dev/null', '-w', '%{http_code}', '-x', proxy, 'http://rebind.test:8080/'])).stdout === '403',
    'the re-resolved name to be denied',
  );
  assert.equal(internal.requests.length, 0, 'the internal server was never reached');
  const lines = await s.lines(3);
  assert.deepEqual(fields(lines[0]!).slice(0, 5), ['403', 'SSRF', 'ssrf_guard_denied{loopback}', 'PassthroughCluster', `127.0.0.1:${internal.port}`]);
  assert.deepEqual(fields(lines[lines.length - 1]!).slice(0, 5), [
    '403',
    'SSRF',
    'ssrf_guard_denied{loopback}',
    'outbound|8080||rebind.test',
    `127.0.0.1:${allowedUp.port}`,
  ]);
});

test('a ServiceEntry host is explicitly named: its loopback address is allowed, except on an admin port', async (t) => {
  const up = await startHttpUpstream({ name: 'stand-in' });
  const dns = await startDnsServer({ 'httpbin.org': ['127.0.0.1'], '*.wiki.test': ['127.0.0.1'] });
  t.after(async () => {
    await dns.close();
    await up.close();
  });
  dns.set('en.wiki.test', ['127.0.0.1']);
  const s = await sidecar(t, { allowHosts: ['httpbin.org', '*.wiki.test'] }, dns.address);
  const proxy = `http://127.0.0.1:${s.port}`;
  const table: Array<[string, string]> = [
    [`http://httpbin.org:${up.port}/get`, '200'],
    [`http://en.wiki.test:${up.port}/wiki`, '200'],
    [`http://httpbin.org:${s.adminPort}/config_dump`, '403'],
  ];
  for (const [url, code] of table) {
    const r = await curl(['-o', '/dev/null', '-w', '%{http_code}', '-x', proxy, url]);
    assert.equal(r.stdout, code, `${url}: ${r.stderr}`);
  }
  assert.equal(up.requests.length, 2);
  const lines = await s.lines(3);
  assert.deepEqual(fields(lines[2]!).slice(0, 3), ['403', 'SSRF', 'ssrf_guard_denied{proxy_admin}']);
});

test('REPORT_ONLY: the request goes through; the log and a counter say what would have been denied', async (t) => {
  const dns = await startDnsServer({});
  const upstream = await startHttpUpstream({ name: 'internal' });
  t.after(async () => {
    await dns.close();
    await upstream.close();
  });
  const s = await sidecar(t, { mode: 'REPORT_ONLY' }, dns.address);
  const r = await curl(['-o', '/dev/null', '-w', '%{http_code}', '-x', `http://127.0.0.1:${s.port}`, `http://127.0.0.1:${upstream.port}/x`]);
  assert.equal(r.stdout, '200', r.stderr);
  assert.equal(upstream.requests.length, 1);
  const f = fields((await s.lines(1))[0]!);
  assert.deepEqual(f, ['200', '-', 'via_upstream', 'PassthroughCluster', `127.0.0.1:${upstream.port}`, 'loopback']);
  assert.match(s.metrics(), /^outpost_ssrf_guard_total\{decision="would_deny",reason="loopback",protocol="http"\} 1$/m);
  assert.doesNotMatch(s.metrics(), /decision="denied"/);
});

test('no guard in the config: passthrough to loopback works as before', async (t) => {
  const dns = await startDnsServer({});
  const upstream = await startHttpUpstream({ name: 'internal' });
  t.after(async () => {
    await dns.close();
    await upstream.close();
  });
  const s = await sidecar(t, undefined, dns.address);
  const r = await curl(['-o', '/dev/null', '-w', '%{http_code}', '-x', `http://127.0.0.1:${s.port}`, `http://127.0.0.1:${upstream.port}/x`]);
  assert.equal(r.stdout, '200', r.stderr);
  assert.doesNotMatch(s.metrics(), /outpost_ssrf_guard_total/);
});
