// `outpost validate -f PATH... [-f -]`: schema and field checks; every error with file:line:column.
import type { Command } from 'commander';
import { CliError } from '../errors.js';

interface ValidateOptions {
  filename: string[];
  namespace?: string;
}

/** stdin's bytes (loadSources checks they are UTF-8 and says where they are not). */
export async function readAllStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks);
}

export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('Check resource files (YAML/JSON, directories, - for stdin) without applying them')
    .requiredOption('-f, --filename <path>', 'file, directory or - (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('-n, --namespace <ns>', 'namespace for documents that name none')
    .action(async (opts: ValidateOptions) => {
      // Loaded lazily: the schema validators are only needed by this verb.
      const { loadSources, formatLoadError } = await import('../../api/load.js');
      const stdin = opts.filename.includes('-') ? await readAllStdin() : undefined;
      const result = await loadSources({
        paths: opts.filename,
        ...(stdin !== undefined ? { stdin } : {}),
        ...(opts.namespace ? { defaultNamespace: opts.namespace } : {}),
      });
      for (const w of result.warnings) process.stderr.write(`Warning: ${formatLoadError(w)}\n`);
      if (result.errors.length > 0) {
        throw new CliError(result.errors.map(formatLoadError).join('\n'), 1);
      }
      const n = result.documents.length;
      process.stdout.write(`${n} document${n === 1 ? '' : 's'} valid\n`);
    });
}
