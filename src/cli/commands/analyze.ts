// `outpost analyze [PATH...] [-f PATH...] [--use-kube=false] [-n NS | -A] [-o text|json|yaml]`: cross-resource
// checks in istioctl's words, on the running mesh with any files laid over it, or on files alone.
import type { Command } from 'commander';
import { stringify } from 'yaml';
import type { KubeObject } from '../../api/object.js';
import type { SourceDocument } from '../../api/load.js';
import { KINDS } from '../../api/kinds.js';
import { displayStateDir, readEndpoint, resolveStateDir, statePaths } from '../../runtime/state-dir.js';
import { CliError } from '../errors.js';
import { readAllStdin } from './validate.js';

export type AnalyzeOutput = 'text' | 'json' | 'yaml';

interface AnalyzeOptions {
  filename?: string[];
  output: string;
  namespace?: string;
  allNamespaces?: boolean;
  useKube: boolean;
  stateDir?: string;
}

export interface AnalyzeRendering {
  /** The findings in the chosen format (stdout). */
  text: string;
  /** istioctl's success line and the other-namespaces hint (stderr). */
  notes: string;
  /** 1 when a shown finding is an Error. */
  exitCode: number;
}

/**
 * Analyzes objects and renders the result. `namespace` is where objects without one live and, unless
 * allNamespaces, the only namespace whose findings are shown (istioctl's filter); `files` names the
 * analyzed files for the success line.
 */
export async function analyzeCommandCore(
  objects: ReadonlyArray<KubeObject | SourceDocument>,
  output: AnalyzeOutput,
  opts: { namespace?: string; allNamespaces?: boolean; files?: readonly string[] } = {},
): Promise<AnalyzeRendering> {
  const { analyze, formatFinding, hasErrorFindings, scopeFindings } = await import('../../analyze/index.js');
  const ns = opts.namespace ?? 'default';
  const all = analyze(objects, ns);
  const { shown, elsewhere } = opts.allNamespaces ? { shown: all, elsewhere: new Map<string, number>() } : scopeFindings(all, ns);
  const exitCode = hasErrorFindings(shown) ? 1 : 0;
  let notes = '';
  if (shown.length === 0) {
    const files = opts.files ?? [];
    notes +=
      files.length > 1
        ? `\u2714 No validation issues found when analyzing:\n${files.map((f) => `  - ${f}\n`).join('')}`
        : `\u2714 No validation issues found when analyzing ${files.length === 1 ? files[0] : opts.allNamespaces ? 'all namespaces' : `namespace: ${ns}`}.\n`;
  }
  if (elsewhere.size > 0) {
    const count = [...elsewhere.values()].reduce((a, b) => a + b, 0);
    notes += `Note: ${count} more finding${count === 1 ? '' : 's'} in other namespaces (${[...elsewhere.keys()].join(', ')}); use -A (--all-namespaces) to show them.\n`;
  }
  const text =
    output === 'json'
      ? `${JSON.stringify(shown, null, 2)}\n`
      : output === 'yaml'
        ? shown.length
          ? stringify(shown)
          : '[]\n'
        : shown.map((f) => `${formatFinding(f)}\n`).join('');
  return { text, notes, exitCode };
}

/** `--use-kube`, `--use-kube=true`, `--use-kube=false`, `-k=false` (istioctl's boolean flag). */
function parseBool(flag: string): (v: string) => boolean {
  return (raw: string) => {
    const v = raw.replace(/^=/, '');
    if (/^(true|1|t)$/i.test(v)) return true;
    if (/^(false|0|f)$/i.test(v)) return false;
    throw new CliError(`outpost analyze: invalid value "${v}" for ${flag}: use true or false`, 1);
  };
}

