// `outpost label KIND NAME k=v [k-] [--overwrite] [-n NS]`, with kubectl's words.
import type { Command } from 'commander';
import { connect, withStateDir } from '../connect.js';
import { CliError } from '../errors.js';
import { parseLabelArgs } from '../label-args.js';
import { apiErrorMessage, getOptional, kindOrThrow, notFoundMessage, refOf, resourceName } from '../kube.js';

export function registerLabel(program: Command): void {
  withStateDir(
    program
      .command('label')
      .description('Update the labels of a resource (key=value to set, key- to remove)')
      .argument('<kind>', 'kind (namespace, deployment, …)')
      .argument('<name>')
      .argument('<labels...>', 'key=value or key-')
      .option('--overwrite', 'replace existing label values')
      .option('-n, --namespace <ns>', 'namespace of a namespaced resource'),
  ).action(async (kind: string, name: string, labelArgs: string[], opts: { overwrite?: boolean; namespace?: string; stateDir?: string }) => {
    const info = kindOrThrow(kind);
    const changes = parseLabelArgs(labelArgs);
    const mesh = await connect(opts.stateDir);
    const ref = refOf(info, name, opts.namespace);
    const obj = await getOptional(mesh.api, ref);
    if (!obj) throw new CliError(notFoundMessage(info, name));
    const current = obj.metadata.labels ?? {};
    if (!opts.overwrite) {
      for (const [k, v] of Object.entries(changes.set)) {
        if (k in current && current[k] !== v) {
          throw new CliError(`error: '${k}' already has a value (${current[k]}), and --overwrite is false`);
        }
      }
    }
    const next: Record<string, string | null> = { ...changes.set };
    for (const k of changes.remove) if (k in current) next[k] = null;
    const changed = Object.entries(next).some(([k, v]) => (v === null ? k in current : current[k] !== v));
    const display = `${resourceName(info)}/${name}`;
    if (!changed) {
      process.stdout.write(`${display} not labeled\n`);
      return;
    }
    try {
      await mesh.api.patch(ref, { metadata: { labels: next } });
    } catch (err) {
      throw new CliError(apiErrorMessage(err), 1, { cause: err });
    }
    process.stdout.write(`${display} ${Object.keys(changes.set).length > 0 ? 'labeled' : 'unlabeled'}\n`);
  });
}
