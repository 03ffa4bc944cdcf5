// `outpost up [-d] [--dns-server IP:PORT] [--hosts-file FILE] [--example]`: run the local mesh,
// in the foreground until Ctrl-C, or detached (returning once everything is ready).
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { ControlClient } from '../../runtime/control-server.js';
import { EXAMPLE_NEXT_STEPS } from '../../runtime/example.js';
import { MeshAlreadyRunningError, MeshStartingError, probeRunningMesh, startMesh } from '../../runtime/mesh.js';
import { displayStateDir, ensureStateDir, readEndpoint, resolveStateDir, statePaths, type MeshEndpoint, type StatePaths } from '../../runtime/state-dir.js';
import type { WorkloadInfo } from '../../runtime/workloads.js';
import { POD_NETWORK_MODES, type PodNetworkMode } from '../../runtime/pods/pod-network-mode.js';
import { PodNetworkError } from '../../runtime/pods/node-network.js';
import { withStateDir } from '../connect.js';
import { CliError } from '../errors.js';
import { formatTable } from '../printers/table.js';

interface UpOptions {
  detach?: boolean;
  stateDir?: string;
  dnsServer?: string;
  hostsFile?: string;
  example?: boolean;
  podNetwork?: string;
}

const OUTPOST_BIN = fileURLToPath(new URL('../../../bin/outpost', import.meta.url));
const CHILD_ENV = 'OUTPOST_UP_DETACHED_CHILD';
const READY_TIMEOUT_MS = 60_000;

function checkOptions(opts: UpOptions): void {
  if (opts.dnsServer) {
    const m = /^(.+):(\d+)$/.exec(opts.dnsServer);
    if (!m || !isIP(m[1]!.replace(/^\[|\]$/g, '')) || Number(m[2]) < 1 || Number(m[2]) > 65535) {
      throw new CliError(`outpost: --dns-server wants IP:PORT (e.g. 127.0.0.53:53), not "${opts.dnsServer}"`);
    }
  }
  if (opts.hostsFile && !existsSync(opts.hostsFile)) throw new CliError(`outpost: --hosts-file ${opts.hostsFile}: no such file`);
  podNetworkMode(opts);
}

/** --pod-network, else OUTPOST_POD_NETWORK, else auto. */
function podNetworkMode(opts: UpOptions): PodNetworkMode {
  const mode = opts.podNetwork ?? process.env.OUTPOST_POD_NETWORK ?? 'auto';
  if (!(POD_NETWORK_MODES as readonly string[]).includes(mode)) {
    throw new CliError(`outpost: --pod-network wants ${POD_NETWORK_MODES.join(', ')}, not "${mode}"`);
  }
  return mode as PodNetworkMode;
}

function alreadyRunning(ep: MeshEndpoint, flag?: string): CliError {
  return new CliError(`outpost: a mesh is already running on state dir ${displayStateDir(flag)} (pid ${ep.pid}, API ${ep.url}). Stop it with \`outpost down\`.`);
}

export function formatWorkloads(workloads: WorkloadInfo[]): string {
  if (workloads.length === 0) return '  (no workloads yet: apply a gateway Deployment or label a namespace for injection)\n';
  const rows = [...workloads]
    .sort((a, b) => `${a.namespace}/${a.workload}`.localeCompare(`${b.namespace}/${b.workload}`))
    .map((w) => [w.namespace, w.role === 'router' ? `deployment/${w.workload}` : w.podName === 'sidecar' ? 'sidecar' : `pod/${w.podName}`, w.role, w.ip, w.ready ? 'Ready' : w.lastError ? `NotReady: ${w.lastError}` : 'NotReady']);
  return formatTable(['NAMESPACE', 'WORKLOAD', 'ROLE', 'ADDRESS', 'STATUS'], rows).replace(/^/gm, '  ');
}

function summary(ep: MeshEndpoint, paths: StatePaths, flag: string | undefined, workloads: WorkloadInfo[], example: boolean): string {
  const lines = [
    `outpost: the mesh is running (state dir ${displayStateDir(flag)}, pid ${ep.pid})`,
    `  Kubernetes API: ${ep.url}`,
    '  Workloads:',
    formatWorkloads(workloads).trimEnd(),
    '',
    `export KUBECONFIG=${paths.kubeconfig}`,
  ];
  if (example) lines.push('', ...EXAMPLE_NEXT_STEPS);
  return lines.join('\n') + '\n';
}

function childArgs(opts: UpOptions, stateDir: string): string[] {
  const args = ['up', '--state-dir', stateDir];
  if (opts.dnsServer) args.push('--dns-server', opts.dnsServer);
  if (opts.hostsFile) args.push('--hosts-file', resolvePath(opts.hostsFile));
  if (opts.example) args.push('--example');
  args.push('--pod-network', podNetworkMode(opts));
  return args;
}

