#!/usr/bin/env node
// `node bench/profile.mjs [--seconds 10] [--no-log] [--two-hop [--h2 | --mtls] [--gateway]] [--up-like] [--close]`: runs outpost's gateway
// (`outpost proxy --config`, as in the benchmark) under wrk -c64 with `node --cpu-prof`, then
// prints the hot spots by self time with src/ file:line (through the source maps).

import { readdirSync, rmSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopAll, killAllSync } from './lib/procs.mjs';
import { releaseCpuDmaLatency } from './lib/pmqos.mjs';
import { startLab } from './lib/lab.mjs';
import { gatewayProxyConfig, sidecarProxyConfig, likeOutpostUp, outpostProxyService, outpostCapabilities, REPO, PROXY_NODE_FLAGS } from './lib/outpost.mjs';
import { meshIdentities } from './lib/mesh-identity.mjs';
import { runWrk, KEEP_ALIVE_LOAD, NEW_CONNECTION_LOAD } from './lib/load.mjs';
import { probe } from './lib/probe.mjs';
import { analyzeProfile, byFile } from './lib/cpuprofile.mjs';
import { renderTable } from './lib/report.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const seconds = Number(argv[argv.indexOf('--seconds') + 1]) || 10;
const logOn = !argv.includes('--no-log');
const twoHop = argv.includes('--two-hop');
// --h2: HTTP/2 between sidecar and gateway, as `outpost up` connects them (else HTTP/1.1).
// --mtls: HTTP/2 over the mesh's mTLS, as `outpost up` connects them.
const mtls = twoHop && argv.includes('--mtls');
const h2 = mtls || argv.includes('--h2');
// --up-like: the configs with what `outpost up`'s control plane adds (bench/lib/outpost.mjs likeOutpostUp).
const upLike = argv.includes('--up-like') ? likeOutpostUp : (c) => c;
// --gateway: profile the gateway of the two-hop path rather than the sidecar.
const profileGateway = argv.includes('--gateway');
// --close: a new connection per request (wrk -c16 with Connection: close), as the benchmark's new conn/s row.
const close = argv.includes('--close');
const load = close ? NEW_CONNECTION_LOAD : KEEP_ALIVE_LOAD;
const top = Number(argv[argv.indexOf('--top') + 1]) || 25;
if (seconds > 120) throw new Error('--seconds: at most 120');
const log = (m) => process.stderr.write(`[profile] ${m}\n`);

async function main() {
  const caps = await outpostCapabilities();
  if (!caps.proxy) throw new Error('`outpost proxy` is not available: build with `npx tsc -p tsconfig.json` first');
  const profDir = join(HERE, 'results', 'profiles');
  mkdirSync(profDir, { recursive: true });
  const { runDir, scripts, pm, hostsFile } = await startLab('outpost-profile');
  const cpuProf = (name) => ['--cpu-prof', '--cpu-prof-dir', profDir, '--cpu-prof-name', `${name}-${Date.now()}.cpuprofile`];
  const identity = mtls ? meshIdentities(join(runDir, 'identities')) : undefined;
  const gwConfig = upLike(
    await gatewayProxyConfig({ ip: '127.0.98.5', port: 80, logFile: logOn ? join(runDir, 'gw-access.log') : undefined, ...(mtls ? { mtls: 'STRICT' } : {}) }),
  );
  const gw = outpostProxyService({
    id: 'gw',
    config: gwConfig,
    hostsFile,
    runDir,
    cpu: 0,
    nodeArgs: [...PROXY_NODE_FLAGS, ...(twoHop && !profileGateway ? [] : cpuProf('gateway'))],
    ...(mtls ? { identityDir: identity('gw', 'egress-gateway', 'httpbin-egress-gateway-istio') } : {}),
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
        logFile: logOn ? join(runDir, 'sc-access.log') : undefined,
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
      id: 'sc',
      config: scConfig,
      hostsFile,
      runDir,
      cpu: 0,
      nodeArgs: [...PROXY_NODE_FLAGS, ...(profileGateway ? [] : cpuProf('sidecar'))],
      ...(mtls ? { identityDir: identity('sidecar', 'curl', 'curl') } : {}),
    });
    await sc.start();
    target = { ip: sc.ip, port: sc.port, form: 'absolute' };
  }
  await probe(target);
  // A warm-up outside the profiled window: connections opened and the request path compiled, so
  // the hot spots are the steady state's (not first-call compilation and 64 connection set-ups).
  await runWrk({ ...target, ...load, seconds: 2, cpu: 1, scripts });
  log(
    `load: wrk -t1 -c64 -d${seconds}s against ${twoHop ? 'the sidecar (two hops)' : 'the gateway'}, access log ${logOn ? 'on' : 'off'}; cpu_dma_latency ${pm.held ? 'held' : 'not held'}`,
  );
  const from = Number(process.hrtime.bigint() / 1000n);
  const w = await runWrk({ ...target, ...load, seconds, cpu: 1, scripts });
  const to = Number(process.hrtime.bigint() / 1000n);
  log(`${w.rps.toFixed(0)} req/s, p99 ${(w.p99_us / 1000).toFixed(2)} ms, errors ${w.errors}`);
  const profiled = twoHop && !profileGateway ? sc : gw;
  const before = new Set(readdirSync(profDir));
  await profiled.stop(); // SIGINT: node writes the profile on a normal exit
  await stopAll();
  releaseCpuDmaLatency();
  const fresh = readdirSync(profDir)
    .filter((f) => f.endsWith('.cpuprofile') && !before.has(f))
    .sort();
  if (fresh.length === 0) throw new Error('no .cpuprofile was written: the proxy must exit normally on SIGINT for --cpu-prof to write one');
  const file = join(profDir, fresh.at(-1));
  const { totalMs, idleMs, rows } = analyzeProfile(file, REPO, [from, to]);
  rows.sort((a, b) => b.selfMs - a.selfMs);
  console.log(`\nprofile ${file}: ${(totalMs / 1000).toFixed(1)} s busy, ${(idleMs / 1000).toFixed(1)} s idle under load; % of busy time\n`);
  console.log(
    renderTable(
      ['function', 'where', 'self %', 'total %'],
      rows.slice(0, top).map((r) => [r.name.slice(0, 40), r.where, r.selfPct.toFixed(1), r.totalPct.toFixed(1)]),
    ),
  );
  console.log('\nself time by file:\n');
  console.log(
    renderTable(
      ['file', 'self %'],
      byFile(rows)
        .slice(0, 15)
        .map(([f, p]) => [f, p.toFixed(1)]),
    ),
  );
  const ours = rows.filter((r) => r.where.startsWith('src/')).sort((a, b) => b.totalMs - a.totalMs);
  console.log('\noutpost functions by inclusive time:\n');
  console.log(
    renderTable(
      ['function', 'where', 'self %', 'total %'],
      ours.slice(0, top).map((r) => [r.name.slice(0, 40), r.where, r.selfPct.toFixed(1), r.totalPct.toFixed(1)]),
    ),
  );
  rmSync(runDir, { recursive: true, force: true });
}

process.on('SIGINT', () => void stopAll().then(() => process.exit(130)));
process.on('exit', killAllSync);
main().then(
  () => process.exit(0),
  async (e) => {
    console.error(`profile: ${e.message}`);
    await stopAll();
    process.exit(1);
  },
);
