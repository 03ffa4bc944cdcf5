// Bounded DNS: with a DNS server that never answers (and c-ares told to wait a minute), every
// request that needs a resolution gets 503 DF within the mesh's dnsResolutionTimeout, is logged,
// and the proxy keeps serving everything else.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startHttpUpstream } from '../../helpers/upstreams.js';
import { startSilentDnsServer } from '../../helpers/dns-server.js';
import { startProxy, tempDir, parseLogLine, type RunningProxy } from '../../helpers/proxy-harness.js';
import { rawExchange } from '../../helpers/fuzz.js';
import {
  proxyConfig,
  httpListener,
  outboundListener,
  tcpListener,
  routeTable,
  vhost,
  forward,
  dnsCluster,
  staticCluster,
  passthroughCluster,
  blackholeCluster,
  fallbackTables,
  textLog,
} from '../../helpers/proxyconfig.js';
import { Resolver, DnsError } from '../../../src/dataplane/dns/resolver.js';

/** c-ares alone waits more than 5 s per try here (it caps its timeout), so 4 tries: far past the cap below. */
const CARES = { timeoutMs: 60_000, tries: 4 };
/** The test's own cap on a request: well past the bound, far short of c-ares' wait. */
const CAP_MS = 5000;

async function gateway(
  t: TestContext,
  dnsResolutionTimeoutMs: number | undefined,
  policy: 'ALLOW_ANY' | 'REGISTRY_ONLY' = 'ALLOW_ANY',
): Promise<{ p: RunningProxy; port: number; outbound: number; tcp: number; queries: () => number }> {
  const dns = await startSilentDnsServer();
  const good = await startHttpUpstream({ name: 'good' });
  t.after(async () => {
    await dns.close();
    await good.close();
  });
  const logPath = join(tempDir(t, 'outpost-dns-timeout-'), 'access.log');
  const base = proxyConfig({
    role: 'sidecar',
    policy,
    accessLog: textLog(logPath),
    listeners: [
      httpListener('http', 0, 'rt', { address: '127.0.0.1' }),
      outboundListener(0, policy, { address: '127.0.0.2' }),
      tcpListener('tcp', 0, 'outbound|9000||slow-tcp.example', { address: '127.0.0.3' }),
    ],
    routeTables: [
      routeTable('rt', [
        vhost('slow.example', ['slow.example'], [forward('outbound|80||slow.example')]),
        vhost('good.example', ['good.example'], [forward('good')]),
      ]),
      ...fallbackTables(),
    ],
    clusters: [
      dnsCluster('outbound|80||slow.example', 'slow.example', 80),
      dnsCluster('outbound|9000||slow-tcp.example', 'slow-tcp.example', 9000, { protocol: 'TCP' }),
      staticCluster('good', [{ address: '127.0.0.1', port: good.port }]),
      passthroughCluster(),
      blackholeCluster(),
    ],
  });
  const cfg = dnsResolutionTimeoutMs === undefined ? base : { ...base, mesh: { ...base.mesh, dnsResolutionTimeoutMs } };
  const p = await startProxy(t, cfg, { resolver: { server: dns.address, negativeTtlMs: 0, ...CARES } }, logPath);
  return {
    p,
    port: p.proxy.listenerPort('http')!,
    outbound: p.proxy.listenerPort('virtualOutbound')!,
    tcp: p.proxy.listenerPort('tcp')!,
    queries: () => dns.received,
  };
}

function statusLineOf(text: string): string {
  const i = text.indexOf('\r\n');
  return i < 0 ? text : text.slice(0, i);
}

test("a resolver lookup against a server that never answers fails ETIMEOUT at its bound, not c-ares'", async (t) => {
  const dns = await startSilentDnsServer();
  t.after(() => dns.close());
  const r = new Resolver({ server: dns.address, resolutionTimeoutMs: 200, ...CARES });
  t.after(() => r.close());
  const outcome = await Promise.race([
    r.lookup('never.example').then(
      () => 'resolved',
      (e: unknown) => e,
    ),
    new Promise((res) => setTimeout(() => res('still waiting'), CAP_MS).unref()),
  ]);
  assert.ok(outcome instanceof DnsError, `got ${String(outcome)}`);
  assert.equal(outcome.code, 'ETIMEOUT');
  assert.ok(dns.received >= 1, 'the query did reach the server');
});