export function registerAnalyze(program: Command): void {
  program
    .command('analyze')
    .argument('[paths...]', 'files or directories, as -f names them (istioctl analyze a.yaml b.yaml)')
    .description('Check resources together (references, gateway bindings, host conflicts) as istioctl analyze does')
    .option(
      '-f, --filename <path>',
      "file, directory or - (repeatable); analyzed together with the running mesh's resources, which they override",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option('-k, --use-kube [bool]', "include the running mesh's resources; --use-kube=false analyzes the files alone", parseBool('--use-kube'), true)
    .option('-o, --output <format>', 'text, json or yaml', 'text')
    .option('-n, --namespace <ns>', 'namespace to report on (default "default"), and for documents that name none')
    .option('-A, --all-namespaces', 'report on every namespace')
    .option('--state-dir <dir>', "the mesh's state directory (default: $OUTPOST_STATE_DIR or ./.outpost)")
    .action(async (paths: string[], opts: AnalyzeOptions) => {
      const output = opts.output as AnalyzeOutput;
      if (!['text', 'json', 'yaml'].includes(output))
        throw new CliError(`outpost analyze: unsupported output format "${opts.output}": supported values: "text", "json", "yaml"`, 1);
      const files = [...(opts.filename ?? []), ...paths];
      if (!opts.useKube && files.length === 0) throw new CliError('outpost analyze: --use-kube=false analyzes files only: name them with -f', 1);
      const ns = opts.namespace ?? 'default';
      let documents: SourceDocument[] = [];
      let failed = false;
      if (files.length > 0) {
        const { loadSources, formatLoadError } = await import('../../api/load.js');
        const stdin = files.includes('-') ? await readAllStdin() : undefined;
        const result = await loadSources({ paths: files, ...(stdin !== undefined ? { stdin } : {}), defaultNamespace: ns });
        for (const e of result.errors) process.stderr.write(`${formatLoadError(e)}\n`);
        for (const w of result.warnings) process.stderr.write(`Warning: ${formatLoadError(w)}\n`);
        failed = result.errors.length > 0;
        documents = result.documents;
      }
      let objects: ReadonlyArray<KubeObject | SourceDocument> = documents;
      if (opts.useKube) {
        // With files and no mesh running, the files are all there is to analyze.
        const live = await listMeshObjects(opts.stateDir, files.length === 0);
        if (live) {
          const { overlayFiles } = await import('../../analyze/sources.js');
          objects = overlayFiles(live, documents, ns);
        }
      }
      const { text, notes, exitCode } = await analyzeCommandCore(objects, output, {
        namespace: ns,
        allNamespaces: Boolean(opts.allNamespaces),
        files: files.map((f) => (f === '-' ? '<stdin>' : f)),
      });
      process.stdout.write(text);
      process.stderr.write(notes);
      process.exitCode = failed || exitCode !== 0 ? 1 : 0;
    });
}

/** Every object of every kind outpost serves, read from the running mesh's Kubernetes API; undefined when no mesh runs and one is optional. */
async function listMeshObjects(stateDirFlag: string | undefined, required: boolean): Promise<KubeObject[] | undefined> {
  const paths = statePaths(resolveStateDir(stateDirFlag));
  const endpoint = readEndpoint(paths);
  if (!endpoint) {
    if (!required) return undefined;
    throw new CliError(
      `outpost: the mesh is not running (state dir ${displayStateDir(stateDirFlag)}). Start it with \`outpost up -d\`, or analyze files with -f.`,
      1,
    );
  }
  const objects: KubeObject[] = [];
  for (const k of KINDS) {
    const version = k.versions[0]!;
    const url = `${endpoint.url.replace(/\/$/, '')}${k.group ? `/apis/${k.group}/${version}` : `/api/${version}`}/${k.plural}`;
    let res: Response;
    try {
      res = await fetch(url, { headers: { authorization: `Bearer ${endpoint.token}`, accept: 'application/json' } });
    } catch (err) {
      throw new CliError(`outpost: cannot reach the mesh's API at ${endpoint.url}: ${(err as Error).message}`, 1);
    }
    if (res.status === 404) continue;
    if (!res.ok) throw new CliError(`outpost: listing ${k.plural} failed: HTTP ${res.status}`, 1);
    const list = (await res.json()) as { items?: KubeObject[] };
    for (const item of list.items ?? [])
      objects.push({ ...item, apiVersion: item.apiVersion ?? (k.group ? `${k.group}/${version}` : version), kind: item.kind ?? k.kind });
  }
  return objects;
}
