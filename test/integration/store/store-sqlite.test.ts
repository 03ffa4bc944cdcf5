// The SQLite store's Kubernetes semantics: identity fields, generation vs status, conflicts,
// merge patch, cascade delete, label selectors, apply outcomes and all-or-nothing batches.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { KubeObject } from '../../../src/api/object.js';
import { openSqliteStore } from '../../../src/store/sqlite.js';
import { StoreError, type Store, type WatchEvent } from '../../../src/store/types.js';

function tempStore(t: { after(fn: () => void): void }, opts?: Parameters<typeof openSqliteStore>[1]): { store: Store; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-store-'));
  const path = join(dir, 'store.db');
  const store = openSqliteStore(path, opts);
  t.after(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { store, path };
}

function se(name: string, spec: Record<string, unknown> = { hosts: [`${name}.example.com`] }, labels?: Record<string, string>): KubeObject {
  return { apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name, namespace: 'curl', ...(labels ? { labels } : {}) }, spec };
}
const seRef = (name: string) => ({ group: 'networking.istio.io', kind: 'ServiceEntry', namespace: 'curl', name });

function storeError(reason: string, code: number, text?: string) {
  return (e: unknown) => e instanceof StoreError && e.reason === reason && e.code === code && (!text || e.message.includes(text));
}

test('create sets uid, resourceVersion, generation 1 and creationTimestamp; duplicates are AlreadyExists', (t) => {
  const { store } = tempStore(t);
  const a = store.create(se('a'));
  assert.match(a.metadata.uid!, /^[0-9a-f-]{36}$/);
  assert.equal(a.metadata.generation, 1);
  assert.match(a.metadata.creationTimestamp!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(a.metadata.resourceVersion, store.revision());
  const b = store.create(se('b'));
  assert.ok(Number(b.metadata.resourceVersion) > Number(a.metadata.resourceVersion));
  assert.throws(() => store.create(se('a')), storeError('AlreadyExists', 409, 'serviceentries.networking.istio.io "a" already exists'));
  assert.deepEqual(store.get(seRef('a')), a);
  assert.equal(store.get(seRef('zzz')), undefined);
});

test('generation bumps on spec changes only; status writes never bump it', (t) => {
  const { store } = tempStore(t);
  const a = store.create(se('a'));
  const labelled = store.patch(seRef('a'), { metadata: { labels: { x: 'y' } } });
  assert.equal(labelled.metadata.generation, 1, 'labels do not bump generation');
  assert.ok(Number(labelled.metadata.resourceVersion) > Number(a.metadata.resourceVersion));
  const withStatus = store.updateStatus(seRef('a'), { conditions: [{ type: 'Ready', status: 'True' }] });
  assert.equal(withStatus.metadata.generation, 1);
  assert.deepEqual(withStatus.status, { conditions: [{ type: 'Ready', status: 'True' }] });
  const changed = store.update({ ...withStatus, spec: { hosts: ['other.example.com'] } });
  assert.equal(changed.metadata.generation, 2);
  assert.deepEqual(changed.status, withStatus.status, 'update keeps status');
  const ignoredStatus = store.update({ ...changed, status: { hacked: true } });
  assert.deepEqual(ignoredStatus.status, withStatus.status, 'update cannot write status');
  assert.equal(ignoredStatus.metadata.resourceVersion, changed.metadata.resourceVersion, 'a no-op write keeps the revision');
  const statusPatch = store.patch(seRef('a'), { spec: { hosts: ['nope'] }, status: { phase: 'x' } }, 'status');
  assert.deepEqual(statusPatch.spec, { hosts: ['other.example.com'] }, 'the status subresource ignores spec');
  assert.equal((statusPatch.status as Record<string, unknown>).phase, 'x');
  assert.equal(statusPatch.metadata.generation, 2);
  // Kinds without spec: other top-level content counts.
  const cm = store.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'curl' }, data: { a: '1' } });
  assert.equal(store.update({ ...cm, data: { a: '2' } }).metadata.generation, 2);
});

