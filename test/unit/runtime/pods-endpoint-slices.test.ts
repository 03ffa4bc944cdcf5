// EndpointSlices kept from pods: one per Service with a selector, every selected pod with an
// address (ready or not), ports resolved to target ports (named ones from the pods), updated when
// pods change and removed when the Service loses its selector.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { KubeObject } from '../../../src/api/object.js';
import { syncEndpointSlices } from '../../../src/runtime/pods/endpoint-slices.js';
import { openSqliteStore } from '../../../src/store/sqlite.js';

const pod = (name: string, ip: string, ready: boolean, labels = { app: 'web' }): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'apps', labels },
  spec: { nodeName: 'outpost', containers: [{ name: 'web', ports: [{ name: 'http', containerPort: 8080 }] }] },
  status: { phase: 'Running', podIP: ip, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
});

test('EndpointSlices follow the Service and its pods', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-eps-'));
  const store = openSqliteStore(join(dir, 'store.db'));
  t.after(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const svc = store.create({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web', namespace: 'apps' },
    spec: {
      selector: { app: 'web' },
      ports: [
        { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' },
        { name: 'raw', port: 9000 },
      ],
    },
  });
  const slices = (): KubeObject[] => store.list({ group: 'discovery.k8s.io', kind: 'EndpointSlice', namespace: 'apps' }).items;
  const log: string[] = [];
  syncEndpointSlices(
    store,
    [svc],
    [pod('web-b', '198.18.1.3', false), pod('web-a', '198.18.1.2', true), pod('other', '198.18.1.9', true, { app: 'db' })],
    (l) => log.push(l),
  );
  assert.deepEqual(log, []);
  const [slice] = slices();
  assert.ok(slice);
  assert.equal(slice.metadata.labels?.['kubernetes.io/service-name'], 'web');
  assert.equal(slice.metadata.ownerReferences?.[0]?.uid, svc.metadata.uid);
  const s = slice as unknown as {
    addressType: string;
    endpoints: { addresses: string[]; conditions: { ready: boolean }; targetRef: { name: string } }[];
    ports: { name: string; port: number; protocol: string }[];
  };
  assert.equal(s.addressType, 'IPv4');
  assert.deepEqual(
    s.endpoints.map((e) => [e.addresses[0], e.conditions.ready, e.targetRef.name]),
    [
      ['198.18.1.2', true, 'web-a'],
      ['198.18.1.3', false, 'web-b'],
    ],
  );
  assert.deepEqual(s.ports, [
    { name: 'http', port: 8080, protocol: 'TCP' },
    { name: 'raw', port: 9000, protocol: 'TCP' },
  ]);

  // A pod becomes ready: the slice is updated in place; nothing changed: not rewritten.
  syncEndpointSlices(store, [svc], [pod('web-b', '198.18.1.3', true), pod('web-a', '198.18.1.2', true)], () => undefined);
  const updated = slices()[0]! as unknown as { metadata: { resourceVersion: string; name: string }; endpoints: { conditions: { ready: boolean } }[] };
  assert.equal(updated.metadata.name, slice.metadata.name);
  assert.deepEqual(
    updated.endpoints.map((e) => e.conditions.ready),
    [true, true],
  );
  syncEndpointSlices(store, [svc], [pod('web-b', '198.18.1.3', true), pod('web-a', '198.18.1.2', true)], () => undefined);
  assert.equal(slices()[0]!.metadata.resourceVersion, updated.metadata.resourceVersion);

  // No selector any more: the slice goes.
  syncEndpointSlices(store, [{ ...svc, spec: { ports: [{ port: 80 }] } }], [], () => undefined);
  assert.deepEqual(slices(), []);
});
