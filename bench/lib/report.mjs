// The terminal table, the targets check and the README section, all from one results object.
import { HIST_EDGES_US } from './load.mjs';
import { median } from './stats.mjs';

const fmtK = (x) => (Number.isFinite(x) ? (x >= 1000 ? `${(x / 1000).toFixed(1)}k` : x.toFixed(0)) : '–');
const fmtMs = (us) => (Number.isFinite(us) ? (us / 1000).toFixed(3) : '–');
const fmt = (x, d) => (Number.isFinite(x) ? x.toFixed(d) : '–');
const fmtMB = (b) => (Number.isFinite(b) && b > 0 ? (b / 1048576).toFixed(0) : '–');

function range(s, f) {
  if (!s || s.n === 0) return '–';
  if (s.n === 1) return f(s.median);
  return `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
}

/** Aligns rows of cells into a plain-text (or markdown) table. */
export function renderTable(header, rows, markdown = false) {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => String(r[i]).length)));
  const line = (r) =>
    markdown
      ? `| ${r.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`
      : r.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  const sep = markdown ? `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|` : widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), sep, ...rows.map(line)].join('\n');
}

export function mainTable(results, markdown = false) {
  const header = [
    'proxy',
    'req/s @64',
    '×nginx',
    'p50@64 ms',
    'p99@64 ms',
    '×nginx',
    'p50@1 ms',
    'p99@1 ms',
    'CPU s/1k req',
    '×nginx',
    'RSS idle/peak MB',
    'new conn/s',
    '×nginx',
    'errors',
  ];
  const rows = [];
  for (const t of results.targets) {
    if (t.failed) {
      rows.push([t.name, `failed: ${t.failed.slice(0, 60)}`, '', '', '', '', '', '', '', '', '', '', '', '']);
      continue;
    }
    const s = t.summary;
    rows.push([
      t.name,
      range(s.rps64, fmtK),
      fmt(s.ratioRps?.median, 2),
      range(s.p50_64, fmtMs),
      range(s.p99_64, fmtMs),
      fmt(s.ratioP99?.median, 2),
      range(s.p50_1, fmtMs),
      range(s.p99_1, fmtMs),
      t.kind === 'floor' ? '–' : range(s.cpuPer1k, (x) => fmt(x, 3)),
      t.kind === 'floor' ? '–' : fmt(s.ratioCpu?.median, 2),
      t.kind === 'floor' ? '–' : `${fmtMB(t.idleRss)}/${fmtMB(t.peakRss)}`,
      s.connRate ? range(s.connRate, fmtK) : '–',
      fmt(s.ratioConn?.median, 2),
      String(s.errors),
    ]);
  }
  return renderTable(header, rows, markdown);
}

export function tunnelTable(results, markdown = false) {
  if (!results.tunnel || results.tunnel.length === 0) return '';
  const header = ['CONNECT tunnel', 'MB/s', '×direct', 'CPU s/GB'];
  const rows = results.tunnel.map((t) =>
    t.failed
      ? [t.name, `failed: ${t.failed.slice(0, 60)}`, '', '']
      : [t.name, range(t.summary.mbps, (x) => fmt(x, 0)), fmt(t.summary.ratio?.median, 2), t.id === 'direct' ? '–' : fmt(t.summary.cpuPerGB?.median, 2)],
  );
  return renderTable(header, rows, markdown);
}

/** The two-hop row that goes through a given gateway row (the seed's path). */
const TWO_HOP_OF = { 'outpost-up': 'outpost-up-2hop', outpost: 'outpost-2hop-mtls' };

/**
 * The targets for outpost's gateway and the two-hop path through it, each checked against the
 * run's figures: issue 16's (gateway ≥ 0.75 × nginx's req/s, ≤ 1.3 × its CPU per request, p99 ≤ 2 ×;
 * two hops ≥ 0.35 × nginx's req/s, p99 ≤ 3 ×, CPU per request ≤ 2.5 × the gateway's own) and the
 * earlier issues' (latency at one connection, memory, tunnels, workers).
 */
export function targetsCheck(results) {
  const gw = results.targets.find((t) => t.id === results.outpostGateway && !t.failed);
  if (!gw) return [];
  const s = gw.summary;
  const twoHop = results.targets.find((t) => t.id === TWO_HOP_OF[gw.id] && !t.failed);
  const sidecarTunnel = results.tunnel?.find((t) => t.id === 'outpost-sidecar' && !t.failed);
  const checks = [
    ['gateway: req/s @64 ≥ 0.75 × nginx', s.ratioRps?.median, (v) => v >= 0.75, 2],
    ['gateway: CPU per request ≤ 1.3 × nginx', s.ratioCpu?.median, (v) => v <= 1.3, 2],
    ['gateway: p99 @64 ≤ 2 × nginx', s.ratioP99?.median, (v) => v <= 2, 2],
    ['two hops: req/s @64 ≥ 0.35 × nginx', twoHop?.summary.ratioRps?.median, (v) => v >= 0.35, 2],
    ['two hops: p99 @64 ≤ 3 × nginx', twoHop?.summary.ratioP99?.median, (v) => v <= 3, 2],
    ['two hops: CPU per request ≤ 2.5 × gateway', twoHop ? roundRatio(twoHop, gw, 'cpuPer1k') : NaN, (v) => v <= 2.5, 2],
    ['p50 @1 added over direct ≤ 0.5 ms', s.addedP50_1?.median == null ? NaN : s.addedP50_1.median / 1000, (v) => v <= 0.5, 3],
    ['idle RSS ≤ 60 MB', gw.idleRss / 1048576, (v) => v <= 60, 0],
    ['RSS under load ≤ 100 MB', gw.peakRss / 1048576, (v) => v <= 100, 0],
    ['CONNECT tunnel ≥ 0.8 × direct', sidecarTunnel?.summary.ratio?.median, (v) => v >= 0.8, 2],
    ['req/s grows with cores: --concurrency 2 ÷ 1 worker', workerScaling(results), (v) => v >= 1.1, 2],
  ];
  return checks.map(([what, value, ok, d]) => ({
    what,
    value: Number.isFinite(value) ? Number(value.toFixed(d)) : null,
    pass: Number.isFinite(value) ? ok(value) : null,
  }));
}

/** Median over rounds of a.rounds[i][key] ÷ b.rounds[i][key]: a ratio taken within each round. */
function roundRatio(a, b, key) {
  const n = Math.min(a.rounds.length, b.rounds.length);
  const ratios = [];
  for (let i = 0; i < n; i++) ratios.push(a.rounds[i][key] / b.rounds[i][key]);
  return median(ratios);
}

/** Median over rounds of (req/s with --concurrency 2 on both CPUs) ÷ (one worker on one CPU). */
function workerScaling(results) {
  const one = results.targets.find((t) => t.id === 'outpost' && !t.failed);
  const two = results.targets.find((t) => t.id === 'outpost-c2' && !t.failed);
  if (!one || !two) return NaN;
  return roundRatio(two, one, 'rps64');
}

/**
 * One worker on CPU 0 against two workers on CPUs 0 and 1, where CPU 1 also runs wrk and the
 * upstream: how much CPU the workers got, and what they did with it.
 */
export function scalingTable(results, markdown = false) {
  const rows = ['outpost', 'outpost-c2']
    .map((id) => results.targets.find((t) => t.id === id && !t.failed))
    .filter(Boolean)
    .map((t) => {
      const s = t.summary;
      const perCore = s.rps64.median / s.coresUsed.median;
      return [
        t.name,
        t.id === 'outpost-c2'
          ? `2 (CPUs ${results.settings.proxyCpu},${results.settings.loadCpu}, shared with wrk and upstream)`
          : `1 (CPU ${results.settings.proxyCpu})`,
        fmt(s.coresUsed.median, 2),
        fmtK(s.rps64.median),
        fmtK(perCore),
      ];
    });
  if (rows.length < 2) return '';
  return renderTable(['proxy', 'CPUs given', 'CPUs used', 'req/s @64', 'req/s per CPU used'], rows, markdown);
}

export function checksTable(results, markdown = false) {
  const checks = targetsCheck(results);
  if (checks.length === 0) return '';
  const name = results.targets.find((t) => t.id === results.outpostGateway).name;
  return renderTable(
    [`target (${name})`, 'measured', 'met'],
    checks.map((c) => [c.what, c.value ?? '–', c.pass === null ? '–' : c.pass ? 'yes' : 'NO']),
    markdown,
  );
}

export function settingsLine(results) {
  const st = results.settings;
  return (
    `${st.rounds} interleaved rounds; wrk -t1 -c64 for ${st.seconds64}s` +
    (st.slices > 1 ? ` in ${st.slices} slices of ${st.sliceSeconds}s, the targets taking turns (latencies merged)` : '') +
    ` and -c1 -d${st.seconds1}s, after a ${st.warmupSeconds}s warm-up` +
    (st.secondsClose ? `; new conn/s: wrk -c16 -d${st.secondsClose}s with Connection: close (a new connection per request)` : '') +
    '; ' +
    `medians (min–max). Proxy under test on CPU ${st.proxyCpu}; upstream nginx and wrk on CPU ${st.loadCpu}; ` +
    `/dev/cpu_dma_latency ${results.pmqos.held ? 'held at 0' : `NOT held (${results.pmqos.reason})`} (cpuidle ${results.pmqos.cpuidleDriver}). ` +
    `Access log on unless marked "no log".` +
    (results.background
      ? ` CPU used by other work on the machine during the measurements: median ${(100 * results.background.cpuShare.median).toFixed(1)} % of all CPUs (max ${(100 * results.background.cpuShare.max).toFixed(1)} %)` +
        `${results.background.cpuShare.max > 0.05 ? ' — a busy machine: treat absolute figures with care, ratios less so' : ''}.`
      : '')
  );
}

/** CLI start-up: hyperfine's wall time per command, its CPU, and the issue's target. */
export function cliTable(results, markdown = false) {
  const cli = results.cli;
  if (!cli) return '';
  if (cli.failed) return `CLI start-up: failed: ${cli.failed}`;
  const s = (x) => (Number.isFinite(x) ? x.toFixed(3) : '–');
  // What outpost adds to node's own start-up: steadier than the whole when the machine is busy.
  const floor = cli.rows.find((r) => r.name === 'node -e 0');
  const rows = cli.rows.map((r) => [
    r.name,
    `${s(r.mean)} ± ${s(r.stddev)}`,
    r === floor || !floor ? '' : `${r.mean >= floor.mean ? '+' : '−'}${s(Math.abs(r.mean - floor.mean))}`,
    s(r.median),
    `${s(r.min)}–${s(r.max)}`,
    s(r.cpu),
    r.target === undefined ? '' : `≤ ${r.target} ${r.mean <= r.target ? 'met' : 'missed'}`,
  ]);
  const busy = Number.isFinite(cli.machineBusyBefore) ? `; other work kept ${(100 * cli.machineBusyBefore).toFixed(0)}% of the CPUs busy before the run` : '';
  return [
    `CLI start-up (hyperfine -N, ${cli.runs} runs after 3 warm-ups; seconds${busy})`,
    '',
    renderTable(['command', 'mean ± σ', 'over node -e 0', 'median', 'min–max', 'CPU (user+sys)', 'target (mean)'], rows, markdown),
  ].join('\n');
}

/** `0.1–0.2 ms`-style labels for the histogram's buckets (HIST_EDGES_US, and one beyond the last). */
function bucketLabels() {
  const ms = (us) => String(us / 1000);
  return [`< ${ms(HIST_EDGES_US[0])} ms`, ...HIST_EDGES_US.slice(1).map((e, i) => `${ms(HIST_EDGES_US[i])}–${ms(e)} ms`), `≥ ${ms(HIST_EDGES_US.at(-1))} ms`];
}

/** Shares of requests per bucket from cumulative `below` shares (one run, or the mean over rounds). */
export function bucketShares(belows) {
  const ok = belows.filter((b) => Array.isArray(b) && b.length === HIST_EDGES_US.length);
  if (ok.length === 0) return undefined;
  const cdf = HIST_EDGES_US.map((_, k) => ok.reduce((a, b) => a + b[k], 0) / ok.length);
  return [...cdf, 1].map((c, k) => c - (k === 0 ? 0 : cdf[k - 1]));
}

/**
 * The latency histogram at 64 connections: per column (a target, or an A/B variant), the share
 * of requests in each latency bucket, pooled over rounds; rows from the first to the last bucket
 * any column uses, then p99 and p99.9 (medians over rounds). Where a tail sits next to nginx's.
 * `columns`: [{ name, belows: [[…] per round], p99: us, p999: us }].
 */
export function latencyHistogram(columns, markdown = false) {
  const cols = columns.map((c) => ({ ...c, shares: bucketShares(c.belows) })).filter((c) => c.shares);
  if (cols.length === 0) return '';
  const labels = bucketLabels();
  const used = labels.map((_, k) => cols.some((c) => c.shares[k] >= 0.00005));
  const first = used.indexOf(true);
  const last = used.lastIndexOf(true);
  const pct = (x) => (x >= 0.00005 ? `${(100 * x).toFixed(x >= 0.001 ? 1 : 2)} %` : '·');
  const rows = [];
  for (let k = first; k <= last; k++) rows.push([labels[k], ...cols.map((c) => pct(c.shares[k]))]);
  rows.push(['p99 ms', ...cols.map((c) => fmtMs(c.p99))]);
  rows.push(['p99.9 ms', ...cols.map((c) => fmtMs(c.p999))]);
  return renderTable(['latency @64 (share of requests)', ...cols.map((c) => c.name)], rows, markdown);
}

/** latencyHistogram for a run's targets (the floor, nginx and outpost's rows). */
export function latencyTable(results, markdown = false) {
  const cols = results.targets
    .filter((t) => !t.failed && (t.kind === 'floor' || t.id === 'nginx' || t.id.startsWith('outpost')))
    .map((t) => ({
      name: t.name,
      belows: t.rounds.map((r) => r.below_64),
      p99: t.summary.p99_64?.median,
      p999: t.summary.p999_64?.median,
    }));
  return latencyHistogram(cols, markdown);
}

/**
 * The capture section (bench/lib/capture.mjs): connection set-up per path into the sidecar against
 * the same path without it, capture against http_proxy, and tunnel/passthrough throughput.
 */
export function captureTable(results, markdown = false) {
  const c = results.capture;
  if (!c) return '';
  if (c.failed) return `Capture: failed: ${c.failed}`;
  const ms = (s) => range(s, fmtMs);
  const x = (s) => fmt(s?.median, 2);
  const header = [
    'capture: connection set-up',
    `new conn/s @${c.settings.connections}`,
    '×direct',
    'TTFB p50 ms',
    'TTFB p99 ms',
    '×direct p50',
    'added p50 ms',
    'outpost CPU ms/conn',
    'of it kernel',
    'errors',
  ];
  const rows = c.setup.map((s) =>
    s.failed
      ? [s.name, `failed: ${s.failed.slice(0, 60)}`, '', '', '', '', '', '', '', '']
      : [
          s.name,
          range(s.summary.connPerSec, fmtK),
          s.base ? x(s.summary.ratioConnPerSec) : '',
          ms(s.summary.ttfbP50_us),
          ms(s.summary.ttfbP99_us),
          s.base ? x(s.summary.ratioTtfbP50) : '',
          s.base ? fmtMs(s.summary.addedTtfbP50_us?.median) : '',
          s.pod === 'captured' ? range(s.summary.outpostCpuMsPerConn, (v) => fmt(v, 3)) : '–',
          s.pod === 'captured' && s.summary.outpostSystemShare?.n ? `${(100 * s.summary.outpostSystemShare.median).toFixed(0)} %` : '–',
          String(s.summary.errors),
        ],
  );
  const vs = c.captureVsHttpProxy;
  const tunnel = c.tunnel.map((t) =>
    t.failed
      ? [t.name, `failed: ${t.failed.slice(0, 60)}`, '', '']
      : [t.name, range(t.summary.mbps, (v) => fmt(v, 0)), fmt(t.summary.ratio?.median, 2), t.id === 'direct' ? '–' : fmt(t.summary.outpostCpuPerGB?.median, 2)],
  );
  const s = c.settings;
  const busy = c.background?.cpuShare?.n
    ? ` Other work on the machine during the wrk runs: median ${(100 * c.background.cpuShare.median).toFixed(1)} % of all CPUs (max ${(100 * c.background.cpuShare.max).toFixed(1)} %)${c.background.cpuShare.max > 0.05 ? ' — a busy machine: read the ratios' : ''}.`
    : '';
  return [
    `Capture, inside network namespace ${c.node} (outpost up --pod-network netns on CPU ${results.settings.proxyCpu}; the outside, nginx on a veth address, and the load in the pods on CPU ${results.settings.loadCpu}): ` +
      `${s.rounds} interleaved rounds; new connections: wrk -c${s.connections} -d${s.wrkSeconds}s with Connection: close; TTFB: ${s.requests} requests one after another, each on a new connection, from connect to first byte (curl); ` +
      `tunnel: ${(s.tunnelBytes / 2 ** 20).toFixed(0)} MiB download. Medians (min–max); × against the same path without the sidecar in the same round.${busy}`,
    '',
    renderTable(header, rows, markdown),
    '',
    `captured ÷ http_proxy (same sidecar, same round): new conn/s ${x(vs?.connPerSec)}, TTFB p50 ${x(vs?.ttfbP50)}, outpost CPU per connection ${x(vs?.outpostCpuMsPerConn)}`,
    '',
    renderTable(['capture: CONNECT and TCP passthrough', 'MB/s', '×direct', 'outpost CPU s/GB'], tunnel, markdown),
  ].join('\n');
}