test('a stale resourceVersion is a Conflict and changes nothing', (t) => {
  const { store } = tempStore(t);
  const a = store.create(se('a'));
  store.update({ ...a, spec: { hosts: ['b.example.com'] } });
  assert.throws(
    () => store.update({ ...a, spec: { hosts: ['c.example.com'] } }),
    storeError('Conflict', 409, 'Operation cannot be fulfilled on serviceentries.networking.istio.io "a": the object has been modified'),
  );
  assert.throws(
    () => store.patch(seRef('a'), { metadata: { resourceVersion: a.metadata.resourceVersion }, spec: { hosts: ['d'] } }),
    storeError('Conflict', 409),
  );
  assert.throws(() => store.updateStatus(seRef('a'), { x: 1 }, a.metadata.resourceVersion), storeError('Conflict', 409));
  assert.deepEqual(store.get(seRef('a'))!.spec, { hosts: ['b.example.com'] });
  assert.throws(() => store.update(se('missing')), storeError('NotFound', 404, 'serviceentries.networking.istio.io "missing" not found'));
});

test('merge patch merges, null deletes, and identity fields stay', (t) => {
  const { store } = tempStore(t);
  const a = store.create(se('a', { hosts: ['a'], ports: [{ number: 80 }], location: 'MESH_EXTERNAL' }, { app: 'x', drop: 'me' }));
  const p = store.patch(seRef('a'), {
    metadata: { labels: { drop: null, new: 'v' }, uid: 'forged', name: 'renamed' },
    spec: { location: null, resolution: 'DNS' },
  });
  assert.deepEqual(p.metadata.labels, { app: 'x', new: 'v' });
  assert.equal(p.metadata.uid, a.metadata.uid);
  assert.equal(p.metadata.name, 'a');
  assert.deepEqual(p.spec, { hosts: ['a'], ports: [{ number: 80 }], resolution: 'DNS' });
  assert.equal(p.metadata.generation, 2);
  assert.throws(() => store.patch(seRef('a'), [1, 2]), storeError('BadRequest', 400));
});

test('delete cascades to owned objects transitively, and a namespace takes its contents', (t) => {
  const { store } = tempStore(t);
  store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'egress' } });
  const gw = store.create({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name: 'gw', namespace: 'egress' },
    spec: { gatewayClassName: 'istio' },
  });
  const owner = (o: KubeObject) => [{ apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name, uid: o.metadata.uid!, controller: true }];
  const dep = store.create({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'gw-istio', namespace: 'egress', ownerReferences: owner(gw) },
    spec: {},
  });
  store.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'gw-istio', namespace: 'egress', ownerReferences: owner(gw) }, spec: {} });
  store.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'gw-istio-1', namespace: 'egress', ownerReferences: owner(dep) }, spec: {} });
  store.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'bystander', namespace: 'egress' }, spec: {} });
  const seen: WatchEvent[] = [];
  const stop = store.watch(store.revision(), (e) => seen.push(e));
  t.after(stop);
  const deleted = store.delete({ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'egress', name: 'gw' });
  assert.equal(deleted.metadata.uid, gw.metadata.uid);
  assert.deepEqual(seen.map((e) => `${e.type} ${e.object.kind}/${e.object.metadata.name}`).sort(), [
    'DELETED Deployment/gw-istio',
    'DELETED Gateway/gw',
    'DELETED Pod/gw-istio-1',
    'DELETED Service/gw-istio',
  ]);
  assert.equal(store.list({ group: '', kind: 'Pod' }).items.length, 0);
  assert.deepEqual(
    store.list({ group: '', kind: 'Service', namespace: 'egress' }).items.map((o) => o.metadata.name),
    ['bystander'],
  );
  store.delete({ group: '', kind: 'Namespace', name: 'egress' });
  assert.equal(store.list({ group: '', kind: 'Service' }).items.length, 0);
  assert.throws(() => store.delete({ group: '', kind: 'Namespace', name: 'egress' }), storeError('NotFound', 404, 'namespaces "egress" not found'));
});