async function upDetached(opts: UpOptions, paths: StatePaths): Promise<void> {
  ensureStateDir(paths);
  const meshLog = join(paths.logs, 'mesh.log');
  const fd = openSync(meshLog, 'a');
  const child = spawn(process.execPath, [OUTPOST_BIN, ...childArgs(opts, paths.dir)], {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: { ...process.env, [CHILD_ENV]: '1' },
  });
  closeSync(fd);
  let exited: number | null | undefined;
  child.on('exit', (code) => (exited = code));
  child.unref();
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let ep: MeshEndpoint | undefined;
  while (Date.now() < deadline && exited === undefined) {
    const candidate = readEndpoint(paths);
    if (candidate && candidate.pid === child.pid) {
      ep = await probeRunningMesh(paths);
      if (ep) break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!ep) {
    if (exited === undefined && child.pid) process.kill(child.pid, 'SIGTERM');
    const tail = readFileSync(meshLog, 'utf8').trim().split('\n').slice(-15).join('\n');
    throw new CliError(`outpost: the mesh did not start (see ${meshLog}):\n${tail}`);
  }
  const control = new ControlClient(ep.controlUrl, ep.token);
  const { notReady } = await control.get<{ notReady: WorkloadInfo[] }>('/v1/wait-ready', { timeoutMs: Math.max(1000, deadline - Date.now()) });
  const workloads = await control.get<WorkloadInfo[]>('/v1/workloads');
  process.stdout.write(summary(ep, paths, opts.stateDir, workloads, Boolean(opts.example)));
  // --state-dir may have come before the verb (then it is in the environment).
  const dirFlag = opts.stateDir ?? process.env.OUTPOST_STATE_DIR;
  process.stdout.write(`  logs: ${meshLog}; stop with \`outpost down${dirFlag ? ` --state-dir ${dirFlag}` : ''}\`\n`);
  if (notReady.length > 0) {
    throw new CliError(`outpost: ${notReady.length} workload(s) are not ready: ${notReady.map((w) => `${w.namespace}/${w.workload}${w.lastError ? ` (${w.lastError})` : ''}`).join(', ')}`);
  }
}

async function upForeground(opts: UpOptions, paths: StatePaths): Promise<void> {
  const isChild = process.env[CHILD_ENV] === '1';
  let mesh;
  try {
    mesh = await startMesh({
      stateDir: paths.dir,
      resolver: { server: opts.dnsServer, hostsFile: opts.hostsFile ? resolvePath(opts.hostsFile) : undefined },
      example: opts.example,
      podNetwork: podNetworkMode(opts),
    });
  } catch (err) {
    if (err instanceof MeshAlreadyRunningError) throw alreadyRunning(err.endpoint, opts.stateDir);
    if (err instanceof MeshStartingError) {
      throw new CliError(`outpost: a mesh is already running on state dir ${displayStateDir(opts.stateDir)} (pid ${err.pid}, still starting). Stop it with \`outpost down\`.`);
    }
    if (err instanceof PodNetworkError) throw new CliError(`outpost: ${err.message}`);
    throw err;
  }
  const onSignal = (): void => void mesh.stop();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  if (!isChild) {
    const notReady = await mesh.workloads.waitReady(READY_TIMEOUT_MS);
    process.stdout.write(summary(mesh.endpoint, paths, opts.stateDir, mesh.workloads.list(), Boolean(opts.example)));
    for (const w of notReady) process.stdout.write(`outpost: ${w.namespace}/${w.workload} is not ready${w.lastError ? `: ${w.lastError}` : ''}\n`);
    process.stdout.write('Press Ctrl-C to stop.\n');
  }
  await mesh.stopped;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  process.off('SIGHUP', onSignal);
  if (!isChild) process.stdout.write('outpost: the mesh stopped\n');
  // Everything is closed; a stray handle (a client's keep-alive socket) must not keep us alive.
  setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
}

export function registerUp(program: Command): void {
  withStateDir(
    program
      .command('up')
      .description('Run the local mesh: API, control plane, gateways and sidecars')
      .option('-d, --detach', 'run in the background; return once everything is ready')
      .option('--dns-server <ip:port>', 'DNS server the proxies ask for external hosts')
      .option('--hosts-file <file>', 'hosts file the proxies read before DNS')
      .option('--pod-network <mode>', 'auto (network namespaces when root, else loopback), netns (each pod its own network namespace), loopback (each workload a 127.x address); default OUTPOST_POD_NETWORK or auto')
      .option('--example', "apply the seed's Istio-API example (httpbin.org through an egress gateway) with a local httpbin.org stand-in"),
  ).action(async (opts: UpOptions) => {
    checkOptions(opts);
    const paths = statePaths(resolveStateDir(opts.stateDir));
    const live = await probeRunningMesh(paths);
    if (live) throw alreadyRunning(live, opts.stateDir);
    if (opts.detach) await upDetached(opts, paths);
    else await upForeground(opts, paths);
  });
}