test('a STRICT_DNS cluster whose server never answers: 503 DF dns_resolution_failed within the mesh bound, logged; other routes unaffected', async (t) => {
  const g = await gateway(t, 300);
  for (let i = 0; i < 2; i++) {
    const r = await rawExchange('127.0.0.1', g.port, 'GET / HTTP/1.1\r\nHost: slow.example\r\nConnection: close\r\n\r\n', { capMs: CAP_MS });
    assert.ok(!r.capped, `request ${i + 1} was answered before the test's cap`);
    assert.equal(statusLineOf(r.text), 'HTTP/1.1 503 Service Unavailable', r.text.slice(0, 200));
    assert.match(r.text, /dns resolution failure/);
  }
  const lines = (await g.p.logLines(2)).map(parseLogLine);
  for (const l of lines.slice(0, 2)) {
    assert.equal(l.code, '503');
    assert.equal(l.flags, 'DF');
    assert.equal(l.details, 'dns_resolution_failed');
    assert.equal(l.upstreamCluster, 'outbound|80||slow.example');
  }
  assert.ok(g.queries() >= 1);
  const ok = await rawExchange('127.0.0.1', g.port, 'GET / HTTP/1.1\r\nHost: good.example\r\nConnection: close\r\n\r\n', { capMs: CAP_MS });
  assert.equal(statusLineOf(ok.text), 'HTTP/1.1 200 OK');
});

test('a passthrough (ORIGINAL_DST) target through the sidecar: 503 DF within the bound, logged', async (t) => {
  const g = await gateway(t, 300);
  const r = await rawExchange('127.0.0.2', g.outbound, 'GET http://unknown.example/x HTTP/1.1\r\nHost: unknown.example\r\nConnection: close\r\n\r\n', {
    capMs: CAP_MS,
  });
  assert.ok(!r.capped, "answered before the test's cap");
  assert.equal(statusLineOf(r.text), 'HTTP/1.1 503 Service Unavailable', r.text.slice(0, 200));
  const l = parseLogLine((await g.p.logLines(1))[0]!);
  assert.equal(l.flags, 'DF');
  assert.equal(l.details, 'dns_resolution_failed');
  assert.equal(l.upstreamCluster, 'PassthroughCluster');
});

test('a TCP listener whose DNS cluster never resolves: the connection is closed within the bound, logged DF', async (t) => {
  const g = await gateway(t, 300);
  const r = await rawExchange('127.0.0.3', g.tcp, 'hello', { capMs: CAP_MS });
  assert.ok(r.closed && !r.capped, "the proxy closed the connection before the test's cap");
  const l = (await g.p.logLines(1))[0]!;
  assert.match(l, / DF /, l);
  assert.match(l, /outbound\|9000\|\|slow-tcp\.example/, l);
});

test("without a mesh setting the proxy uses Envoy's 5 s bound; a bad value is NACKed and the old bound stays", async (t) => {
  const g = await gateway(t, undefined);
  assert.equal(g.p.proxy.resolver.resolutionTimeoutMs, 5000);
  const cfg = { ...proxyConfig({ listeners: [], routeTables: [], clusters: [] }) };
  await assert.rejects(g.p.proxy.apply({ ...cfg, mesh: { ...cfg.mesh, dnsResolutionTimeoutMs: -1 } }), /mesh\.dnsResolutionTimeoutMs/);
  assert.equal(g.p.proxy.resolver.resolutionTimeoutMs, 5000);
  await g.p.proxy.apply({ ...cfg, mesh: { ...cfg.mesh, dnsResolutionTimeoutMs: 750 } });
  assert.equal(g.p.proxy.resolver.resolutionTimeoutMs, 750);
});
