// Input limits found before a parser runs: nesting depth of JSON and YAML (where, without
// recursion), invalid UTF-8 (which byte, line:column), and files larger than the limit.
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { findInvalidUtf8, findJsonTooDeep, findYamlTooDeep, MAX_INPUT_BYTES, MAX_NESTING_DEPTH } from '../../../src/api/input-limits.js';
import { loadSources } from '../../../src/api/load.js';

const nested = (n: number): string => '{"a":'.repeat(n) + '1' + '}'.repeat(n);

test('JSON depth: the first too-deep node by line, column and path; real documents pass', () => {
  assert.equal(findJsonTooDeep(nested(MAX_NESTING_DEPTH)), undefined);
  const deep = findJsonTooDeep(nested(100_000));
  assert.deepEqual({ line: deep?.line, column: deep?.column }, { line: 1, column: 5 * MAX_NESTING_DEPTH + 1 });
  assert.match(deep!.path!, /^\$\.a\.a\.a\.a\.a\.a…\(990 more\)…\.a\.a\.a\.a$/);
  const inList = findJsonTooDeep(`{"items": [{"x": 1},\n {"spec": {"odd key": ${'['.repeat(MAX_NESTING_DEPTH)}${']'.repeat(MAX_NESTING_DEPTH)}}}]}`);
  assert.equal(inList?.line, 2);
  assert.match(inList!.path!, /^\$\.items\[1\]\.spec\["odd key"\]\[0\]/);
  // Brackets inside strings are text.
  assert.equal(findJsonTooDeep(JSON.stringify({ s: '['.repeat(5000), t: '\\"{'.repeat(5000) })), undefined);
});

test('YAML depth: flow, block and dash chains; comments, quotes and block scalars are text', () => {
  const flow = findYamlTooDeep(`kind: X\nspec:\n  a: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`);
  assert.equal(flow?.line, 3);
  assert.ok(flow!.column > 900 && flow!.column < 1010, `column ${flow!.column}`);
  assert.equal(findYamlTooDeep('- '.repeat(20_000) + 'x')?.line, 1);
  let block = '';
  for (let i = 0; i < 1200; i++) block += `${' '.repeat(i)}k:\n`;
  const b = findYamlTooDeep(block);
  assert.ok(b && b.line > 990 && b.line < 1010, `line ${b?.line}`);
  const text = `a: |\n${'  [[[[\n'.repeat(1000)}b: "[[[[ ${'['.repeat(2000)}"\nc: '${'{'.repeat(2000)}'\nd: [1, {e: 2}] # ${'['.repeat(2000)}\n`;
  assert.equal(findYamlTooDeep(text), undefined);
});

test('UTF-8: the first invalid byte with its line:column; valid multi-byte text passes', () => {
  assert.equal(findInvalidUtf8(Buffer.from('héllo\nwörld ✓ 😀\n')), undefined);
  assert.deepEqual(findInvalidUtf8(Buffer.from('abc\nde\xff', 'latin1')), { offset: 6, line: 2, column: 3, byte: 0xff });
  // A truncated sequence, an overlong encoding and a surrogate are all invalid.
  assert.equal(findInvalidUtf8(Buffer.from([0x61, 0xe2, 0x82]))?.offset, 1);
  assert.equal(findInvalidUtf8(Buffer.from([0xc0, 0xaf]))?.byte, 0xc0);
  assert.equal(findInvalidUtf8(Buffer.from([0xed, 0xa0, 0x80]))?.byte, 0xed);
});

test('loadSources: invalid UTF-8, too-deep YAML or JSON and too-large files are errors with file:line:column', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-limits-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const bad = join(dir, 'bad.yaml');
  writeFileSync(
    bad,
    Buffer.concat([Buffer.from('apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  k: caf'), Buffer.from([0xe9]), Buffer.from('\n')]),
  );
  const deepYaml = join(dir, 'deep.yaml');
  writeFileSync(deepYaml, `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\n  annotations: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`);
  const deepJson = join(dir, 'deep.json');
  writeFileSync(deepJson, `{"apiVersion": "v1", "kind": "ConfigMap",\n "metadata": {"name": "z"}, "data": ${nested(100_000)}}`);
  const big = join(dir, 'big.yaml');
  const fd = openSync(big, 'w');
  ftruncateSync(fd, MAX_INPUT_BYTES + 1);
  closeSync(fd);
  const r = await loadSources({ paths: [bad, deepYaml, deepJson, big] });
  assert.equal(r.documents.length, 0);
  const byFile = new Map(r.errors.map((e) => [e.file, e]));
  assert.deepEqual(
    { ...byFile.get(bad) },
    { file: bad, line: 6, column: 9, message: 'invalid UTF-8: byte 0xe9 at byte offset 65 (YAML and JSON must be UTF-8)' },
  );
  assert.equal(byFile.get(deepYaml)?.line, 5);
  assert.match(byFile.get(deepYaml)!.message, /^nested deeper than 1000 levels$/);
  assert.equal(byFile.get(deepJson)?.line, 2);
  assert.match(byFile.get(big)!.message, /^the file is 32\.0 MiB, more than the 32 MiB limit: split it$/);
  // stdin bytes are checked the same way.
  const fromStdin = await loadSources({ paths: ['-'], stdin: Buffer.from([0x6b, 0x3a, 0x20, 0xff]) });
  assert.match(fromStdin.errors[0]!.message, /invalid UTF-8: byte 0xff at byte offset 3/);
  assert.equal(fromStdin.errors[0]!.file, '<stdin>');
});
