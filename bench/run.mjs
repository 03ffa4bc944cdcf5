#!/usr/bin/env node
// `npm run bench [-- --quick]`: outpost's egress hop against nginx, HAProxy and Squid, side by
// side, with direct-to-upstream as the floor. See bench/README.md for the method.

import { chmodSync, mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync, statSync, openSync, readSync, closeSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { ensureTools, toolVersions } from './lib/tools.mjs';
import { holdCpuDmaLatency, releaseCpuDmaLatency } from './lib/pmqos.mjs';
import { stopAll, killAllSync, cpuSeconds, peakRss, resetPeakRss, currentRss, machineCpu } from './lib/procs.mjs';
import { upstreamTarget, directTarget, nginxTarget, haproxyTarget, squidTarget, nodeBaselineTarget, EXTERNAL_HOST } from './lib/peers.mjs';
import { outpostCapabilities, gatewayProxyConfig, sidecarProxyConfig, outpostProxyService } from './lib/outpost.mjs';
import { meshIdentities } from './lib/mesh-identity.mjs';
import { writeWrkScripts, runWrk, runCurlDownload, mergeLatency, KEEP_ALIVE_LOAD, NEW_CONNECTION_LOAD } from './lib/load.mjs';
import { probe } from './lib/probe.mjs';
import { summarize, median } from './lib/stats.mjs';
import { mainTable, tunnelTable, checksTable, scalingTable, latencyTable, settingsLine, targetsCheck, cliTable, captureTable } from './lib/report.mjs';
import { captureLab } from './lib/capture.mjs';
import { measureCliStartup } from './lib/cli-startup.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const PROXY_CPU = 0;
/** The seed's gateway namespace (the Gateway API procedure). */
const NS_GW = 'egress-gateway';
const LOAD_CPU = 1;
const CPUS = os.cpus().length;

const USAGE = `usage: npm run bench -- [options]
  --quick            about a minute or two: 2 short rounds, access log on only, no node baseline
  --rounds N         interleaved rounds (default 3, quick 2)
  --seconds S        wrk duration at 64 connections (default 10, quick 2)
  --slices K         measure those seconds in K slices, the targets taking turns (default 1: each
                     slice opens 64 new connections, which weighs on a proxy's keep-alive figures)
  --only a,b         only these targets (ids: direct nginx haproxy squid node-baseline outpost
                     outpost-2hop outpost-2hop-mtls outpost-c2 outpost-up outpost-up-2hop; add -nolog for the
                     log-off runs; cli: the CLI start-up, which \`--only cli\` runs alone, without root;
                     capture: what traffic capture costs, in a network namespace of its own)
  --no-cli           skip the CLI start-up (hyperfine: outpost version, outpost get pods)
  --no-capture       skip the capture section (connection set-up and CONNECT in a pod, with and without capture)
  --net 127.0.99     the /24 of loopback addresses to use (default 127.0.99)
  --no-tunnel        skip the CONNECT tunnel figures
  --readme           write the table into bench/README.md (done by default for full runs)
  --keep             keep the run directory (configs, logs) under /tmp
  --help`;

function parseArgs(argv) {
  const o = {
    quick: false,
    rounds: undefined,
    seconds: undefined,
    slices: undefined,
    only: undefined,
    net: '127.0.99',
    tunnel: true,
    cli: true,
    capture: true,
    readme: undefined,
    keep: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value\n${USAGE}`);
      return argv[++i];
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--rounds') o.rounds = positiveInt(a, val());
    else if (a === '--seconds') o.seconds = positiveInt(a, val());
    else if (a === '--slices') o.slices = positiveInt(a, val());
    else if (a === '--only')
      o.only = val()
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    else if (a === '--net') o.net = val();
    else if (a === '--no-tunnel') o.tunnel = false;
    else if (a === '--no-cli') o.cli = false;
    else if (a === '--no-capture') o.capture = false;
    else if (a === '--readme') o.readme = true;
    else if (a === '--keep') o.keep = true;
    else if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown option ${a}\n${USAGE}`);
  }
  if (o.only?.includes('cli')) o.cli = true;
  else if (o.only) o.cli = false;
  if (o.only) o.capture = o.only.includes('capture');
  if (!/^127\.\d{1,3}\.\d{1,3}$/.test(o.net)) throw new Error(`--net must look like 127.X.Y (got ${o.net})`);
  return o;
}

function positiveInt(flag, v) {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new Error(`${flag} must be a whole number from 1 to 1000 (got ${v})`);
  return n;
}

const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);

/** Newlines in `file` from offset `from` to its end (0 when it does not exist). */
function countLines(file, from) {
  let size = 0;
  try {
    size = statSync(file).size;
  } catch {
    return 0;
  }
  let lines = 0;
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let pos = from; pos < size;) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, size - pos), pos);
      if (n <= 0) break;
      for (let i = 0; i < n; i++) if (buf[i] === 10) lines++;
      pos += n;
    }
  } finally {
    closeSync(fd);
  }
  return lines;
}

