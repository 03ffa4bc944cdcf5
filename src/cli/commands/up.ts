// `outpost up [-d] [--dns-server IP:PORT] [--hosts-file FILE] [--example] [--container-log-max-size
// SIZE] [--container-log-max-files N] [--container-log-monitor-interval D]`: run the local mesh,
// in the foreground until Ctrl-C, or detached (returning once everything is ready).
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve as resolvePath } from 'node:path';
import type { Command } from 'commander';
import { ControlClient } from '../../runtime/control-server.js';
import { EXAMPLE_NEXT_STEPS } from '../../runtime/example.js';
import { CaError, MeshCa } from '../../controlplane/ca/mesh-ca.js';
import { privateUmask } from '../../runtime/private-state.js';
import { checkStore, MeshAlreadyRunningError, MeshStartingError, probeRunningMesh, startMesh } from '../../runtime/mesh.js';
import { parseDuration } from '../../api/duration.js';
import { DEFAULT_LOG_ROTATION, parseByteQuantity, type LogRotationOptions } from '../../runtime/log-rotation.js';
import { displayStateDir, resolveStateDir, statePaths, type MeshEndpoint, type StatePaths } from '../../runtime/state-dir.js';
import { MESH_UP_MESSAGE, SUPERVISED_ENV } from '../../runtime/supervisor.js';
import { DETACHED_CHILD_ENV, holdMesh, MeshDidNotStartError, startDetachedMesh, superviseUp } from '../../runtime/mesh-launch.js';
import type { WorkloadInfo } from '../../runtime/workloads.js';
import { POD_NETWORK_MODES, type PodNetworkMode } from '../../runtime/pods/pod-network-mode.js';
import { PodNetworkError } from '../../runtime/pods/node-network.js';
import { withStateDir } from '../connect.js';
import { CliError } from '../errors.js';
import { formatTable } from '../printers/table.js';
import { parseHostPort } from '../../proxyconfig/authority.js';

interface UpOptions {
  detach?: boolean;
  stateDir?: string;
  dnsServer?: string;
  hostsFile?: string;
  example?: boolean;
  containerLogMaxSize?: string;
  containerLogMaxFiles?: string;
  containerLogMonitorInterval?: string;
  caCert?: string;
  caKey?: string;
  workloadCertTtl?: string;
  podNetwork?: string;
}

const READY_TIMEOUT_MS = 60_000;

function checkOptions(opts: UpOptions): void {
  if (opts.dnsServer) {
    const hp = parseHostPort(opts.dnsServer);
    if (!hp || !isIP(hp.host) || hp.port < 1) {
      throw new CliError(`outpost: --dns-server wants IP:PORT (e.g. 127.0.0.53:53), not "${opts.dnsServer}"`);
    }
  }
  if (opts.hostsFile && !existsSync(opts.hostsFile)) throw new CliError(`outpost: --hosts-file ${opts.hostsFile}: no such file`);
  logRotation(opts);
  podNetworkMode(opts);
  if (Boolean(opts.caCert) !== Boolean(opts.caKey)) throw new CliError('outpost: --ca-cert and --ca-key go together (the signing certificate and its key)');
  if (opts.workloadCertTtl !== undefined) certTtlMs(opts.workloadCertTtl);
  if (opts.caCert && opts.caKey) {
    // Checked here too, so `up -d` says what is wrong instead of "did not start".
    try {
      MeshCa.plugIn(resolvePath(opts.caCert), resolvePath(opts.caKey));
    } catch (err) {
      throw new CliError(`outpost: ${(err as Error).message}`);
    }
  }
}

/** `--workload-cert-ttl` as Go durations are written (90s, 30m, 24h, 1h30m); at least 2 s. */
export function certTtlMs(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms < 2000) throw new CliError(`outpost: --workload-cert-ttl wants a duration of at least 2s such as 24h, 30m or 90s, not "${text}"`);
  return ms;
}

