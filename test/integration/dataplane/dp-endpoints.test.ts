import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import type { Cluster, Endpoint } from '../../../src/proxyconfig/types.js';
import { ClusterEndpoints, type UpstreamTarget } from '../../../src/dataplane/upstream/endpoints.js';
import { Resolver, DnsError } from '../../../src/dataplane/dns/resolver.js';
import { startDnsServer } from '../../helpers/dns-server.js';

async function eventually(fn: () => boolean, limitMs = 8000): Promise<void> {
  const until = Date.now() + limitMs;
  while (!fn()) {
    if (Date.now() > until) assert.fail('condition not reached in time');
    await delay(50);
  }
}

function cluster(over: Partial<Cluster> & { endpoints: Endpoint[] }): Cluster {
  return Object.freeze({
    name: 'outbound|80||docs.redhat.com',
    type: 'STRICT_DNS',
    lbPolicy: 'ROUND_ROBIN',
    connectTimeoutMs: 10_000,
    protocol: 'HTTP1',
    ...over,
  }) as Cluster;
}

function addrs(ce: ClusterEndpoints): string[] {
  return ce
    .snapshot()
    .map((s) => `${s.address}:${s.port}`)
    .sort();
}

test('STRICT_DNS: every address of every name is an endpoint, re-resolved at the TTL', async (t) => {
  const dns = await startDnsServer({
    'docs.redhat.com': { addresses: ['127.0.0.5', '127.0.0.6'], ttl: 1 },
    'mirror.test': { addresses: ['127.0.0.7'], ttl: 1 },
  });
  const resolver = new Resolver({ server: dns.address });
  const ce = new ClusterEndpoints(
    cluster({
      endpoints: [
        { address: 'docs.redhat.com', port: 80 },
        { address: 'mirror.test', port: 8080 },
      ],
    }),
    resolver,
  );
  t.after(async () => {
    ce.close();
    resolver.close();
    await dns.close();
  });
  await ce.ready();
  assert.deepEqual(addrs(ce), ['127.0.0.5:80', '127.0.0.6:80', '127.0.0.7:8080']);
  assert.equal(ce.snapshot().find((s) => s.address === '127.0.0.7')!.hostname, 'mirror.test');
  const picked = new Set<string>();
  for (let i = 0; i < 6; i++) {
    const p = ce.pick()!;
    picked.add(`${p.address}:${p.port}`);
  }
  assert.equal(picked.size, 3);

  const gen = ce.generation;
  dns.set('docs.redhat.com', ['127.0.0.8'], 1);
  await eventually(() => addrs(ce).join() === '127.0.0.7:8080,127.0.0.8:80');
  assert.ok(ce.generation > gen);
});

test('STRICT_DNS keeps the last good set when a refresh fails', async (t) => {
  const dns = await startDnsServer({ 'flaky.test': { addresses: ['127.0.0.5'], ttl: 1 } });
  const resolver = new Resolver({ server: dns.address, negativeTtlMs: 0 });
  const ce = new ClusterEndpoints(cluster({ endpoints: [{ address: 'flaky.test', port: 80 }], dnsRefreshRateMs: 300 }), resolver);
  t.after(async () => {
    ce.close();
    resolver.close();
    await dns.close();
  });
  await ce.ready();
  const before = dns.queries('flaky.test');
  dns.fail('flaky.test');
  // Wait until the failing server has been asked again (at least two refreshes).
  await eventually(() => dns.queries('flaky.test') >= before + 2);
  assert.deepEqual(addrs(ce), ['127.0.0.5:80']);
  assert.equal(ce.pick()?.address, '127.0.0.5');
  dns.fail('flaky.test', false);
  dns.set('flaky.test', ['127.0.0.6'], 1);
  await eventually(() => addrs(ce).join() === '127.0.0.6:80');
});

test('a DNS cluster whose name never resolves is ready with no endpoints (UH), not an error', async (t) => {
  const dns = await startDnsServer({});
  const resolver = new Resolver({ server: dns.address });
  const ce = new ClusterEndpoints(cluster({ endpoints: [{ address: 'nowhere.test', port: 80 }] }), resolver);
  t.after(async () => {
    ce.close();
    resolver.close();
    await dns.close();
  });
  await ce.ready();
  assert.equal(ce.pick(), undefined);
  assert.deepEqual(ce.snapshot(), []);
});