/** `FILE.1`, `FILE.2`, … that exist (the mesh's log rotation, src/runtime/log-rotation.ts), with their inodes. */
function rotatedOf(file) {
  const out = [];
  for (let k = 1; k < 100; k++) {
    try {
      out.push({ file: `${file}.${k}`, ino: statSync(`${file}.${k}`).ino });
    } catch {
      break;
    }
  }
  return out;
}

/** Where a log stands before a measurement: its size and the rotated files it already has. */
function logMark(file) {
  let size = 0;
  try {
    size = statSync(file).size;
  } catch {
    // Not written yet.
  }
  return { size, rotated: new Set(rotatedOf(file).map((r) => r.ino)) };
}

/**
 * Lines written to a log since `mark`, rotations included: `outpost up` rotates its workloads'
 * logs at 10 MiB (copy, then truncate), and under load that happens within a measurement. A
 * rotated file that is new since the mark holds the rest of the live file as it was then (the
 * oldest new one starts with the bytes before the mark).
 */
function logLinesSince(file, mark) {
  const fresh = rotatedOf(file).filter((r) => !mark.rotated.has(r.ino));
  if (fresh.length === 0) return countLines(file, mark.size);
  let lines = countLines(file, 0);
  fresh.forEach((r, i) => (lines += countLines(r.file, i === fresh.length - 1 ? mark.size : 0)));
  return lines;
}

