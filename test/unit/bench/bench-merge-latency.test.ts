// The benchmark measures each target's load in slices, taking turns with the other targets, and
// merges the slices' latency distributions (bench/lib/load.mjs mergeLatency) from the percentiles
// wrk reports for each. Checked here against the exact percentiles of the pooled samples.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '../../helpers/rng.js';

interface Run {
  requests: number;
  duration_us: number;
  bytes: number;
  mean_us: number;
  errors: number;
  cpuSeconds: number;
  below: number[];
  q: number[];
  rps?: number;
  p50_us?: number;
  p90_us?: number;
  p99_us?: number;
  p999_us?: number;
  max_us?: number;
}
interface LoadLib {
  QUANTILES: number[];
  HIST_EDGES_US: number[];
  mergeLatency(runs: Run[]): Run & { rps: number; p50_us: number; p90_us: number; p99_us: number; p999_us: number; max_us: number };
}
// A plain-JS module of the benchmark's (no types): imported by a computed path.
const LOAD = '../../../bench/lib/load.mjs';
const lib = (): Promise<LoadLib> => import(LOAD) as Promise<LoadLib>;

/** wrk's percentile: the smallest latency with at least p % of the samples at or below it. */
function percentile(sorted: number[], p: number): number {
  if (p <= 0) return sorted[0]!;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

function runOf(samples: number[], QUANTILES: number[], EDGES: number[], seconds: number): Run {
  const s = [...samples].sort((a, b) => a - b);
  return {
    requests: s.length,
    duration_us: seconds * 1e6,
    bytes: s.length * 100,
    mean_us: s.reduce((a, b) => a + b, 0) / s.length,
    errors: 1,
    cpuSeconds: 0.5,
    below: EDGES.map((e) => s.filter((x) => x < e).length / s.length),
    q: QUANTILES.map((p) => (p === 100 ? s[s.length - 1]! : percentile(s, p))),
  };
}

test('mergeLatency: slices of different speed pool into the percentiles of all their requests', async () => {
  const { QUANTILES, HIST_EDGES_US, mergeLatency } = await lib();
  const next = seededRandom(7);
  // Three slices: a fast one, a slow one (the host slowed down) and one with a stall in its tail.
  const lognormal = (median: number, spread: number): number =>
    Math.round(median * Math.exp(spread * Math.sqrt(-2 * Math.log(next() || 1e-9)) * Math.cos(2 * Math.PI * next())));
  const slices = [
    Array.from({ length: 40000 }, () => lognormal(2000, 0.4)),
    Array.from({ length: 20000 }, () => lognormal(4500, 0.5)),
    Array.from({ length: 30000 }, (_, i) => (i % 500 === 0 ? 30000 + (i % 7) * 1000 : lognormal(2500, 0.45))),
  ];
  const runs = slices.map((s) => runOf(s, QUANTILES, HIST_EDGES_US, 2));
  const m = mergeLatency(runs);
  const all = slices.flat().sort((a, b) => a - b);
  assert.equal(m.requests, 90000);
  assert.equal(m.duration_us, 6e6);
  assert.equal(m.rps, 15000);
  assert.equal(m.errors, 3);
  assert.equal(m.cpuSeconds, 1.5);
  assert.equal(m.max_us, all[all.length - 1]);
  for (const [p, got] of [
    [50, m.p50_us],
    [90, m.p90_us],
    [99, m.p99_us],
    [99.9, m.p999_us],
  ] as const) {
    const exact = percentile(all, p);
    // Linear between each slice's reported points: within a few per cent of the exact figure.
    assert.ok(Math.abs(got - exact) / exact < 0.04, `p${p}: merged ${got} µs, pooled samples ${exact} µs`);
  }
  // The histogram is exact: each slice's shares weighted by its requests.
  HIST_EDGES_US.forEach((e, k) => {
    const exact = all.filter((x) => x < e).length / all.length;
    assert.ok(Math.abs(m.below[k]! - exact) < 1e-9, `below ${e} µs`);
  });
});

test('mergeLatency: one slice is its own run; identical slices keep their percentiles', async () => {
  const { QUANTILES, HIST_EDGES_US, mergeLatency } = await lib();
  const next = seededRandom(11);
  const samples = Array.from({ length: 10000 }, () => 1000 + Math.round(next() * 3000));
  const one = runOf(samples, QUANTILES, HIST_EDGES_US, 1);
  assert.equal(mergeLatency([one]), one);
  const twice = mergeLatency([one, runOf(samples, QUANTILES, HIST_EDGES_US, 1)]);
  for (const p of [50, 90, 99]) {
    const k = QUANTILES.indexOf(p);
    assert.ok(Math.abs(twice.q[k]! - one.q[k]!) <= 1, `p${p}: ${twice.q[k]} vs ${one.q[k]}`);
  }
  assert.equal(twice.requests, 20000);
});
