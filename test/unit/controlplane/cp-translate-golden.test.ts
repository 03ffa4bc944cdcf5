// Golden translation tests: the seed's two procedures and the Istio egress tutorials' flows, sidecar and gateway.
// Regenerate the JSON files with UPDATE_CP_GOLDEN=1 (and review the diff).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeObject } from '../../../src/api/object.js';
import type { ProxyConfig, ProxyIdentity } from '../../../src/proxyconfig/types.js';
import { snapshotFromObjects } from '../../../src/controlplane/snapshot.js';
import { translate } from '../../../src/controlplane/translate/index.js';
import { desiredGatewayObjects } from '../../../src/controlplane/deployer/index.js';
import { CP_FIXTURES, loadObjects, podFor } from '../../fixtures/cp/load.js';

const GOLDEN = join(CP_FIXTURES, 'golden');
const update = process.env.UPDATE_CP_GOLDEN === '1';

const curl: ProxyIdentity = { id: 'curl-5b8f9c7d6-abcde.curl', role: 'sidecar', namespace: 'curl', workload: 'curl', ip: '127.0.1.2', labels: { app: 'curl' } };
const egressgw: ProxyIdentity = {
  id: 'egressgw-7d9c8b6f5-xyz12.gw-ns',
  role: 'router',
  namespace: 'gw-ns',
  workload: 'egressgw',
  ip: '127.0.2.2',
  labels: { istio: 'egressgw', app: 'egressgw' },
};
const istioEgress: ProxyIdentity = {
  id: 'istio-egressgateway-6d8f7b9c4-q7x2m.istio-system',
  role: 'router',
  namespace: 'istio-system',
  workload: 'istio-egressgateway',
  ip: '127.0.4.2',
  labels: { istio: 'egressgateway', app: 'istio-egressgateway' },
};
const testPod: ProxyIdentity = {
  id: 'test-pod.egress-gateway',
  role: 'sidecar',
  namespace: 'egress-gateway',
  workload: 'test-pod',
  ip: '127.0.3.2',
  labels: { run: 'test-pod' },
};

/** The Gateway API seed as the control plane sees it after the deployer ran and the runtime started the gateway pod. */
function gatewayApiObjects(): { objects: KubeObject[]; gatewayPod: ProxyIdentity } {
  const objects = loadObjects('mesh-base', 'seed-gateway-api');
  const gw = objects.find((o) => o.kind === 'Gateway')!;
  const made = desiredGatewayObjects(gw);
  const pod = podFor(made[0]!, '127.0.3.3');
  objects.push(...made, pod);
  return {
    objects,
    gatewayPod: {
      id: `${pod.metadata.name}.egress-gateway`,
      role: 'router',
      namespace: 'egress-gateway',
      workload: 'httpbin-egress-gateway-istio',
      ip: '127.0.3.3',
      labels: pod.metadata.labels!,
    },
  };
}

function checkGolden(name: string, cfg: ProxyConfig): void {
  const file = join(GOLDEN, `${name}.json`);
  const text = `${JSON.stringify(cfg, null, 2)}\n`;
  if (update || !existsSync(file)) {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(file, text);
    if (!update) assert.fail(`golden file ${file} did not exist; wrote it — review and rerun`);
    return;
  }
  assert.deepEqual(JSON.parse(text), JSON.parse(readFileSync(file, 'utf8')), `translation differs from ${file} (UPDATE_CP_GOLDEN=1 to regenerate)`);
}

const gwApi = gatewayApiObjects();
const cases: { name: string; objects: () => KubeObject[]; proxy: ProxyIdentity }[] = [
  { name: 'seed-istio-api.sidecar-curl', objects: () => loadObjects('mesh-base', 'seed-istio-api'), proxy: curl },
  { name: 'seed-istio-api.gateway-egressgw', objects: () => loadObjects('mesh-base', 'seed-istio-api'), proxy: egressgw },
  { name: 'seed-gateway-api.sidecar-test-pod', objects: () => gwApi.objects, proxy: testPod },
  { name: 'seed-gateway-api.gateway', objects: () => gwApi.objects, proxy: gwApi.gatewayPod },
  { name: 'eg-http.sidecar-curl', objects: () => loadObjects('mesh-base', 'egressgateway', 'eg-http'), proxy: curl },
  { name: 'eg-http.gateway', objects: () => loadObjects('mesh-base', 'egressgateway', 'eg-http'), proxy: istioEgress },
  { name: 'eg-tls-passthrough.sidecar-curl', objects: () => loadObjects('mesh-base', 'egressgateway', 'eg-tls-passthrough'), proxy: curl },
  { name: 'eg-tls-passthrough.gateway', objects: () => loadObjects('mesh-base', 'egressgateway', 'eg-tls-passthrough'), proxy: istioEgress },
  { name: 'egto.sidecar-curl', objects: () => loadObjects('mesh-base', 'egressgateway', 'egto'), proxy: curl },
  { name: 'egto.gateway', objects: () => loadObjects('mesh-base', 'egressgateway', 'egto'), proxy: istioEgress },
  { name: 'wildcard.sidecar-curl', objects: () => loadObjects('mesh-base', 'egressgateway', 'wildcard'), proxy: curl },
  { name: 'wildcard.gateway', objects: () => loadObjects('mesh-base', 'egressgateway', 'wildcard'), proxy: istioEgress },
];

for (const c of cases) {
  test(`golden: ${c.name}`, () => {
    const cfg = translate(snapshotFromObjects(c.objects()), c.proxy, { readPem: () => undefined });
    checkGolden(c.name, cfg);
    // Deterministic: the same input gives the same version, whatever the object order.
    const again = translate(snapshotFromObjects([...c.objects()].reverse()), c.proxy, { readPem: () => undefined });
    assert.equal(again.version, cfg.version);
  });
}

