// `outpost proxy-config listeners|routes|clusters|endpoints|all <workload>[.<ns>] [-n NS] [-o json]`,
// like istioctl's: the config the control plane sends that proxy.
import type { Command } from 'commander';
import type { ProxyConfig } from '../../proxyconfig/types.js';
import type { WorkloadInfo } from '../../runtime/workloads.js';
import { connect, withStateDir } from '../connect.js';
import { CliError } from '../errors.js';
import { getOptional } from '../kube.js';
import { proxyConfigTable, type ProxyConfigSection } from '../printers/proxy-config.js';
import { APPS_GROUP } from '../../api/groups.js';

const SECTIONS = ['listeners', 'routes', 'clusters', 'endpoints', 'all'] as const;
const ALIASES: Record<string, (typeof SECTIONS)[number]> = {
  listener: 'listeners',
  l: 'listeners',
  route: 'routes',
  r: 'routes',
  cluster: 'clusters',
  c: 'clusters',
  endpoint: 'endpoints',
  ep: 'endpoints',
  a: 'all',
};

/** Finds the proxy a user names: `<pod>.<ns>`, a pod name, `deployment/NAME`, a gateway Deployment name, or `sidecar`. */
export function findProxy(workloads: WorkloadInfo[], target: string, namespace: string | undefined): WorkloadInfo | undefined {
  const exact = workloads.find((w) => w.proxyId === target);
  if (exact) return exact;
  let name = target.replace(/^(deployment|deploy|deployments|pod|pods|po)\//, '');
  let ns = namespace;
  const dot = name.lastIndexOf('.');
  if (dot > 0 && !namespace) {
    ns = name.slice(dot + 1);
    name = name.slice(0, dot);
  }
  const candidates = workloads.filter((w) => ns === undefined || w.namespace === ns);
  return (
    candidates.find((w) => w.podName === name) ??
    candidates.find((w) => w.workload === name) ??
    (ns !== undefined ? undefined : workloads.find((w) => w.workload === name))
  );
}

/** What an app-workload target names (`<pod>[.<ns>]`, `pod/NAME`, `deployment/NAME`), for the namespace-sidecar fallback. */
export function parseWorkloadTarget(target: string, namespace: string | undefined): { kind: 'Pod' | 'Deployment'; name: string; namespace: string } {
  const m = /^(deployment|deploy|deployments|pod|pods|po)\//.exec(target);
  const kind = m && m[1]!.startsWith('deploy') ? 'Deployment' : 'Pod';
  let name = m ? target.slice(m[0].length) : target;
  let ns = namespace;
  const dot = name.lastIndexOf('.');
  if (dot > 0 && !namespace) {
    ns = name.slice(dot + 1);
    name = name.slice(0, dot);
  }
  return { kind, name, namespace: ns ?? 'default' };
}

export function registerProxyConfig(program: Command): void {
  withStateDir(
    program
      .command('proxy-config')
      .alias('pc')
      .description("Show a proxy's listeners, routes, clusters or endpoints (istioctl's shapes)")
      .argument('<section>', SECTIONS.join('|'))
      .argument('<workload>', '<pod>[.<namespace>], deployment/NAME, or sidecar')
      .option('-n, --namespace <ns>', 'namespace of the workload')
      .option('-o, --output <format>', 'short (table) | json', 'short'),
  ).action(async (sectionArg: string, target: string, opts: { namespace?: string; output: string; stateDir?: string }) => {
    const section = (SECTIONS as readonly string[]).includes(sectionArg) ? (sectionArg as (typeof SECTIONS)[number]) : ALIASES[sectionArg];
    if (!section) throw new CliError(`error: unknown proxy-config section "${sectionArg}"; use one of ${SECTIONS.join(', ')}`);
    if (opts.output !== 'short' && opts.output !== 'json' && opts.output !== 'yaml')
      throw new CliError(`error: unknown output format "${opts.output}" (short, json)`);
    const mesh = await connect(opts.stateDir);
    const workloads = await mesh.control.get<WorkloadInfo[]>('/v1/workloads');
    let w = findProxy(workloads, target, opts.namespace);
    if (!w) {
      // An app pod or deployment of an injected namespace: its traffic goes through the namespace's sidecar.
      const t = parseWorkloadTarget(target, opts.namespace);
      const sidecar = workloads.find((x) => x.role === 'sidecar' && x.namespace === t.namespace);
      if (sidecar && (await getOptional(mesh.api, { group: t.kind === 'Deployment' ? APPS_GROUP : '', kind: t.kind, namespace: t.namespace, name: t.name })))
        w = sidecar;
    }
    if (!w) {
      const known = workloads.map((x) => x.proxyId).join(', ') || 'none';
      throw new CliError(`outpost: no proxy "${target}"${opts.namespace ? ` in namespace ${opts.namespace}` : ''} (running proxies: ${known})`);
    }
    const got = await mesh.control.get<{ config: ProxyConfig }>('/v1/proxy-config', { proxy: w.proxyId });
    const cfg = got.config;
    if (opts.output === 'json') {
      const pick =
        section === 'all'
          ? cfg
          : section === 'routes'
            ? cfg.routeTables
            : section === 'endpoints'
              ? cfg.clusters.map((c) => ({ cluster: c.name, endpoints: c.endpoints }))
              : cfg[section];
      process.stdout.write(JSON.stringify(pick, null, 2) + '\n');
      return;
    }
    const parts: ProxyConfigSection[] = section === 'all' ? ['clusters', 'listeners', 'routes', 'endpoints'] : [section];
    process.stdout.write(parts.map((p) => proxyConfigTable(cfg, p)).join('\n'));
  });
}
