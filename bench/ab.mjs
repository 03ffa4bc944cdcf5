#!/usr/bin/env node
// `node bench/ab.mjs [--seconds 10] [--rounds 3] [--gc-trace] [--keep] [--two-hop [--h2] [--mtls]] [--up-like] [--close] --variant "label=[node flags] [@/other/checkout/bin/outpost] [nolog | stdoutlog]" ...`
// A/B of outpost's gateway hop (`outpost proxy --config`, as in the benchmark): each variant (a
// build, node flags, or both) under wrk -c64 after a warm-up, interleaved over rounds on the
// benchmark's pinning, with plain `node` plus the variant's flags (the benchmark itself starts
// proxies with the flags `outpost up` uses: PROXY_NODE_FLAGS). Prints req/s, p99, CPU per
// request and peak RSS, medians, and with --gc-trace the garbage collector's work (tracing costs
// throughput and tail latency itself). To compare against a commit: `git worktree add /tmp/base
// <commit>`, link node_modules into it and build it (`npx tsc -p tsconfig.json`), then
// `--variant "base=@/tmp/base/bin/outpost" --variant "head="`.
// --two-hop: the sidecar→gateway path instead (both proxies of the variant's build on the proxy
// CPU, wrk sends absolute-form requests to the sidecar; CPU is both processes'); --h2: HTTP/2
// between them (h2c), --mtls: HTTP/2 over the mesh's mTLS, as `outpost up` connects them.

import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { stopAll, killAllSync, peakRss, cpuSeconds } from './lib/procs.mjs';
import { releaseCpuDmaLatency } from './lib/pmqos.mjs';
import { startLab } from './lib/lab.mjs';
import { gatewayProxyConfig, sidecarProxyConfig, likeOutpostUp, outpostProxyService, outpostCapabilities, OUTPOST_BIN } from './lib/outpost.mjs';
import { meshIdentities } from './lib/mesh-identity.mjs';
import { runWrk, KEEP_ALIVE_LOAD, NEW_CONNECTION_LOAD } from './lib/load.mjs';
import { probe } from './lib/probe.mjs';
import { renderTable, latencyHistogram } from './lib/report.mjs';
import { median } from './lib/stats.mjs';

const argv = process.argv.slice(2);
const opt = (name, dflt) => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : dflt);
const seconds = opt('--seconds', 10);
const rounds = opt('--rounds', 3);
const traceGc = argv.includes('--gc-trace');
const keep = argv.includes('--keep');
const twoHop = argv.includes('--two-hop');
const mtls = twoHop && argv.includes('--mtls');
const h2 = twoHop && (mtls || argv.includes('--h2'));
// --close: a new connection per request (wrk -c16 with Connection: close, as the benchmark's new conn/s row), instead of -c64 kept alive.
const load = argv.includes('--close') ? NEW_CONNECTION_LOAD : KEEP_ALIVE_LOAD;
// --up-like: the configs with what `outpost up` adds (SSRF guard, retry policy, LEAST_REQUEST, PERMISSIVE).
const upLike = argv.includes('--up-like') ? likeOutpostUp : (c) => c;
if (!(seconds > 0 && seconds <= 60) || !(rounds >= 1 && rounds <= 9)) throw new Error('--seconds 1..60, --rounds 1..9');
const variants = argv
  .flatMap((a, i) => (argv[i - 1] === '--variant' ? [a] : []))
  .map((v) => {
    const eq = v.indexOf('=');
    if (eq <= 0) throw new Error(`--variant ${v}: expected label=[node flags] [@bin]`);
    const words = v
      .slice(eq + 1)
      .split(/\s+/)
      .filter(Boolean);
    const bin = words.find((w) => w.startsWith('@'))?.slice(1) ?? OUTPOST_BIN;
    // The word `nolog` turns the access log off; `stdoutlog` writes it to /dev/stdout (a file, as `outpost up` gives its proxies).
    return {
      label: v.slice(0, eq),
      flags: words.filter((w) => !w.startsWith('@') && w !== 'nolog' && w !== 'stdoutlog'),
      bin,
      log: !words.includes('nolog'),
      stdoutLog: words.includes('stdoutlog'),
    };
  });
if (variants.length === 0) variants.push({ label: 'head', flags: [], bin: OUTPOST_BIN, log: true });
const log = (m) => process.stderr.write(`[ab] ${m}\n`);

