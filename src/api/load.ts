// Reading resources from files, directories and stdin: multi-document YAML and JSON (and List
// kinds), with every field's position kept so each error says file:line:column.
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Node as YamlNode } from 'yaml';
import type { KubeObject } from './object.js';
import { groupOf, describeObject } from './object.js';
import { kindFor } from './kinds.js';
import { parsePath, type PathSegment } from './field-path.js';
import { validateObject } from './validate.js';
import { findInvalidUtf8, findYamlTooDeep, formatBytes, MAX_INPUT_BYTES, MAX_NESTING_DEPTH } from './input-limits.js';

export interface SourcePosition {
  file: string;
  line: number;
  column: number;
}

export interface SourceDocument {
  object: KubeObject;
  /** The file as the user named it ('<stdin>' for `-`). */
  file: string;
  /** Index of the document in its file (List items count one each). */
  index: number;
  /**
   * Best position for a field path ('spec.ports[0].number'): its value ('value', the default) or its
   * key ('key', the line a field starts on, as istioctl reports); falls back to the nearest ancestor,
   * then the document start.
   */
  position(path: string, at?: 'value' | 'key'): SourcePosition;
}

export interface LoadError {
  file: string;
  line: number;
  column: number;
  message: string;
  kind?: string;
  namespace?: string;
  name?: string;
  path?: string;
}

export interface LoadResult {
  /** Documents of files that loaded without errors (a file with any error contributes nothing). */
  documents: SourceDocument[];
  errors: LoadError[];
  /** Problems that do not reject a document (e.g. a namespace on a cluster-scoped kind). */
  warnings: LoadError[];
}

export const STDIN_NAME = '<stdin>';

const EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/** `http-se.yaml:12:17: ServiceEntry curl/egress-se: spec.resolution: unsupported value "DNZ": …` */
export function formatLoadError(e: LoadError): string {
  const where = e.line > 0 ? `${e.file}:${e.line}:${e.column}` : e.file;
  const what = e.kind && e.name ? `${describeObject(e.kind, e.namespace, e.name)}: ` : e.kind ? `${e.kind}: ` : '';
  const field = e.path ? `${e.path}: ` : '';
  return `${where}: ${what}${field}${e.message}`;
}

/** allowDuplicates: the same object in several documents is not an error (delete -f names objects, it does not define them). */
export async function loadSources(inputs: {
  paths: string[];
  stdin?: string | Buffer;
  defaultNamespace?: string;
  allowDuplicates?: boolean;
}): Promise<LoadResult> {
  const result: LoadResult = { documents: [], errors: [], warnings: [] };
  const texts: Array<{ file: string; text: string }> = [];
  let stdinUsed = false;
  for (const p of inputs.paths) {
    if (p === '-') {
      if (inputs.stdin === undefined) result.errors.push({ file: STDIN_NAME, line: 0, column: 0, message: 'no input on stdin' });
      else if (!stdinUsed) addInput(STDIN_NAME, inputs.stdin, texts, result.errors);
      stdinUsed = true;
      continue;
    }
    await collect(p, texts, result.errors, true);
  }
  if (inputs.stdin !== undefined && !stdinUsed) addInput(STDIN_NAME, inputs.stdin, texts, result.errors);

  const seen = new Map<string, SourcePosition>();
  for (const { file, text } of texts) {
    const fileErrors: LoadError[] = [];
    const docs = parseText(file, text, fileErrors, result.warnings, inputs.defaultNamespace);
    for (const d of docs) {
      const o = d.object;
      const info = kindFor(o.apiVersion, o.kind);
      const ns = info?.namespaced ? o.metadata.namespace || inputs.defaultNamespace || 'default' : undefined;
      const key = `${groupOf(o.apiVersion)}/${o.kind}/${ns ?? ''}/${o.metadata.name}`;
      const prev = seen.get(key);
      const pos = d.position('metadata.name');
      if (prev && !inputs.allowDuplicates) {
        fileErrors.push({
          ...pos,
          kind: o.kind,
          ...(ns ? { namespace: ns } : {}),
          name: o.metadata.name,
          message: `duplicate resource: also defined at ${prev.file}:${prev.line}:${prev.column}`,
        });
      } else {
        seen.set(key, pos);
      }
    }
    if (fileErrors.length > 0) result.errors.push(...fileErrors);
    else result.documents.push(...docs);
  }
  return result;
}

