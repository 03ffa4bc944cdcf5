// How fast the CLI answers: hyperfine runs `outpost version` and `outpost get pods` (against a mesh
// this module starts with `outpost up` and stops), next to `node -e 0`, the floor every verb pays.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startProcess, stopProcess, runCommand } from './procs.mjs';
import { OUTPOST_BIN } from './outpost.mjs';

/** The targets (seconds, mean wall time on this machine). */
export const CLI_TARGETS = { 'outpost version': 0.15, 'outpost get pods': 0.3, 'outpost get pods (20)': 0.3 };

/** Pods the `(20)` row lists and prints (a namespace of its own; in the loopback model they stay Pending, inert). */
const LISTED_PODS = 20;
const PODS_NAMESPACE = 'cli-bench';

function podsManifest() {
  const docs = [`apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${PODS_NAMESPACE}\n`];
  for (let i = 0; i < LISTED_PODS; i++) {
    docs.push(
      `apiVersion: v1\nkind: Pod\nmetadata:\n  name: app-${String(i).padStart(2, '0')}\n  namespace: ${PODS_NAMESPACE}\n  labels:\n    app: app\n` +
        `spec:\n  containers:\n  - name: app\n    image: app\n    command: [/bin/sleep, infinity]\n`,
    );
  }
  return docs.join('---\n');
}

/**
 * Starts a mesh in runDir, runs hyperfine, stops the mesh. Resolves to { rows, machineBusy }:
 * one row per command with hyperfine's mean, median, min, max (s) and user+system CPU (s).
 */
export async function measureCliStartup({ runDir, hostsFile, runs, log, machineBusy }) {
  const dir = join(runDir, 'cli-startup');
  const stateDir = join(dir, 'state');
  mkdirSync(dir, { recursive: true });
  const upLog = join(dir, 'up.log');
  const mesh = startProcess(
    'outpost-up (cli)',
    process.execPath,
    [OUTPOST_BIN, 'up', '--state-dir', stateDir, '--hosts-file', hostsFile, '--pod-network', 'loopback'],
    {
      stdoutFile: upLog,
      stderrFile: upLog,
      cwd: dir,
    },
  );
  try {
    await waitForMesh(stateDir, mesh, upLog);
    const check = await runCommand(process.execPath, [OUTPOST_BIN, 'get', 'pods', '--state-dir', stateDir], { timeoutMs: 30_000 });
    if (check.code !== 0) throw new Error(`outpost get pods failed: ${(check.stderr || check.stdout).trim()}`);
    const podsFile = join(dir, 'pods.yaml');
    writeFileSync(podsFile, podsManifest());
    const applied = await runCommand(process.execPath, [OUTPOST_BIN, 'apply', '-f', podsFile, '--state-dir', stateDir], { timeoutMs: 30_000 });
    if (applied.code !== 0) throw new Error(`outpost apply (pods) failed: ${(applied.stderr || applied.stdout).trim()}`);
    const listed = await runCommand(process.execPath, [OUTPOST_BIN, 'get', 'pods', '-n', PODS_NAMESPACE, '--state-dir', stateDir], { timeoutMs: 30_000 });
    if (listed.code !== 0 || listed.stdout.trim().split('\n').length !== LISTED_PODS + 1) {
      throw new Error(`outpost get pods -n ${PODS_NAMESPACE} did not print ${LISTED_PODS} pods: ${(listed.stderr || listed.stdout).trim().slice(0, 200)}`);
    }
    const out = join(dir, 'hyperfine.json');
    const node = process.execPath;
    const commands = [
      ['node -e 0', `${node} -e 0`],
      ['outpost version', `${node} ${OUTPOST_BIN} version`],
      ['outpost get pods', `${node} ${OUTPOST_BIN} get pods --state-dir ${stateDir}`],
      ['outpost get pods (20)', `${node} ${OUTPOST_BIN} get pods -n ${PODS_NAMESPACE} --state-dir ${stateDir}`],
    ];
    const busyBefore = await machineBusy();
    const args = ['-N', '--warmup', '3', '--runs', String(runs), '--export-json', out, ...commands.flatMap(([name, cmd]) => ['-n', name, cmd])];
    log(`hyperfine ${runs} runs each: ${commands.map(([n]) => n).join(', ')}`);
    const r = await runCommand('hyperfine', args, { timeoutMs: 10 * 60_000 });
    if (r.code !== 0) throw new Error(`hyperfine failed (${r.code}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ')}`);
    const rows = JSON.parse(readFileSync(out, 'utf8')).results.map((x) => ({
      name: x.command,
      mean: x.mean,
      stddev: x.stddev,
      median: x.median,
      min: x.min,
      max: x.max,
      cpu: x.user + x.system,
      target: CLI_TARGETS[x.command],
    }));
    return { runs, rows, machineBusyBefore: busyBefore };
  } finally {
    await stopProcess(mesh, 15_000, 'SIGTERM');
  }
}

async function waitForMesh(stateDir, proc, upLog) {
  const deadline = Date.now() + 60_000;
  for (let i = 0; i < 1200; i++) {
    if (proc.exited) throw new Error(`outpost up exited (${proc.exitCode}): ${tail(upLog)}`);
    if (Date.now() > deadline) break;
    if (existsSync(join(stateDir, 'api.json'))) {
      const ep = JSON.parse(readFileSync(join(stateDir, 'api.json'), 'utf8'));
      const ok = await fetch(new URL('/v1/health', ep.controlUrl), {
        headers: { authorization: `Bearer ${ep.token}` },
        signal: AbortSignal.timeout(2000),
      }).then(
        (res) => (res.body?.cancel(), res.ok),
        () => false,
      );
      if (ok) return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`outpost up did not become ready in 60 s: ${tail(upLog)}`);
}

function tail(file) {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-3).join(' | ');
  } catch {
    return '(no log)';
  }
}
