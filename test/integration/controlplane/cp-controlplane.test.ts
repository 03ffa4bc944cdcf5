// The control plane end to end on a SQLite store: deployer, status, IstioRevision, events, pushes and ACKs on apply.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeObject } from '../../../src/api/object.js';
import type { ProxyConfig, ProxyIdentity } from '../../../src/proxyconfig/types.js';
import { openSqliteStore } from '../../../src/store/sqlite.js';
import { ControlPlane } from '../../../src/controlplane/control-plane.js';
import { ConfigClient } from '../../../src/proxyconfig/distribution/client.js';
import { loadObjects, podFor } from '../../fixtures/cp/load.js';

const TOKEN = 'cp-token';

async function until<T>(what: string, get: () => T | undefined | false, timeoutMs = 8000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = get();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function strip(objs: KubeObject[]): KubeObject[] {
  return objs.map((o) => {
    const { uid: _u, generation: _g, creationTimestamp: _c, ...meta } = o.metadata;
    return { ...o, metadata: meta };
  });
}

const cond = (o: KubeObject | undefined, type: string) =>
  ((o?.status as { conditions?: { type: string; status: string; reason: string; message: string }[] } | undefined)?.conditions ?? []).find(
    (c) => c.type === type,
  );

test('seed §3.3 on a live store: gateway deployed, Programmed once its pod runs, sidecar rerouted, ACKed after each apply', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cp-int-'));
  const store = openSqliteStore(join(dir, 'store.db'), { pollMs: 20 });
  const lines: string[] = [];
  const cp = new ControlPlane({ store, token: TOKEN, debounceMs: 20, log: (l) => lines.push(l) });
  t.after(async () => {
    await cp.stop();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  store.apply(strip(loadObjects('mesh-base', 'seed-gateway-api')));
  await cp.start();

  const gwRef = { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'egress-gateway', name: 'httpbin-egress-gateway' };
  const dep = await until('deployment', () =>
    store.get({ group: 'apps', kind: 'Deployment', namespace: 'egress-gateway', name: 'httpbin-egress-gateway-istio' }),
  );
  assert.equal(dep.metadata.ownerReferences![0]!.uid, store.get(gwRef)!.metadata.uid);
  const gc = await until('GatewayClass', () => {
    const o = store.get({ group: 'gateway.networking.k8s.io', kind: 'GatewayClass', name: 'istio' });
    return cond(o, 'Accepted') && o;
  });
  assert.equal((gc.spec as { description: string }).description, 'The default Istio GatewayClass');
  const pending = await until('AddressNotAssigned', () => cond(store.get(gwRef), 'Programmed'));
  assert.equal(pending.reason, 'AddressNotAssigned');

  const rev = await until('IstioRevision', () => {
    const o = store.get({ group: 'sailoperator.io', kind: 'IstioRevision', name: 'default' });
    return cond(o, 'InUse') && o;
  });
  assert.equal((rev.spec as { version: string }).version, 'v1.24.3');
  assert.equal(cond(rev, 'Ready')!.status, 'True');
  assert.equal((rev.status as { state: string }).state, 'Healthy');

  // What the runtime does: run the Deployment's pod.
  store.create(podFor(dep, '127.0.3.3'));
  const programmed = await until('Programmed', () => {
    const c = cond(store.get(gwRef), 'Programmed');
    return c?.status === 'True' && c;
  });
  assert.equal(programmed.message, 'Resource programmed, assigned to service(s) httpbin-egress-gateway-istio.egress-gateway.svc.cluster.local:80');
  const events = await until(
    'event',
    () =>
      store.list({ group: '', kind: 'Event', namespace: 'egress-gateway' }).items.filter((e) => e.reason === 'Programmed').length > 0 &&
      store.list({ group: '', kind: 'Event', namespace: 'egress-gateway' }).items,
  );
  assert.equal((events[0]!.involvedObject as { name: string }).name, 'httpbin-egress-gateway');
  const route = store.get({ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'egress-gateway', name: 'forward-httpbin-from-egress-gateway' })!;
  assert.equal(cond({ ...route, status: (route.status as { parents: { conditions: unknown }[] }).parents[0] } as KubeObject, 'Accepted')!.status, 'True');

  // A sidecar subscribes, then an apply reaches it.
  const identity: ProxyIdentity = {
    id: 'test-pod.egress-gateway',
    role: 'sidecar',
    namespace: 'egress-gateway',
    workload: 'test-pod',
    ip: '127.0.3.2',
    labels: { run: 'test-pod' },
  };
  const configs: ProxyConfig[] = [];
  const client = new ConfigClient({
    url: cp.distributionUrl,
    token: TOKEN,
    identity,
    onConfig: async (c) => {
      configs.push(c);
    },
  });
  client.start();
  t.after(() => client.stop());
  await until('first config', () => configs.length > 0);
  const vh = configs
    .at(-1)!
    .routeTables.find((r) => r.name === '80')!
    .virtualHosts.find((v) => v.name === 'httpbin.org:80')!;
  assert.equal(vh.routes[0]!.name, 'egress-gateway.direct-httpbin-to-egress-gateway.0');

  // Settle our own status writes, then remember the row.
  await until('synced', () => cp.proxyStatus()[0]?.synced && Number(cp.revision()) >= Number(store.revision()));
  const before = cp.proxyStatus()[0]!.ackedVersion;
  store.apply([
    {
      apiVersion: 'networking.istio.io/v1',
      kind: 'ServiceEntry',
      metadata: { name: 'extra', namespace: 'egress-gateway' },
      spec: { hosts: ['extra.example.com'], ports: [{ number: 8080, name: 'http', protocol: 'HTTP' }], resolution: 'DNS' },
    },
  ]);
  await until('new config acked', () => {
    const r = cp.proxyStatus()[0];
    return r && r.ackedVersion !== before && r.synced;
  });
  assert.ok(configs.at(-1)!.listeners.some((l) => l.name === '0.0.0.0_8080'));
  assert.deepEqual(cp.configFor(identity), configs.at(-1));

  // Deleting the Gateway removes what was deployed for it.
  store.delete(gwRef);
  assert.equal(store.get({ group: '', kind: 'Service', namespace: 'egress-gateway', name: 'httpbin-egress-gateway-istio' }), undefined);
  await until('sidecar loses the gateway service', () => !configs.at(-1)!.clusters.some((c) => c.name.includes('httpbin-egress-gateway-istio')));
});

test('status writes settle: with nothing changing, the control plane stops writing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cp-int-'));
  const store = openSqliteStore(join(dir, 'store.db'), { pollMs: 20 });
  const cp = new ControlPlane({ store, token: TOKEN, debounceMs: 10 });
  t.after(async () => {
    await cp.stop();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  store.apply(strip(loadObjects('mesh-base', 'seed-gateway-api')));
  await cp.start();
  // Wait until the control plane has caught up with its own writes twice in a row at the same revision.
  let last = '';
  await until('quiet store', () => {
    const rev = store.revision();
    const caughtUp = cp.revision() === rev;
    const quiet = caughtUp && rev === last;
    last = caughtUp ? rev : '';
    return quiet;
  });
  const settled = store.revision();
  // Another event round (an unrelated label) must not cause status rewrites beyond that object.
  const ns = store.get({ group: '', kind: 'Namespace', name: 'curl' })!;
  store.update({ ...ns, metadata: { ...ns.metadata, labels: { ...ns.metadata.labels, team: 'a' } } });
  await until('caught up', () => cp.revision() === store.revision() && Number(store.revision()) > Number(settled));
  assert.equal(Number(store.revision()), Number(settled) + 1, 'only the user write happened');
});
