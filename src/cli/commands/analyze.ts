// `outpost analyze [-f PATH...] [-o text|json|yaml]`: cross-resource checks in istioctl's words.
// Without -f it analyzes what the running mesh holds.
import type { Command } from 'commander';
import { stringify } from 'yaml';
import type { KubeObject } from '../../api/object.js';
import type { SourceDocument } from '../../api/load.js';
import { KINDS } from '../../api/kinds.js';
import { displayStateDir, readEndpoint, resolveStateDir, statePaths } from '../../runtime/state-dir.js';
import { CliError } from '../errors.js';
import { readAllStdin } from './validate.js';

export type AnalyzeOutput = 'text' | 'json' | 'yaml';

interface AnalyzeOptions { filename?: string[]; output: string; namespace?: string; allNamespaces?: boolean; stateDir?: string }

/**
 * Analyzes objects and renders the result: the text to print and the exit code (1 when any Error).
 * Shared by file analysis and mesh analysis. `namespace` is where objects without one live (and,
 * with scopeToNamespace, the only namespace reported); allNamespaces only changes the wording.
 */
export async function analyzeCommandCore(objects: ReadonlyArray<KubeObject | SourceDocument>, output: AnalyzeOutput, opts: { namespace?: string; scopeToNamespace?: boolean; allNamespaces?: boolean } = {}): Promise<{ text: string; exitCode: number }> {
  const { analyze, formatFinding, hasErrorFindings } = await import('../../analyze/index.js');
  const ns = opts.namespace ?? 'default';
  let findings = analyze(objects, ns);
  if (opts.scopeToNamespace && !opts.allNamespaces) findings = findings.filter((f) => f.resource.namespace === undefined || f.resource.namespace === ns);
  const exitCode = hasErrorFindings(findings) ? 1 : 0;
  if (output === 'json') return { text: `${JSON.stringify(findings, null, 2)}\n`, exitCode };
  if (output === 'yaml') return { text: findings.length ? stringify(findings) : '[]\n', exitCode };
  if (findings.length === 0) {
    const scope = opts.allNamespaces ? 'all namespaces' : `namespace: ${ns}`;
    return { text: `\u2714 No validation issues found when analyzing ${scope}.\n`, exitCode };
  }
  return { text: findings.map((f) => `${formatFinding(f)}\n`).join(''), exitCode };
}

export function registerAnalyze(program: Command): void {
  program
    .command('analyze')
    .description('Check resources together (references, gateway bindings, host conflicts) as istioctl analyze does')
    .option('-f, --filename <path>', 'file, directory or - (repeatable); without it, the running mesh is analyzed', (v: string, prev: string[] = []) => [...prev, v])
    .option('-o, --output <format>', 'text, json or yaml', 'text')
    .option('-n, --namespace <ns>', 'namespace for documents that name none (and to analyze in the mesh)')
    .option('-A, --all-namespaces', 'analyze every namespace of the mesh')
    .option('--state-dir <dir>', 'the mesh\'s state directory (default: $OUTPOST_STATE_DIR or ./.outpost)')
    .action(async (opts: AnalyzeOptions) => {
      const output = opts.output as AnalyzeOutput;
      if (!['text', 'json', 'yaml'].includes(output)) throw new CliError(`outpost analyze: unsupported output format "${opts.output}": supported values: "text", "json", "yaml"`, 1);
      let objects: ReadonlyArray<KubeObject | SourceDocument>;
      let failed = false;
      if (opts.filename && opts.filename.length > 0) {
        const { loadSources, formatLoadError } = await import('../../api/load.js');
        const stdin = opts.filename.includes('-') ? await readAllStdin() : undefined;
        const result = await loadSources({ paths: opts.filename, ...(stdin !== undefined ? { stdin } : {}), ...(opts.namespace ? { defaultNamespace: opts.namespace } : {}) });
        for (const e of result.errors) process.stderr.write(`${formatLoadError(e)}\n`);
        for (const w of result.warnings) process.stderr.write(`Warning: ${formatLoadError(w)}\n`);
        failed = result.errors.length > 0;
        objects = result.documents;
      } else {
        objects = await listMeshObjects(opts.stateDir);
      }
      // Files: everything in them is analyzed. The mesh: one namespace unless -A.
      const fileScope = Boolean(opts.filename && opts.filename.length > 0);
      const { text, exitCode } = await analyzeCommandCore(objects, output, {
        ...(opts.namespace ? { namespace: opts.namespace } : {}),
        scopeToNamespace: !fileScope,
        allNamespaces: Boolean(opts.allNamespaces),
      });
      process.stdout.write(text);
      process.exitCode = failed || exitCode !== 0 ? 1 : 0;
    });
}

/** Every object of every kind outpost serves, read from the running mesh's Kubernetes API. */
async function listMeshObjects(stateDirFlag?: string): Promise<KubeObject[]> {
  const paths = statePaths(resolveStateDir(stateDirFlag));
  const endpoint = readEndpoint(paths);
  if (!endpoint) throw new CliError(`outpost: the mesh is not running (state dir ${displayStateDir(stateDirFlag)}). Start it with \`outpost up -d\`, or analyze files with -f.`, 1);
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
    for (const item of list.items ?? []) objects.push({ ...item, apiVersion: item.apiVersion ?? (k.group ? `${k.group}/${version}` : version), kind: item.kind ?? k.kind });
  }
  return objects;
}