function machineInfo() {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model ?? 'unknown',
    cpus: cpus.length,
    memoryGB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
    kernel: os.release(),
    os: (() => {
      try {
        return readFileSync('/etc/os-release', 'utf8').match(/^PRETTY_NAME="?([^"\n]+)"?/m)?.[1] ?? 'unknown';
      } catch {
        return 'unknown';
      }
    })(),
    virtualization: (() => {
      try {
        return readFileSync('/sys/class/dmi/id/sys_vendor', 'utf8').trim();
      } catch {
        return 'unknown';
      }
    })(),
  };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const settings = {
    quick: opts.quick,
    rounds: opts.rounds ?? (opts.quick ? 2 : 3),
    seconds64: opts.seconds ?? (opts.quick ? 2 : 10),
    seconds1: opts.quick ? 1 : 5,
    // A new connection per request (wrk -c16 with Connection: close): what setting connections up costs.
    secondsClose: opts.quick ? 1 : 3,
    // The load at 64 connections is measured in this many slices, the targets taking turns. One by
    // default: every slice is a new wrk with 64 new connections, and a proxy's cost of setting
    // connections up (outpost's is ~3 × nginx's) would weigh on its keep-alive figures.
    slices: opts.slices ?? 1,
    warmupSeconds: opts.quick ? 1 : 2,
    logsOff: !opts.quick,
    tunnel: opts.tunnel,
    tunnelBytes: opts.quick ? 512 * 2 ** 20 : 2048 * 2 ** 20,
    proxyCpu: PROXY_CPU,
    loadCpu: LOAD_CPU,
    // Before each measurement, wait up to this long for other work on the machine to stop.
    quietWaitSeconds: opts.quick ? 1 : 10,
    capture: opts.capture,
  };
  // wrk takes whole seconds: as many slices as fit, each a whole number of seconds.
  settings.slices = Math.min(settings.slices, settings.seconds64);
  settings.sliceSeconds = Math.floor(settings.seconds64 / settings.slices);
  settings.seconds64 = settings.slices * settings.sliceSeconds;
  if (opts.only?.every((id) => id === 'cli')) return cliOnly(opts);
  // `--only capture[,cli]` runs no proxy target and no upstream on the loopback.
  const runMain = !opts.only || opts.only.some((id) => id !== 'cli' && id !== 'capture');
  if (os.cpus().length < 2) throw new Error('the benchmark pins proxy and load on two different CPUs; this machine has one');

  await ensureTools(log);
  const versions = await toolVersions();
  const runDir = mkdtempSync('/tmp/outpost-bench-');
  if (!opts.keep) scratchDir = runDir;
  chmodSync(runDir, 0o755); // Squid and nginx workers run as other users and must reach their files
  mkdirSync(join(HERE, 'results'), { recursive: true });
  const scripts = writeWrkScripts(runDir);
  const net = opts.net;
  const ip = (n) => `${net}.${n}`;

  const pmqos = holdCpuDmaLatency();
  log(pmqos.held ? 'holding /dev/cpu_dma_latency at 0 for the run' : `could not hold /dev/cpu_dma_latency: ${pmqos.reason}`);

  // ---- what to measure
  const upstream = upstreamTarget({ ip: ip(1), port: 80, bigPort: 9000, bigBytes: settings.tunnelBytes, runDir, cpu: LOAD_CPU });
  const common = { upstream, runDir, cpu: PROXY_CPU };
  const targets = [directTarget(upstream)];
  for (const logOn of settings.logsOff ? [true, false] : [true]) {
    const port = logOn ? 8080 : 8081;
    targets.push(nginxTarget({ ...common, ip: ip(2), port, log: logOn }));
    targets.push(haproxyTarget({ ...common, ip: ip(3), port, log: logOn }));
    targets.push(squidTarget({ ...common, ip: ip(4), port, log: logOn }));
    if (!opts.quick) targets.push(nodeBaselineTarget({ ...common, ip: ip(7), port, log: logOn, script: join(HERE, 'baseline-node-proxy.mjs') }));
  }

  const caps = await outpostCapabilities();
  let outpostGateway;
  const hostsFile = join(runDir, 'hosts');
  writeFileSync(hostsFile, `${upstream.ip} ${EXTERNAL_HOST}\n`);
  if (caps.up) {
    const { outpostUp } = await import('./lib/outpost-up.mjs');
    const up = outpostUp({ runDir, cpu: PROXY_CPU, hostsFile, log });
    targets.push(up.gatewayTarget, up.twoHopTarget);
    outpostGateway = 'outpost-up';
  } else {
    log(
      caps.built
        ? '`outpost up` is not available yet: skipping the user-started gateway'
        : 'dist/ is missing: run `npx tsc -p tsconfig.json` to include outpost',
    );
  }
  let sidecar;
  if (caps.proxy) {
    const gws = {};
    for (const logOn of settings.logsOff ? [true, false] : [true]) {
      const id = logOn ? 'outpost' : 'outpost-nolog';
      const port = 80;
      const config = await gatewayProxyConfig({ ip: ip(logOn ? 5 : 8), port, logFile: logOn ? join(runDir, id, 'access.log') : undefined });
      const svc = outpostProxyService({ id, config, hostsFile, runDir, cpu: PROXY_CPU });
      gws[id] = svc;
      targets.push({
        id,
        name: `outpost proxy${logOn ? '' : ' (no log)'}`,
        kind: 'outpost',
        log: logOn,
        logFile: config.mesh.accessLog?.path,
        ip: svc.ip,
        port: svc.port,
        form: 'origin',
        services: [svc],
      });
    }
    if (!opts.quick) {
      // Envoy-style workers: two processes sharing the listener, given both CPUs (the second is
      // also the load generator's and the upstream's here, so this shows direction, not scale).
      const id = 'outpost-c2';
      const config = await gatewayProxyConfig({ ip: ip(9), port: 80, logFile: join(runDir, id, 'access.log') });
      const svc = outpostProxyService({ id, config, hostsFile, runDir, cpu: `${PROXY_CPU},${LOAD_CPU}`, extraArgs: ['--concurrency', '2'] });
      targets.push({
        id,
        name: 'outpost proxy --concurrency 2',
        kind: 'outpost',
        log: true,
        logFile: config.mesh.accessLog?.path,
        ip: svc.ip,
        port: svc.port,
        form: 'origin',
        services: [svc],
      });
    }
    const sidecarLog = join(runDir, 'outpost-sidecar', 'access.log');
    const sidecarConfig = await sidecarProxyConfig({ ip: ip(6), port: 15001, gateway: { ip: gws.outpost.ip, port: gws.outpost.port }, logFile: sidecarLog });
    sidecar = outpostProxyService({ id: 'outpost-sidecar', config: sidecarConfig, hostsFile, runDir, cpu: PROXY_CPU });
    targets.push({
      id: 'outpost-2hop',
      name: 'outpost sidecar→gateway',
      kind: 'outpost',
      log: true,
      logFiles: [sidecarLog, join(runDir, 'outpost', 'access.log')],
      ip: sidecar.ip,
      port: sidecar.port,
      form: 'absolute',
      services: [sidecar, gws.outpost],
    });
    // The same two hops with Istio's mesh mTLS: sidecar → gateway is HTTP/2 over TLS (ALPN h2) with
    // both workload certificates, the gateway's listener STRICT (its own gateway and sidecar processes).
    const identity = meshIdentities(join(runDir, 'identities'));
    const gwMtlsConfig = await gatewayProxyConfig({ ip: ip(10), port: 80, logFile: join(runDir, 'outpost-mtls-gw', 'access.log'), mtls: 'STRICT' });
    const gwMtls = outpostProxyService({
      id: 'outpost-mtls-gw',
      config: gwMtlsConfig,
      hostsFile,
      runDir,
      cpu: PROXY_CPU,
      identityDir: identity('gw', NS_GW, 'httpbin-egress-gateway-istio'),
    });
    const scMtlsLog = join(runDir, 'outpost-mtls-sidecar', 'access.log');
    const scMtlsConfig = await sidecarProxyConfig({
      ip: ip(11),
      port: 15001,
      gateway: { ip: gwMtls.ip, port: gwMtls.port },
      logFile: scMtlsLog,
      protocol: 'HTTP2',
      tls: {
        mode: 'ISTIO_MUTUAL',
        sni: 'outbound_.80_._.httpbin-egress-gateway-istio.egress-gateway.svc.cluster.local',
        subjectAltNames: [`spiffe://cluster.local/ns/${NS_GW}/sa/httpbin-egress-gateway-istio`],
      },
    });
    const scMtls = outpostProxyService({
      id: 'outpost-mtls-sidecar',
      config: scMtlsConfig,
      hostsFile,
      runDir,
      cpu: PROXY_CPU,
      identityDir: identity('sidecar', 'curl', 'curl'),
    });
    targets.push({
      id: 'outpost-2hop-mtls',
      name: 'outpost sidecar→gateway (mTLS)',
      kind: 'outpost',
      log: true,
      logFiles: [scMtlsLog, join(runDir, 'outpost-mtls-gw', 'access.log')],
      ip: scMtls.ip,
      port: scMtls.port,
      form: 'absolute',
      services: [scMtls, gwMtls],
    });
    outpostGateway ??= 'outpost';
  } else if (caps.built) {
    log('`outpost proxy` is not available yet: skipping outpost');
  }

  // Measure order within a round: the figures compared most (outpost's gateway and the two-hop
  // path through it, against nginx) next to each other in time, so a burst of other work on the
  // machine hits them alike (issue 16's targets are ratios between these three rows).
  const ORDER = [
    'direct',
    'nginx',
    'outpost-up',
    'outpost-up-2hop',
    'outpost',
    'haproxy',
    'squid',
    'node-baseline',
    'outpost-c2',
    'outpost-2hop',
    'outpost-2hop-mtls',
  ];
  const rank = (t) => {
    const i = ORDER.indexOf(t.id.replace(/-nolog$/, ''));
    return (t.id.endsWith('-nolog') ? 100 : 0) + (i < 0 ? 50 : i);
  };
  targets.sort((a, b) => rank(a) - rank(b));
  const selected = opts.only ? targets.filter((t) => opts.only.includes(t.id)) : targets;
  if (opts.only) {
    const unknown = opts.only.filter((id) => id !== 'cli' && id !== 'capture' && !targets.some((t) => t.id === id));
    if (unknown.length) throw new Error(`--only: no target ${unknown.join(', ')} (have ${targets.map((t) => t.id).join(', ')}, capture, cli)`);
    if (runMain && !selected.some((t) => t.id === 'nginx')) log('nginx is not selected: ratios to nginx will be empty');
  }

  // ---- start everything once; a target that fails to start or answer is reported, not fatal
  log(`run directory ${runDir}`);
  if (runMain) await upstream.start();
  const started = new Set();
  const services = (t) => t.services ?? [t];
  const pidsOf = (t) => [...new Set(services(t).flatMap((s) => s.pids()))];
  const results = { startedAt: new Date().toISOString(), settings, machine: machineInfo(), versions, pmqos, outpostGateway, targets: [], tunnel: [] };
  const state = new Map();
  for (const t of selected) {
    const st = { target: t, rounds: [], failed: undefined, idleRss: NaN };
    state.set(t.id, st);
    try {
      for (const s of services(t)) {
        if (started.has(s)) continue;
        started.add(s);
        await s.start();
      }
      await probe(t);
      st.idleRss = currentRss(pidsOf(t));
      log(`ready: ${t.name} at ${t.ip}:${t.port}${t.form === 'absolute' ? ' (absolute-form)' : ''}`);
    } catch (e) {
      st.failed = e.message;
      log(`skipping ${t.name}: ${e.message}`);
    }
  }

  // ---- interleaved rounds: A B C … A B C …
  const tunnelTargets =
    !settings.tunnel || !runMain
      ? []
      : [
          { id: 'direct', name: 'direct', proxy: undefined, pids: () => [] },
          ...(selected.some((t) => t.id === 'squid' && !state.get('squid').failed)
            ? [
                {
                  id: 'squid',
                  name: 'Squid CONNECT',
                  proxy: selected.find((t) => t.id === 'squid'),
                  pids: () => pidsOf(selected.find((t) => t.id === 'squid')),
                },
              ]
            : []),
          ...(sidecar && started.has(sidecar) ? [{ id: 'outpost-sidecar', name: 'outpost sidecar CONNECT', proxy: sidecar, pids: () => sidecar.pids() }] : []),
        ];
  const tunnelState = new Map(tunnelTargets.map((t) => [t.id, { target: t, rounds: [], failed: undefined }]));
  if (settings.tunnel) {
    // One unmeasured download each first: the first read of the sparse file and the first
    // tunnel pay for page-cache and socket-buffer growth that later rounds do not.
    for (const tt of tunnelTargets) {
      await runCurlDownload({ ip: upstream.ip, port: upstream.bigPort, path: '/big', proxy: tt.proxy, cpu: LOAD_CPU }).catch((e) => {
        tunnelState.get(tt.id).failed = e.message;
        log(`  ${tt.name} failed: ${e.message}`);
      });
    }
  }
  const deadline = Date.now() + 60 * 60 * 1000; // a hard bound on the whole measuring phase
  for (let round = 0; runMain && round < settings.rounds && Date.now() < deadline; round++) {
    log(`round ${round + 1}/${settings.rounds}`);
    const live = () => selected.filter((t) => !state.get(t.id).failed);
    const fail = (t, e) => {
      state.get(t.id).failed = e.message;
      log(`  ${t.name} failed: ${e.message}`);
    };
    // The load at 64 connections in slices, the targets taking turns (in reverse order every
    // other turn): each target's figures then come from the same stretch of time as the
    // others', so a host that slows down for a while (other tenants) weighs on all of them alike.
    const slices = new Map(selected.map((t) => [t.id, []]));
    for (let k = 0; k < settings.slices; k++) {
      const quiet = await waitForQuiet(settings.quietWaitSeconds);
      const turn = k % 2 === 0 ? live() : live().reverse();
      for (const t of turn) {
        try {
          // Quick runs warm up in the first round only: the JIT and the pools stay warm.
          const warmup = k === 0 && (!settings.quick || round === 0) ? settings.warmupSeconds : 0;
          slices.get(t.id).push({ ...(await measureLoad(t, pidsOf(t), upstream.pids(), settings.sliceSeconds, warmup, scripts)), quiet });
        } catch (e) {
          fail(t, e);
        }
      }
    }
    for (const t of live()) {
      const st = state.get(t.id);
      try {
        st.rounds.push(await finishRound(t, pidsOf(t), slices.get(t.id), settings, scripts));
        const r = st.rounds.at(-1);
        log(
          `  ${t.name.padEnd(26)} ${r.rps64.toFixed(0).padStart(6)} req/s  p99@64 ${(r.p99_64 / 1000).toFixed(2)} ms  p50@1 ${(r.p50_1 / 1000).toFixed(3)} ms${t.kind === 'floor' ? '' : `  ${r.cpuPer1k.toFixed(3)} CPU-s/1k`}${r.errors ? `  errors ${r.errors}` : ''}${r.logRatio !== undefined ? `  log lines/req ${r.logRatio.toFixed(2)}` : ''}${r.backgroundCpuShare > 0.05 ? `  (busy machine: ${(100 * r.backgroundCpuShare).toFixed(0)}% CPU elsewhere)` : ''}`,
        );
      } catch (e) {
        fail(t, e);
      }
    }
    if (settings.tunnel && !state.get('direct')?.failed) {
      for (const tt of tunnelTargets) {
        const ts = tunnelState.get(tt.id);
        if (ts.failed) continue;
        try {
          const pids = tt.pids();
          const cpu0 = cpuSeconds(pids);
          const d = await runCurlDownload({ ip: upstream.ip, port: upstream.bigPort, path: '/big', proxy: tt.proxy, cpu: LOAD_CPU });
          ts.rounds.push({ ...d, cpuPerGB: (cpuSeconds(pids) - cpu0) / (d.bytes / 1e9) });
          log(`  ${tt.name.padEnd(26)} ${d.mbps.toFixed(0)} MB/s`);
        } catch (e) {
          ts.failed = e.message;
          log(`  ${tt.name} failed: ${e.message}`);
        }
      }
    }
  }

  // ---- summaries and ratios to nginx in the same round
  const nginxRounds = state.get('nginx')?.rounds ?? [];
  const directRounds = state.get('direct')?.rounds ?? [];
  for (const t of selected) {
    const st = state.get(t.id);
    const pids = pidsOf(t);
    const rs = st.rounds;
    const perRound = (f) => rs.map((r, i) => f(r, i));
    const vsNginx = (key) => summarize(perRound((r, i) => (nginxRounds[i] ? r[key] / nginxRounds[i][key] : NaN)));
    results.targets.push({
      id: t.id,
      name: t.name,
      kind: t.kind,
      log: t.log,
      address: `${t.ip}:${t.port}`,
      form: t.form,
      failed: st.failed && rs.length === 0 ? st.failed : undefined,
      error: st.failed,
      idleRss: st.idleRss,
      // The highest of the rounds' peaks, each measured from this target's own load.
      peakRss: rs.length ? Math.max(...rs.map((r) => r.rssPeak)) : peakRss(pids),
      rounds: rs,
      summary: {
        rps64: summarize(perRound((r) => r.rps64)),
        p50_64: summarize(perRound((r) => r.p50_64)),
        p99_64: summarize(perRound((r) => r.p99_64)),
        p999_64: summarize(perRound((r) => r.p999_64)),
        p50_1: summarize(perRound((r) => r.p50_1)),
        p99_1: summarize(perRound((r) => r.p99_1)),
        cpuPer1k: summarize(perRound((r) => r.cpuPer1k)),
        coresUsed: summarize(perRound((r) => r.coresUsed)),
        ratioRps: vsNginx('rps64'),
        ratioCpu: vsNginx('cpuPer1k'),
        ratioP99: vsNginx('p99_64'),
        connRate: summarize(perRound((r) => r.connRate)),
        ratioConn: vsNginx('connRate'),
        p99Close: summarize(perRound((r) => r.p99_close)),
        cpuMsPerConn: summarize(perRound((r) => r.cpuMsPerConn)),
        addedP50_1: summarize(perRound((r, i) => (directRounds[i] ? r.p50_1 - directRounds[i].p50_1 : NaN))),
        errors: rs.reduce((a, r) => a + r.errors, 0),
      },
    });
  }
  const directTunnel = tunnelState.get('direct')?.rounds ?? [];
  for (const tt of tunnelTargets) {
    const ts = tunnelState.get(tt.id);
    results.tunnel.push({
      id: tt.id,
      name: tt.name,
      failed: ts.failed && ts.rounds.length === 0 ? ts.failed : undefined,
      rounds: ts.rounds,
      summary: {
        mbps: summarize(ts.rounds.map((r) => r.mbps)),
        ratio: summarize(ts.rounds.map((r, i) => (directTunnel[i] ? r.mbps / directTunnel[i].mbps : NaN))),
        cpuPerGB: summarize(ts.rounds.map((r) => r.cpuPerGB)),
      },
    });
  }
  // The issue's targets are for the gateway as users start it; the hand-configured hop stands in.
  results.outpostGateway = ['outpost-up', 'outpost'].find((id) => results.targets.some((t) => t.id === id && !t.failed));
  results.checks = targetsCheck(results);
  const bg = results.targets.flatMap((t) => t.rounds.map((r) => r.backgroundCpuShare));
  results.background = { cpuShare: summarize(bg), steal: summarize(results.targets.flatMap((t) => t.rounds.map((r) => r.stealShare))) };
  results.finishedAt = new Date().toISOString();

  await stopAll();
  // Capture next, in its own network namespace, with the loopback proxies stopped.
  if (opts.capture) results.capture = await captureSection({ runDir, settings, scripts, caps });
  // The CLI last, on a machine the proxies no longer load (the PM-QoS hold still on, as for them).
  if (opts.cli) results.cli = await cliStartup({ runDir, hostsFile, quick: opts.quick, quietWaitSeconds: settings.quietWaitSeconds });
  releaseCpuDmaLatency();

  // ---- output
  const out = [
    '',
    ...(runMain ? [settingsLine(results)] : []),
    `${results.machine.cpus} × ${results.machine.cpuModel}, ${results.machine.os}, kernel ${results.machine.kernel}; ` +
      Object.entries(versions)
        .map(([k, v]) => `${k} ${v}`)
        .join(', '),
    '',
    ...(runMain ? [mainTable(results), '', tunnelTable(results), '', checksTable(results), '', scalingTable(results), '', latencyTable(results), ''] : []),
    captureTable(results),
    '',
    cliTable(results),
    '',
  ].join('\n');
  process.stdout.write(out);
  const stamp = results.startedAt.replace(/[:.]/g, '-');
  const file = join(HERE, 'results', `${stamp}.json`);
  writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
  log(`results: ${file}`);
  // A partial run (--quick, --only) leaves the README's figures alone unless --readme asks.
  if (opts.readme ?? (!opts.quick && !opts.only)) {
    if (runMain) updateReadme(results);
    else updateCliReadme(results);
    updateCaptureReadme(results);
    log(`bench/README.md: ${runMain ? 'latest results' : 'capture section'} updated`);
  }
  if (!opts.keep) rmSync(runDir, { recursive: true, force: true });
  else log(`kept ${runDir}`);
}

