// `outpost exec -n NS -- CMD ARGS…`: run CMD as a workload of NS. In an injected namespace its
// HTTP and HTTPS traffic goes through the namespace's sidecar (proxy environment variables);
// elsewhere it goes direct. The exit code is CMD's.
import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { VIRTUAL_OUTBOUND_PORT } from '../../proxyconfig/naming.js';
import type { SyncResult } from '../../runtime/sync.js';
import type { WorkloadInfo } from '../../runtime/workloads.js';
import { namespaceInjection, SIDECAR_WORKLOAD } from '../../runtime/workload-plan.js';
import { NETNS_ANNOTATION } from '../../runtime/workloads.js';
import type { KubeObject } from '../../api/object.js';
import type { ApiClient } from '../../apiserver/client.js';
import { workloadEnvironment } from '../../runtime/workload-env.js';
import { argsAfterDoubleDash } from '../argv.js';
import { connect, withStateDir } from '../connect.js';
import { CliError } from '../errors.js';
import { getOptional } from '../kube.js';
import { SAIL_GROUP } from '../../api/groups.js';

interface ExecOptions {
  namespace?: string;
  container?: string;
  stateDir?: string;
  wait?: boolean;
}

const WAIT_MS = 30_000;

/** The environment that sends a command's traffic through a sidecar's outbound listener. */
export function proxyEnv(sidecarIp: string, meshHost: string): Record<string, string> {
  const proxy = `http://${sidecarIp}:${VIRTUAL_OUTBOUND_PORT}`;
  // The mesh's own endpoints (API server) stay direct, as a pod reaches the API server.
  const noProxy = ['localhost', '127.0.0.1', '::1', meshHost].join(',');
  return { http_proxy: proxy, HTTP_PROXY: proxy, https_proxy: proxy, HTTPS_PROXY: proxy, no_proxy: noProxy, NO_PROXY: noProxy };
}

export function registerExec(program: Command): void {
  withStateDir(
    program
      .command('exec')
      .description('Run a command as a workload of a namespace (through its sidecar when the namespace is injected)')
      .argument('<args...>', '[POD|deployment/NAME] -- COMMAND [ARGS…] (the namespace decides which sidecar)')
      .option('-n, --namespace <ns>', 'namespace (default: default)')
      .option('-c, --container <name>', 'accepted for kubectl compatibility')
      .option('--no-wait', 'do not wait for the sidecar to have the latest config'),
  ).action(async (args: string[], opts: ExecOptions) => {
    // kubectl's shape: an optional pod before `--`, the command after it.
    const afterDash = argsAfterDoubleDash();
    const command = afterDash ?? args;
    const podArg = afterDash && args.length > afterDash.length ? args[0] : undefined;
    const mesh = await connect(opts.stateDir);
    const ns = opts.namespace ?? 'default';
    const nsObj = await getOptional(mesh.api, { group: '', kind: 'Namespace', name: ns });
    if (!nsObj) throw new CliError(`Error from server (NotFound): namespaces "${ns}" not found`);
    if (command.length === 0) throw new CliError('error: you must specify at least one command for the container');
    // A pod with its own network namespace (the netns model): the command runs there, through that pod's sidecar.
    const pod = podArg ? await podWithNetwork(mesh.api, ns, podArg) : undefined;
    const revisions = (await mesh.api.list({ group: SAIL_GROUP, kind: 'IstioRevision' })).items;
    const injection = namespaceInjection(nsObj, new Set(revisions.map((r) => r.metadata.name)));
    let env: Record<string, string> = {};
    const netns =
      pod?.netns ??
      (podArg
        ? undefined
        : (await mesh.control.get<WorkloadInfo[]>('/v1/workloads')).find((w) => w.namespace === ns && w.workload === SIDECAR_WORKLOAD && injection.injected)
            ?.netns);
    if (injection.injected && (!pod || pod.injected)) {
      let sidecar: WorkloadInfo | undefined;
      const deadline = Date.now() + WAIT_MS;
      // The sidecar appears shortly after the label; wait for it as kubectl waits for a pod.
      while (Date.now() < deadline) {
        const all = await mesh.control.get<WorkloadInfo[]>('/v1/workloads');
        sidecar = pod
          ? all.find((w) => w.namespace === ns && w.role === 'sidecar' && w.podName === pod.name)
          : (all.find((w) => w.namespace === ns && w.role === 'sidecar' && w.workload === SIDECAR_WORKLOAD) ??
            all.find((w) => w.namespace === ns && w.role === 'sidecar'));
        if (sidecar?.ready) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      if (!sidecar)
        throw new CliError(
          `outpost: namespace ${ns} is labelled for injection, but its sidecar did not start in ${WAIT_MS / 1000}s (see \`outpost logs -n ${ns} -c istio-proxy\`)`,
        );
      if (!sidecar.ready) throw new CliError(`outpost: the sidecar of namespace ${ns} is not ready${sidecar.lastError ? `: ${sidecar.lastError}` : ''}`);
      if (opts.wait !== false) {
        const sync = await mesh.control.get<SyncResult>('/v1/wait-synced', { timeoutMs: 15_000 });
        if (!sync.synced) process.stderr.write(`outpost: warning: proxies not yet in sync with the config: ${sync.pending.join(', ')}\n`);
      }
      env = proxyEnv(sidecar.ip, new URL(mesh.endpoint.url).hostname);
    } else if (injection.warning) {
      process.stderr.write(`outpost: warning: ${injection.warning.message}\n`);
    }
    const base = workloadEnvironment(process.env, { stateDir: mesh.paths.dir, token: mesh.endpoint.token });
    // `ip netns exec` also bind-mounts the pod's /etc/netns/<name>/resolv.conf.
    const [file, argv] = netns ? ['ip', ['netns', 'exec', netns, ...command]] : [command[0]!, command.slice(1)];
    const child = spawn(file, argv, { stdio: 'inherit', env: { ...base, ...env } });
    const code = await new Promise<number>((resolve) => {
      child.on('error', (err) => {
        process.stderr.write(`outpost: cannot run ${command[0]}: ${err.message}\n`);
        resolve(127);
      });
      child.on('exit', (c, signal) => resolve(c ?? (signal ? 128 + (signalNumber(signal) ?? 0) : 1)));
    });
    process.exitCode = code;
  });
}

/** The named pod (or `deployment/NAME`'s first pod), when it has its own network namespace. */
async function podWithNetwork(api: ApiClient, ns: string, arg: string): Promise<{ name: string; netns: string; injected: boolean } | undefined> {
  let pod: KubeObject | undefined;
  const deploy = /^(?:deployments?|deploy)(?:\.apps)?\/(.+)$/.exec(arg)?.[1];
  if (deploy) {
    pod = (await api.list({ group: '', kind: 'Pod', namespace: ns })).items.find((p) =>
      p.metadata.ownerReferences?.some((o) => o.kind === 'Deployment' && o.name === deploy),
    );
    if (!pod) throw new CliError(`error: no pod of deployment ${deploy} in namespace ${ns}`);
  } else {
    pod = await getOptional(api, { group: '', kind: 'Pod', namespace: ns, name: arg.replace(/^pods?\//, '') });
    if (!pod) return undefined;
  }
  const netns = pod.metadata.annotations?.[NETNS_ANNOTATION];
  if (!netns) return undefined;
  return { name: pod.metadata.name, netns, injected: pod.metadata.annotations?.['sidecar.istio.io/status'] !== undefined };
}

function signalNumber(signal: NodeJS.Signals): number | undefined {
  const map: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 };
  return map[signal];
}