async function collect(p: string, out: Array<{ file: string; text: string }>, errors: LoadError[], explicit: boolean): Promise<void> {
  let st;
  try {
    st = await stat(p);
  } catch (err) {
    errors.push({
      file: p,
      line: 0,
      column: 0,
      message: (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : `cannot read: ${(err as Error).message}`,
    });
    return;
  }
  if (st.isDirectory()) {
    const entries = (await readdir(p, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const child = path.join(p, e.name);
      if (e.isDirectory()) await collect(child, out, errors, false);
      else if (EXTENSIONS.has(path.extname(e.name).toLowerCase())) await collect(child, out, errors, false);
    }
    return;
  }
  if (!explicit && !EXTENSIONS.has(path.extname(p).toLowerCase())) return;
  if (st.size > MAX_INPUT_BYTES) {
    errors.push({ file: p, line: 0, column: 0, message: `the file is ${formatBytes(st.size)}, more than the ${formatBytes(MAX_INPUT_BYTES)} limit: split it` });
    return;
  }
  try {
    addInput(p, await readFile(p), out, errors);
  } catch (err) {
    errors.push({ file: p, line: 0, column: 0, message: `cannot read: ${(err as Error).message}` });
  }
}

/** Adds one input's text, or an error: too large, or not UTF-8 (with the first bad byte's line:column). */
function addInput(file: string, data: string | Buffer, out: Array<{ file: string; text: string }>, errors: LoadError[]): void {
  if (typeof data === 'string') {
    out.push({ file, text: data });
    return;
  }
  if (data.length > MAX_INPUT_BYTES) {
    errors.push({
      file,
      line: 0,
      column: 0,
      message: `the input is ${formatBytes(data.length)}, more than the ${formatBytes(MAX_INPUT_BYTES)} limit: split it`,
    });
    return;
  }
  const bad = findInvalidUtf8(data);
  if (bad) {
    errors.push({
      file,
      line: bad.line,
      column: bad.column,
      message: `invalid UTF-8: byte 0x${bad.byte.toString(16).padStart(2, '0')} at byte offset ${bad.offset} (YAML and JSON must be UTF-8)`,
    });
    return;
  }
  out.push({ file, text: data.toString('utf8') });
}

/** Parses one file's text into documents; errors and warnings carry positions. Exported for tests and stdin users. */
export function parseText(file: string, text: string, errors: LoadError[], warnings: LoadError[] = [], defaultNamespace?: string): SourceDocument[] {
  const lc = new LineCounter();
  const out: SourceDocument[] = [];
  let index = 0;
  const at = (offset: number): { line: number; column: number } => {
    const p = lc.linePos(offset);
    return { line: p.line, column: p.col };
  };
  // Before the parser, which recurses per level (and takes seconds to fail on 100,000 of them).
  const deep = findYamlTooDeep(text);
  if (deep) {
    errors.push({ file, line: deep.line, column: deep.column, message: `nested deeper than ${MAX_NESTING_DEPTH} levels` });
    return out;
  }
  let parsed: Document.Parsed[];
  try {
    parsed = parseAllDocuments(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false }) as Document.Parsed[];
  } catch (err) {
    errors.push({ file, line: 1, column: 1, message: `cannot parse: ${(err as Error).message}` });
    return out;
  }
  if (!Array.isArray(parsed)) parsed = [parsed as unknown as Document.Parsed];
  for (const doc of parsed) {
    const docStart = at(doc.range?.[0] ?? 0);
    if (doc.errors.length > 0) {
      for (const e of doc.errors) errors.push({ file, ...at(e.pos[0]), message: `invalid YAML: ${cleanYamlMessage(e.message)}` });
      index++;
      continue;
    }
    const contents = doc.contents as YamlNode | null;
    if (contents === null || (isScalar(contents) && (contents.value === null || contents.value === ''))) continue; // empty document
    const placeholders = findPlaceholders(contents, text);
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      errors.push({ file, ...docStart, message: `invalid YAML: ${(err as Error).message}` });
      index++;
      continue;
    }
    const v = value as Record<string, unknown> | null;
    const items: Array<{ obj: unknown; prefix: PathSegment[] }> =
      v &&
      typeof v === 'object' &&
      !Array.isArray(v) &&
      typeof v['kind'] === 'string' &&
      v['kind'].endsWith('List') &&
      Array.isArray(v['items']) &&
      (v['apiVersion'] === 'v1' || v['apiVersion'] === undefined)
        ? v['items'].map((obj, i) => ({ obj, prefix: ['items', i] }))
        : [{ obj: value, prefix: [] }];
    for (const { obj, prefix } of items) {
      const position = (p: string, where: 'value' | 'key' = 'value'): SourcePosition => ({
        file,
        ...positionOf(doc, [...prefix, ...parsePath(p)], at, docStart, where === 'key'),
      });
      const ident = identity(obj, defaultNamespace);
      const mine = placeholders.filter((ph) => startsWith(ph.path, prefix));
      if (mine.length > 0) {
        for (const ph of mine) {
          errors.push({ file, ...at(ph.offset), ...ident, message: `unfilled placeholder ${ph.name}: replace it with a real value` });
        }
        index++;
        continue;
      }
      const issues = validateObject(obj);
      const docErrors: LoadError[] = [];
      for (const issue of issues) {
        const segs = [...prefix, ...parsePath(issue.path)];
        const pos = positionOf(doc, segs, at, docStart, issue.reason === 'FieldValueUnknown');
        const e: LoadError = { file, ...pos, ...ident, ...(issue.path ? { path: issue.path } : {}), message: issue.message };
        (issue.severity === 'error' ? docErrors : warnings).push(e);
      }
      docErrors.sort((a, b) => a.line - b.line || a.column - b.column);
      errors.push(...docErrors);
      if (docErrors.length === 0) out.push({ object: obj as KubeObject, file, index, position });
      index++;
    }
  }
  return out;
}