/** The capture section (bench/lib/capture.mjs); a failure is recorded, not fatal. */
async function captureSection({ runDir, settings, scripts, caps }) {
  const why = process.getuid?.() !== 0 ? 'needs root (network namespaces, nftables)' : !caps.up ? '`outpost up` is not available (build dist/)' : undefined;
  if (why) {
    log(`capture: skipped: ${why}`);
    return { failed: why };
  }
  const lab = captureLab({
    runDir,
    settings: { quick: settings.quick, rounds: settings.rounds, proxyCpu: PROXY_CPU, loadCpu: LOAD_CPU, scripts },
    log,
    waitForQuiet,
    quietWaitSeconds: settings.quietWaitSeconds,
    cpus: CPUS,
  });
  activeCapture = lab;
  try {
    return await lab.run();
  } catch (e) {
    log(`capture failed: ${e.message}`);
    return { failed: e.message, node: lab.node };
  } finally {
    await lab.stop();
    activeCapture = undefined;
  }
}

/** Runs the CLI start-up measurement; a failure is recorded, not fatal. */
async function cliStartup({ runDir, hostsFile, quick, quietWaitSeconds }) {
  const machineBusy = async () => (await waitForQuiet(quietWaitSeconds)).share;
  try {
    return await measureCliStartup({ runDir, hostsFile, runs: quick ? 10 : 30, log, machineBusy });
  } catch (e) {
    log(`CLI start-up failed: ${e.message}`);
    return { failed: e.message };
  }
}

