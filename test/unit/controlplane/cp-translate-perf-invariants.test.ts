// What the translation's speed-ups must not change: the version is sha256 of JSON.stringify(config), shared
// clusters are frozen and equal to freshly built ones, and the snapshot copy equals its input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { KubeObject } from '../../../src/api/object.js';
import type { ProxyIdentity } from '../../../src/proxyconfig/types.js';
import { snapshotFromObjects } from '../../../src/controlplane/snapshot.js';
import { contentVersion, translate } from '../../../src/controlplane/translate/index.js';

const jsonVersion = (v: unknown) => createHash('sha256').update(JSON.stringify(v)).digest('hex').slice(0, 16);

test('contentVersion hashes exactly JSON.stringify text, whatever the shape', () => {
  const big = Array.from({ length: 1000 }, (_, i) => ({
    name: `c${i}`,
    skip: undefined,
    n: i,
    nested: { list: Array.from({ length: i % 40 }, (_x, j) => j) },
  }));
  const values: unknown[] = [
    {},
    [],
    'x',
    1,
    null,
    true,
    { a: big, b: [big, { deep: big }], c: undefined, d: [undefined, () => 1, 2], '1': 'integer-like key first', e: 'é "quoted" \\ \u2028' },
    [big, big.slice(0, 3), { toJSON: () => 'custom' }],
    { sparse: Array.from({ length: 40 }, (_x, i) => (i % 3 ? i : undefined)) },
  ];
  for (const v of values) assert.equal(contentVersion(v), jsonVersion(v));
});

function serviceEntries(n: number): KubeObject[] {
  return Array.from({ length: n }, (_, i) => ({
    apiVersion: 'networking.istio.io/v1',
    kind: 'ServiceEntry',
    metadata: { name: `se-${i}`, namespace: `team-${i % 3}` },
    spec: {
      hosts: [`svc-${i}.example.com`],
      ports: [
        { number: 80, name: 'http', protocol: 'HTTP' },
        { number: 443, name: 'tls', protocol: 'TLS' },
      ],
      resolution: i % 2 ? 'DNS' : 'STATIC',
      endpoints: i % 2 ? undefined : [{ address: `127.0.9.${i % 250}`, labels: { v: String(i % 2) } }],
    },
  }));
}

const a: ProxyIdentity = { id: 'a-1.team-0', role: 'sidecar', namespace: 'team-0', workload: 'a', ip: '127.0.1.2', labels: { app: 'a' } };
const b: ProxyIdentity = { id: 'b-1.team-1', role: 'sidecar', namespace: 'team-1', workload: 'b', ip: '127.0.1.3', labels: { app: 'b' } };

test("a translation's version is sha256 of its JSON text; proxies of one snapshot share frozen clusters equal to fresh ones", () => {
  const objects = serviceEntries(60);
  const snap = snapshotFromObjects(objects);
  const first = translate(snap, a);
  const { version, ...rest } = first;
  assert.equal(
    version,
    jsonVersion({
      apiVersion: rest.apiVersion,
      proxy: rest.proxy,
      mesh: rest.mesh,
      listeners: rest.listeners,
      routeTables: rest.routeTables,
      clusters: rest.clusters,
    }),
  );
  const second = translate(snap, b);
  const shared = second.clusters.filter((c) => first.clusters.includes(c));
  assert.ok(shared.length >= 120, `clusters are shared across proxies (${shared.length})`);
  for (const c of shared) assert.ok(Object.isFrozen(c) && Object.isFrozen(c.endpoints));
  // Later proxies hash shared clusters from cached text: still exactly the JSON text's hash.
  for (let i = 0; i < 3; i++) {
    const again = translate(snap, b);
    assert.equal(
      again.version,
      jsonVersion({
        apiVersion: again.apiVersion,
        proxy: again.proxy,
        mesh: again.mesh,
        listeners: again.listeners,
        routeTables: again.routeTables,
        clusters: again.clusters,
      }),
    );
    assert.equal(again.version, second.version);
  }
  // Equal to what a fresh snapshot builds.
  assert.deepEqual(JSON.parse(JSON.stringify(translate(snapshotFromObjects(objects), b))), JSON.parse(JSON.stringify(second)));
});

test('the snapshot copy equals its input and leaves the input unfrozen', () => {
  const objects = serviceEntries(300);
  const snap = snapshotFromObjects(objects);
  const got = snap.of('networking.istio.io', 'ServiceEntry');
  assert.equal(got.length, 300);
  assert.ok(Object.isFrozen(got[0]) && Object.isFrozen(got[0]!.spec));
  assert.ok(!Object.isFrozen(objects[0]));
  const byName = new Map(objects.map((o) => [o.metadata.name, o]));
  for (const o of got) assert.deepEqual(JSON.parse(JSON.stringify(o)), JSON.parse(JSON.stringify(byName.get(o.metadata.name))));
});