function identity(obj: unknown, defaultNamespace?: string): { kind?: string; namespace?: string; name?: string } {
  if (!obj || typeof obj !== 'object') return {};
  const o = obj as Record<string, unknown>;
  const md = o['metadata'] && typeof o['metadata'] === 'object' ? (o['metadata'] as Record<string, unknown>) : {};
  const kind = typeof o['kind'] === 'string' ? o['kind'] : undefined;
  const name = typeof md['name'] === 'string' ? md['name'] : undefined;
  const info = typeof o['apiVersion'] === 'string' && kind ? kindFor(o['apiVersion'], kind) : undefined;
  const nsRaw = typeof md['namespace'] === 'string' && md['namespace'] ? md['namespace'] : defaultNamespace;
  const namespace = info && !info.namespaced ? undefined : nsRaw;
  return { ...(kind ? { kind } : {}), ...(namespace ? { namespace } : {}), ...(name ? { name } : {}) };
}

function startsWith(p: readonly PathSegment[], prefix: readonly PathSegment[]): boolean {
  return prefix.every((s, i) => p[i] === s);
}

function cleanYamlMessage(m: string): string {
  return (m.split('\n')[0] ?? m).replace(/ at line \d+, column \d+:?$/, '');
}

/**
 * The position of a field path in a YAML document: the value's start (the key's start when
 * preferKey), or the key of the deepest ancestor that exists (for missing fields).
 */
function positionOf(
  doc: Document.Parsed,
  segs: readonly PathSegment[],
  at: (o: number) => { line: number; column: number },
  fallback: { line: number; column: number },
  preferKey: boolean,
): { line: number; column: number } {
  let node: unknown = doc.contents;
  let best: { line: number; column: number } = fallback;
  if (node && (node as YamlNode).range) best = at((node as YamlNode).range![0]);
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i]!;
    if (isMap(node)) {
      const pair = node.items.find((it) => isPair(it) && isScalar(it.key) && String(it.key.value) === String(s));
      if (!pair) return best;
      const key = pair.key as YamlNode;
      const keyPos = key.range ? at(key.range[0]) : best;
      const last = i === segs.length - 1;
      const val = pair.value as YamlNode | null;
      if (last) {
        if (preferKey || !val || !val.range || (isScalar(val) && val.value === null && val.range[0] === val.range[1])) return keyPos;
        return at(val.range[0]);
      }
      best = keyPos;
      node = val;
    } else if (isSeq(node) && typeof s === 'number') {
      const item = node.items[s] as YamlNode | undefined;
      if (!item || !item.range) return best;
      best = at(item.range[0]);
      node = item;
    } else {
      return best;
    }
  }
  return best;
}

interface Placeholder {
  name: string;
  offset: number;
  path: PathSegment[];
}

const PLACEHOLDER = /<([A-Za-z][\w.-]*)>/g;

/** Every `<placeholder>` left in a scalar value of the document, with its source offset and field path. */
function findPlaceholders(root: YamlNode, text: string): Placeholder[] {
  const found: Placeholder[] = [];
  const visit = (n: unknown, p: PathSegment[]): void => {
    if (isMap(n)) {
      for (const it of n.items) {
        if (!isPair(it)) continue;
        const key = isScalar(it.key) ? String(it.key.value) : '?';
        visit(it.value, [...p, key]);
      }
    } else if (isSeq(n)) {
      n.items.forEach((it, i) => visit(it, [...p, i]));
    } else if (isScalar(n) && typeof n.value === 'string' && n.range) {
      const src = text.slice(n.range[0], n.range[1]);
      PLACEHOLDER.lastIndex = 0;
      let m: RegExpExecArray | null;
      while ((m = PLACEHOLDER.exec(src)) !== null) found.push({ name: m[0], offset: n.range[0] + m.index, path: p });
    }
  };
  visit(root, []);
  return found;
}
