// The capture section of `npm run bench`: what traffic capture costs a pod's connections.
//
// Everything happens inside a network namespace made here (the "node", as test/helpers/netns.ts
// makes one for the tests): `outpost up --pod-network netns` runs in there with an injected pod
// (namespace bench-captured) and a plain one (bench-plain), and the "outside" is nginx on an address
// of a veth pair in the node (HTTP on 80, TLS on 443, a large file on 9000). The load runs in the
// pods' own network namespaces (`ip netns exec`, so their resolv.conf too). Nothing touches the
// machine's own network; the namespace, the mesh and every process go on normal end, error and
// Ctrl-C (stop(), or removeSync() from the exit hook).

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cpuSeconds, cpuSplit, machineCpu, processTree, runCommand, startProcess, stopProcess } from './procs.mjs';
import { OUTPOST_BIN, REPO } from './outpost.mjs';
import { EXTERNAL_HOST, LOAD_NICE, UPSTREAM_BODY, nginxTempPaths } from './peers.mjs';
import { runCurlDownload, runCurlFresh, runWrk } from './load.mjs';
import { summarize } from './stats.mjs';

/** TEST-NET-3 on one end of a veth pair in the node: an address outside the pods' bridge. */
const EXTERNAL_IP = '203.0.113.10';
const TLS_HOST = 'tls.example.com';
const BULK_HOST = 'bulk.example.com';
const BULK_PORT = 9000;
const NS_CAPTURED = 'bench-captured';
const NS_PLAIN = 'bench-plain';
const SIDECAR_PORT = 15001;
const NETNS_ANNOTATION = 'outpost.dev/network-namespace';
/** Connections wrk keeps opening at once for the new-connection rate. */
export const SETUP_CONNECTIONS = 16;

const meshYaml = () => `apiVersion: sailoperator.io/v1
kind: Istio
metadata: {name: default}
spec:
  namespace: istio-system
  values:
    meshConfig:
      accessLogFile: /dev/stdout
---
apiVersion: v1
kind: Namespace
metadata: {name: ${NS_CAPTURED}, labels: {istio-injection: enabled}}
---
apiVersion: v1
kind: Namespace
metadata: {name: ${NS_PLAIN}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: httpbin, namespace: ${NS_CAPTURED}}
spec:
  hosts: [${EXTERNAL_HOST}]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
  location: MESH_EXTERNAL
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: tls, namespace: ${NS_CAPTURED}}
spec:
  hosts: [${TLS_HOST}]
  ports: [{number: 443, name: tls, protocol: TLS}]
  resolution: DNS
  location: MESH_EXTERNAL
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: bulk, namespace: ${NS_CAPTURED}}
spec:
  hosts: [${BULK_HOST}]
  ports: [{number: ${BULK_PORT}, name: tcp, protocol: TCP}]
  resolution: DNS
  location: MESH_EXTERNAL
${[NS_CAPTURED, NS_PLAIN]
  .map(
    (ns) => `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: client, namespace: ${ns}}
spec:
  selector: {matchLabels: {app: client}}
  template:
    metadata: {labels: {app: client}}
    spec:
      containers: [{name: client, image: ignored, command: [sleep, infinity]}]
`,
  )
  .join('')}`;

/**
 * The rows. Set-up: a fresh TCP connection and one request each (`Connection: close`), HTTP and
 * TLS, against the same path without the sidecar (`base`). Tunnel: one large download each.
 */
function setupRows(podIP) {
  const proxy = { ip: podIP, port: SIDECAR_PORT };
  const http = `http://${EXTERNAL_HOST}/`;
  const tls = `https://${TLS_HOST}/`;
  return [
    { id: 'direct', name: 'direct (pod not injected)', pod: 'plain', wrk: { url: http }, curl: { url: http } },
    { id: 'captured', name: 'captured → sidecar (HTTP by Host)', pod: 'captured', base: 'direct', wrk: { url: http }, curl: { url: http } },
    {
      id: 'http-proxy',
      name: 'http_proxy → sidecar (no capture)',
      pod: 'captured',
      base: 'direct',
      wrk: { url: `http://${podIP}:${SIDECAR_PORT}/`, form: 'absolute' },
      curl: { url: http, proxy },
    },
    { id: 'tls-direct', name: 'TLS direct (pod not injected)', pod: 'plain', wrk: { url: tls, host: TLS_HOST }, curl: { url: tls, insecure: true } },
    {
      id: 'tls-captured',
      name: 'TLS captured → sidecar (by SNI)',
      pod: 'captured',
      base: 'tls-direct',
      wrk: { url: tls, host: TLS_HOST },
      curl: { url: tls, insecure: true },
    },
    { id: 'tls-connect', name: 'TLS via https_proxy (CONNECT)', pod: 'captured', base: 'tls-direct', curl: { url: tls, insecure: true, proxy } },
  ];
}

