// JSON Patch (RFC 6902): add, remove, replace, move, copy, test — for `kubectl patch --type=json`.
import { deepEqual } from '../store/merge-patch.js';
import { HttpError } from './status.js';

interface Operation {
  op: string;
  path: string;
  from?: string;
  value?: unknown;
}

function fail(message: string): HttpError {
  return new HttpError(422, 'Invalid', message);
}

function tokens(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw fail(`the path "${pointer}" is not a JSON pointer`);
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

type Container = Record<string, unknown> | unknown[];

function parentOf(doc: unknown, path: string): { parent: Container; key: string } {
  const t = tokens(path);
  if (t.length === 0) throw fail(`the path "${path}" names the whole document`);
  let cur: unknown = doc;
  for (const tok of t.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[Number(tok)];
    else if (cur && typeof cur === 'object') cur = (cur as Record<string, unknown>)[tok];
    else cur = undefined;
    if (cur === undefined || cur === null || typeof cur !== 'object') throw fail(`doc is missing path: "${path}": missing value`);
  }
  return { parent: cur as Container, key: t.at(-1)! };
}

function getAt(doc: unknown, path: string): unknown {
  let cur: unknown = doc;
  for (const tok of tokens(path)) {
    if (Array.isArray(cur)) cur = cur[Number(tok)];
    else if (cur && typeof cur === 'object' && Object.prototype.hasOwnProperty.call(cur, tok)) cur = (cur as Record<string, unknown>)[tok];
    else cur = undefined;
    if (cur === undefined) throw fail(`doc is missing path: "${path}": missing value`);
  }
  return cur;
}

function arrayIndex(arr: unknown[], key: string, forAdd: boolean, path: string): number {
  if (forAdd && key === '-') return arr.length;
  const i = Number(key);
  if (!/^\d+$/.test(key) || i > arr.length || (!forAdd && i === arr.length)) throw fail(`unable to access invalid index: ${key} (path "${path}")`);
  return i;
}

function add(doc: unknown, path: string, value: unknown): unknown {
  if (path === '') return value;
  const { parent, key } = parentOf(doc, path);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, true, path), 0, value);
  else parent[key] = value;
  return doc;
}

function remove(doc: unknown, path: string): unknown {
  const { parent, key } = parentOf(doc, path);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, false, path), 1);
  else {
    if (!Object.prototype.hasOwnProperty.call(parent, key)) throw fail(`unable to remove nonexistent key: ${key}: missing value`);
    delete parent[key];
  }
  return doc;
}

/** Applies the operations to a copy of doc. Throws 422 naming the failing operation. */
export function applyJsonPatch(doc: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new HttpError(400, 'BadRequest', 'a JSON patch must be an array of operations');
  let out = structuredClone(doc);
  for (const raw of ops as Operation[]) {
    if (!raw || typeof raw.op !== 'string' || typeof raw.path !== 'string')
      throw new HttpError(400, 'BadRequest', `invalid JSON patch operation: ${JSON.stringify(raw)}`);
    switch (raw.op) {
      case 'add':
        out = add(out, raw.path, structuredClone(raw.value));
        break;
      case 'remove':
        out = remove(out, raw.path);
        break;
      case 'replace':
        getAt(out, raw.path);
        out = add(remove(out, raw.path), raw.path, structuredClone(raw.value));
        break;
      case 'move': {
        const v = getAt(out, raw.from ?? '');
        out = add(remove(out, raw.from ?? ''), raw.path, v);
        break;
      }
      case 'copy':
        out = add(out, raw.path, structuredClone(getAt(out, raw.from ?? '')));
        break;
      case 'test':
        if (!deepEqual(getAt(out, raw.path), raw.value)) throw fail(`testing value ${raw.path} failed: test failed`);
        break;
      default:
        throw new HttpError(400, 'BadRequest', `unexpected JSON patch operation "${raw.op}"`);
    }
  }
  return out;
}
