// `outpost up` refuses a bad plug-in CA or certificate lifetime with one clear line, before starting anything.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { testCerts } from '../../helpers/certs.js';
import { runOutpost } from '../../helpers/mesh.js';

test('bad --ca-cert/--ca-key/--workload-cert-ttl: one line naming the flag, exit 1, no mesh', async (t) => {
  const state = mkdtempSync(join(tmpdir(), 'outpost-ca-flags-'));
  t.after(() => rmSync(state, { recursive: true, force: true }));
  const certs = testCerts();
  const cases: [string[], RegExp][] = [
    [['--ca-cert', join(state, 'missing.pem'), '--ca-key', join(certs.dir, 'ca.key')], /^outpost: --ca-cert .*missing\.pem: cannot read: ENOENT$/m],
    [['--ca-cert', join(certs.dir, 'ca.pem')], /^outpost: --ca-cert and --ca-key go together/m],
    // A leaf is not a CA.
    [
      ['--ca-cert', join(certs.dir, 'server.pem'), '--ca-key', join(certs.dir, 'server.key')],
      /^outpost: --ca-cert .*server\.pem: the first certificate .* is not a CA/m,
    ],
    [
      ['--ca-cert', join(certs.dir, 'ca.pem'), '--ca-key', join(certs.dir, 'server.key')],
      /^outpost: --ca-key .*server\.key does not match the first certificate/m,
    ],
    [['--workload-cert-ttl', '1s'], /^outpost: --workload-cert-ttl wants a duration of at least 2s/m],
    [['--workload-cert-ttl', 'soon'], /^outpost: --workload-cert-ttl wants a duration/m],
  ];
  for (const [args, want] of cases) {
    const r = await runOutpost(['up', '-d', '--state-dir', state, '--hosts-file', '/dev/null', ...args]);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, want, args.join(' '));
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.ok(!existsSync(join(state, 'api.json')), 'no mesh started');
  }
});
