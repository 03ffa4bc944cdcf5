import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import type { Cluster, Endpoint, OutlierDetection } from '../../../src/proxyconfig/types.js';
import { ClusterEndpoints, type UpstreamTarget } from '../../../src/dataplane/upstream/endpoints.js';
import { Resolver } from '../../../src/dataplane/dns/resolver.js';
import { seededRandom } from '../../helpers/rng.js';

const resolver = new Resolver();

function staticCluster(endpoints: Endpoint[], over: Partial<Cluster> = {}): Cluster {
  return Object.freeze({
    name: 'outbound|80||static.test',
    type: 'STATIC',
    endpoints,
    lbPolicy: 'ROUND_ROBIN',
    connectTimeoutMs: 10_000,
    protocol: 'HTTP1',
    ...over,
  }) as Cluster;
}

const three: Endpoint[] = [
  { address: '127.0.0.1', port: 8001 },
  { address: '127.0.0.2', port: 8002 },
  { address: '127.0.0.3', port: 8003 },
];

function tally(ce: ClusterEndpoints, n: number, finish = true): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const p = ce.pick()!;
    ce.requestStarted(p);
    if (finish) ce.requestFinished(p, 'success');
    counts.set(p.address, (counts.get(p.address) ?? 0) + 1);
  }
  return counts;
}

test('STATIC is ready at once; ROUND_ROBIN cycles evenly in order', async () => {
  const ce = new ClusterEndpoints(staticCluster(three), resolver);
  await ce.ready();
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6].map(() => ce.pick()!.port),
    [8001, 8002, 8003, 8001, 8002, 8003],
  );
  ce.close();
});

test('weighted ROUND_ROBIN gives exact shares, interleaved', () => {
  const ce = new ClusterEndpoints(
    staticCluster([
      { address: '127.0.0.1', port: 1, weight: 3 },
      { address: '127.0.0.2', port: 2, weight: 1 },
    ]),
    resolver,
  );
  const first = [1, 2, 3, 4].map(() => ce.pick()!.port);
  assert.deepEqual([...first].sort(), [1, 1, 1, 2]);
  assert.notDeepEqual(first, [1, 1, 1, 2].reverse(), 'the light host is not starved to the end');
  const counts = tally(ce, 400);
  assert.equal(counts.get('127.0.0.1'), 300);
  assert.equal(counts.get('127.0.0.2'), 100);
});

test('RANDOM follows the weights (chi-square bound, seeded)', () => {
  const ce = new ClusterEndpoints(
    staticCluster(
      [
        { address: '127.0.0.1', port: 1, weight: 1 },
        { address: '127.0.0.2', port: 2, weight: 2 },
        { address: '127.0.0.3', port: 3, weight: 7 },
      ],
      { lbPolicy: 'RANDOM' },
    ),
    resolver,
    { random: seededRandom(7) },
  );
  const n = 50_000;
  const counts = tally(ce, n);
  let chi2 = 0;
  for (const [a, w] of [
    ['127.0.0.1', 0.1],
    ['127.0.0.2', 0.2],
    ['127.0.0.3', 0.7],
  ] as const)
    chi2 += ((counts.get(a) ?? 0) - n * w) ** 2 / (n * w);
  assert.ok(chi2 < 13.8, `chi2 ${chi2}`);
});

test('RANDOM with equal weights is uniform (seeded)', () => {
  const ce = new ClusterEndpoints(staticCluster(three, { lbPolicy: 'RANDOM' }), resolver, { random: seededRandom(3) });
  const n = 30_000;
  const counts = tally(ce, n);
  let chi2 = 0;
  for (const c of counts.values()) chi2 += (c - n / 3) ** 2 / (n / 3);
  assert.equal(counts.size, 3);
  assert.ok(chi2 < 13.8, `chi2 ${chi2}`);
});

test('LEAST_REQUEST avoids the busy host', () => {
  const ce = new ClusterEndpoints(staticCluster(three.slice(0, 2), { lbPolicy: 'LEAST_REQUEST' }), resolver, { random: seededRandom(1) });
  // The first host picked gets 5 requests stuck in flight.
  const busy = ce.pick()!;
  for (let i = 0; i < 5; i++) ce.requestStarted(busy);
  const counts = tally(ce, 50);
  assert.equal(counts.get(busy.address), undefined);
  assert.equal(ce.snapshot().find((s) => s.address === busy.address)!.active, 5);
});

test('LEAST_REQUEST with many hosts spreads load when all are idle (seeded)', () => {
  const ce = new ClusterEndpoints(staticCluster(three, { lbPolicy: 'LEAST_REQUEST' }), resolver, { random: seededRandom(9) });
  const counts = tally(ce, 3000);
  for (const c of counts.values()) assert.ok(c > 800 && c < 1200, JSON.stringify([...counts]));
});

function odCluster(od: OutlierDetection, endpoints = three): ClusterEndpoints {
  return new ClusterEndpoints(staticCluster(endpoints, { outlierDetection: od }), resolver);
}