/** kubelet's container-log flags, checked as kubelet checks them; absent ones keep kubelet's defaults. */
function logRotation(opts: UpOptions): LogRotationOptions {
  const r: { -readonly [K in keyof LogRotationOptions]: LogRotationOptions[K] } = { ...DEFAULT_LOG_ROTATION };
  if (opts.containerLogMaxSize !== undefined) {
    const n = parseByteQuantity(opts.containerLogMaxSize);
    if (n === undefined || n <= 0)
      throw new CliError(`outpost: --container-log-max-size wants a size such as 10Mi or 512Ki, not "${opts.containerLogMaxSize}"`);
    r.maxBytes = n;
  }
  if (opts.containerLogMaxFiles !== undefined) {
    const n = Number(opts.containerLogMaxFiles);
    if (!Number.isInteger(n) || n < 2)
      throw new CliError(`outpost: --container-log-max-files must be an integer of at least 2, not "${opts.containerLogMaxFiles}"`);
    r.maxFiles = n;
  }
  if (opts.containerLogMonitorInterval !== undefined) {
    const ms = parseDuration(opts.containerLogMonitorInterval);
    if (ms === undefined || ms < 10)
      throw new CliError(`outpost: --container-log-monitor-interval wants a duration such as 10s or 500ms, not "${opts.containerLogMonitorInterval}"`);
    r.intervalMs = ms;
  }
  return r;
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
  return new CliError(
    `outpost: a mesh is already running on state dir ${displayStateDir(flag)} (pid ${ep.pid}, API ${ep.url}). Stop it with \`outpost down\`.`,
  );
}

export function formatWorkloads(workloads: WorkloadInfo[]): string {
  if (workloads.length === 0) return '  (no workloads yet: apply a gateway Deployment or label a namespace for injection)\n';
  const rows = [...workloads]
    .sort((a, b) => `${a.namespace}/${a.workload}`.localeCompare(`${b.namespace}/${b.workload}`))
    .map((w) => [
      w.namespace,
      w.role === 'router' ? `deployment/${w.workload}` : w.podName === 'sidecar' ? 'sidecar' : `pod/${w.podName}`,
      w.role,
      w.ip,
      w.ready ? 'Ready' : w.lastError ? `NotReady: ${w.lastError}` : 'NotReady',
    ]);
  return formatTable(['NAMESPACE', 'WORKLOAD', 'ROLE', 'ADDRESS', 'STATUS'], rows).replace(/^/gm, '  ');
}

function summary(ep: MeshEndpoint, paths: StatePaths, flag: string | undefined, workloads: WorkloadInfo[], example: boolean): string {
  const lines = [
    `outpost: the mesh is running (state dir ${displayStateDir(flag)}, pid ${ep.pid}${ep.supervisorPid ? `; pid ${ep.supervisorPid} restarts it if it crashes` : ''})`,
    `  Kubernetes API: ${ep.url}`,
    '  Workloads:',
    formatWorkloads(workloads).trimEnd(),
    '',
    `export KUBECONFIG=${paths.kubeconfig}`,
  ];
  if (ep.notes?.length) lines.push('', ...ep.notes);
  if (example) lines.push('', ...EXAMPLE_NEXT_STEPS);
  return lines.join('\n') + '\n';
}

function childArgs(opts: UpOptions, stateDir: string): string[] {
  const args = ['up', '--state-dir', stateDir];
  if (opts.dnsServer) args.push('--dns-server', opts.dnsServer);
  if (opts.hostsFile) args.push('--hosts-file', resolvePath(opts.hostsFile));
  if (opts.example) args.push('--example');
  if (opts.containerLogMaxSize !== undefined) args.push('--container-log-max-size', opts.containerLogMaxSize);
  if (opts.containerLogMaxFiles !== undefined) args.push('--container-log-max-files', opts.containerLogMaxFiles);
  if (opts.containerLogMonitorInterval !== undefined) args.push('--container-log-monitor-interval', opts.containerLogMonitorInterval);
  if (opts.caCert && opts.caKey) args.push('--ca-cert', resolvePath(opts.caCert), '--ca-key', resolvePath(opts.caKey));
  if (opts.workloadCertTtl) args.push('--workload-cert-ttl', opts.workloadCertTtl);
  args.push('--pod-network', podNetworkMode(opts));
  return args;
}

async function upDetached(opts: UpOptions, paths: StatePaths): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let ep: MeshEndpoint;
  try {
    ep = await startDetachedMesh(paths, childArgs(opts, paths.dir), READY_TIMEOUT_MS);
  } catch (err) {
    if (err instanceof MeshDidNotStartError) throw new CliError(`outpost: ${err.message}`);
    throw err;
  }
  const meshLog = join(paths.logs, 'mesh.log');
  const control = new ControlClient(ep.controlUrl, ep.token);
  const { notReady } = await control.get<{ notReady: WorkloadInfo[] }>('/v1/wait-ready', { timeoutMs: Math.max(1000, deadline - Date.now()) });
  const workloads = await control.get<WorkloadInfo[]>('/v1/workloads');
  process.stdout.write(summary(ep, paths, opts.stateDir, workloads, Boolean(opts.example)));
  // --state-dir may have come before the verb (then it is in the environment).
  const dirFlag = opts.stateDir ?? process.env.OUTPOST_STATE_DIR;
  process.stdout.write(`  logs: ${meshLog}; stop with \`outpost down${dirFlag ? ` --state-dir ${dirFlag}` : ''}\`\n`);
  if (notReady.length > 0) {
    throw new CliError(
      `outpost: ${notReady.length} workload(s) are not ready: ${notReady.map((w) => `${w.namespace}/${w.workload}${w.lastError ? ` (${w.lastError})` : ''}`).join(', ')}`,
    );
  }
}