// The facts the goldens encode, stated once so a bad regeneration cannot hide them.
test('seed §3.2: sidecar sends docs.redhat.com to the gateway subset; the gateway to the external host', () => {
  const snap = snapshotFromObjects(loadObjects('mesh-base', 'seed-istio-api'));
  const side = translate(snap, curl);
  const vh = side.routeTables.find((t) => t.name === '80')!.virtualHosts.find((v) => v.name === 'docs.redhat.com:80')!;
  assert.deepEqual(vh.routes[0]!.action.kind === 'forward' && vh.routes[0]!.action.clusters.map((c) => c.cluster), [
    'outbound|80|rh-docs|egressgw.gw-ns.svc.cluster.local',
  ]);
  const sub = side.clusters.find((c) => c.name === 'outbound|80|rh-docs|egressgw.gw-ns.svc.cluster.local')!;
  assert.deepEqual(
    sub.endpoints.map((e) => `${e.address}:${e.port}`),
    ['127.0.2.2:8080'],
  );
  assert.equal(sub.protocol, 'HTTP2');
  assert.deepEqual(side.mesh.accessLog, { path: '/dev/stdout', encoding: 'TEXT' });
  const gw = translate(snap, egressgw);
  assert.deepEqual(
    gw.listeners.map((l) => `${l.name} ${l.address}:${l.port} ${l.protocol}`),
    ['0.0.0.0_8080 127.0.2.2:8080 HTTP'],
  );
  const gvh = gw.routeTables.find((t) => t.name === 'http.8080')!.virtualHosts;
  assert.deepEqual(
    gvh.map((v) => v.name),
    ['docs.redhat.com:80'],
  );
  const route = gvh[0]!.routes[0]!;
  assert.ok(route.action.kind === 'forward' && route.action.clusters[0]!.cluster === 'outbound|80||docs.redhat.com');
  const ext = gw.clusters.find((c) => c.name === 'outbound|80||docs.redhat.com')!;
  assert.equal(ext.type, 'STRICT_DNS');
  assert.deepEqual(ext.endpoints, [{ address: 'docs.redhat.com', port: 80 }]);
});

test('seed §3.3: mesh traffic to httpbin.org goes to <gw>-istio, the gateway forwards to the Hostname backend', () => {
  const snap = snapshotFromObjects(gwApi.objects);
  const side = translate(snap, testPod);
  const vh = side.routeTables.find((t) => t.name === '80')!.virtualHosts.find((v) => v.name === 'httpbin.org:80')!;
  assert.equal(vh.routes[0]!.name, 'egress-gateway.direct-httpbin-to-egress-gateway.0');
  assert.ok(
    vh.routes[0]!.action.kind === 'forward' &&
      vh.routes[0]!.action.clusters[0]!.cluster === 'outbound|80||httpbin-egress-gateway-istio.egress-gateway.svc.cluster.local',
  );
  const gw = translate(snap, gwApi.gatewayPod);
  const gvh = gw.routeTables.find((t) => t.name === 'http.80')!.virtualHosts;
  assert.deepEqual(
    gvh.map((v) => v.name),
    ['httpbin.org:80'],
  );
  assert.equal(gvh[0]!.routes[0]!.name, 'egress-gateway.forward-httpbin-from-egress-gateway.0');
  assert.ok(gvh[0]!.routes[0]!.action.kind === 'forward' && gvh[0]!.routes[0]!.action.clusters[0]!.cluster === 'outbound|80||httpbin.org');
});

test('TLS passthrough and wildcard: SNI chains at both hops', () => {
  const snap = snapshotFromObjects(loadObjects('mesh-base', 'egressgateway', 'wildcard'));
  const side = translate(snap, curl);
  const l = side.listeners.find((x) => x.name === '0.0.0.0_443')!;
  assert.ok(l.protocol === 'TLS');
  const chain = l.chains.find((c) => c.sniHosts.includes('*.wikipedia.org'))!;
  assert.equal(chain.route.clusters[0]!.cluster, 'outbound|443|wikipedia|istio-egressgateway.istio-system.svc.cluster.local');
  const gw = translate(snap, istioEgress);
  const gl = gw.listeners.find((x) => x.port === 8443)!;
  assert.ok(gl.protocol === 'TLS' && gl.defaultChain === undefined);
  assert.deepEqual(
    gl.chains.map((c) => [c.sniHosts, c.route.clusters[0]!.cluster]),
    [[['*.wikipedia.org'], 'outbound|443||www.wikipedia.org']],
  );
  assert.equal(gw.clusters.find((c) => c.name === 'outbound|443||*.wikipedia.org')!.type, 'ORIGINAL_DST');
});

test('TLS origination at the gateway: port-level SIMPLE on edition.cnn.com:443', () => {
  const snap = snapshotFromObjects(loadObjects('mesh-base', 'egressgateway', 'egto'));
  const gw = translate(snap, istioEgress);
  const vh = gw.routeTables.find((t) => t.name === 'http.8080')!.virtualHosts[0]!;
  assert.ok(vh.routes[0]!.action.kind === 'forward' && vh.routes[0]!.action.clusters[0]!.cluster === 'outbound|443||edition.cnn.com');
  const c = gw.clusters.find((x) => x.name === 'outbound|443||edition.cnn.com')!;
  assert.deepEqual(c.tls, { mode: 'SIMPLE' });
  assert.equal(c.lbPolicy, 'ROUND_ROBIN');
  assert.equal(c.protocol, 'HTTP1');
  assert.equal(gw.clusters.find((x) => x.name === 'outbound|80||edition.cnn.com')!.tls, undefined);
});