function targetFor(ce: ClusterEndpoints, address: string): UpstreamTarget {
  for (let i = 0; i < 10; i++) {
    const p = ce.pick()!;
    if (p.address === address) return p;
  }
  throw new Error(`no target ${address}`);
}

test('consecutive 5xx errors eject a host; it gets no traffic and shows unhealthy', () => {
  const ce = odCluster({ consecutive5xxErrors: 2, intervalMs: 10_000, baseEjectionTimeMs: 60_000, maxEjectionPercent: 100 });
  const bad = targetFor(ce, '127.0.0.2');
  ce.requestStarted(bad);
  ce.requestFinished(bad, '5xx');
  assert.equal(ce.snapshot()[1]!.healthy, true);
  ce.requestStarted(bad);
  ce.requestFinished(bad, '5xx');
  const snap = ce.snapshot();
  assert.deepEqual(
    snap.map((s) => s.healthy),
    [true, false, true],
  );
  assert.equal(snap[1]!.failures, 2);
  const counts = tally(ce, 100);
  assert.equal(counts.get('127.0.0.2'), undefined);
  assert.equal(counts.get('127.0.0.1'), 50);
});

test('a success resets the consecutive count', () => {
  const ce = odCluster({ consecutive5xxErrors: 2, intervalMs: 10_000, baseEjectionTimeMs: 60_000, maxEjectionPercent: 100 });
  const t = targetFor(ce, '127.0.0.1');
  for (const o of ['5xx', 'success', '5xx', 'success', '5xx'] as const) {
    ce.requestStarted(t);
    ce.requestFinished(t, o);
  }
  assert.equal(ce.snapshot()[0]!.healthy, true);
});

test('consecutive gateway errors count 502/503/504 and connect failures, not a plain 500', () => {
  const ce = odCluster({ consecutiveGatewayErrors: 2, intervalMs: 10_000, baseEjectionTimeMs: 60_000, maxEjectionPercent: 100 });
  const t = targetFor(ce, '127.0.0.3');
  for (const o of ['gateway-error', '5xx', 'connect-failure'] as const) {
    ce.requestStarted(t);
    ce.requestFinished(t, o);
  }
  assert.equal(ce.snapshot()[2]!.healthy, true);
  ce.requestStarted(t);
  ce.requestFinished(t, 'gateway-error');
  assert.equal(ce.snapshot()[2]!.healthy, false);
});

test('maxEjectionPercent caps how many hosts are ejected', () => {
  const ce = odCluster({ consecutive5xxErrors: 1, intervalMs: 10_000, baseEjectionTimeMs: 60_000, maxEjectionPercent: 34 });
  for (const a of ['127.0.0.1', '127.0.0.2']) {
    const t = targetFor(ce, a);
    ce.requestStarted(t);
    ce.requestFinished(t, '5xx');
  }
  assert.deepEqual(
    ce.snapshot().map((s) => s.healthy),
    [false, true, true],
  );
});

test('every host ejected means no healthy upstream (pick is undefined), until the ejection ends', async () => {
  const ce = odCluster({ consecutive5xxErrors: 1, intervalMs: 50, baseEjectionTimeMs: 100, maxEjectionPercent: 100 }, three.slice(0, 1));
  const t = ce.pick()!;
  ce.requestStarted(t);
  ce.requestFinished(t, 'connect-failure');
  assert.equal(ce.pick(), undefined);
  const until = Date.now() + 5000;
  while (ce.pick() === undefined) {
    assert.ok(Date.now() < until, 'host never came back');
    await delay(20);
  }
  assert.equal(ce.pick()!.address, '127.0.0.1');
  assert.equal(ce.snapshot()[0]!.healthy, true);
});

test('no outlier detection: failures are counted but nothing is ejected', () => {
  const ce = new ClusterEndpoints(staticCluster(three), resolver);
  const t = targetFor(ce, '127.0.0.1');
  for (let i = 0; i < 20; i++) {
    ce.requestStarted(t);
    ce.requestFinished(t, 'gateway-error');
  }
  assert.deepEqual(ce.snapshot()[0], { address: '127.0.0.1', port: 8001, healthy: true, active: 0, total: 20, failures: 20 });
});

test('an empty STATIC cluster has no healthy upstream', () => {
  assert.equal(new ClusterEndpoints(staticCluster([]), resolver).pick(), undefined);
});

test('a retry avoids the endpoints it tried (Envoy previous_hosts): with another host healthy, never a tried one', async () => {
  for (const lbPolicy of ['ROUND_ROBIN', 'RANDOM', 'LEAST_REQUEST'] as const) {
    const ce = new ClusterEndpoints(staticCluster(three.slice(0, 2), { lbPolicy }), resolver);
    await ce.ready();
    let avoided = 0;
    for (let i = 0; i < 200; i++) {
      const first = ce.pick()!;
      const again = ce.pick(new Set([first]))!;
      if (again !== first) avoided++;
    }
    // Up to five picks: RANDOM/LEAST_REQUEST may still land on it with chance 2^-5 per retry.
    assert.ok(avoided >= (lbPolicy === 'ROUND_ROBIN' ? 200 : 170), `${lbPolicy}: ${avoided}/200 retries went to another host`);
  }
});
