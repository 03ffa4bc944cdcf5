// `outpost logs deployment/NAME -n NS [--tail N] [-f] [-c istio-proxy]`: a gateway's log (access
// log lines included), or with `-c istio-proxy` the sidecar serving that workload's namespace.
import type { Command } from 'commander';
import type { WorkloadInfo } from '../../runtime/workloads.js';
import { connect, withStateDir } from '../connect.js';
import { CliError } from '../errors.js';
import { getOptional } from '../kube.js';
import { readLogFile } from '../../runtime/log-file.js';
import { existsSync } from 'node:fs';
import type { KubeObject } from '../../api/object.js';
import type { ApiClient } from '../../apiserver/client.js';
import { containerLogFile, runsProcess } from '../../runtime/pods/pod-containers.js';
import { statePaths } from '../../runtime/state-dir.js';
import { APPS_GROUP } from '../../api/groups.js';

interface LogsOptions {
  namespace?: string;
  container?: string;
  tail?: string;
  follow?: boolean;
  stateDir?: string;
}

/** Which workload's log a `logs` target names. */
export function pickWorkload(
  workloads: WorkloadInfo[],
  ns: string,
  kind: string,
  name: string,
  container: string | undefined,
  podOwners: Map<string, string>,
): WorkloadInfo | string {
  const inNs = workloads.filter((w) => w.namespace === ns);
  const deployment = kind === 'pod' || kind === 'pods' || kind === 'po' ? (podOwners.get(name) ?? name) : name;
  const gateway = inNs.find((w) => w.role === 'router' && (w.workload === deployment || w.podName === name));
  if (gateway && (container === undefined || container === 'istio-proxy')) return gateway;
  // A pod's own sidecar (netns model), else the namespace's shared one.
  const sidecar =
    inNs.find((w) => w.role === 'sidecar' && (w.podName === name || (podOwners.get(name) === undefined && w.workload === deployment))) ??
    inNs.find((w) => w.role === 'sidecar');
  if (container === 'istio-proxy') {
    return sidecar ?? `outpost: namespace ${ns} has no sidecar (label it istio-injection=enabled or istio.io/rev=<revision>)`;
  }
  return `outpost: ${kind}/${name} in namespace ${ns} runs no process on the local mesh; its sidecar's log is \`outpost logs ${kind}/${name} -n ${ns} -c istio-proxy\``;
}

export function registerLogs(program: Command): void {
  withStateDir(
    program
      .command('logs')
      .description("Print a gateway's log, or a namespace sidecar's with -c istio-proxy")
      .argument('[target]', "deployment/NAME, pod/NAME or a pod name (none with -c istio-proxy: the namespace's sidecar)")
      .option('-n, --namespace <ns>', 'namespace (default: default)')
      .option('-c, --container <name>', 'istio-proxy: the sidecar of the workload')
      .option('--tail <lines>', 'only the last N lines (-1: all)', '-1')
      .option('-f, --follow', 'keep printing new lines'),
  ).action(async (target: string | undefined, opts: LogsOptions) => {
    const tail = Number(opts.tail);
    if (!Number.isInteger(tail)) throw new CliError(`error: invalid argument "${opts.tail}" for "--tail" flag: must be an integer`);
    const ns = opts.namespace ?? 'default';
    const mesh = await connect(opts.stateDir);
    if (target === undefined) {
      if (opts.container !== 'istio-proxy') throw new CliError("error: expected deployment/NAME or a pod name (or -c istio-proxy for the namespace's sidecar)");
      const workloads = await mesh.control.get<WorkloadInfo[]>('/v1/workloads');
      const sidecar = workloads.find((w) => w.namespace === ns && w.role === 'sidecar');
      if (!sidecar) throw new CliError(`outpost: namespace ${ns} has no sidecar (label it istio-injection=enabled or istio.io/rev=<revision>)`);
      return printLog(sidecar.logFile, tail, Boolean(opts.follow));
    }
    const slash = target.indexOf('/');
    const kind = slash < 0 ? 'pod' : target.slice(0, slash).toLowerCase();
    const name = slash < 0 ? target : target.slice(slash + 1);
    if (!['deployment', 'deployments', 'deploy', 'pod', 'pods', 'po'].includes(kind))
      throw new CliError(`error: cannot get logs of ${kind}; use deployment/NAME or pod/NAME`);
    const isDeploy = kind.startsWith('deploy');
    const obj = await getOptional(mesh.api, { group: isDeploy ? APPS_GROUP : '', kind: isDeploy ? 'Deployment' : 'Pod', namespace: ns, name });
    if (!obj) throw new CliError(`Error from server (NotFound): ${isDeploy ? 'deployments.apps' : 'pods'} "${name}" not found`);
    const podOwners = new Map<string, string>();
    if (!isDeploy) {
      const owner = obj.metadata.ownerReferences?.find((o) => o.kind === 'Deployment');
      if (owner) podOwners.set(name, owner.name);
    }
    const workloads = await mesh.control.get<WorkloadInfo[]>('/v1/workloads');
    const picked = pickWorkload(workloads, ns, isDeploy ? 'deployment' : 'pod', name, opts.container, podOwners);
    if (typeof picked === 'string') {
      const app = await appContainerLog(mesh.api, mesh.endpoint.stateDir, ns, isDeploy ? undefined : obj, isDeploy ? name : undefined, opts.container);
      if (app === undefined) throw new CliError(picked);
      return printLog(app, tail, Boolean(opts.follow));
    }
    await printLog(picked.logFile, tail, Boolean(opts.follow));
  });
}

/** The log of an app container that runs a command (netns model), when the pod (or the Deployment's first pod) has one. */
async function appContainerLog(
  api: ApiClient,
  stateDir: string,
  ns: string,
  pod: KubeObject | undefined,
  deployment: string | undefined,
  container: string | undefined,
): Promise<string | undefined> {
  pod ??= (await api.list({ group: '', kind: 'Pod', namespace: ns })).items.find((p) =>
    p.metadata.ownerReferences?.some((o) => o.kind === 'Deployment' && o.name === deployment),
  );
  if (!pod) return undefined;
  const containers = ((pod.spec as { containers?: { name: string; command?: unknown }[] } | undefined)?.containers ?? []).filter(
    (c) => c.name !== 'istio-proxy' && runsProcess(c),
  );
  const c = container === undefined ? (containers.length === 1 ? containers[0] : undefined) : containers.find((x) => x.name === container);
  if (!c) return undefined;
  const file = containerLogFile(statePaths(stateDir).logs, ns, pod.metadata.name, c.name);
  return existsSync(file) ? file : undefined;
}

async function printLog(file: string, tail: number, follow: boolean): Promise<void> {
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    for await (const chunk of readLogFile(file, { tailLines: tail, follow, signal: stop.signal })) process.stdout.write(chunk);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