function tunnelRows(podIP) {
  return [
    { id: 'direct', name: 'direct (pod not injected)', pod: 'plain', download: { ip: EXTERNAL_IP } },
    { id: 'connect', name: 'CONNECT via sidecar (curl -p -x)', pod: 'captured', download: { ip: EXTERNAL_IP, proxy: { ip: podIP, port: SIDECAR_PORT } } },
    { id: 'captured-tcp', name: 'captured TCP (ServiceEntry port)', pod: 'captured', download: { ip: EXTERNAL_IP, host: BULK_HOST } },
  ];
}

/**
 * One capture lab. `settings`: { quick, rounds, proxyCpu, loadCpu }; `waitForQuiet(seconds)` and
 * `log` come from run.mjs. run() resolves the results object (or one with `failed`).
 */
export function captureLab({ runDir, settings, log, waitForQuiet, quietWaitSeconds, cpus }) {
  const dir = join(runDir, 'capture');
  const node = `outpost-bench-${randomBytes(3).toString('hex')}`;
  const stateDir = join(dir, 'state');
  const q = settings.quick;
  const cfg = {
    wrkSeconds: q ? 2 : 5,
    warmupSeconds: 1,
    requests: q ? 100 : 300,
    tunnelBytes: (q ? 256 : 1024) * 2 ** 20,
  };
  let nodeMade = false;
  let mesh;
  let upstream;
  let podPrefix;
  let stopped = false;

  const nsenter = (cmd, args, timeoutMs = 60_000) => runCommand('nsenter', [`--net=/run/netns/${node}`, cmd, ...args], { timeoutMs });
  const outpost = (args, timeoutMs = 60_000) => nsenter(process.execPath, [OUTPOST_BIN, ...args, '--state-dir', stateDir], timeoutMs);
  const meshPids = () => (mesh && !mesh.exited ? processTree(mesh.pid) : []);
  const upstreamPids = () => (upstream && !upstream.exited ? processTree(upstream.pid) : []);

  async function makeNode() {
    execFileSync('ip', ['netns', 'add', node]);
    nodeMade = true;
    const ipn = (...a) => execFileSync('ip', ['-n', node, ...a]);
    ipn('link', 'set', 'lo', 'up');
    // No dummy device type on this kernel: the outside's address sits on one end of a veth pair.
    ipn('link', 'add', 'ext0', 'type', 'veth', 'peer', 'name', 'ext1');
    ipn('addr', 'add', `${EXTERNAL_IP}/24`, 'dev', 'ext0');
    ipn('link', 'set', 'ext0', 'up');
    ipn('link', 'set', 'ext1', 'up');
  }

  /** nginx in the node: the fixed body on 80, TLS on 443 (a self-signed EC certificate), a sparse file on 9000. */
  async function startUpstream() {
    const up = join(dir, 'upstream');
    mkdirSync(up, { recursive: true });
    const big = join(up, 'big.bin');
    const fd = openSync(big, 'w');
    ftruncateSync(fd, cfg.tunnelBytes);
    closeSync(fd);
    const key = join(up, 'tls.key');
    const cert = join(up, 'tls.pem');
    const gen = await runCommand('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${TLS_HOST}`,
      '-addext',
      `subjectAltName=DNS:${TLS_HOST}`,
      '-keyout',
      key,
      '-out',
      cert,
    ]);
    if (gen.code !== 0) throw new Error(`openssl could not make the TLS stand-in's certificate: ${gen.stderr.trim()}`);
    const conf = join(up, 'nginx.conf');
    writeFileSync(
      conf,
      `worker_processes 1;
daemon off;
pid ${join(up, 'nginx.pid')};
error_log ${join(up, 'error.log')} warn;
worker_rlimit_nofile 65536;
events { worker_connections 16384; }
http {
  access_log off;
${nginxTempPaths(up)}
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  default_type application/json;
  sendfile on;
  ssl_certificate ${cert};
  ssl_certificate_key ${key};
  server {
    listen ${EXTERNAL_IP}:80 backlog=4096;
    listen ${EXTERNAL_IP}:443 ssl backlog=4096;
    listen ${EXTERNAL_IP}:${BULK_PORT} backlog=4096;
    location = /big { default_type application/octet-stream; alias ${big}; }
    location / { return 200 '${UPSTREAM_BODY}'; }
  }
}
`,
    );
    upstream = startProcess(
      'capture-upstream',
      'nsenter',
      [`--net=/run/netns/${node}`, 'nice', '-n', String(LOAD_NICE), 'taskset', '-c', String(settings.loadCpu), 'nginx', '-p', up, '-c', conf],
      { stderrFile: join(up, 'stderr.log') },
    );
    await until('the outside (nginx in the node) answers', 10_000, async () => {
      if (upstream.exited) throw new Error(`nginx exited (${upstream.exitCode}); see ${join(up, 'stderr.log')}`);
      const r = await nsenter('curl', ['-s', '--max-time', '2', `http://${EXTERNAL_IP}/`], 5000);
      return r.stdout === UPSTREAM_BODY;
    });
  }

  async function startMesh() {
    mkdirSync(stateDir, { recursive: true });
    const hostsFile = join(dir, 'hosts');
    writeFileSync(hostsFile, `${EXTERNAL_IP} ${EXTERNAL_HOST} ${TLS_HOST} ${BULK_HOST}\n`);
    const upLog = join(dir, 'up.log');
    // outpost's whole tree (control plane, sidecars, the pods' processes) on the proxy's CPU, as in the rest of the benchmark.
    mesh = startProcess(
      'capture-mesh',
      'nsenter',
      [
        `--net=/run/netns/${node}`,
        'taskset',
        '-c',
        String(settings.proxyCpu),
        process.execPath,
        OUTPOST_BIN,
        'up',
        '--state-dir',
        stateDir,
        '--hosts-file',
        hostsFile,
        '--pod-network',
        'netns',
      ],
      { stdoutFile: upLog, stderrFile: upLog, cwd: dir },
    );
    const names = (await import(pathToFileURL(join(REPO, 'dist', 'runtime', 'pods', 'node-network.js')).href)).nodeNetworkNames(stateDir);
    podPrefix = names.netnsPrefix;
    await until('outpost up writes its endpoint', 60_000, async () => {
      if (mesh.exited) throw new Error(`outpost up exited (${mesh.exitCode}): ${tail(upLog)}`);
      return existsSync(join(stateDir, 'api.json'));
    });
    const yaml = join(dir, 'mesh.yaml');
    writeFileSync(yaml, meshYaml());
    let applied;
    await until('outpost apply of the capture set-up', 60_000, async () => {
      if (mesh.exited) throw new Error(`outpost up exited (${mesh.exitCode}): ${tail(upLog)}`);
      applied = await outpost(['apply', '-f', yaml]);
      return applied.code === 0;
    }).catch((e) => {
      throw new Error(`${e.message}: ${(applied?.stderr || applied?.stdout || '').trim()}`);
    });
    let pods;
    await until('the injected pod 2/2 and the plain pod 1/1', 120_000, async () => {
      if (mesh.exited) throw new Error(`outpost up exited (${mesh.exitCode}): ${tail(upLog)}`);
      const r = await outpost(['get', 'pods', '-A', '-o', 'json']);
      if (r.code !== 0) return false;
      const items = JSON.parse(r.stdout).items ?? [];
      const find = (ns, n) =>
        items.find(
          (p) =>
            p.metadata.namespace === ns &&
            p.status?.podIP &&
            p.metadata.annotations?.[NETNS_ANNOTATION] &&
            (p.status.containerStatuses ?? []).length === n &&
            p.status.containerStatuses.every((c) => c.ready),
        );
      const captured = find(NS_CAPTURED, 2);
      const plain = find(NS_PLAIN, 1);
      if (!captured || !plain) return false;
      pods = {
        captured: { name: captured.metadata.name, ip: captured.status.podIP, netns: captured.metadata.annotations[NETNS_ANNOTATION] },
        plain: { name: plain.metadata.name, ip: plain.status.podIP, netns: plain.metadata.annotations[NETNS_ANNOTATION] },
      };
      return true;
    });
    return pods;
  }

  /** Every path answers with the outside's body, and the captured ones show in the sidecar's log. */
  async function probeAll(pods, setup, tunnel) {
    const body = async (pod, url, { proxy, insecure } = {}) => {
      const args = [
        '-s',
        '--max-time',
        '5',
        ...(insecure ? ['-k'] : []),
        ...(proxy ? ['-p', '-x', `http://${proxy.ip}:${proxy.port}`] : ['--noproxy', '*']),
        url,
      ];
      const r = await runCommand('ip', ['netns', 'exec', pods[pod].netns, 'curl', ...args], { timeoutMs: 10_000 });
      return r.stdout;
    };
    const checks = [
      ...setup.map((row) => ({ what: row.name, get: () => body(row.pod, row.curl.url, row.curl) })),
      ...tunnel.map((row) => ({
        what: row.name,
        get: () => body(row.pod, `http://${row.download.host ?? row.download.ip}:${BULK_PORT}/`, { proxy: row.download.proxy }),
      })),
    ];
    // A captured row whose requests miss the sidecar would measure the direct path: its log must show each.
    const wantInLog = [`outbound|80||${EXTERNAL_HOST}`, `outbound|443||${TLS_HOST}`, `outbound|${BULK_PORT}||${BULK_HOST}`];
    // The pod's capture rules follow its sidecar's config a moment after a change: repeat (bounded) until all pass.
    let last = '';
    await until('every path through the injected pod answers and its sidecar logs them', 60_000, async () => {
      for (const c of checks) {
        const got = await c.get();
        if (got !== UPSTREAM_BODY) {
          last = `${c.what}: got ${JSON.stringify(got.slice(0, 120))}`;
          return false;
        }
      }
      const logs = await outpost(['logs', `pod/${pods.captured.name}`, '-n', NS_CAPTURED, '-c', 'istio-proxy']);
      const missing = wantInLog.filter((w) => !logs.stdout.includes(w));
      last = missing.length ? `the sidecar's log has no ${missing.join(', ')}` : '';
      return missing.length === 0;
    }).catch((e) => {
      throw new Error(`${e.message}${last ? ` (${last})` : ''}`);
    });
  }

  /** A mesh that died mid-run (its pods' DNS with it) would only make every later row fail slowly. */
  function meshAlive() {
    if (mesh.exited) throw new Error(`outpost up exited (${mesh.exitCode}) during the measurements: ${tail(join(dir, 'up.log'))}`);
  }

  async function measureSetup(row, pods, round) {
    const r = { round };
    const netns = pods[row.pod].netns;
    await waitForQuiet(quietWaitSeconds);
    if (row.wrk) {
      const base = {
        netns,
        url: row.wrk.url,
        host: row.wrk.host,
        form: row.wrk.form ?? 'origin',
        connections: SETUP_CONNECTIONS,
        cpu: settings.loadCpu,
        scripts: settings.scripts,
        headers: ['Connection: close'],
      };
      if (round === 0) await runWrk({ ...base, seconds: cfg.warmupSeconds });
      const cpu0 = cpuSplit(meshPids());
      const up0 = cpuSeconds(upstreamPids());
      const m0 = machineCpu();
      const t0 = process.hrtime.bigint();
      const w = await runWrk({ ...base, seconds: cfg.wrkSeconds });
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      const cpu1 = cpuSplit(meshPids());
      const cpu = cpu1.user + cpu1.system - cpu0.user - cpu0.system;
      // The kernel's share (stime): in a captured pod the DNAT and conntrack work lands there.
      r.outpostSystemShare = cpu > 0 ? (cpu1.system - cpu0.system) / cpu : NaN;
      const m1 = machineCpu();
      r.connPerSec = w.rps;
      r.connections = w.requests;
      r.wrkErrors = w.errors;
      r.p50_us = w.p50_us;
      r.p99_us = w.p99_us;
      r.outpostCpuMsPerConn = (cpu / w.requests) * 1000;
      r.backgroundCpuShare = Math.max(0, (m1.busy - m0.busy - cpu - (cpuSeconds(upstreamPids()) - up0) - w.cpuSeconds) / (wall * cpus));
    }
    const c = await runCurlFresh({ netns, url: row.curl.url, proxy: row.curl.proxy, insecure: row.curl.insecure, count: cfg.requests, cpu: settings.loadCpu });
    const at = (p) => c.ttfb_us[Math.min(c.ttfb_us.length - 1, Math.floor(p * c.ttfb_us.length))];
    r.ttfbP50_us = at(0.5);
    r.ttfbP90_us = at(0.9);
    r.ttfbP99_us = at(0.99);
    r.requests = cfg.requests;
    // One new connection per request, or the row measured keep-alive, not connection set-up.
    r.freshConnections = c.connects;
    return r;
  }

  async function measureTunnel(row, pods) {
    await waitForQuiet(quietWaitSeconds);
    const cpu0 = cpuSeconds(meshPids());
    const d = await runCurlDownload({ ...row.download, port: BULK_PORT, path: '/big', cpu: settings.loadCpu, netns: pods[row.pod].netns });
    return { ...d, outpostCpuPerGB: (cpuSeconds(meshPids()) - cpu0) / (d.bytes / 1e9) };
  }

  return {
    node,
    /** Sets up, measures `settings.rounds` interleaved rounds, and resolves the section's results. */
    async run() {
      const results = { node, settings: { ...cfg, connections: SETUP_CONNECTIONS, rounds: settings.rounds }, setup: [], tunnel: [] };
      const deadline = Date.now() + (q ? 10 : 30) * 60_000; // a hard bound on the section's measuring
      mkdirSync(dir, { recursive: true });
      await makeNode();
      await startUpstream();
      const pods = await startMesh();
      results.pods = pods;
      log(`capture: injected pod ${NS_CAPTURED}/${pods.captured.name} at ${pods.captured.ip}, plain pod ${NS_PLAIN}/${pods.plain.name} at ${pods.plain.ip}`);
      const setup = setupRows(pods.captured.ip);
      const tunnel = tunnelRows(pods.captured.ip);
      await probeAll(pods, setup, tunnel);
      const sState = new Map(setup.map((row) => [row.id, { row, rounds: [], failed: undefined }]));
      const tState = new Map(tunnel.map((row) => [row.id, { row, rounds: [], failed: undefined }]));
      // One unmeasured download each: page cache and socket buffers grow on the first.
      for (const [, ts] of tState) await measureTunnel(ts.row, pods).catch((e) => (ts.failed = e.message));
      // `stopped`: Ctrl-C or an error elsewhere took the lab down; no more rows fail one by one.
      for (let round = 0; round < settings.rounds && Date.now() < deadline && !stopped; round++) {
        log(`capture round ${round + 1}/${settings.rounds}`);
        for (const [, st] of sState) {
          if (st.failed || stopped) continue;
          meshAlive();
          try {
            const r = await measureSetup(st.row, pods, round);
            st.rounds.push(r);
            log(
              `  ${st.row.name.padEnd(36)} ${r.connPerSec === undefined ? '     –' : r.connPerSec.toFixed(0).padStart(6)} conn/s  TTFB p50 ${(r.ttfbP50_us / 1000).toFixed(3)} ms p99 ${(r.ttfbP99_us / 1000).toFixed(3)} ms${r.outpostCpuMsPerConn !== undefined && st.row.pod === 'captured' ? `  outpost ${r.outpostCpuMsPerConn.toFixed(3)} CPU-ms/conn (${(100 * r.outpostSystemShare).toFixed(0)}% system)` : ''}${r.freshConnections < r.requests ? `  (only ${r.freshConnections} new connections)` : ''}${r.wrkErrors ? `  errors ${r.wrkErrors}` : ''}${r.backgroundCpuShare > 0.05 ? `  (busy machine: ${(100 * r.backgroundCpuShare).toFixed(0)}% CPU elsewhere)` : ''}`,
            );
          } catch (e) {
            st.failed = e.message;
            log(`  ${st.row.name} failed: ${e.message}`);
          }
        }
        for (const [, ts] of tState) {
          if (ts.failed || stopped) continue;
          meshAlive();
          try {
            const d = await measureTunnel(ts.row, pods);
            ts.rounds.push(d);
            log(`  ${ts.row.name.padEnd(36)} ${d.mbps.toFixed(0)} MB/s`);
          } catch (e) {
            ts.failed = e.message;
            log(`  ${ts.row.name} failed: ${e.message}`);
          }
        }
      }
      // Ratios within a round: the row against the same path without the sidecar (its `base`).
      const ratio = (st, key, baseRounds) => summarize(st.rounds.map((r, i) => (baseRounds?.[i] ? r[key] / baseRounds[i][key] : NaN)));
      for (const [, st] of sState) {
        const base = st.row.base ? sState.get(st.row.base).rounds : undefined;
        const rs = st.rounds;
        results.setup.push({
          id: st.row.id,
          name: st.row.name,
          base: st.row.base,
          pod: st.row.pod,
          failed: st.failed && rs.length === 0 ? st.failed : undefined,
          error: st.failed,
          rounds: rs,
          summary: {
            connPerSec: summarize(rs.map((r) => r.connPerSec)),
            ttfbP50_us: summarize(rs.map((r) => r.ttfbP50_us)),
            ttfbP99_us: summarize(rs.map((r) => r.ttfbP99_us)),
            outpostCpuMsPerConn: summarize(rs.map((r) => r.outpostCpuMsPerConn)),
            outpostSystemShare: summarize(rs.map((r) => r.outpostSystemShare)),
            ratioConnPerSec: ratio(st, 'connPerSec', base),
            ratioTtfbP50: ratio(st, 'ttfbP50_us', base),
            addedTtfbP50_us: summarize(rs.map((r, i) => (base?.[i] ? r.ttfbP50_us - base[i].ttfbP50_us : NaN))),
            errors: rs.reduce((a, r) => a + (r.wrkErrors ?? 0) + (r.requests - r.freshConnections), 0),
          },
        });
      }
      // Capture against the explicit proxy, the other way into the same sidecar.
      const cap = sState.get('captured');
      const hp = sState.get('http-proxy');
      results.captureVsHttpProxy = {
        connPerSec: ratio(cap, 'connPerSec', hp.rounds),
        ttfbP50: ratio(cap, 'ttfbP50_us', hp.rounds),
        outpostCpuMsPerConn: ratio(cap, 'outpostCpuMsPerConn', hp.rounds),
      };
      const directTunnel = tState.get('direct').rounds;
      for (const [, ts] of tState) {
        results.tunnel.push({
          id: ts.row.id,
          name: ts.row.name,
          failed: ts.failed && ts.rounds.length === 0 ? ts.failed : undefined,
          error: ts.failed,
          rounds: ts.rounds,
          summary: {
            mbps: summarize(ts.rounds.map((r) => r.mbps)),
            ratio: summarize(ts.rounds.map((r, i) => (directTunnel[i] ? r.mbps / directTunnel[i].mbps : NaN))),
            outpostCpuPerGB: summarize(ts.rounds.map((r) => r.outpostCpuPerGB)),
          },
        });
      }
      results.background = { cpuShare: summarize(results.setup.flatMap((s) => s.rounds.map((r) => r.backgroundCpuShare))) };
      return results;
    },
    /** Stops the mesh (gracefully, then `outpost down` for leftovers), the outside, and removes the namespaces. */
    async stop() {
      if (stopped) return;
      stopped = true;
      if (mesh) {
        await stopProcess(mesh, 20_000, 'SIGTERM');
        // After a forced stop, `down` finds the pods' processes and namespaces by the state dir.
        if (nodeMade) await outpost(['down'], 30_000).catch(() => undefined);
      }
      if (upstream) await stopProcess(upstream, 3000, 'SIGQUIT');
      removeNamespaces();
    },
    /** The exit hook's last resort (processes are already killed there): namespaces only. */
    removeSync() {
      if (stopped) return;
      stopped = true;
      if (mesh && nodeMade) {
        try {
          execFileSync('nsenter', [`--net=/run/netns/${node}`, process.execPath, OUTPOST_BIN, 'down', '--state-dir', stateDir], {
            stdio: 'ignore',
            timeout: 30_000,
          });
        } catch {
          // Namespaces are removed below either way.
        }
      }
      removeNamespaces();
    },
  };

  function removeNamespaces() {
    if (!nodeMade) return;
    let list = '';
    try {
      list = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    } catch {
      // Nothing to list.
    }
    const ours = list
      .split('\n')
      .map((l) => l.split(' ')[0])
      .filter((n) => n && ((podPrefix && n.startsWith(podPrefix)) || n === node));
    for (const n of ours) {
      try {
        execFileSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
      } catch {
        // Already gone.
      }
    }
    nodeMade = false;
  }
}

/** Polls `check` every 200 ms until it returns true; rejects after timeoutMs (or with check's own error). */
async function until(what, timeoutMs, check) {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 10_000; i++) {
    if (await check()) return;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what}: not after ${timeoutMs / 1000} s`);
}

function tail(file) {
  try {
    return execFileSync('tail', ['-n', '5', file], { encoding: 'utf8' }).trim().split('\n').join(' | ');
  } catch {
    return '(no log)';
  }
}
