// ISTIO_MUTUAL toward gateway pods names the identities the peer must present (Istio fills the
// cluster's subjectAltNames from the endpoints' service accounts), in the mesh's trust domain.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../../src/api/object.js';
import type { ProxyIdentity } from '../../../src/proxyconfig/types.js';
import { snapshotFromObjects } from '../../../src/controlplane/snapshot.js';
import { translate } from '../../../src/controlplane/translate/index.js';
import { loadObjects } from '../../fixtures/cp/load.js';

const curl: ProxyIdentity = { id: 'curl-1.curl', role: 'sidecar', namespace: 'curl', workload: 'curl', ip: '127.0.1.2', labels: { app: 'curl' } };
const TO_GW = 'outbound|80|rh-docs|egressgw.gw-ns.svc.cluster.local';

function withAccount(objs: KubeObject[], sa: string | undefined): KubeObject[] {
  return objs.map((o) =>
    o.kind === 'Pod' && o.metadata.namespace === 'gw-ns' && sa !== undefined ? { ...o, spec: { ...(o.spec as object), serviceAccountName: sa } } : o,
  );
}

function trustDomain(objs: KubeObject[], td: string): KubeObject[] {
  return objs.map((o) =>
    o.kind === 'Istio'
      ? {
          ...o,
          spec: {
            ...(o.spec as object),
            values: { meshConfig: { ...((o.spec as { values?: { meshConfig?: object } }).values?.meshConfig ?? {}), trustDomain: td } },
          },
        }
      : o,
  );
}

test('auto mTLS to gateway pods: subjectAltNames from their service accounts, in the trust domain; none when a pod names none', () => {
  const base = loadObjects('mesh-base', 'seed-istio-api');
  assert.ok(
    base.some((o) => o.kind === 'Pod' && o.metadata.namespace === 'gw-ns'),
    'the fixture has gateway pods',
  );
  const table: Array<{ name: string; objs: KubeObject[]; want: string[] | undefined }> = [
    { name: 'service account egressgw', objs: withAccount(base, 'egressgw'), want: ['spiffe://cluster.local/ns/gw-ns/sa/egressgw'] },
    { name: 'another trust domain', objs: trustDomain(withAccount(base, 'egressgw'), 'corp.example'), want: ['spiffe://corp.example/ns/gw-ns/sa/egressgw'] },
    { name: 'pods without serviceAccountName (any mesh identity)', objs: base, want: undefined },
  ];
  for (const c of table) {
    const cluster = translate(snapshotFromObjects(c.objs), curl).clusters.find((x) => x.name === TO_GW);
    assert.equal(cluster?.tls?.mode, 'ISTIO_MUTUAL', c.name);
    assert.deepEqual(cluster?.tls?.subjectAltNames, c.want, c.name);
  }
});
