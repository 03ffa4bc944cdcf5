// The API over real HTTP: auth, the Kubernetes REST verbs, Status errors, validation (422),
// watch (resume, 410), Tables, discovery, server-side apply and outpost's batch apply.
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { KubeObject } from '../../../src/api/object.js';
import { ApiClient, ApiError } from '../../../src/apiserver/client.js';
import { startApiServer } from '../../../src/apiserver/server.js';
import { openSqliteStore } from '../../../src/store/sqlite.js';
import type { WatchEvent } from '../../../src/store/types.js';
import { TOKEN, startTestApi } from './apiserver-helpers.js';

const SE = { group: 'networking.istio.io', kind: 'ServiceEntry' };

function se(name: string, spec: Record<string, unknown> = {}, ns = 'default'): KubeObject {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'ServiceEntry',
    metadata: { name, namespace: ns },
    spec: { hosts: [`${name}.example.com`], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], location: 'MESH_EXTERNAL', resolution: 'DNS', ...spec },
  };
}

async function rejects(p: Promise<unknown>, code: number, reason: string, text?: string): Promise<ApiError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ApiError, `expected ApiError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.equal(err.reason, reason, err.message);
    if (text) assert.ok(err.message.includes(text), `"${err.message}" should include "${text}"`);
    return err;
  }
  assert.fail('expected a rejection');
}

test('requests need the bearer token; health does not', async (t) => {
  const api = await startTestApi(t);
  const res = await fetch(`${api.url}/api/v1/namespaces`);
  assert.equal(res.status, 401);
  const body = (await res.json()) as { kind: string; reason: string };
  assert.deepEqual([body.kind, body.reason], ['Status', 'Unauthorized']);
  const wrong = await fetch(`${api.url}/api/v1/namespaces`, { headers: { Authorization: 'Bearer nope' } });
  assert.equal(wrong.status, 401);
  await wrong.text();
  assert.equal(await new ApiClient({ url: api.url, token: 'x' }).health(), true);
  await rejects(new ApiClient({ url: api.url, token: 'x' }).list({ group: '', kind: 'Namespace' }), 401, 'Unauthorized');
});

test('CRUD with Kubernetes semantics and Status errors', async (t) => {
  const api = await startTestApi(t);
  const c = new ApiClient({ url: api.url, token: TOKEN });
  const created = await c.create(se('a'));
  assert.equal(created.metadata.generation, 1);
  await rejects(c.create(se('a')), 409, 'AlreadyExists', 'serviceentries.networking.istio.io "a" already exists');
  await rejects(c.get({ ...SE, namespace: 'default', name: 'zz' }), 404, 'NotFound', 'serviceentries.networking.istio.io "zz" not found');
  await rejects(c.create(se('b', {}, 'nowhere')), 404, 'NotFound', 'namespaces "nowhere" not found');
  const updated = await c.update({ ...created, spec: { ...(created.spec as object), hosts: ['changed.example.com'] } });
  assert.equal(updated.metadata.generation, 2);
  const stale = await rejects(c.update({ ...created, metadata: { ...created.metadata, labels: { x: 'y' } } }), 409, 'Conflict', 'the object has been modified');
  assert.equal(stale.status.details?.name, 'a');
  const labelled = await c.patch({ ...SE, namespace: 'default', name: 'a' }, { metadata: { labels: { app: 'web' } } });
  assert.deepEqual(labelled.metadata.labels, { app: 'web' });
  assert.equal(labelled.metadata.generation, 2);
  const jsonPatched = await c.patch({ ...SE, namespace: 'default', name: 'a' }, [{ op: 'add', path: '/spec/hosts/-', value: 'more.example.com' }], {
    type: 'json',
  });
  assert.deepEqual((jsonPatched.spec as { hosts: string[] }).hosts, ['changed.example.com', 'more.example.com']);
  const withStatus = await c.updateStatus({ ...SE, namespace: 'default', name: 'a' }, { conditions: [{ type: 'Ready', status: 'True' }] });
  assert.equal(withStatus.metadata.generation, 3);
  await c.create(se('b'));
  assert.deepEqual(
    (await c.list({ ...SE, namespace: 'default', labelSelector: 'app=web' })).items.map((o) => o.metadata.name),
    ['a'],
  );
  assert.deepEqual(
    (await c.list({ ...SE })).items.map((o) => o.metadata.name),
    ['a', 'b'],
  );
  await rejects(c.list({ ...SE, labelSelector: 'app in (x' }), 400, 'BadRequest');
  const deleted = await c.delete({ ...SE, namespace: 'default', name: 'a' });
  assert.equal(deleted.metadata.uid, created.metadata.uid);
  await rejects(c.delete({ ...SE, namespace: 'default', name: 'a' }), 404, 'NotFound');
  // Objects leave with the version asked for.
  const res = await fetch(`${api.url}/apis/networking.istio.io/v1beta1/namespaces/default/serviceentries/b`, { headers: { Authorization: `Bearer ${TOKEN}` } });
  assert.equal(((await res.json()) as KubeObject).apiVersion, 'networking.istio.io/v1beta1');
});

test('an invalid object is a 422 worded like the API server, with causes, and is not stored', async (t) => {
  const api = await startTestApi(t);
  const c = new ApiClient({ url: api.url, token: TOKEN });
  const err = await rejects(c.create(se('egress-se', { resolution: 'DNZ' })), 422, 'Invalid');
  assert.match(
    err.message,
    /^ServiceEntry\.networking\.istio\.io "egress-se" is invalid: spec\.resolution: Unsupported value: "DNZ": supported values: "NONE", /,
  );
  assert.deepEqual(
    err.causes.map((x) => [x.field, x.reason]),
    [['spec.resolution', 'FieldValueNotSupported']],
  );
  assert.equal(err.status.details?.kind, 'ServiceEntry');
  assert.equal(err.status.details?.group, 'networking.istio.io');
  assert.equal(api.store.get({ ...SE, namespace: 'default', name: 'egress-se' }), undefined);
  // Patches are validated on the result.
  await c.create(se('ok'));
  await rejects(c.patch({ ...SE, namespace: 'default', name: 'ok' }, { spec: { resolution: 'DNZ' } }), 422, 'Invalid', 'spec.resolution');
  assert.equal((api.store.get({ ...SE, namespace: 'default', name: 'ok' })!.spec as { resolution: string }).resolution, 'DNS');
  // Unknown fields fail decoding (400), as the strict decoder does.
  await rejects(c.create(se('unknown', { resolutoin: 'DNS' })), 400, 'BadRequest', 'strict decoding error: unknown field "spec.resolutoin"');
});

test('batch apply: outcomes in one transaction; any invalid document rejects all of them, naming each', async (t) => {
  const api = await startTestApi(t);
  const c = new ApiClient({ url: api.url, token: TOKEN });
  const ns: KubeObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'curl' } };
  const first = await c.apply([ns, se('a', {}, 'curl'), se('b', {}, 'curl')]);
  assert.deepEqual(
    first.map((r) => r.outcome),
    ['created', 'created', 'created'],
  );
  assert.equal((first[0]!.object.status as { phase: string }).phase, 'Active');
  const second = await c.apply([ns, se('a', {}, 'curl'), se('b', { hosts: ['new.example.com'] }, 'curl')]);
  assert.deepEqual(
    second.map((r) => r.outcome),
    ['unchanged', 'unchanged', 'configured'],
  );
  const rev = api.store.revision();
  const err = await rejects(
    c.apply([se('c', {}, 'curl'), se('d', { resolution: 'DNZ' }, 'curl'), se('e', { ports: [{ number: 70000, name: 'x', protocol: 'HTTP' }] }, 'curl')]),
    422,
    'Invalid',
  );
  const lines = err.message.split('\n');
  assert.equal(lines.length, 2, err.message);
  assert.match(lines[0]!, /^ServiceEntry\.networking\.istio\.io "d" is invalid: spec\.resolution: Unsupported value: "DNZ"/);
  assert.match(lines[1]!, /^ServiceEntry\.networking\.istio\.io "e" is invalid: spec\.ports\[0\]\.number/);
  assert.ok(err.causes.some((x) => x.field === 'items[1].spec.resolution'));
  assert.equal(api.store.revision(), rev, 'nothing was written');
  assert.equal(api.store.get({ ...SE, namespace: 'curl', name: 'c' }), undefined);
  await rejects(c.apply([se('f', {}, 'nowhere')]), 404, 'NotFound', 'namespaces "nowhere" not found');
});

test('watch: from a revision, current state first without one, and Gone (410) when compacted', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-api-'));
  const store = openSqliteStore(join(dir, 'store.db'), { historyLimit: 10 });
  const server = await startApiServer({ store, token: TOKEN, tls: false });
  t.after(async () => {
    await server.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
  const c = new ApiClient({ url: server.url, token: TOKEN });
  await c.create(se('a'));
  const from = store.revision();
  const events: WatchEvent[] = [];
  let notify: () => void = () => {};
  const w = await c.watch({ ...SE, namespace: 'default', resourceVersion: from }, (e) => {
    events.push(e);
    notify();
  });
  const waitFor = (n: number) =>
    new Promise<void>((resolve) => {
      notify = () => {
        if (events.length >= n) resolve();
      };
      notify();
    });
  await c.create(se('b'));
  await c.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'other-kind', namespace: 'default' }, data: {} }).catch(() => undefined);
  await c.patch({ ...SE, namespace: 'default', name: 'a' }, { metadata: { labels: { x: 'y' } } });
  await c.delete({ ...SE, namespace: 'default', name: 'b' });
  await waitFor(3);
  w.stop();
  await w.done;
  assert.deepEqual(
    events.map((e) => `${e.type} ${e.object.metadata.name}`),
    ['ADDED b', 'MODIFIED a', 'DELETED b'],
  );
  // Without a revision: the current objects as ADDED, then live events.
  const initial: WatchEvent[] = [];
  const w2 = await c.watch({ ...SE }, (e) => initial.push(e));
  await c.create(se('c'));
  await new Promise<void>((resolve) => {
    const iv = setInterval(() => {
      if (initial.length >= 2) {
        clearInterval(iv);
        resolve();
      }
    }, 10);
  });
  w2.stop();
  assert.deepEqual(
    initial.map((e) => `${e.type} ${e.object.metadata.name}`),
    ['ADDED a', 'ADDED c'],
  );
  for (let i = 0; i < 30; i++) await c.patch({ ...SE, namespace: 'default', name: 'a' }, { metadata: { labels: { n: String(i) } } });
  const gone = await rejects(
    c.watch({ ...SE, resourceVersion: from }, () => {}),
    410,
    'Expired',
    'too old resource version',
  );
  assert.equal(gone.status.kind, 'Status');
});

test('tables, discovery and server-side apply', async (t) => {
  const api = await startTestApi(t);
  const c = new ApiClient({ url: api.url, token: TOKEN });
  await c.create(se('egress-se'));
  const auth = { Authorization: `Bearer ${TOKEN}` };
  const table = (await (
    await fetch(`${api.url}/apis/networking.istio.io/v1/serviceentries`, {
      headers: { ...auth, Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' },
    })
  ).json()) as { kind: string; columnDefinitions: { name: string }[]; rows: { cells: unknown[] }[] };
  assert.equal(table.kind, 'Table');
  assert.deepEqual(
    table.columnDefinitions.map((x) => x.name),
    ['Name', 'Hosts', 'Location', 'Resolution', 'Age'],
  );
  assert.deepEqual(table.rows[0]!.cells.slice(0, 4), ['egress-se', '["egress-se.example.com"]', 'MESH_EXTERNAL', 'DNS']);
  const agg = await fetch(`${api.url}/apis`, {
    headers: { ...auth, Accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json' },
  });
  assert.equal(agg.headers.get('content-type'), 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList');
  const doc = (await agg.json()) as {
    items: { metadata: { name: string }; versions: { version: string; resources: { resource: string; shortNames?: string[] }[] }[] }[];
  };
  const istio = doc.items.find((i) => i.metadata.name === 'networking.istio.io')!;
  assert.deepEqual(
    istio.versions.map((v) => v.version),
    ['v1', 'v1beta1', 'v1alpha3'],
  );
  assert.deepEqual(istio.versions[0]!.resources.find((r) => r.resource === 'serviceentries')!.shortNames, ['se']);
  const legacy = (await (await fetch(`${api.url}/apis/networking.istio.io/v1`, { headers: auth })).json()) as { resources: { name: string }[] };
  assert.ok(legacy.resources.some((r) => r.name === 'serviceentries/status'));
  // Server-side apply creates, then merges and records the manager.
  const ssa = async (body: unknown) => {
    const res = await fetch(`${api.url}/apis/networking.istio.io/v1/namespaces/default/serviceentries/ssa?fieldManager=tester`, {
      method: 'PATCH',
      headers: { ...auth, 'Content-Type': 'application/apply-patch+yaml' },
      body: JSON.stringify(body),
    });
    return { status: res.status, obj: (await res.json()) as KubeObject };
  };
  const one = await ssa(se('ssa'));
  assert.equal(one.status, 201);
  const two = await ssa({
    apiVersion: 'networking.istio.io/v1',
    kind: 'ServiceEntry',
    metadata: { name: 'ssa', labels: { by: 'ssa' } },
    spec: { resolution: 'NONE' },
  });
  assert.equal(two.status, 200);
  assert.equal((two.obj.spec as { resolution: string }).resolution, 'NONE');
  assert.deepEqual((two.obj.spec as { hosts: string[] }).hosts, ['ssa.example.com']);
  assert.ok((two.obj.metadata.managedFields as { manager: string; operation: string }[]).some((m) => m.manager === 'tester' && m.operation === 'Apply'));
});

test('the same port speaks TLS with the certificate the kubeconfig trusts', async (t) => {
  const api = await startTestApi(t);
  const { parse } = await import('yaml');
  const { readFileSync } = await import('node:fs');
  const cfg = parse(readFileSync(api.kubeconfig, 'utf8')) as {
    clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
    users: { user: { token: string } }[];
  };
  const cluster = cfg.clusters[0]!.cluster;
  assert.equal(cluster.server, api.url.replace('http://', 'https://'));
  assert.equal(cfg.users[0]!.user.token, TOKEN);
  const body = await new Promise<string>((resolve, reject) => {
    const req = httpsRequest(
      `${cluster.server}/api/v1/namespaces`,
      { ca: Buffer.from(cluster['certificate-authority-data'], 'base64'), headers: { Authorization: `Bearer ${TOKEN}` } },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve(text));
      },
    );
    req.on('error', reject);
    req.end();
  });
  assert.equal((JSON.parse(body) as { items: KubeObject[] }).items[0]!.metadata.name, 'default');
});
