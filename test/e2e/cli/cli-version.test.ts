// `outpost version`: bin/outpost answers the bare command line without loading the parser (start-up);
// every other way of asking goes through the verb, and both print the same line.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runOutpost } from '../../helpers/mesh.js';

test('version: the fast path and the verb print the same line; options still reach the parser', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-version-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  const line = `outpost ${pkg.version} (node ${process.version})\n`;

  const fast = await runOutpost(['version']);
  assert.deepEqual([fast.code, fast.stdout, fast.stderr], [0, line, '']);
  // A global option before the verb: commander parses it, then the verb prints.
  const parsed = await runOutpost(['--state-dir', join(dir, 'state'), 'version']);
  assert.deepEqual([parsed.code, parsed.stdout, parsed.stderr], [0, line, '']);
  // Anything after the verb is the parser's to judge, as before.
  const help = await runOutpost(['version', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: outpost version \[options\]/);
  const extra = await runOutpost(['version', 'extra']);
  assert.equal(extra.code, 1);
  assert.match(extra.stderr, /too many arguments for 'version'/);
});
