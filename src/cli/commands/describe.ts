// `outpost describe KIND [NAME] -n NS`: every matching object in kubectl's describe shape, with its Events.
import type { Command } from 'commander';
import type { KubeObject } from '../../api/object.js';
import { connect, withStateDir } from '../connect.js';
import { CliError } from '../errors.js';
import { apiErrorMessage, getOptional, kindOrThrow, notFoundMessage, refOf } from '../kube.js';
import { formatDescribe } from '../printers/describe.js';

interface DescribeOptions {
  namespace?: string;
  allNamespaces?: boolean;
  selector?: string;
  stateDir?: string;
}

export function registerDescribe(program: Command): void {
  withStateDir(
    program
      .command('describe')
      .description('Show details of resources, with status conditions and events')
      .argument('<kind>', 'kind, plural, short name or kind.group')
      .argument('[name]', 'one object; all of that kind in the namespace when absent')
      .option('-n, --namespace <ns>', 'namespace (default: default)')
      .option('-A, --all-namespaces', 'across all namespaces')
      .option('-l, --selector <selector>', 'label selector'),
  ).action(async (kind: string, name: string | undefined, opts: DescribeOptions) => {
    const info = kindOrThrow(kind);
    const mesh = await connect(opts.stateDir);
    const namespace = info.namespaced ? (opts.allNamespaces ? undefined : (opts.namespace ?? 'default')) : undefined;
    try {
      let items: KubeObject[];
      if (name) {
        const obj = await getOptional(mesh.api, refOf(info, name, namespace));
        if (!obj) throw new CliError(notFoundMessage(info, name));
        items = [obj];
      } else {
        items = (
          await mesh.api.list({
            group: info.group,
            kind: info.kind,
            ...(namespace ? { namespace } : {}),
            ...(opts.selector ? { labelSelector: opts.selector } : {}),
          })
        ).items;
        if (items.length === 0) {
          process.stderr.write(namespace ? `No resources found in ${namespace} namespace.\n` : 'No resources found\n');
          return;
        }
      }
      const events = (await mesh.api.list({ group: '', kind: 'Event', ...(namespace ? { namespace } : {}) })).items;
      const texts = items.map((obj) =>
        formatDescribe(
          obj,
          events
            .filter((e) => {
              const io = (e.involvedObject ?? {}) as { kind?: string; name?: string; uid?: string };
              return io.kind === obj.kind && io.name === obj.metadata.name && (!io.uid || !obj.metadata.uid || io.uid === obj.metadata.uid);
            })
            .sort((a, b) => String(a.lastTimestamp ?? '').localeCompare(String(b.lastTimestamp ?? ''))),
        ),
      );
      process.stdout.write(texts.join('\n\n'));
    } catch (err) {
      if (err instanceof CliError) throw err;
      throw new CliError(apiErrorMessage(err), 1, { cause: err });
    }
  });
}
