// `outpost delete -f PATH` and `outpost delete KIND NAME… [-n NS]`.
import type { Command } from 'commander';
import type { ObjectRef } from '../../api/object.js';
import { groupOf } from '../../api/object.js';
import { kindFor } from '../../api/kinds.js';
import { connect, withStateDir } from '../connect.js';
import { CliError } from '../errors.js';
import { apiErrorMessage, getOptional, kindOrThrow, notFoundMessage, objectName, refOf } from '../kube.js';
import { loadForApply } from './apply.js';

interface DeleteOptions {
  filename?: string[];
  namespace?: string;
  ignoreNotFound?: boolean;
  stateDir?: string;
}

/** kubectl says `serviceentry.networking.istio.io "egress-se" deleted`. */
function quoted(resourceSlashName: string): string {
  const i = resourceSlashName.indexOf('/');
  return `${resourceSlashName.slice(0, i)} "${resourceSlashName.slice(i + 1)}"`;
}

export function registerDelete(program: Command): void {
  withStateDir(
    program
      .command('delete')
      .description('Delete resources named in files, or by kind and name')
      .argument('[kind]', 'kind, plural, short name or kind.group')
      .argument('[names...]', 'objects to delete')
      .option('-f, --filename <path>', 'a YAML file or directory (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
      .option('-n, --namespace <ns>', 'namespace (default: default)')
      .option('--ignore-not-found', 'treat a missing object as deleted'),
  ).action(async (kind: string | undefined, names: string[], opts: DeleteOptions) => {
    const targets: { ref: ObjectRef; display: string; notFound: string }[] = [];
    if (opts.filename?.length) {
      if (kind)
        throw new CliError('error: there is no need to specify a resource type as a separate argument when passing arguments in resource/name form or with -f');
      // Tutorials' files share objects (one ServiceEntry in several): each is deleted once.
      const { objects } = await loadForApply(opts.filename, opts.namespace, { allowDuplicates: true });
      const seen = new Set<string>();
      for (const o of objects) {
        const key = `${groupOf(o.apiVersion)}/${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
        if (seen.has(key)) continue;
        seen.add(key);
        targets.push({
          ref: { group: groupOf(o.apiVersion), kind: o.kind, namespace: o.metadata.namespace, name: o.metadata.name },
          display: quoted(objectName(o)),
          notFound: ((info) =>
            info ? notFoundMessage(info, o.metadata.name) : `Error from server (NotFound): ${o.kind.toLowerCase()} "${o.metadata.name}" not found`)(
            kindFor(o.apiVersion, o.kind),
          ),
        });
      }
    } else {
      if (!kind) throw new CliError('error: You must provide one or more resources by argument or filename.');
      let k = kind;
      let list = names;
      if (kind.includes('/')) {
        const [kk, nn] = kind.split('/');
        k = kk!;
        list = [nn!, ...names];
      }
      if (list.length === 0) throw new CliError('error: resource(s) were provided, but no name was specified');
      const info = kindOrThrow(k);
      for (const n of list) {
        targets.push({
          ref: refOf(info, n, opts.namespace),
          display: `${info.group ? `${info.singular}.${info.group}` : info.singular} "${n}"`,
          notFound: notFoundMessage(info, n),
        });
      }
    }
    const mesh = await connect(opts.stateDir);
    const errors: string[] = [];
    for (const t of targets) {
      try {
        if (!(await getOptional(mesh.api, t.ref))) {
          if (!opts.ignoreNotFound) errors.push(t.notFound);
          continue;
        }
        await mesh.api.delete(t.ref);
        process.stdout.write(`${t.display} deleted\n`);
      } catch (err) {
        errors.push(apiErrorMessage(err));
      }
    }
    if (errors.length > 0) throw new CliError(errors.join('\n'));
  });
}