/** `--only cli`: the CLI start-up alone (no root, no proxies; hyperfine and a built dist/). */
async function cliOnly(opts) {
  if (!existsSync(join(HERE, '..', 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run `npx tsc -p tsconfig.json` first');
  await ensureTools(log, ['hyperfine']);
  const runDir = mkdtempSync('/tmp/outpost-bench-');
  if (!opts.keep) scratchDir = runDir;
  const hostsFile = join(runDir, 'hosts');
  writeFileSync(hostsFile, `127.0.0.1 ${EXTERNAL_HOST}\n`);
  const results = {
    startedAt: new Date().toISOString(),
    settings: { quick: opts.quick, only: ['cli'] },
    machine: machineInfo(),
    versions: { node: process.version },
  };
  results.cli = await cliStartup({ runDir, hostsFile, quick: opts.quick, quietWaitSeconds: opts.quick ? 1 : 10 });
  await stopAll();
  process.stdout.write(`\n${cliTable(results)}\n`);
  mkdirSync(join(HERE, 'results'), { recursive: true });
  const file = join(HERE, 'results', `${results.startedAt.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
  log(`results: ${file}`);
  if (opts.readme ?? !opts.quick) {
    updateCliReadme(results);
    log('bench/README.md: CLI start-up updated');
  }
  if (!opts.keep) rmSync(runDir, { recursive: true, force: true });
}

/**
 * Waits (bounded) for the machine to be quiet: on a shared machine other people's builds and
 * tests would land in the figures. Returns the busy share seen last and the seconds waited.
 */
async function waitForQuiet(maxSeconds) {
  const started = Date.now();
  let share = 0;
  for (let i = 0; i < 1000; i++) {
    const a = machineCpu();
    await new Promise((r) => setTimeout(r, 500));
    share = (machineCpu().busy - a.busy) / (0.5 * CPUS);
    if (share < QUIET_SHARE || Date.now() - started > maxSeconds * 1000) break;
  }
  return { share, waited: (Date.now() - started) / 1000 };
}
const QUIET_SHARE = 0.1;

/** One slice of a target's load at 64 connections (after `warmup` seconds of it, unmeasured): wrk's figures, CPU, log lines. */
async function measureLoad(t, pids, upstreamPids, seconds, warmup, scripts) {
  const base = { ip: t.ip, port: t.port, form: t.form, cpu: LOAD_CPU, scripts };
  // Peak RSS under this target's own load (a process two targets share, as `outpost up`'s gateway, is reset for each).
  resetPeakRss(pids);
  if (warmup > 0) await runWrk({ ...base, ...KEEP_ALIVE_LOAD, seconds: warmup });
  const logFiles = t.logFiles ?? (t.logFile ? [t.logFile] : []);
  const logBefore = logFiles.map((f) => logMark(f));
  const cpu0 = cpuSeconds(pids);
  const up0 = cpuSeconds(upstreamPids);
  const m0 = machineCpu();
  const t0 = process.hrtime.bigint();
  const w = await runWrk({ ...base, ...KEEP_ALIVE_LOAD, seconds });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = cpuSeconds(pids) - cpu0;
  const m1 = machineCpu();
  // What the machine did besides proxy, upstream and wrk: other people's work disturbs figures.
  // (CPU-seconds per CPU; finishRound divides the slices' sum by their wall time.)
  const background = (m1.busy - m0.busy - cpu - (cpuSeconds(upstreamPids) - up0) - w.cpuSeconds) / CPUS;
  const steal = (m1.steal - m0.steal) / CPUS;
  // Log lines written per request: shows a log is really being written (batched writers may lag).
  const logLines = logFiles.length ? median(logFiles.map((f, i) => logLinesSince(f, logBefore[i]))) : undefined;
  return { w, wall, cpu, background, steal, logLines, rssPeak: peakRss(pids) };
}

/**
 * A target's figures for one round: its load slices as one run, then 1 connection, then a new
 * connection per request; peak RSS the highest of the slices' and the 1-connection run's.
 */
async function finishRound(t, pids, slices, settings, scripts) {
  if (slices.length === 0) throw new Error('no load slice measured');
  const w64 = mergeLatency(slices.map((s) => s.w));
  const total = (key) => slices.reduce((a, s) => a + s[key], 0);
  const wall = total('wall');
  const cpu = total('cpu');
  const base = { ip: t.ip, port: t.port, form: t.form, cpu: LOAD_CPU, scripts };
  resetPeakRss(pids);
  const w1 = await runWrk({ ...base, connections: 1, seconds: settings.seconds1 });
  const rssPeak = Math.max(peakRss(pids), ...slices.map((s) => s.rssPeak));
  const cpuClose0 = cpuSeconds(pids);
  const wc = await runWrk({ ...base, ...NEW_CONNECTION_LOAD, seconds: settings.secondsClose });
  const cpuClose = cpuSeconds(pids) - cpuClose0;
  return {
    rssPeak,
    rps64: w64.rps,
    requests64: w64.requests,
    p50_64: w64.p50_us,
    p90_64: w64.p90_us,
    p99_64: w64.p99_us,
    p999_64: w64.p999_us,
    max_64: w64.max_us,
    // Cumulative share of requests under each of HIST_EDGES_US (bench/lib/load.mjs): the histogram.
    below_64: w64.below,
    // Each slice's own figures, to see how a round's load was spread over time.
    slices64: slices.map((s) => ({ rps: s.w.rps, p50_us: s.w.p50_us, p99_us: s.w.p99_us, max_us: s.w.max_us, cpuPer1k: (s.cpu / s.w.requests) * 1000 })),
    rps1: w1.rps,
    p50_1: w1.p50_us,
    p99_1: w1.p99_us,
    cpuSeconds: cpu,
    // CPUs the proxy's processes kept busy on average: what --concurrency N actually got.
    coresUsed: cpu / wall,
    cpuPer1k: (cpu / w64.requests) * 1000,
    errors: w64.errors + w1.errors,
    // New connections: one per request (Connection: close), 16 at a time.
    connRate: wc.rps,
    p99_close: wc.p99_us,
    cpuMsPerConn: (cpuClose / wc.requests) * 1000,
    errorsClose: wc.errors,
    logRatio: slices[0].logLines !== undefined ? total('logLines') / w64.requests : undefined,
    wrkCpuSeconds: w64.cpuSeconds,
    backgroundCpuShare: Math.max(0, total('background') / wall),
    stealShare: total('steal') / wall,
    quietWaitSeconds: slices.reduce((a, s) => a + s.quiet.waited, 0),
    busyBeforeShare: Math.max(...slices.map((s) => s.quiet.share)),
  };
}

const README_START = '<!-- bench:latest:start -->';
const README_END = '<!-- bench:latest:end -->';

const CLI_START = '<!-- bench:cli:start -->';
const CLI_END = '<!-- bench:cli:end -->';

const CAPTURE_START = '<!-- bench:capture:start -->';
const CAPTURE_END = '<!-- bench:capture:end -->';

/** Rewrites the README's capture section (its own markers, so \`--only capture\` leaves the rest). */
function updateCaptureReadme(results) {
  const file = join(HERE, 'README.md');
  if (!results.capture || !existsSync(file)) return;
  const text = readFileSync(file, 'utf8');
  const a = text.indexOf(CAPTURE_START);
  const b = text.indexOf(CAPTURE_END);
  if (a < 0 || b < a) return;
  const m = results.machine;
  const section = [
    CAPTURE_START,
    '',
    `Run ${results.startedAt} (\`bench/results/${results.startedAt.replace(/[:.]/g, '-')}.json\`). ${m.cpus} vCPU ${m.cpuModel}, ${m.os}, kernel ${m.kernel}, node ${process.version}.`,
    '',
    captureTable(results, true),
    '',
    CAPTURE_END,
  ].join('\n');
  writeFileSync(file, text.slice(0, a) + section + text.slice(b + CAPTURE_END.length));
}

/** Rewrites the README's CLI start-up section (its own markers, so \`--only cli\` leaves the rest). */
function updateCliReadme(results) {
  const file = join(HERE, 'README.md');
  if (!results.cli || !existsSync(file)) return;
  const text = readFileSync(file, 'utf8');
  const a = text.indexOf(CLI_START);
  const b = text.indexOf(CLI_END);
  if (a < 0 || b < a) return;
  const m = results.machine;
  const section = [
    CLI_START,
    '',
    `Run ${results.startedAt}. ${m.cpus} vCPU ${m.cpuModel}, ${m.os}, node ${process.version}.`,
    '',
    cliTable(results, true),
    '',
    CLI_END,
  ].join('\n');
  writeFileSync(file, text.slice(0, a) + section + text.slice(b + CLI_END.length));
}

function updateReadme(results) {
  updateCliReadme(results);
  const file = join(HERE, 'README.md');
  if (!existsSync(file)) return;
  const text = readFileSync(file, 'utf8');
  const a = text.indexOf(README_START);
  const b = text.indexOf(README_END);
  if (a < 0 || b < a) return;
  const m = results.machine;
  const section = [
    README_START,
    '',
    `Run ${results.startedAt} (\`bench/results/${results.startedAt.replace(/[:.]/g, '-')}.json\`). ` +
      `${m.cpus} vCPU ${m.cpuModel}${m.virtualization === 'unknown' ? '' : ` (${m.virtualization})`}, ${m.memoryGB} GB, ${m.os}, kernel ${m.kernel}. ` +
      Object.entries(results.versions)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') +
      '.',
    '',
    settingsLine(results),
    '',
    mainTable(results, true),
    '',
    tunnelTable(results, true),
    '',
    checksTable(results, true),
    '',
    scalingTable(results, true),
    '',
    latencyTable(results, true),
    '',
    README_END,
  ].join('\n');
  writeFileSync(file, text.slice(0, a) + section + text.slice(b + README_END.length));
}

// ---- every process started is stopped: normal end, error, Ctrl-C
let stopping = false;
let scratchDir;
/** The capture lab while it runs: its namespaces must go whatever ends the run. */
let activeCapture;
async function bail(code, why) {
  if (stopping) return;
  stopping = true;
  if (why) log(why);
  await activeCapture?.stop();
  await stopAll();
  releaseCpuDmaLatency();
  if (scratchDir) rmSync(scratchDir, { recursive: true, force: true });
  process.exit(code);
}
process.on('SIGINT', () => void bail(130, 'interrupted: stopping every process started'));
process.on('SIGTERM', () => void bail(143, 'terminated: stopping every process started'));
process.on('exit', () => {
  killAllSync();
  activeCapture?.removeSync();
});

main().then(
  () => process.exit(0),
  (e) => bail(1, `error: ${e instanceof Error ? e.message : String(e)}`),
);
