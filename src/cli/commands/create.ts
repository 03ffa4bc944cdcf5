// `outpost create namespace NAME`.
import type { Command } from 'commander';
import { checkDns1123Label } from '../../api/names.js';
import { connect, withStateDir } from '../connect.js';
import { CliError } from '../errors.js';
import { apiErrorMessage, getOptional } from '../kube.js';

export function registerCreate(program: Command): void {
  const create = program.command('create').description('Create a resource');
  withStateDir(create.command('namespace').alias('ns').description('Create a namespace').argument('<name>')).action(
    async (name: string, opts: { stateDir?: string }) => {
      const invalid = checkDns1123Label(name);
      if (invalid) throw new CliError(`The Namespace "${name}" is invalid: metadata.name: Invalid value: "${name}": ${invalid}`);
      const mesh = await connect(opts.stateDir);
      if (await getOptional(mesh.api, { group: '', kind: 'Namespace', name })) {
        throw new CliError(`Error from server (AlreadyExists): namespaces "${name}" already exists`);
      }
      try {
        await mesh.api.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
      } catch (err) {
        throw new CliError(apiErrorMessage(err), 1, { cause: err });
      }
      process.stdout.write(`namespace/${name} created\n`);
    },
  );
}