const stderrLine = (line: string): void => void process.stderr.write(`${new Date().toISOString()} outpost: ${line}\n`);

async function upForeground(opts: UpOptions, paths: StatePaths): Promise<void> {
  // The first `up` supervises (src/runtime/supervisor.ts); its child runs the mesh.
  if (process.env[SUPERVISED_ENV] !== '1') {
    process.exitCode = await superviseUp(paths, childArgs(opts, paths.dir), stderrLine);
    return;
  }
  const isChild = process.env[DETACHED_CHILD_ENV] === '1';
  let mesh;
  try {
    mesh = await startMesh({
      stateDir: paths.dir,
      resolver: { server: opts.dnsServer, hostsFile: opts.hostsFile ? resolvePath(opts.hostsFile) : undefined },
      example: opts.example,
      logRotation: logRotation(opts),
      supervisorPid: process.ppid,
      ca: {
        ...(opts.caCert && opts.caKey ? { certFile: resolvePath(opts.caCert), keyFile: resolvePath(opts.caKey) } : {}),
        ...(opts.workloadCertTtl ? { ttlMs: certTtlMs(opts.workloadCertTtl) } : {}),
      },
      podNetwork: podNetworkMode(opts),
    });
    // Tell the supervisor the mesh is up: from now on a crash is restarted, not reported as a failed start.
    process.send?.(MESH_UP_MESSAGE);
  } catch (err) {
    if (err instanceof MeshAlreadyRunningError) throw alreadyRunning(err.endpoint, opts.stateDir);
    if (err instanceof CaError) throw new CliError(`outpost: ${err.message}`);
    if (err instanceof MeshStartingError) {
      throw new CliError(
        `outpost: a mesh is already running on state dir ${displayStateDir(opts.stateDir)} (pid ${err.pid}, still starting). Stop it with \`outpost down\`.`,
      );
    }
    if (err instanceof PodNetworkError) throw new CliError(`outpost: ${err.message}`);
    throw err;
  }
  const held = holdMesh(mesh, (line) => void process.stderr.write(`${new Date().toISOString()} ${line}\n`));
  if (!isChild) {
    const notReady = await mesh.workloads.waitReady(READY_TIMEOUT_MS);
    process.stdout.write(summary(mesh.endpoint, paths, opts.stateDir, mesh.workloads.list(), Boolean(opts.example)));
    for (const w of notReady) process.stdout.write(`outpost: ${w.namespace}/${w.workload} is not ready${w.lastError ? `: ${w.lastError}` : ''}\n`);
    process.stdout.write('Press Ctrl-C to stop.\n');
  }
  await held;
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
      .option(
        '--pod-network <mode>',
        'auto (network namespaces when root, else loopback), netns (each pod its own network namespace), loopback (each workload a 127.x address); default OUTPOST_POD_NETWORK or auto',
      )
      .option('--example', "apply the seed's Istio-API example (httpbin.org through an egress gateway) with a local httpbin.org stand-in")
      .option('--container-log-max-size <size>', 'rotate a log file once it is larger than this, as kubelet (default 10Mi)')
      .option('--container-log-max-files <n>', 'log files kept per workload, the live one included, as kubelet (default 5)')
      .option('--container-log-monitor-interval <duration>', 'how often log sizes are checked, as kubelet (default 10s)')
      .option(
        '--ca-cert <file>',
        'plug-in CA: the signing certificate (root or intermediate), then its chain up to the root (default: a root made in the state dir)',
      )
      .option('--ca-key <file>', "plug-in CA: the signing certificate's private key")
      .option('--workload-cert-ttl <duration>', 'lifetime of workload certificates, rotated at half of it (default 24h)'),
  ).action(async (opts: UpOptions) => {
    checkOptions(opts);
    // Before anything is written: the state dir and all in it are private (the mesh's child and proxies inherit it).
    privateUmask();
    const paths = statePaths(resolveStateDir(opts.stateDir));
    const live = await probeRunningMesh(paths);
    if (live) throw alreadyRunning(live, opts.stateDir);
    checkStore(paths);
    if (opts.detach) await upDetached(opts, paths);
    else await upForeground(opts, paths);
  });
}