test('list filters by namespace and label selector, sorted, with the revision', (t) => {
  const { store } = tempStore(t);
  store.create(se('b', undefined, { app: 'web', env: 'prod' }));
  store.create(se('a', undefined, { app: 'db', env: 'prod' }));
  store.create({ ...se('c', undefined, { app: 'web' }), metadata: { name: 'c', namespace: 'other', labels: { app: 'web' } } });
  const q = { group: 'networking.istio.io', kind: 'ServiceEntry' };
  const names = (sel?: string, ns?: string) =>
    store
      .list({ ...q, ...(sel ? { labelSelector: sel } : {}), ...(ns ? { namespace: ns } : {}) })
      .items.map((o) => `${o.metadata.namespace}/${o.metadata.name}`);
  assert.deepEqual(names(), ['curl/a', 'curl/b', 'other/c']);
  assert.deepEqual(names(undefined, 'curl'), ['curl/a', 'curl/b']);
  assert.deepEqual(names('app=web'), ['curl/b', 'other/c']);
  assert.deepEqual(names('app in (web,db),env'), ['curl/a', 'curl/b']);
  assert.deepEqual(names('!env'), ['other/c']);
  assert.deepEqual(names('env notin (prod)'), ['other/c']);
  assert.equal(store.list(q).resourceVersion, store.revision());
});

test('apply: created, configured, unchanged; one failing document applies nothing', (t) => {
  const { store } = tempStore(t);
  const first = store.apply([se('a'), se('b')]);
  assert.deepEqual(
    first.map((r) => r.outcome),
    ['created', 'created'],
  );
  store.updateStatus(seRef('a'), { observed: true });
  const rev = store.revision();
  const second = store.apply([se('a'), se('b', { hosts: ['changed'] })]);
  assert.deepEqual(
    second.map((r) => r.outcome),
    ['unchanged', 'configured'],
  );
  assert.deepEqual(second[0]!.object.status, { observed: true });
  assert.equal(second[1]!.object.metadata.generation, 2);
  assert.deepEqual(
    store.apply([se('a', undefined, { new: 'label' })]).map((r) => r.outcome),
    ['configured'],
  );
  assert.deepEqual(store.get(seRef('a'))!.status, { observed: true }, 'apply keeps status');
  const before = store.revision();
  assert.ok(Number(before) > Number(rev));
  // The third document is malformed: nothing of the batch may land.
  assert.throws(
    () => store.apply([se('c'), se('b', { hosts: ['again'] }), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: '' } }]),
    storeError('Invalid', 422),
  );
  // A conflict in the middle of a batch rolls back the earlier documents.
  assert.throws(() => store.apply([se('d'), { ...se('a'), metadata: { name: 'a', namespace: 'curl', resourceVersion: '1' } }]), storeError('Conflict', 409));
  assert.equal(store.get(seRef('c')), undefined);
  assert.equal(store.get(seRef('d')), undefined);
  assert.deepEqual(store.get(seRef('b'))!.spec, { hosts: ['changed'] });
  assert.equal(store.revision(), before);
});

test('watch delivers after commit in order; a watcher that writes sees its own events next', (t) => {
  const { store } = tempStore(t);
  const seen: string[] = [];
  const stop = store.watch(store.revision(), (e) => {
    seen.push(`${e.type} ${e.object.metadata.name} ${e.object.metadata.resourceVersion}`);
    // A controller reacting to an event by writing status (re-entrant write).
    if (e.type === 'ADDED') store.updateStatus(seRef(e.object.metadata.name), { seen: true });
    assert.ok(store.get(seRef(e.object.metadata.name)) || e.type === 'DELETED', 'the event is visible when delivered');
  });
  t.after(stop);
  const a = store.create(se('a'));
  store.delete(seRef('a'));
  const rv = Number(a.metadata.resourceVersion);
  assert.deepEqual(seen, [`ADDED a ${rv}`, `MODIFIED a ${rv + 1}`, `DELETED a ${rv + 2}`]);
  stop();
  store.create(se('b'));
  assert.equal(seen.length, 3, 'no events after unsubscribe');
});