/**
 * Sums --trace-gc-nvp lines: `pause=1.2 ... gc=s ... promoted=N ...` per collection. `promoted` is
 * what scavenges moved to the old generation: near zero for a proxy whose objects die with their
 * request; megabytes per scavenge when something keeps them (bench/README.md, "The two-hop tail").
 */
function gcSummary(text) {
  const out = { scavenges: 0, scavengeMs: 0, maxScavengeMs: 0, markSweeps: 0, markSweepMs: 0, promotedBytes: 0 };
  for (const line of text.split('\n')) {
    const pause = /(?:^|\s)pause=([\d.]+)/.exec(line);
    const kind = /(?:^|\s)gc=(\w+)/.exec(line);
    if (!pause || !kind) continue;
    const ms = Number(pause[1]);
    if (kind[1] === 's') {
      out.scavenges++;
      out.scavengeMs += ms;
      out.promotedBytes += Number(/(?:^|\s)promoted=(\d+)/.exec(line)?.[1] ?? 0);
      out.maxScavengeMs = Math.max(out.maxScavengeMs, ms);
    } else {
      out.markSweeps++;
      out.markSweepMs += ms;
    }
  }
  return out;
}

async function main() {
  const caps = await outpostCapabilities();
  if (!caps.proxy) throw new Error('`outpost proxy` is not available: build with `npx tsc -p tsconfig.json` first');
  const { runDir, scripts, pm, hostsFile } = await startLab('outpost-ab');
  // One identity per proxy role for the whole run (each variant's processes read the same files).
  const identity = mtls ? meshIdentities(join(runDir, 'identities')) : undefined;
  const gwIdentity = identity?.('gw', 'egress-gateway', 'httpbin-egress-gateway-istio');
  const scIdentity = identity?.('sidecar', 'curl', 'curl');
  if (twoHop) log(`two hops: sidecar → gateway over ${mtls ? 'HTTP/2 in mTLS' : h2 ? 'h2c' : 'HTTP/1.1'}; CPU and RSS are both proxies'`);
  const results = new Map(variants.map((v) => [v.label, []]));
  for (let round = 0; round < rounds; round++) {
    for (const v of variants) {
      const id = `gw-${round}-${v.label.replace(/\W+/g, '_')}`;
      const gwConfig = upLike(
        await gatewayProxyConfig({
          ip: '127.0.98.5',
          port: 80,
          logFile: v.log ? (v.stdoutLog ? '/dev/stdout' : join(runDir, `${id}.log`)) : undefined,
          ...(mtls ? { mtls: 'STRICT' } : {}),
        }),
      );
      const nodeArgs = [...(traceGc ? ['--trace-gc', '--trace-gc-nvp'] : []), ...v.flags];
      const gw = outpostProxyService({
        id,
        config: gwConfig,
        hostsFile,
        runDir,
        cpu: 0,
        bin: v.bin,
        nodeArgs,
        ...(mtls ? { identityDir: gwIdentity } : {}),
      });
      await gw.start();
      let target = { ip: gw.ip, port: gw.port, form: 'origin' };
      let sc;
      if (twoHop) {
        const scConfig = upLike(
          await sidecarProxyConfig({
            ip: '127.0.98.6',
            port: 15001,
            gateway: { ip: gw.ip, port: gw.port },
            logFile: v.log ? (v.stdoutLog ? '/dev/stdout' : join(runDir, `${id}-sc.log`)) : undefined,
            protocol: h2 ? 'HTTP2' : 'HTTP1',
            ...(mtls
              ? {
                  tls: {
                    mode: 'ISTIO_MUTUAL',
                    sni: 'outbound_.80_._.httpbin-egress-gateway-istio.egress-gateway.svc.cluster.local',
                    subjectAltNames: ['spiffe://cluster.local/ns/egress-gateway/sa/httpbin-egress-gateway-istio'],
                  },
                }
              : {}),
          }),
        );
        sc = outpostProxyService({
          id: `${id}-sc`,
          config: scConfig,
          hostsFile,
          runDir,
          cpu: 0,
          bin: v.bin,
          nodeArgs,
          ...(mtls ? { identityDir: scIdentity } : {}),
        });
        await sc.start();
        target = { ip: sc.ip, port: sc.port, form: 'absolute' };
      }
      const pids = () => [...gw.pids(), ...(sc ? sc.pids() : [])];
      await probe(target);
      await runWrk({ ...target, ...load, seconds: 2, cpu: 1, scripts });
      const cpu0 = cpuSeconds(pids());
      const gwCpu0 = cpuSeconds(gw.pids());
      const w = await runWrk({ ...target, ...load, seconds, cpu: 1, scripts });
      const cpuPerReqUs = ((cpuSeconds(pids()) - cpu0) / w.requests) * 1e6;
      // The gateway's share of it (the rest is the sidecar's).
      const gwPerReqUs = ((cpuSeconds(gw.pids()) - gwCpu0) / w.requests) * 1e6;
      const w1 = twoHop ? await runWrk({ ...target, connections: 1, seconds: 2, cpu: 1, scripts }) : undefined;
      const rss = peakRss(pids()) / (1 << 20);
      if (sc) await sc.stop();
      await gw.stop();
      const gc = gcSummary(readFileSync(join(gw.dir, 'stdout.log'), 'utf8') + (sc ? readFileSync(join(sc.dir, 'stdout.log'), 'utf8') : ''));
      log(
        `${v.label} round ${round + 1}: ${w.rps.toFixed(0)} req/s, p99 ${(w.p99_us / 1000).toFixed(2)} ms, ${cpuPerReqUs.toFixed(1)} µs CPU/req${sc ? ` (gateway ${gwPerReqUs.toFixed(1)})` : ''}, peak RSS ${rss.toFixed(0)} MB${w1 ? `, p50@1 ${(w1.p50_us / 1000).toFixed(3)} ms` : ''}${w.errors ? `, ${w.errors} errors` : ''}`,
      );
      results.get(v.label).push({
        rps: w.rps,
        p99: w.p99_us / 1000,
        p999: w.p999_us / 1000,
        below: w.below,
        cpuPerReqUs,
        rss,
        ...gc,
        perReqScavengeUs: (gc.scavengeMs * 1000) / w.requests,
        promotedKbPerScavenge: gc.scavenges > 0 ? gc.promotedBytes / 1024 / gc.scavenges : 0,
        p50at1: w1 ? w1.p50_us / 1000 : undefined,
      });
    }
  }
  await stopAll();
  releaseCpuDmaLatency();
  log(`cpu_dma_latency ${pm.held ? 'held' : 'not held'}; medians over ${rounds} round(s) of ${seconds} s`);
  const m = (rows, k) => median(rows.map((r) => r[k]));
  const header = [
    'variant',
    'node flags',
    `req/s @${load.connections}${load.headers ? ' (new conn each)' : ''}`,
    'p99 ms',
    'p99.9 ms',
    'µs CPU/req',
    'peak RSS MB',
  ];
  if (twoHop) header.push('p50@1 ms');
  if (traceGc) header.push('scavenges', 'scavenge ms (max)', 'µs GC/req', 'promoted KB/scavenge', 'mark-sweeps (ms)');
  console.log(
    renderTable(
      header,
      variants.map((v) => {
        const rows = results.get(v.label);
        const row = [
          v.label,
          v.flags.join(' ') || '-',
          m(rows, 'rps').toFixed(0),
          m(rows, 'p99').toFixed(2),
          m(rows, 'p999').toFixed(2),
          m(rows, 'cpuPerReqUs').toFixed(1),
          m(rows, 'rss').toFixed(0),
        ];
        if (twoHop) row.push(m(rows, 'p50at1').toFixed(3));
        if (traceGc)
          row.push(
            m(rows, 'scavenges').toFixed(0),
            `${m(rows, 'scavengeMs').toFixed(0)} (${m(rows, 'maxScavengeMs').toFixed(2)})`,
            m(rows, 'perReqScavengeUs').toFixed(2),
            m(rows, 'promotedKbPerScavenge').toFixed(0),
            `${m(rows, 'markSweeps').toFixed(0)} (${m(rows, 'markSweepMs').toFixed(0)})`,
          );
        return row;
      }),
    ),
  );
  console.log('');
  console.log(
    latencyHistogram(
      variants.map((v) => {
        const rows = results.get(v.label);
        return { name: v.label, belows: rows.map((r) => r.below), p99: m(rows, 'p99') * 1000, p999: m(rows, 'p999') * 1000 };
      }),
    ),
  );
  if (keep) log(`kept ${runDir}`);
  else rmSync(runDir, { recursive: true, force: true });
}

process.on('SIGINT', () => void stopAll().then(() => process.exit(130)));
process.on('exit', killAllSync);
main().then(
  () => process.exit(0),
  async (e) => {
    log(`failed: ${e.stack ?? e}`);
    await stopAll();
    process.exit(1);
  },
);
