// The SSRF guard's settings in translation: the Istio resource's meshConfig.outpost.ssrfGuard (validated),
// the built-in ranges plus the runtime's networks and control endpoints, and what ServiceEntries name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../../../src/api/object.js';
import type { ProxyIdentity } from '../../../src/proxyconfig/types.js';
import { snapshotFromObjects } from '../../../src/controlplane/snapshot.js';
import { translate } from '../../../src/controlplane/translate/index.js';
import { validateObject } from '../../../src/api/validate.js';
import { loadObjects } from '../../fixtures/cp/load.js';

const curl: ProxyIdentity = { id: 'curl-1.curl', role: 'sidecar', namespace: 'curl', workload: 'curl', ip: '127.0.1.2', labels: { app: 'curl' } };

function yaml(text: string): KubeObject[] {
  return parseAllDocuments(text).map((d) => d.toJS() as KubeObject);
}

function istio(guard: unknown): KubeObject {
  return yaml(`apiVersion: sailoperator.io/v1
kind: Istio
metadata: {name: default}
spec:
  values:
    meshConfig:
      outpost:
        ssrfGuard: ${JSON.stringify(guard)}
`)[0]!;
}

const SE = yaml(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: curl}
spec:
  hosts: [api.example.com, "*.wiki.example"]
  addresses: [192.0.2.0/24]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: db, namespace: curl}
spec:
  hosts: [db.internal]
  ports: [{number: 5432, name: tcp, protocol: TCP}]
  resolution: STATIC
  endpoints: [{address: 10.1.2.3}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: hidden, namespace: other}
spec:
  hosts: [hidden.example.com]
  exportTo: ["."]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
`);

test('meshConfig.outpost.ssrfGuard: ENFORCE, REPORT_ONLY and DISABLED are accepted; anything else is refused with its path', () => {
  for (const v of ['ENFORCE', 'REPORT_ONLY', 'DISABLED'])
    assert.deepEqual(
      validateObject(istio(v)).filter((i) => i.severity !== 'warning'),
      [],
      v,
    );
  const bad = validateObject(istio('ON')).filter((i) => i.severity !== 'warning');
  assert.equal(bad.length, 1);
  assert.match(`${bad[0]!.path}: ${bad[0]!.message}`, /^spec\.values\.meshConfig\.outpost\.ssrfGuard: .*ENFORCE.*REPORT_ONLY.*DISABLED/);
});

test('the guard in each proxy config: mode from the Istio resource, ranges, control endpoints, and what visible ServiceEntries name', () => {
  const base = [...loadObjects('mesh-base'), ...SE];
  const ctx = {
    networks: [{ cidr: '127.9.8.0/24', reason: 'mesh_network' }],
    controlEndpoints: [{ address: '127.9.8.1', port: 6443, reason: 'control_plane' }],
    adminPorts: [15000],
  };
  const cfg = translate(snapshotFromObjects(base.filter((o) => o.kind !== 'Istio')), curl, { ssrfGuard: ctx });
  const g = cfg.mesh.ssrfGuard!;
  assert.equal(g.mode, 'ENFORCE', 'on by default');
  assert.deepEqual(g.denyRanges.slice(0, 2), [
    { cidr: '127.9.8.0/24', reason: 'mesh_network' },
    { cidr: '127.0.0.0/8', reason: 'loopback' },
  ]);
  assert.deepEqual(g.denyRanges.map((r) => r.reason).slice(1), [
    'loopback',
    'loopback',
    'link_local',
    'link_local',
    'unspecified',
    'unspecified',
    'multicast',
    'multicast',
  ]);
  assert.deepEqual(g.denyEndpoints, ctx.controlEndpoints);
  assert.deepEqual(g.adminPorts, [15000]);
  assert.deepEqual(g.allowHosts, ['*.wiki.example', 'api.example.com', 'db.internal'], 'hidden.example.com is not exported to curl');
  assert.deepEqual(g.allowAddresses, ['10.1.2.3', '192.0.2.0/24']);

  const report = translate(snapshotFromObjects([...base.filter((o) => o.kind !== 'Istio'), istio('REPORT_ONLY')]), curl);
  assert.equal(report.mesh.ssrfGuard?.mode, 'REPORT_ONLY');
  const off = translate(snapshotFromObjects([...base.filter((o) => o.kind !== 'Istio'), istio('DISABLED')]), curl);
  assert.equal(off.mesh.ssrfGuard, undefined);
});