test('LOGICAL_DNS uses the first address only', async (t) => {
  const dns = await startDnsServer({ 'rr.test': ['127.0.0.21', '127.0.0.22', '127.0.0.23'] });
  const resolver = new Resolver({ server: dns.address });
  const ce = new ClusterEndpoints(cluster({ type: 'LOGICAL_DNS', endpoints: [{ address: 'rr.test', port: 443 }] }), resolver);
  t.after(async () => {
    ce.close();
    resolver.close();
    await dns.close();
  });
  await ce.ready();
  for (let i = 0; i < 5; i++) {
    const p = ce.pick()!;
    assert.deepEqual([p.address, p.port, p.hostname], ['127.0.0.21', 443, 'rr.test']);
  }
});

test('ORIGINAL_DST resolves the request destination; an unknown name is a DnsError (DF)', async (t) => {
  const dns = await startDnsServer({ 'httpbin.org': ['127.0.0.40'] });
  const resolver = new Resolver({ server: dns.address });
  const ce = new ClusterEndpoints(cluster({ name: 'PassthroughCluster', type: 'ORIGINAL_DST', endpoints: [] }), resolver);
  t.after(async () => {
    ce.close();
    resolver.close();
    await dns.close();
  });
  await ce.ready();
  assert.equal(ce.pick(), undefined);
  const target = await ce.resolveOriginal('httpbin.org', 8080);
  assert.deepEqual({ ...target }, { address: '127.0.0.40', port: 8080, hostname: 'httpbin.org' });
  assert.deepEqual({ ...(await ce.resolveOriginal('127.0.0.9', 80)) }, { address: '127.0.0.9', port: 80 });
  await assert.rejects(ce.resolveOriginal('nope.test', 80), (e: unknown) => e instanceof DnsError && e.code === 'ENOTFOUND');
  // Outcomes for targets outside the endpoint list are accepted and ignored.
  ce.requestStarted(target);
  ce.requestFinished(target, 'connect-failure');
});

test('STRICT_DNS load is spread evenly over the resolved addresses', async (t) => {
  const dns = await startDnsServer({ 'lb.test': ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'] });
  const resolver = new Resolver({ server: dns.address });
  const ce = new ClusterEndpoints(cluster({ endpoints: [{ address: 'lb.test', port: 80 }] }), resolver);
  t.after(async () => {
    ce.close();
    resolver.close();
    await dns.close();
  });
  await ce.ready();
  const counts = new Map<string, number>();
  for (let i = 0; i < 400; i++) {
    const p = ce.pick()!;
    ce.requestStarted(p);
    ce.requestFinished(p, 'success');
    counts.set(p.address, (counts.get(p.address) ?? 0) + 1);
  }
  assert.deepEqual([...counts.values()], [100, 100, 100, 100]);
  assert.deepEqual(
    ce.snapshot().map((s) => s.total),
    [100, 100, 100, 100],
  );
});

test('endpoints that survive a DNS update keep their load counters', async (t) => {
  const dns = await startDnsServer({ 'keep.test': { addresses: ['127.0.0.1', '127.0.0.2'], ttl: 1 } });
  const resolver = new Resolver({ server: dns.address });
  const ce = new ClusterEndpoints(cluster({ endpoints: [{ address: 'keep.test', port: 80 }] }), resolver);
  t.after(async () => {
    ce.close();
    resolver.close();
    await dns.close();
  });
  await ce.ready();
  let t1: UpstreamTarget | undefined;
  for (let i = 0; i < 2; i++) {
    const p = ce.pick()!;
    if (p.address === '127.0.0.1') t1 = p;
  }
  ce.requestStarted(t1!);
  dns.set('keep.test', ['127.0.0.1', '127.0.0.3'], 1);
  await eventually(() => addrs(ce).join() === '127.0.0.1:80,127.0.0.3:80');
  assert.equal(ce.snapshot().find((s) => s.address === '127.0.0.1')!.active, 1);
  ce.requestFinished(t1!, 'success');
  assert.equal(ce.snapshot().find((s) => s.address === '127.0.0.1')!.active, 0);
});
