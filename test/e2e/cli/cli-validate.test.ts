// `outpost validate` and `outpost analyze` as a user runs them: exit codes and printed lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = 'bin/outpost';
function outpost(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', input });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('validate: the seed directory is clean (exit 0)', () => {
  const r = outpost(['validate', '-f', 'test/fixtures/seed']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^\d+ documents valid\n$/);
});

test('validate: every error printed with file:line:column, exit 1', () => {
  const r = outpost(['validate', '-f', 'test/fixtures/api/unfilled']);
  assert.equal(r.code, 1);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 9, r.stderr);
  assert.equal(
    lines[0],
    'test/fixtures/api/unfilled/http-gtw.yaml:5:14: Gateway <gateway_namespace>/egress-gw: unfilled placeholder <gateway_namespace>: replace it with a real value',
  );
});

test('validate -f - reads stdin', () => {
  const bad =
    'apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: egress-se\n  namespace: curl\nspec:\n  hosts:\n  - docs.redhat.com\n  resolution: DNZ\n';
  const r = outpost(['validate', '-f', '-'], bad);
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr,
    '<stdin>:9:15: ServiceEntry curl/egress-se: spec.resolution: unsupported value "DNZ": supported values: "NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS"\n',
  );
});

test('analyze: the seed Istio-API setup is clean; a missing gateway is an IST0101 error (exit 1) in the namespace analyzed', () => {
  const files = ['http-se.yaml', 'http-gtw.yaml', 'http-vs.yaml', 'egressgw.yaml'].flatMap((f) => ['-f', `test/fixtures/seed/${f}`]);
  const ok = outpost(['analyze', '-A', ...files]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, '');
  assert.equal(
    ok.stderr,
    `\u2714 No validation issues found when analyzing:\n${files
      .filter((f) => f !== '-f')
      .map((f) => `  - ${f}\n`)
      .join('')}`,
  );
  const badFiles = ['-f', 'test/fixtures/seed/http-se.yaml', '-f', 'test/fixtures/seed/http-vs.yaml', '-f', 'test/fixtures/seed/egressgw.yaml'];
  const bad = outpost(['analyze', '-n', 'curl', ...badFiles]);
  assert.equal(bad.code, 1);
  assert.ok(
    bad.stdout.includes('Error [IST0101] (VirtualService curl/egress-vs test/fixtures/seed/http-vs.yaml:9) Referenced gateway not found: "gw-ns/egress-gw"\n'),
    bad.stdout,
  );
  // As istioctl: without -n or -A only namespace default is reported (outpost says what it left out).
  const elsewhere = outpost(['analyze', ...badFiles]);
  assert.equal(elsewhere.code, 0);
  assert.equal(elsewhere.stdout, '');
  assert.match(elsewhere.stderr, /^Note: 3 more findings in other namespaces \(curl\); use -A \(--all-namespaces\) to show them\.$/m);
  const json = outpost(['analyze', '-A', '-o', 'json', '-f', 'test/fixtures/seed/http-vs.yaml']);
  assert.equal(json.code, 1);
  const parsed = JSON.parse(json.stdout) as Array<{ code: string; level: string }>;
  assert.ok(parsed.length > 0 && parsed.filter((f) => f.level === 'Error').every((f) => f.code === 'IST0101'));
  assert.deepEqual([...new Set(parsed.map((f) => f.code))].sort(), ['IST0101', 'IST0132']);
});

test('analyze without -f: a clear error when the mesh is not running', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-analyze-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const r = outpost(['analyze', '--state-dir', dir]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, `outpost: the mesh is not running (state dir ${dir}). Start it with \`outpost up -d\`, or analyze files with -f.\n`);
});

test('analyze --use-kube=false without files, or with a value that is no boolean: one clear line, exit 1', () => {
  const none = outpost(['analyze', '--use-kube=false']);
  assert.equal(none.code, 1);
  assert.equal(none.stderr, 'outpost analyze: --use-kube=false analyzes files only: name them with -f\n');
  const typo = outpost(['analyze', '--use-kube=nope', '-f', 'test/fixtures/seed/http-se.yaml']);
  assert.equal(typo.code, 1);
  assert.equal(typo.stderr, 'outpost analyze: invalid value "nope" for --use-kube: use true or false\n');
  const alone = outpost(['analyze', '-k=false', '-n', 'curl', '-f', 'test/fixtures/seed/http-se.yaml']);
  assert.equal(alone.code, 0, alone.stderr);
  assert.equal(alone.stderr, '\u2714 No validation issues found when analyzing test/fixtures/seed/http-se.yaml.\n');
  // Paths without -f, as istioctl analyze takes them.
  const positional = outpost(['analyze', '--use-kube=false', '-n', 'curl', 'test/fixtures/seed/http-vs.yaml']);
  assert.equal(positional.code, 1);
  assert.match(
    positional.stdout,
    /^Error \[IST0101\] \(VirtualService curl\/egress-vs test\/fixtures\/seed\/http-vs.yaml:9\) Referenced gateway not found: "gw-ns\/egress-gw"$/m,
  );
});
