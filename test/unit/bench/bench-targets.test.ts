// The benchmark's targets table (bench/lib/report.mjs targetsCheck): issue 16's ratios are taken
// within each round (gateway ÷ nginx, two hops ÷ nginx, two hops' CPU ÷ the gateway's) and the
// median of the rounds is checked, so a round where the host slowed every row does not count twice.
import assert from 'node:assert/strict';
import { test } from 'node:test';

interface Check {
  what: string;
  value: number | null;
  pass: boolean | null;
}
interface ReportLib {
  targetsCheck(results: unknown): Check[];
}
// A plain-JS module of the benchmark's (no types): imported by a computed path.
const REPORT = '../../../bench/lib/report.mjs';
const { targetsCheck } = (await import(REPORT)) as ReportLib;

interface Round {
  rps64: number;
  cpuPer1k: number;
  p99_64: number;
}

/** A target as bench/run.mjs records it: rounds, and the per-round ratios to nginx's same round. */
function target(id: string, rounds: Round[], nginx: Round[], extra: Record<string, unknown> = {}) {
  const med = (xs: number[]) => {
    const v = [...xs].sort((a, b) => a - b);
    const m = v.length >> 1;
    return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
  };
  const vs = (key: keyof Round) => ({ median: med(rounds.map((r, i) => r[key] / nginx[i]![key])) });
  return {
    id,
    failed: undefined,
    rounds,
    idleRss: 50 * 1048576,
    peakRss: 90 * 1048576,
    summary: { ratioRps: vs('rps64'), ratioCpu: vs('cpuPer1k'), ratioP99: vs('p99_64'), addedP50_1: { median: 200 } },
    ...extra,
  };
}

const nginx: Round[] = [
  { rps64: 40_000, cpuPer1k: 0.025, p99_64: 4000 },
  { rps64: 20_000, cpuPer1k: 0.05, p99_64: 8000 },
  { rps64: 36_000, cpuPer1k: 0.028, p99_64: 4500 },
];

function results(gwRounds: Round[], twoHopRounds: Round[]) {
  return {
    outpostGateway: 'outpost-up',
    targets: [target('nginx', nginx, nginx), target('outpost-up', gwRounds, nginx), target('outpost-up-2hop', twoHopRounds, nginx)],
    tunnel: [],
  };
}

const byWhat = (checks: Check[]) => new Map(checks.map((c) => [c.what, c]));

test("issue 16's targets are met when every ratio is within its bound", () => {
  // Gateway 0.8 × nginx each round, CPU 1.2 ×, p99 1.5 ×; two hops 0.5 ×, p99 2.5 ×, CPU 2 × the gateway's.
  const gw = nginx.map((n) => ({ rps64: n.rps64 * 0.8, cpuPer1k: n.cpuPer1k * 1.2, p99_64: n.p99_64 * 1.5 }));
  const two = gw.map((g, i) => ({ rps64: nginx[i]!.rps64 * 0.5, cpuPer1k: g.cpuPer1k * 2, p99_64: nginx[i]!.p99_64 * 2.5 }));
  const c = byWhat(targetsCheck(results(gw, two)));
  assert.deepEqual(c.get('gateway: req/s @64 ≥ 0.75 × nginx'), { what: 'gateway: req/s @64 ≥ 0.75 × nginx', value: 0.8, pass: true });
  assert.equal(c.get('gateway: CPU per request ≤ 1.3 × nginx')!.value, 1.2);
  assert.equal(c.get('gateway: p99 @64 ≤ 2 × nginx')!.value, 1.5);
  assert.equal(c.get('two hops: req/s @64 ≥ 0.35 × nginx')!.value, 0.5);
  assert.equal(c.get('two hops: p99 @64 ≤ 3 × nginx')!.value, 2.5);
  assert.equal(c.get('two hops: CPU per request ≤ 2.5 × gateway')!.value, 2);
  for (const x of c.values()) if (x.pass !== null) assert.equal(x.pass, true, x.what);
  assert.equal(c.get('p50 @1 added over direct ≤ 0.5 ms')!.value, 0.2);
});

test('ratios are taken within each round, then the median over rounds; misses are reported', () => {
  // Round 2 ran on a host twice as slow for every row. The two hops cost 2.6, 1.5 and 2.7 × the
  // gateway's CPU in the three rounds: the median of those is 2.6, where the ratio of the two
  // rows' medians (which pairs round 3's two hops with round 1's gateway) would say 2.7.
  const gw = nginx.map((n) => ({ rps64: n.rps64 * 0.7, cpuPer1k: n.cpuPer1k * 1.4, p99_64: n.p99_64 * 2.1 }));
  const factor = [2.6, 1.5, 2.7];
  const two = gw.map((g, i) => ({ rps64: nginx[i]!.rps64 * 0.3, cpuPer1k: g.cpuPer1k * factor[i]!, p99_64: nginx[i]!.p99_64 * 3.5 }));
  const c = byWhat(targetsCheck(results(gw, two)));
  const miss = [
    'gateway: req/s @64 ≥ 0.75 × nginx',
    'gateway: CPU per request ≤ 1.3 × nginx',
    'gateway: p99 @64 ≤ 2 × nginx',
    'two hops: req/s @64 ≥ 0.35 × nginx',
    'two hops: p99 @64 ≤ 3 × nginx',
    'two hops: CPU per request ≤ 2.5 × gateway',
  ];
  for (const what of miss) assert.equal(c.get(what)!.pass, false, what);
  assert.equal(c.get('two hops: CPU per request ≤ 2.5 × gateway')!.value, 2.6);
});

test('a run without the two-hop row reports its targets as not measured, not as met', () => {
  const gw = nginx.map((n) => ({ rps64: n.rps64 * 0.8, cpuPer1k: n.cpuPer1k * 1.2, p99_64: n.p99_64 * 1.5 }));
  const r = results(gw, gw);
  r.targets = r.targets.filter((t) => t.id !== 'outpost-up-2hop');
  const c = byWhat(targetsCheck(r));
  assert.deepEqual(c.get('two hops: req/s @64 ≥ 0.35 × nginx'), { what: 'two hops: req/s @64 ≥ 0.35 × nginx', value: null, pass: null });
  assert.equal(c.get('two hops: CPU per request ≤ 2.5 × gateway')!.pass, null);
  assert.equal(c.get('gateway: req/s @64 ≥ 0.75 × nginx')!.pass, true);
});
