// Automated deployment: `<gw>-istio` Deployment + Service owned by the Gateway, ports, service type, updates and cascade.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeObject } from '../../../src/api/object.js';
import { openSqliteStore } from '../../../src/store/sqlite.js';
import { snapshotFromStore } from '../../../src/controlplane/snapshot.js';
import { desiredGatewayObjects, gatewayServicePorts, reconcileGatewayDeployments } from '../../../src/controlplane/deployer/index.js';
import { loadObjects } from '../../fixtures/cp/load.js';

function tempStore(t: { after: (fn: () => void) => void }) {
  const dir = mkdtempSync(join(tmpdir(), 'cp-deployer-'));
  const store = openSqliteStore(join(dir, 'store.db'));
  t.after(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return store;
}

const seedGateway = () => loadObjects('seed-gateway-api').find((o) => o.kind === 'Gateway')!;

test('desired objects: names, owner, labels, pod template, Service type from the annotation, ports', () => {
  const [dep, svc] = desiredGatewayObjects(seedGateway()) as [KubeObject, KubeObject];
  assert.equal(dep.metadata.name, 'httpbin-egress-gateway-istio');
  assert.equal(svc.metadata.name, 'httpbin-egress-gateway-istio');
  for (const o of [dep, svc]) {
    assert.equal(o.metadata.namespace, 'egress-gateway');
    assert.equal(o.metadata.labels!['gateway.networking.k8s.io/gateway-name'], 'httpbin-egress-gateway');
    assert.deepEqual(o.metadata.ownerReferences, [
      {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'Gateway',
        name: 'httpbin-egress-gateway',
        uid: 'gw-uid-1',
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
  }
  const tpl = (dep.spec as any).template.metadata;
  assert.equal(tpl.labels['gateway.networking.k8s.io/gateway-name'], 'httpbin-egress-gateway');
  assert.equal(tpl.annotations['sidecar.istio.io/inject'], 'false');
  assert.equal(tpl.annotations['inject.istio.io/templates'], 'gateway');
  assert.equal((svc.spec as any).type, 'ClusterIP');
  assert.deepEqual((svc.spec as any).ports, [
    { name: 'status-port', port: 15021, protocol: 'TCP', appProtocol: 'tcp', targetPort: 15021 },
    { name: 'http', port: 80, protocol: 'TCP', appProtocol: 'http', targetPort: 80 },
  ]);
  const noAnnotation = { ...seedGateway(), metadata: { ...seedGateway().metadata, annotations: {} } };
  assert.equal((desiredGatewayObjects(noAnnotation)[1]!.spec as any).type, 'LoadBalancer');
});

test('one Service port per unique listener port, named after the sanitized listener name', () => {
  const gw = {
    ...seedGateway(),
    spec: {
      gatewayClassName: 'istio',
      listeners: [
        { name: 'Web_Traffic', port: 80, protocol: 'HTTP' },
        { name: 'web-2', port: 80, protocol: 'HTTP', hostname: 'x.example' },
        { name: 'tls', port: 443, protocol: 'TLS' },
      ],
    },
  };
  assert.deepEqual(
    gatewayServicePorts(gw).map((p) => `${p.name}:${p.port}/${p.appProtocol}`),
    ['status-port:15021/tcp', 'web-traffic:80/http', 'tls:443/tls'],
  );
});

test('reconcile creates, updates on listener change, is idempotent, and the store cascade removes them with the Gateway', (t) => {
  const store = tempStore(t);
  const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'egress-gateway' } };
  const { uid: _uid, ...meta } = seedGateway().metadata;
  store.apply([ns, { ...seedGateway(), metadata: meta }]);
  const r1 = reconcileGatewayDeployments(store, snapshotFromStore(store));
  assert.deepEqual(r1.created.sort(), [
    'Deployment/egress-gateway/httpbin-egress-gateway-istio',
    'Service/egress-gateway/httpbin-egress-gateway-istio',
    'ServiceAccount/egress-gateway/httpbin-egress-gateway-istio',
  ]);
  const gw = store.get({ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'egress-gateway', name: 'httpbin-egress-gateway' })!;
  const svc = store.get({ group: '', kind: 'Service', namespace: 'egress-gateway', name: 'httpbin-egress-gateway-istio' })!;
  assert.equal(svc.metadata.ownerReferences![0]!.uid, gw.metadata.uid);

  const r2 = reconcileGatewayDeployments(store, snapshotFromStore(store));
  assert.deepEqual([r2.created, r2.updated, r2.deleted], [[], [], []], 'nothing to do the second time');

  const spec = gw.spec as { listeners: unknown[] };
  store.update({ ...gw, spec: { ...spec, listeners: [...spec.listeners, { name: 'https', port: 443, protocol: 'TLS', tls: { mode: 'Passthrough' } }] } });
  const r3 = reconcileGatewayDeployments(store, snapshotFromStore(store));
  assert.ok(r3.updated.includes('Service/egress-gateway/httpbin-egress-gateway-istio'));
  const svc2 = store.get({ group: '', kind: 'Service', namespace: 'egress-gateway', name: 'httpbin-egress-gateway-istio' })!;
  assert.deepEqual(
    (svc2.spec as any).ports.map((p: any) => p.port),
    [15021, 80, 443],
  );

  store.delete({ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'egress-gateway', name: 'httpbin-egress-gateway' });
  assert.equal(store.get({ group: 'apps', kind: 'Deployment', namespace: 'egress-gateway', name: 'httpbin-egress-gateway-istio' }), undefined);
  assert.equal(store.get({ group: '', kind: 'Service', namespace: 'egress-gateway', name: 'httpbin-egress-gateway-istio' }), undefined);
});

test('an unmanaged Gateway (Hostname address) gets nothing, and objects made earlier are removed', (t) => {
  const store = tempStore(t);
  const { uid: _uid, ...meta } = seedGateway().metadata;
  store.apply([
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'egress-gateway' } },
    { ...seedGateway(), metadata: meta },
  ]);
  reconcileGatewayDeployments(store, snapshotFromStore(store));
  const gw = store.get({ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'egress-gateway', name: 'httpbin-egress-gateway' })!;
  store.update({ ...gw, spec: { ...(gw.spec as object), addresses: [{ type: 'Hostname', value: 'my-gw.egress-gateway.svc.cluster.local' }] } });
  const r = reconcileGatewayDeployments(store, snapshotFromStore(store));
  assert.deepEqual(r.deleted.sort(), [
    'Deployment/egress-gateway/httpbin-egress-gateway-istio',
    'Service/egress-gateway/httpbin-egress-gateway-istio',
    'ServiceAccount/egress-gateway/httpbin-egress-gateway-istio',
  ]);
});
