// `outpost get KIND [NAME] [-n NS|-A] [-o yaml|json|wide|name|jsonpath=…] [-l selector]`.
import type { Command } from 'commander';
import type { KindInfo } from '../../api/kinds.js';
import { apiVersionOf, KINDS, resolveKindName } from '../../api/kinds.js';
import type { KubeObject } from '../../api/object.js';
import { connect, withStateDir, type MeshConnection } from '../connect.js';
import { CliError } from '../errors.js';
import { apiErrorMessage, getOptional, kindOrThrow, notFoundMessage, refOf, resourceName } from '../kube.js';
import { JsonPathError, renderTemplate } from '../../api/jsonpath.js';
import { formatResourceTable } from '../printers/resource-table.js';

interface GetOptions {
  namespace?: string;
  allNamespaces?: boolean;
  output?: string;
  selector?: string;
  stateDir?: string;
}

async function structuredOutput(output: string | undefined, data: unknown, names: () => string): Promise<string | undefined> {
  // yaml is loaded only for -o yaml: it is most of what `get` would load otherwise (CLI start-up).
  if (output === 'yaml') return (await import('yaml')).stringify(data, { lineWidth: 0 });
  if (output === 'json') return JSON.stringify(data, null, 4) + '\n';
  if (output === 'name') return names();
  if (output?.startsWith('jsonpath=') || output?.startsWith('jsonpath-as-json=')) {
    const template = output.slice(output.indexOf('=') + 1);
    try {
      return renderTemplate(template, data);
    } catch (err) {
      throw new CliError(`error: error executing jsonpath "${template}": ${(err as JsonPathError).message}`);
    }
  }
  if (output !== undefined && output !== 'wide') {
    throw new CliError(`error: unable to match a printer suitable for the output format "${output}", allowed formats are: json,jsonpath,name,wide,yaml`);
  }
  return undefined;
}

/** Prints objects in one of kubectl's output formats; a single named object prints bare in yaml/json. */
export async function printObjects(info: KindInfo, items: KubeObject[], output: string | undefined, single: boolean, allNamespaces: boolean): Promise<string> {
  const list = { apiVersion: 'v1', kind: 'List', items, metadata: { resourceVersion: '' } };
  const data: unknown = single ? items[0] : list;
  return (
    (await structuredOutput(output, data, () => items.map((o) => `${resourceName(info)}/${o.metadata.name}\n`).join(''))) ??
    formatResourceTable(info, items, { wide: output === 'wide', allNamespaces })
  );
}

/**
 * Several kinds at once (`get gateways,httproutes`), as kubectl prints them: one table per kind
 * that has objects, names as kind.group/name, a blank line between tables; yaml/json: one List.
 */
export async function printGroups(
  groups: { info: KindInfo; items: KubeObject[] }[],
  output: string | undefined,
  single: boolean,
  allNamespaces: boolean,
): Promise<string> {
  const all = groups.flatMap((g) => g.items);
  const data: unknown = single && all.length === 1 ? all[0] : { apiVersion: 'v1', kind: 'List', items: all, metadata: { resourceVersion: '' } };
  const structured = await structuredOutput(output, data, () =>
    groups.flatMap((g) => g.items.map((o) => `${resourceName(g.info)}/${o.metadata.name}\n`)).join(''),
  );
  if (structured !== undefined) return structured;
  return groups
    .filter((g) => g.items.length > 0)
    .map((g) => formatResourceTable(g.info, g.items, { wide: output === 'wide', allNamespaces, showKind: true }))
    .join('\n');
}

