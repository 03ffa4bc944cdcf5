// `outpost apply` and `validate` reject input a parser should never see: invalid UTF-8 and
// too-deep nesting, each reported once with file:line:column, before anything is sent.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runOutpost } from '../../helpers/mesh.js';

test('apply and validate: invalid UTF-8 and 100,000-deep nesting are one line each with file:line:column', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-input-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const utf = join(dir, 'latin1.yaml');
  writeFileSync(
    utf,
    Buffer.concat([Buffer.from('apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  k: caf'), Buffer.from([0xe9]), Buffer.from('\n')]),
  );
  const deep = join(dir, 'deep.json');
  writeFileSync(deep, `{"apiVersion": "v1", "kind": "ConfigMap",\n "metadata": {"name": "z"}, "data": ${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}}`);
  for (const verb of ['apply', 'validate']) {
    const r = await runOutpost([verb, '-f', utf, '-f', deep, '--state-dir', join(dir, 'state')]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 2, r.stderr);
    assert.equal(lines[0], `${utf}:6:9: invalid UTF-8: byte 0xe9 at byte offset 65 (YAML and JSON must be UTF-8)`);
    // The thousandth level of `{"a":` starts near column 36 + 5 × 1000 (the YAML scan is exact to a level or two).
    const m = /^(.*):2:(\d+): nested deeper than 1000 levels$/.exec(lines[1]!);
    assert.ok(m && m[1] === deep && Math.abs(Number(m[2]) - (36 + 5 * 1000)) <= 15, lines[1]);
  }
  // The same bytes on stdin.
  const piped = await runOutpost(['apply', '-f', '-', '--state-dir', join(dir, 'state')], { input: 'a: \xff' });
  assert.equal(piped.code, 1);
});
