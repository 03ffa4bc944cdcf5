// `outpost apply -f PATH [-n NS]`: validate every document first (nothing is applied when one
// is wrong), then apply them all in one transaction and say what happened to each.
import type { Command } from 'commander';
import { formatBytes, MAX_INPUT_BYTES } from '../../api/input-limits.js';
import { formatLoadError, loadSources } from '../../api/load.js';
import { kindFor } from '../../api/kinds.js';
import type { KubeObject } from '../../api/object.js';
import { connect, withStateDir } from '../connect.js';
import { CliError } from '../errors.js';
import { apiErrorMessage, getOptional, objectName } from '../kube.js';
import { readAllStdin } from './validate.js';

interface ApplyOptions {
  filename: string[];
  namespace?: string;
  stateDir?: string;
}

/** Loads the files, reporting every error with its position; sets namespaces as kubectl does. */
export async function loadForApply(
  files: string[],
  namespace: string | undefined,
  opts: { allowDuplicates?: boolean } = {},
): Promise<{ objects: KubeObject[]; sources: string[] }> {
  const usesStdin = files.includes('-');
  const stdin = usesStdin ? await readAllStdin() : undefined;
  const loaded = await loadSources({
    paths: files.filter((f) => f !== '-'),
    ...(stdin !== undefined ? { stdin } : {}),
    ...(opts.allowDuplicates ? { allowDuplicates: true } : {}),
  });
  for (const w of loaded.warnings) process.stderr.write(`Warning: ${formatLoadError(w)}\n`);
  if (loaded.errors.length > 0) {
    throw new CliError(loaded.errors.map((e) => formatLoadError(e)).join('\n'));
  }
  const objects: KubeObject[] = [];
  const sources: string[] = [];
  const problems: string[] = [];
  for (const doc of loaded.documents) {
    const obj = structuredClone(doc.object);
    const info = kindFor(obj.apiVersion, obj.kind);
    if (info?.namespaced) {
      const own = obj.metadata.namespace;
      if (own && namespace && own !== namespace) {
        problems.push(
          `error: the namespace from the provided object "${own}" does not match the namespace "${namespace}". You must pass '--namespace=${own}' to perform this operation.`,
        );
        continue;
      }
      obj.metadata.namespace = own ?? namespace ?? 'default';
    }
    objects.push(obj);
    sources.push(doc.file);
  }
  if (problems.length > 0) throw new CliError(problems.join('\n'));
  if (objects.length === 0) throw new CliError('error: no objects passed to apply');
  return { objects, sources };
}

export function registerApply(program: Command): void {
  withStateDir(
    program
      .command('apply')
      .description('Create or update resources from files (all or nothing)')
      .requiredOption('-f, --filename <path>', 'a YAML file, a directory, or - for stdin (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
      .option('-n, --namespace <ns>', 'namespace for namespaced resources that name none'),
  ).action(async (opts: ApplyOptions) => {
    const { objects, sources } = await loadForApply(opts.filename, opts.namespace);
    const mesh = await connect(opts.stateDir);
    // A namespace must exist (or come in the same apply), as the Kubernetes API requires.
    const creating = new Set(objects.filter((o) => o.kind === 'Namespace' && o.apiVersion === 'v1').map((o) => o.metadata.name));
    const missing: string[] = [];
    const checked = new Map<string, boolean>();
    for (const [i, o] of objects.entries()) {
      const ns = o.metadata.namespace;
      if (!ns || creating.has(ns)) continue;
      if (!checked.has(ns)) checked.set(ns, Boolean(await getOptional(mesh.api, { group: '', kind: 'Namespace', name: ns })));
      if (!checked.get(ns)) missing.push(`Error from server (NotFound): error when creating "${sources[i]}": namespaces "${ns}" not found`);
    }
    if (missing.length > 0) throw new CliError(missing.join('\n'));
    // The API takes one request of at most MAX_INPUT_BYTES; say so before sending, not after.
    const size = Buffer.byteLength(JSON.stringify({ items: objects, fieldManager: 'outpost' }));
    if (size > MAX_INPUT_BYTES) {
      throw new CliError(
        `error: these ${objects.length} objects are ${formatBytes(size)} as JSON, more than the API takes in one apply (${formatBytes(MAX_INPUT_BYTES)}): apply the files in smaller groups`,
      );
    }
    let results;
    try {
      results = await mesh.api.apply(objects);
    } catch (err) {
      throw new CliError(apiErrorMessage(err), 1, { cause: err });
    }
    for (const r of results) process.stdout.write(`${objectName(r.object)} ${r.outcome}\n`);
  });
}