async function fetchItems(mesh: MeshConnection, info: KindInfo, name: string | undefined, opts: GetOptions): Promise<KubeObject[]> {
  const namespace = info.namespaced ? (opts.allNamespaces ? undefined : (opts.namespace ?? 'default')) : undefined;
  let items: KubeObject[];
  if (name) {
    const obj = await getOptional(mesh.api, refOf(info, name, namespace));
    if (!obj) throw new CliError(notFoundMessage(info, name));
    items = [obj];
  } else {
    const res = await mesh.api.list({
      group: info.group,
      kind: info.kind,
      ...(namespace ? { namespace } : {}),
      ...(opts.selector ? { labelSelector: opts.selector } : {}),
    });
    // By namespace/name in code-unit order, the API server's (etcd's) key order. Not localeCompare: its
    // first call loads ICU's collator, ~8 ms of CPU in a command that takes ~50 ms beyond node's own start.
    const key = (o: KubeObject): string => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    items = [...res.items].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  }
  for (const o of items) o.apiVersion ||= apiVersionOf(info);
  return items;
}

/** kubectl lists `all` as pods, services, then the apps kinds; other categories in table order. */
const ALL_ORDER = ['Pod', 'Service', 'Deployment'];

export function categoryKinds(category: string): KindInfo[] {
  const kinds = KINDS.filter((i) => i.categories.includes(category));
  if (category !== 'all') return kinds;
  const rank = (k: KindInfo) => (ALL_ORDER.includes(k.kind) ? ALL_ORDER.indexOf(k.kind) : ALL_ORDER.length);
  return [...kinds].sort((a, b) => rank(a) - rank(b));
}

export function registerGet(program: Command): void {
  withStateDir(
    program
      .command('get')
      .description('List resources, or show one')
      .argument('<kind>', 'kind, plural, short name or kind.group (istiorevisions.sailoperator.io); several with commas (gateways,httproutes)')
      .argument('[name]', 'one object')
      .option('-n, --namespace <ns>', 'namespace (default: default)')
      .option('-A, --all-namespaces', 'list across all namespaces')
      .option('-o, --output <format>', 'yaml | json | wide | name | jsonpath=TEMPLATE')
      .option('-l, --selector <selector>', 'label selector (app=curl,tier!=db)'),
  ).action(async (kind: string, name: string | undefined, opts: GetOptions) => {
    const names = kind.split(',').map((k) => k.trim());
    if (names.some((k) => k === ''))
      throw new CliError(`error: arguments in resource/name form must have a single resource and name; "${kind}" has an empty kind`);
    // A category (`all`, `istio-io`, `gateway-api`) stands for its kinds, as kubectl expands it.
    const categories = names.filter((k) => !resolveKindName(k) && KINDS.some((i) => i.categories.includes(k)));
    const expanded = names.flatMap((k) => (categories.includes(k) ? categoryKinds(k) : [kindOrThrow(k)]));
    // Each kind once, in the order given (kubectl dedups `pods,po`).
    const infos = [...new Map(expanded.map((i) => [`${i.group}/${i.kind}`, i])).values()];
    const mesh = await connect(opts.stateDir);
    const groups: { info: KindInfo; items: KubeObject[] }[] = [];
    const notFound: string[] = [];
    for (const info of infos) {
      try {
        groups.push({ info, items: await fetchItems(mesh, info, name, opts) });
      } catch (err) {
        // kubectl reports every missing object and still prints the ones it found.
        if (err instanceof CliError && name && infos.length > 1) notFound.push(err.message);
        else if (err instanceof CliError) throw err;
        else throw new CliError(apiErrorMessage(err), 1, { cause: err });
      }
    }
    const allNs = Boolean(opts.allNamespaces);
    const structured = opts.output !== undefined && opts.output !== 'wide';
    const total = groups.reduce((n, g) => n + g.items.length, 0);
    if (total === 0 && !structured && notFound.length === 0) {
      const namespaced = infos.some((i) => i.namespaced) && !allNs;
      process.stderr.write(namespaced ? `No resources found in ${opts.namespace ?? 'default'} namespace.\n` : 'No resources found\n');
      return;
    }
    if (infos.length === 1 && categories.length === 0) process.stdout.write(await printObjects(infos[0]!, groups[0]!.items, opts.output, Boolean(name), allNs));
    else if (total > 0 || structured) process.stdout.write(await printGroups(groups, opts.output, Boolean(name), allNs));
    if (notFound.length > 0) throw new CliError(notFound.join('\n'));
  });
}
