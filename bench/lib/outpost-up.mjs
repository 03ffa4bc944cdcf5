// outpost started the way a user starts it: `outpost up --hosts-file …`, then the seed's
// Gateway API configuration applied with `outpost apply`. The gateway (and the egress-gateway
// namespace's sidecar, for the two-hop path) are then measured like any other proxy.

import { mkdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { startProcess, stopProcess, waitForPort, processTree, listeningPids, runCommand } from './procs.mjs';
import { REPO, OUTPOST_BIN } from './outpost.mjs';

const SEED_YAML = join(REPO, 'bench', 'config', 'seed-gateway-api.yaml');
const NAMESPACE = 'egress-gateway';
const GATEWAY_WORKLOAD = 'httpbin-egress-gateway-istio';
const GATEWAY_PORT = 80;
const SIDECAR_PORT = 15001;

/** One `outpost up` and the two targets measured through it. */
export function outpostUp({ runDir, cpu, hostsFile, log }) {
  const dir = join(runDir, 'outpost-up');
  const stateDir = join(dir, 'state');
  let proc;
  let gateway;
  let sidecar;

  const control = async (path, timeoutMs = 10_000) => {
    const ep = JSON.parse(readFileSync(join(stateDir, 'api.json'), 'utf8'));
    const res = await fetch(new URL(path, ep.controlUrl), { headers: { authorization: `Bearer ${ep.token}` }, signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) throw new Error(`outpost control ${path}: HTTP ${res.status}`);
    return res.json();
  };

  const pidsAt = (w, port) => (w ? [...new Set(listeningPids(w.ip, port).flatMap((p) => processTree(p)))] : []);

  const service = {
    id: 'outpost-up',
    async start() {
      if (proc) return;
      mkdirSync(dir, { recursive: true });
      proc = startProcess(
        'outpost-up',
        'taskset',
        // Log rotation (kubelet's 10Mi × 5 files by default) would drop most of a run's access-log lines
        // before they are counted: the bench keeps them all.
        [
          '-c',
          String(cpu),
          process.execPath,
          OUTPOST_BIN,
          'up',
          '--state-dir',
          stateDir,
          '--hosts-file',
          hostsFile,
          '--pod-network',
          'loopback',
          '--container-log-max-size',
          '8Gi',
        ],
        {
          stdoutFile: join(dir, 'up.log'),
          stderrFile: join(dir, 'up.log'),
          cwd: dir,
        },
      );
      // api.json appears once the mesh's API and control endpoint listen.
      const deadline = Date.now() + 60_000;
      for (let ok = false; !ok;) {
        if (proc.exited) throw new Error(`outpost up exited (${proc.exitCode}): ${tail(join(dir, 'up.log'))}`);
        if (Date.now() > deadline) throw new Error(`outpost up did not become ready in 60 s: ${tail(join(dir, 'up.log'))}`);
        ok =
          existsSync(join(stateDir, 'api.json')) &&
          (await control('/v1/health', 2000).then(
            () => true,
            () => false,
          ));
        if (!ok) await new Promise((r) => setTimeout(r, 100));
      }
      const applied = await runCommand(process.execPath, [OUTPOST_BIN, 'apply', '-f', SEED_YAML, '-n', NAMESPACE, '--state-dir', stateDir], {
        timeoutMs: 60_000,
      });
      if (applied.code !== 0) throw new Error(`outpost apply of the seed's Gateway API config failed: ${(applied.stderr || applied.stdout).trim()}`);
      log(`outpost up: ${applied.stdout.trim().split('\n').join('; ')}`);
      // Bounded polling: the gateway Deployment is created by the control plane, then started.
      for (let i = 0; i < 600; i++) {
        const ws = await control('/v1/workloads');
        gateway = ws.find((w) => w.namespace === NAMESPACE && w.workload === GATEWAY_WORKLOAD && w.role === 'router');
        sidecar = ws.find((w) => w.namespace === NAMESPACE && w.role === 'sidecar');
        if (gateway?.ready && sidecar?.ready) break;
        if (proc.exited) throw new Error(`outpost up exited (${proc.exitCode}): ${tail(join(dir, 'up.log'))}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      if (!gateway?.ready)
        throw new Error(`gateway ${NAMESPACE}/${GATEWAY_WORKLOAD} not ready after 60 s${gateway?.lastError ? `: ${gateway.lastError}` : ''}`);
      await control('/v1/wait-synced?timeoutMs=30000', 35_000);
      await waitForPort(gateway.ip, GATEWAY_PORT, 10_000, proc);
      if (sidecar?.ready) await waitForPort(sidecar.ip, SIDECAR_PORT, 10_000, proc);
    },
    async stop() {
      if (proc) await stopProcess(proc, 10_000, 'SIGTERM');
    },
    pids: () => pidsAt(gateway, GATEWAY_PORT),
  };

  const gatewayTarget = {
    id: 'outpost-up',
    name: 'outpost up (gateway)',
    kind: 'outpost',
    log: true,
    form: 'origin',
    services: [service],
    get ip() {
      return gateway?.ip;
    },
    port: GATEWAY_PORT,
    get logFile() {
      return gateway?.logFile;
    },
  };
  const twoHopTarget = {
    id: 'outpost-up-2hop',
    name: 'outpost up sidecar→gateway',
    kind: 'outpost',
    log: true,
    form: 'absolute',
    services: [service, { id: 'outpost-up-sidecar', start: async () => {}, stop: async () => {}, pids: () => pidsAt(sidecar, SIDECAR_PORT) }],
    get ip() {
      if (!sidecar?.ready) throw new Error(`no ready sidecar in namespace ${NAMESPACE}`);
      return sidecar.ip;
    },
    port: SIDECAR_PORT,
    get logFiles() {
      return [sidecar?.logFile, gateway?.logFile].filter(Boolean);
    },
  };
  return { service, gatewayTarget, twoHopTarget };
}

function tail(file) {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-5).join(' | ');
  } catch {
    return '(no log)';
  }
}
