// Load generators: wrk for request rate and latency, curl for CONNECT tunnel throughput.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand } from './procs.mjs';
import { EXTERNAL_HOST, LOAD_NICE } from './peers.mjs';

/**
 * wrk's Lua hooks: `done` prints exact figures as one JSON line (microseconds), so nothing is
 * parsed from wrk's rounded human output. Only static top-level settings, no `request`
 * function: wrk then builds the request once and never enters Lua per request.
 *
 * `below` is the latency histogram as a cumulative distribution: for each of HIST_EDGES_US, the
 * share of requests faster than it. wrk's Lua API exposes its per-microsecond latency table only
 * through percentile(), so each share is found by bisecting percentile() (to 1e-7 of the
 * requests), once the run is over.
 */
export const HIST_EDGES_US = [100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 7500, 10000, 20000, 50000, 100000];
/**
 * The percentiles each run reports its latency at (`q`, with min and max at 0 and 100): enough
 * points, dense in the tail, to merge runs into one distribution (mergeLatency) — the benchmark
 * measures each target in slices interleaved with the others'.
 */
export const QUANTILES = [
  0, 1, 5, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 92, 94, 95, 96, 97, 98, 98.5, 99, 99.2, 99.4, 99.5, 99.6, 99.7, 99.8, 99.9, 99.95, 99.99, 100,
];
const DONE_HOOK = `
done = function(summary, latency, requests)
  local e = summary.errors
  local qs = {${QUANTILES.join(', ')}}
  local q = {}
  for k = 1, #qs do
    local p = qs[k]
    if p == 0 then q[k] = latency.min elseif p == 100 then q[k] = latency.max else q[k] = latency:percentile(p) end
  end
  local edges = {${HIST_EDGES_US.join(', ')}}
  local below = {}
  for k = 1, #edges do
    local edge = edges[k]
    if latency.max < edge then below[k] = 1
    elseif latency.min >= edge then below[k] = 0
    else
      local lo, hi = 0, 100
      for _ = 1, 30 do
        local mid = (lo + hi) / 2
        if latency:percentile(mid) < edge then lo = mid else hi = mid end
      end
      below[k] = lo / 100
    end
    below[k] = string.format('%.7f', below[k])
  end
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f,"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d,"below":[%s],"q":[%s]}\\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout, table.concat(below, ','), table.concat(q, ',')))
end
`;

/** The benchmark's keep-alive load: 64 connections kept open (wrk -c64). */
export const KEEP_ALIVE_LOAD = Object.freeze({ connections: 64 });
/** Its new-connection load (the new conn/s column): 16 at a time, one request each (Connection: close). */
export const NEW_CONNECTION_LOAD = Object.freeze({ connections: 16, headers: Object.freeze(['Connection: close']) });

/** Writes the two wrk scripts (origin-form and absolute-form) into dir; returns their paths. */
export function writeWrkScripts(dir) {
  const origin = join(dir, 'wrk-origin.lua');
  const absolute = join(dir, 'wrk-absolute.lua');
  writeFileSync(origin, DONE_HOOK);
  // A forward proxy gets `GET http://httpbin.org/ HTTP/1.1`, as curl -x sends it.
  writeFileSync(absolute, `wrk.path = "http://${EXTERNAL_HOST}/"\n${DONE_HOOK}`);
  return { origin, absolute };
}

/** `ip netns exec NS` before a command when it runs in a network namespace (a pod's: its resolv.conf too). */
const inNetns = (netns, command, args) => (netns ? ['ip', ['netns', 'exec', netns, command, ...args]] : [command, args]);

/**
 * One wrk run pinned to `cpu`. form 'origin' sends `GET /` with Host httpbin.org; 'absolute'
 * sends the absolute URL (forward-proxy style). Resolves wrk's figures plus rps.
 * The capture section adds: `netns` (run in that network namespace), `url` (instead of
 * http://ip:port/, e.g. https://name/ for TLS by SNI), `headers` (e.g. `Connection: close`).
 */
