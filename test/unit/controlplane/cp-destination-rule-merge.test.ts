// Several DestinationRules for one host in one namespace merge as Istio merges them: the oldest
// keeps its policy, younger ones add the subsets it lacks (two tutorials' subsets on one egress
// gateway Service both get clusters).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../../src/api/object.js';
import type { ProxyIdentity } from '../../../src/proxyconfig/types.js';
import { snapshotFromObjects } from '../../../src/controlplane/snapshot.js';
import { translate } from '../../../src/controlplane/translate/index.js';

const app: ProxyIdentity = { id: 'sleep-1.apps', role: 'sidecar', namespace: 'apps', workload: 'sleep', ip: '127.0.1.2', labels: { app: 'sleep' } };
const GW = 'egressgw.gw-ns.svc.cluster.local';

const service: KubeObject = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'egressgw', namespace: 'gw-ns' },
  spec: { selector: { istio: 'egressgw' }, ports: [{ name: 'tls', port: 443, targetPort: 443 }] },
};
function dr(name: string, ns: string, created: string, spec: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name, namespace: ns, creationTimestamp: created },
    spec: { host: GW, ...spec },
  };
}

function clusters(objects: KubeObject[]) {
  return translate(snapshotFromObjects([service, ...objects]), app).clusters.filter((c) => c.name.endsWith(`|${GW}`));
}

test('two rules in one namespace: both subsets get clusters', () => {
  const names = clusters([
    dr('egressgateway-for-cnn', 'gw-ns', '2024-01-01T00:00:00Z', { subsets: [{ name: 'cnn' }] }),
    dr('egressgateway-for-wikipedia', 'gw-ns', '2024-01-02T00:00:00Z', { subsets: [{ name: 'wikipedia' }] }),
  ])
    .map((c) => c.name)
    .sort();
  assert.deepEqual(names, [`outbound|443|cnn|${GW}`, `outbound|443|wikipedia|${GW}`, `outbound|443||${GW}`].sort());
});

test("the oldest rule's policy and same-named subset win; a younger policy fills in only when the oldest has none", () => {
  const byName = (objs: KubeObject[]) => new Map(clusters(objs).map((c) => [c.name, c]));
  const a = byName([
    dr('old', 'gw-ns', '2024-01-01T00:00:00Z', {
      trafficPolicy: { loadBalancer: { simple: 'RANDOM' } },
      subsets: [{ name: 'x', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } }],
    }),
    dr('new', 'gw-ns', '2024-01-02T00:00:00Z', {
      trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST' } },
      subsets: [{ name: 'x', trafficPolicy: { loadBalancer: { simple: 'RANDOM' } } }, { name: 'y' }],
    }),
  ]);
  assert.equal(a.get(`outbound|443||${GW}`)!.lbPolicy, 'RANDOM');
  assert.equal(a.get(`outbound|443|x|${GW}`)!.lbPolicy, 'ROUND_ROBIN');
  assert.equal(a.get(`outbound|443|y|${GW}`)!.lbPolicy, 'RANDOM');
  const b = byName([
    dr('old', 'gw-ns', '2024-01-01T00:00:00Z', { subsets: [{ name: 'x' }] }),
    dr('new', 'gw-ns', '2024-01-02T00:00:00Z', { trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } }),
  ]);
  assert.equal(b.get(`outbound|443||${GW}`)!.lbPolicy, 'ROUND_ROBIN');
});

test("rules in different namespaces do not merge: the proxy's namespace wins", () => {
  const names = clusters([
    dr('in-gw-ns', 'gw-ns', '2024-01-01T00:00:00Z', { subsets: [{ name: 'cnn' }] }),
    dr('in-apps', 'apps', '2024-01-02T00:00:00Z', { subsets: [{ name: 'mine' }] }),
  ])
    .map((c) => c.name)
    .sort();
  assert.deepEqual(names, [`outbound|443|mine|${GW}`, `outbound|443||${GW}`].sort());
});
