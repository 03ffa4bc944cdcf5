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
const DONE_HOOK = `
done = function(summary, latency, requests)
  local e = summary.errors
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
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f,"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d,"below":[%s]}\\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout, table.concat(below, ',')))
end
`;

/** Writes the two wrk scripts (origin-form and absolute-form) into dir; returns their paths. */
export function writeWrkScripts(dir) {
  const origin = join(dir, 'wrk-origin.lua');
  const absolute = join(dir, 'wrk-absolute.lua');
  writeFileSync(origin, DONE_HOOK);
  // A forward proxy gets `GET http://httpbin.org/ HTTP/1.1`, as curl -x sends it.
  writeFileSync(absolute, `wrk.path = "http://${EXTERNAL_HOST}/"\n${DONE_HOOK}`);
  return { origin, absolute };
}

/**
 * One wrk run pinned to `cpu`. form 'origin' sends `GET /` with Host httpbin.org; 'absolute'
 * sends the absolute URL (forward-proxy style). Resolves wrk's figures plus rps.
 */
export async function runWrk({ ip, port, form, connections, seconds, cpu, scripts, timeoutS = 2 }) {
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
    `Host: ${EXTERNAL_HOST}`,
    '-s',
    form === 'absolute' ? scripts.absolute : scripts.origin,
    `http://${ip}:${port}/`,
  ];
  // bash's `times` reports the CPU its children used: wrk's own cost, to tell it apart from
  // whatever else the machine was doing during the run.
  const r = await runCommand('bash', ['-c', '"$@"; rc=$?; times >&2; exit $rc', 'wrk', 'nice', '-n', String(LOAD_NICE), 'taskset', ...args], {
    timeoutMs: (seconds + 30) * 1000,
  });
  const line = r.stdout.split('\n').find((l) => l.startsWith('WRKJSON '));
  if (r.code !== 0 || !line) {
    throw new Error(`wrk against ${ip}:${port} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  }
  const w = JSON.parse(line.slice('WRKJSON '.length));
  const errors = w.err_connect + w.err_read + w.err_write + w.err_status + w.err_timeout;
  return { ...w, errors, rps: w.requests / (w.duration_us / 1e6), cpuSeconds: childCpu(r.stderr) };
}

/**
 * Downloads `path` from ip:port once with curl pinned to `cpu`, direct or through an HTTP proxy
 * with CONNECT (curl -p -x). Resolves MB/s (10^6 bytes) and the byte count.
 */
export async function runCurlDownload({ ip, port, path, proxy, cpu, maxSeconds = 30 }) {
  const args = ['-c', String(cpu), 'curl', '-sS', '-o', '/dev/null', '--max-time', String(maxSeconds), '-w', '%{http_code} %{size_download} %{time_total}'];
  if (proxy) args.push('-p', '-x', `http://${proxy.ip}:${proxy.port}`);
  args.push(`http://${ip}:${port}${path}`);
  const r = await runCommand('nice', ['-n', String(LOAD_NICE), 'taskset', ...args], { timeoutMs: (maxSeconds + 10) * 1000 });
  const [code, size, total] = r.stdout.trim().split(' ');
  if (r.code !== 0 || code !== '200') {
    throw new Error(
      `curl ${proxy ? `via CONNECT ${proxy.ip}:${proxy.port} ` : ''}to ${ip}:${port}${path} failed (exit ${r.code}, HTTP ${code}): ${r.stderr.trim()}`,
    );
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
