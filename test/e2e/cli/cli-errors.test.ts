// What the user sees when something is wrong: invalid YAML with positions and nothing applied,
// a missing namespace, kubectl's words for labels and missing objects.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startTestMesh } from '../../helpers/mesh.js';

test('apply, get, label and create explain what is wrong and change nothing', async (t) => {
  const mesh = await startTestMesh(t);
  const dir = mkdtempSync(join(tmpdir(), 'outpost-yaml-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));

  // One good document and one bad: the error names file:line and nothing is applied.
  const bad = join(dir, 'bad.yaml');
  writeFileSync(
    bad,
    `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: good-se
  namespace: default
spec:
  hosts: [example.com]
  ports:
  - {number: 80, name: http, protocol: HTTP}
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: bad-se
  namespace: default
spec:
  hosts: [example.org]
  ports:
  - {number: 80, name: http, protocol: HTTP}
  resolution: SOMETIMES
`,
  );
  const r = await mesh.outpost(['apply', '-f', bad]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /bad\.yaml:21/);
  assert.match(r.stderr, /resolution/);
  const none = await mesh.outpost(['get', 'serviceentries']);
  assert.equal(none.stdout, '');
  assert.match(none.stderr, /No resources found in default namespace\./);

  // A namespace that does not exist.
  const se = join(dir, 'se.yaml');
  writeFileSync(
    se,
    'apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: se\nspec:\n  hosts: [example.com]\n  ports:\n  - {number: 80, name: http, protocol: HTTP}\n  resolution: DNS\n',
  );
  const nons = await mesh.outpost(['apply', '-n', 'nope', '-f', se]);
  assert.equal(nons.code, 1);
  assert.match(nons.stderr, /namespaces "nope" not found/);

  // Applying twice: created, then unchanged.
  assert.equal((await mesh.ok(['apply', '-f', se])).stdout, 'serviceentry.networking.istio.io/se created\n');
  assert.equal((await mesh.ok(['apply', '-f', se])).stdout, 'serviceentry.networking.istio.io/se unchanged\n');
  const table = (await mesh.ok(['get', 'se'])).stdout.split('\n');
  assert.deepEqual(table[0]!.split(/\s{2,}/), ['NAME', 'HOSTS', 'LOCATION', 'RESOLUTION', 'AGE']);
  assert.match(table[1]!, /^se\s+\["example\.com"\]\s+DNS\s+\d+s$/);

  // Labels: kubectl's words, and --overwrite.
  await mesh.ok(['create', 'namespace', 'curl']);
  const again = await mesh.outpost(['create', 'namespace', 'curl']);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /AlreadyExists/);
  assert.equal((await mesh.ok(['label', 'namespace', 'curl', 'istio-injection=enabled'])).stdout, 'namespace/curl labeled\n');
  const clash = await mesh.outpost(['label', 'namespace', 'curl', 'istio-injection=disabled']);
  assert.equal(clash.code, 1);
  assert.match(clash.stderr, /'istio-injection' already has a value \(enabled\), and --overwrite is false/);
  assert.equal((await mesh.ok(['label', 'namespace', 'curl', 'istio-injection=disabled', '--overwrite'])).stdout, 'namespace/curl labeled\n');

  const missing = await mesh.outpost(['get', 'virtualservice', 'nothing']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /Error from server \(NotFound\): virtualservices\.networking\.istio\.io "nothing" not found/);
  const noNs = await mesh.outpost(['exec', '-n', 'nowhere', '--', 'true']);
  assert.equal(noNs.code, 1);
  assert.match(noNs.stderr, /namespaces "nowhere" not found/);
});