export async function runWrk({ ip, port, form, connections, seconds, cpu, scripts, timeoutS = 2, netns, url, host = EXTERNAL_HOST, headers = [] }) {
  const args = [
    '-c',
    String(cpu),
    'wrk',
    '-t1',
    `-c${connections}`,
    `-d${seconds}s`,
    `--timeout`,
    `${timeoutS}s`,
    '--latency',
    '-H',
    `Host: ${host}`,
    ...headers.flatMap((h) => ['-H', h]),
    '-s',
    form === 'absolute' ? scripts.absolute : scripts.origin,
    url ?? `http://${ip}:${port}/`,
  ];
  // bash's `times` reports the CPU its children used: wrk's own cost, to tell it apart from
  // whatever else the machine was doing during the run.
  const [cmd, argv] = inNetns(netns, 'bash', ['-c', '"$@"; rc=$?; times >&2; exit $rc', 'wrk', 'nice', '-n', String(LOAD_NICE), 'taskset', ...args]);
  const r = await runCommand(cmd, argv, { timeoutMs: (seconds + 30) * 1000 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('WRKJSON '));
  if (r.code !== 0 || !line) {
    throw new Error(`wrk against ${url ?? `${ip}:${port}`} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  }
  const w = JSON.parse(line.slice('WRKJSON '.length));
  const errors = w.err_connect + w.err_read + w.err_write + w.err_status + w.err_timeout;
  return { ...w, errors, rps: w.requests / (w.duration_us / 1e6), cpuSeconds: childCpu(r.stderr) };
}

/**
 * Downloads `path` from ip:port once with curl pinned to `cpu`, direct or through an HTTP proxy
 * with CONNECT (curl -p -x). Resolves MB/s (10^6 bytes) and the byte count. `netns` runs it in
 * that network namespace; `host` dials a name instead of ip (resolved there).
 */
export async function runCurlDownload({ ip, port, path, proxy, cpu, maxSeconds = 30, netns, host }) {
  const args = ['-c', String(cpu), 'curl', '-sS', '-o', '/dev/null', '--max-time', String(maxSeconds), '-w', '%{http_code} %{size_download} %{time_total}'];
  args.push(...(proxy ? ['-p', '-x', `http://${proxy.ip}:${proxy.port}`] : ['--noproxy', '*']));
  const url = `http://${host ?? ip}:${port}${path}`;
  args.push(url);
  const [cmd, argv] = inNetns(netns, 'nice', ['-n', String(LOAD_NICE), 'taskset', ...args]);
  const r = await runCommand(cmd, argv, { timeoutMs: (maxSeconds + 10) * 1000 });
  const [code, size, total] = r.stdout.trim().split(' ');
  if (r.code !== 0 || code !== '200') {
    throw new Error(`curl ${proxy ? `via CONNECT ${proxy.ip}:${proxy.port} ` : ''}to ${url} failed (exit ${r.code}, HTTP ${code}): ${r.stderr.trim()}`);
  }
  return { bytes: Number(size), seconds: Number(total), mbps: Number(size) / Number(total) / 1e6 };
}

/** The children's user+sys seconds from bash's `times` (its second line: `0m1.234s 0m0.567s`). */
function childCpu(stderr) {
  const lines = stderr
    .trim()
    .split('\n')
    .filter((l) => /^\d+m[\d.]+s \d+m[\d.]+s$/.test(l.trim()));
  const last = lines.at(-1);
  if (!last) return NaN;
  return last
    .trim()
    .split(' ')
    .map((t) => {
      const m = t.match(/^(\d+)m([\d.]+)s$/);
      return Number(m[1]) * 60 + Number(m[2]);
    })
    .reduce((a, b) => a + b, 0);
}

/**
 * `count` requests one after another, each on a fresh TCP connection (`Connection: close`): per
 * request the time to the first response byte from the start of the connection (curl's own
 * clock: connect, TLS or CONNECT if any, request, first byte). One curl process walks a URL glob
 * (`?n=[1-count]`), so no process start lands in the figures. `proxy` sends the requests through
 * an HTTP proxy (absolute-form, or CONNECT for https); otherwise proxy settings are ignored.
 * Resolves { ttfb_us: [...], connects, codes }.
 */
export async function runCurlFresh({ netns, url, count, cpu, proxy, insecure = false, maxSeconds = 60 }) {
  const args = ['-c', String(cpu), 'curl', '-s', '--max-time', '5', '-H', 'Connection: close'];
  args.push('-w', '\\nTTFB %{http_code} %{num_connects} %{time_starttransfer}\\n');
  if (insecure) args.push('-k');
  args.push(...(proxy ? ['-x', `http://${proxy.ip}:${proxy.port}`] : ['--noproxy', '*']));
  args.push(`${url}?n=[1-${count}]`);
  const [cmd, argv] = inNetns(netns, 'nice', ['-n', String(LOAD_NICE), 'taskset', ...args]);
  const r = await runCommand(cmd, argv, { timeoutMs: maxSeconds * 1000 });
  const rows = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('TTFB '))
    .map((l) => l.split(' '));
  const bad = rows.filter((f) => f[1] !== '200');
  if (r.code !== 0 || rows.length !== count || bad.length > 0) {
    throw new Error(
      `curl ×${count} to ${url}${proxy ? ` via ${proxy.ip}:${proxy.port}` : ''} failed (exit ${r.code}, ${rows.length} answers, HTTP ${[...new Set(bad.map((f) => f[1]))].join(',') || '200'}): ${r.stderr.trim().slice(0, 300)}`,
    );
  }
  return {
    ttfb_us: rows.map((f) => Number(f[3]) * 1e6).sort((a, b) => a - b),
    connects: rows.reduce((a, f) => a + Number(f[2]), 0),
  };
}

/**
 * Runs of one load (wrk's figures, each with its `q` at QUANTILES) as if they were one run:
 * requests, duration and errors summed, the latency distribution the request-weighted mixture of
 * theirs (each run's CDF interpolated linearly between its quantile points), its percentiles found
 * by bisection. One run gives back its own figures at the points it reported.
 */
export function mergeLatency(runs) {
  if (runs.length === 1) return runs[0];
  const total = runs.reduce((a, r) => a + r.requests, 0);
  // The share of a run's requests faster than x, from its quantile points.
  const cdf = (q, x) => {
    if (x < q[0]) return 0;
    if (x >= q[q.length - 1]) return 1;
    let k = 0;
    while (k + 1 < q.length && q[k + 1] <= x) k++;
    const [x0, x1, p0, p1] = [q[k], q[k + 1], QUANTILES[k], QUANTILES[k + 1]];
    return (p0 + (x1 > x0 ? ((p1 - p0) * (x - x0)) / (x1 - x0) : 0)) / 100;
  };
  const mixed = (x) => runs.reduce((a, r) => a + r.requests * cdf(r.q, x), 0) / total;
  const lo0 = Math.min(...runs.map((r) => r.q[0]));
  const hi0 = Math.max(...runs.map((r) => r.q[r.q.length - 1]));
  const percentile = (p) => {
    let lo = lo0;
    let hi = hi0;
    for (let i = 0; i < 60 && hi - lo > 0.5; i++) {
      const mid = (lo + hi) / 2;
      if (mixed(mid) < p / 100) lo = mid;
      else hi = mid;
    }
    return Math.round(hi);
  };
  const sum = (k) => runs.reduce((a, r) => a + r[k], 0);
  const merged = {
    requests: total,
    duration_us: sum('duration_us'),
    bytes: sum('bytes'),
    p50_us: percentile(50),
    p90_us: percentile(90),
    p99_us: percentile(99),
    p999_us: percentile(99.9),
    max_us: hi0,
    mean_us: runs.reduce((a, r) => a + r.requests * r.mean_us, 0) / total,
    errors: sum('errors'),
    cpuSeconds: sum('cpuSeconds'),
    below: runs[0].below.map((_, k) => runs.reduce((a, r) => a + r.requests * r.below[k], 0) / total),
    q: QUANTILES.map((p) => percentile(p)),
  };
  merged.rps = merged.requests / (merged.duration_us / 1e6);
  return merged;
}
