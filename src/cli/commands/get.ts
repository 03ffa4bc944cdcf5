// `outpost get KIND [NAME] [-n NS|-A] [-o yaml|json|wide|name|jsonpath=…] [-l selector]`.
import type { Command } from 'commander';
import { stringify } from 'yaml';
import type { KindInfo } from '../../api/kinds.js';
import { apiVersionOf } from '../../api/kinds.js';
import type { KubeObject } from '../../api/object.js';
import { connect, withStateDir } from '../connect.js';
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

/** Prints objects in one of kubectl's output formats; a single named object prints bare in yaml/json. */
export function printObjects(info: KindInfo, items: KubeObject[], output: string | undefined, single: boolean, allNamespaces: boolean): string {
  const list = { apiVersion: 'v1', kind: 'List', items, metadata: { resourceVersion: '' } };
  const data: unknown = single ? items[0] : list;
  if (output === 'yaml') return stringify(data, { lineWidth: 0 });
  if (output === 'json') return JSON.stringify(data, null, 4) + '\n';
  if (output === 'name') return items.map((o) => `${resourceName(info)}/${o.metadata.name}\n`).join('');
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
  return formatResourceTable(info, items, { wide: output === 'wide', allNamespaces });
}

export function registerGet(program: Command): void {
  withStateDir(
    program
      .command('get')
      .description('List resources, or show one')
      .argument('<kind>', 'kind, plural, short name or kind.group (istiorevisions.sailoperator.io)')
      .argument('[name]', 'one object')
      .option('-n, --namespace <ns>', 'namespace (default: default)')
      .option('-A, --all-namespaces', 'list across all namespaces')
      .option('-o, --output <format>', 'yaml | json | wide | name | jsonpath=TEMPLATE')
      .option('-l, --selector <selector>', 'label selector (app=curl,tier!=db)'),
  ).action(async (kind: string, name: string | undefined, opts: GetOptions) => {
    const info = kindOrThrow(kind);
    const mesh = await connect(opts.stateDir);
    const namespace = info.namespaced ? (opts.allNamespaces ? undefined : opts.namespace ?? 'default') : undefined;
    let items: KubeObject[];
    try {
      if (name) {
        const obj = await getOptional(mesh.api, refOf(info, name, namespace));
        if (!obj) throw new CliError(notFoundMessage(info, name));
        items = [obj];
      } else {
        const res = await mesh.api.list({ group: info.group, kind: info.kind, ...(namespace ? { namespace } : {}), ...(opts.selector ? { labelSelector: opts.selector } : {}) });
        items = [...res.items].sort((a, b) => `${a.metadata.namespace ?? ''}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace ?? ''}/${b.metadata.name}`));
      }
    } catch (err) {
      if (err instanceof CliError) throw err;
      throw new CliError(apiErrorMessage(err));
    }
    for (const o of items) o.apiVersion ||= apiVersionOf(info);
    const structured = opts.output !== undefined && opts.output !== 'wide';
    if (items.length === 0 && !structured) {
      process.stderr.write(namespace ? `No resources found in ${namespace} namespace.\n` : 'No resources found\n');
      return;
    }
    process.stdout.write(printObjects(info, items, opts.output, Boolean(name), Boolean(opts.allNamespaces)));
  });
}
