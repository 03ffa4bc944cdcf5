// Injection on a cluster: which pods get which template, and what the webhook's JSON patch makes of
// a pod (applied with the API server's own RFC 6902 implementation).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObject } from '../../../src/api/object.js';
import { applyJsonPatch } from '../../../src/apiserver/json-patch.js';
import { admissionResponse, injectionPatch, injectionTemplate } from '../../../src/cluster/injection.js';

const settings = { image: 'registry.example/outpost:0.1.0', controllerUrl: 'http://outpost-controller.istio-system.svc:15012' };
const pod = (
  meta: Partial<KubeObject['metadata']> = {},
  containers: unknown[] = [{ name: 'app', image: 'curl', env: [{ name: 'A', value: '1' }] }],
): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p', namespace: 'curl', ...meta },
  spec: { serviceAccountName: 'curl', containers },
});

test('which pods get a proxy, and which template', () => {
  const injected = { 'istio-injection': 'enabled' };
  const cases: [string, KubeObject, Record<string, string>, string | undefined][] = [
    ['injected namespace', pod(), injected, 'sidecar'],
    ['revision label on the namespace', pod(), { 'istio.io/rev': 'default' }, 'sidecar'],
    ['plain namespace', pod(), {}, undefined],
    ['pod opts out', pod({ labels: { 'sidecar.istio.io/inject': 'false' } }), injected, undefined],
    ['pod opts in', pod({ labels: { 'sidecar.istio.io/inject': 'true' } }), {}, 'sidecar'],
    ['already injected', pod({ annotations: { 'sidecar.istio.io/status': '{}' } }), injected, undefined],
    ['deployer gateway pod', pod({ annotations: { 'inject.istio.io/templates': 'gateway', 'sidecar.istio.io/inject': 'false' } }), {}, 'gateway'],
  ];
  for (const [what, p, labels, want] of cases) assert.equal(injectionTemplate(p, labels), want, what);
});

test('a sidecar: the proxy container with its bootstrap env, token and labels volumes; app containers get the proxy env', () => {
  const out = applyJsonPatch(pod(), injectionPatch(pod(), { 'istio-injection': 'enabled' }, settings)) as any;
  const [app, proxy] = out.spec.containers;
  assert.equal(proxy.name, 'istio-proxy');
  assert.deepEqual(proxy.args, ['proxy', 'sidecar']);
  assert.equal(proxy.image, settings.image);
  assert.equal(proxy.securityContext.runAsUser, 1337);
  const env = Object.fromEntries(proxy.env.map((e: any) => [e.name, e.value ?? e.valueFrom.fieldRef.fieldPath]));
  assert.deepEqual(env, {
    POD_NAME: 'metadata.name',
    POD_NAMESPACE: 'metadata.namespace',
    INSTANCE_IP: 'status.podIP',
    SERVICE_ACCOUNT: 'spec.serviceAccountName',
    OUTPOST_CONTROLLER_URL: settings.controllerUrl,
    OUTPOST_TOKEN_FILE: '/var/run/secrets/tokens/outpost-token',
    OUTPOST_POD_LABELS_FILE: '/etc/istio/pod/labels',
  });
  assert.deepEqual(
    app.env.map((e: any) => e.name),
    ['A', 'http_proxy', 'https_proxy', 'no_proxy'],
    'the app keeps its env and gets the explicit proxy',
  );
  const withCa = applyJsonPatch(pod(), injectionPatch(pod(), { 'istio-injection': 'enabled' }, { ...settings, controllerCa: 'PEM' })) as any;
  assert.equal(
    withCa.spec.containers[1].env.find((e: any) => e.name === 'OUTPOST_CONTROLLER_CA').value,
    'PEM',
    'an https controller: its CA (public) in the env',
  );
  const token = out.spec.volumes.find((v: any) => v.name === 'outpost-token');
  assert.deepEqual(token.projected.sources[0].serviceAccountToken, { audience: 'outpost', expirationSeconds: 43200, path: 'outpost-token' });
  assert.ok(out.metadata.annotations['sidecar.istio.io/status'], 'marked, so a second pass injects nothing');
  assert.deepEqual(injectionPatch(out, { 'istio-injection': 'enabled' }, settings), []);
});

test("a gateway: the deployer's istio-proxy container is filled in (ports kept) and may bind low ports", () => {
  const gw = pod({ annotations: { 'inject.istio.io/templates': 'gateway' } }, [
    { name: 'istio-proxy', image: 'auto', args: ['proxy', 'router'], ports: [{ containerPort: 80, name: 'http' }] },
  ]);
  const out = applyJsonPatch(gw, injectionPatch(gw, {}, settings)) as any;
  assert.equal(out.spec.containers.length, 1);
  assert.equal(out.spec.containers[0].image, settings.image);
  assert.deepEqual(out.spec.containers[0].args, ['proxy', 'router']);
  assert.deepEqual(out.spec.containers[0].ports, [{ containerPort: 80, name: 'http' }]);
  assert.deepEqual(out.spec.securityContext.sysctls, [{ name: 'net.ipv4.ip_unprivileged_port_start', value: '0' }]);
});

test('the AdmissionReview answer: always allowed; a base64 JSONPatch only when something is injected', () => {
  const labels = (ns: string): Record<string, string> => (ns === 'curl' ? { 'istio-injection': 'enabled' } : {});
  const review = (ns: string, operation = 'CREATE') => ({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid: 'u1', kind: { kind: 'Pod' }, namespace: ns, operation, object: pod({ namespace: ns }) },
  });
  const yes = admissionResponse(review('curl'), labels, settings) as any;
  assert.equal(yes.response.uid, 'u1');
  assert.equal(yes.response.allowed, true);
  assert.equal(yes.response.patchType, 'JSONPatch');
  assert.ok(Array.isArray(JSON.parse(Buffer.from(yes.response.patch, 'base64').toString())));
  assert.deepEqual((admissionResponse(review('plain'), labels, settings) as any).response, { uid: 'u1', allowed: true });
  assert.deepEqual((admissionResponse(review('curl', 'UPDATE'), labels, settings) as any).response, { uid: 'u1', allowed: true });
  assert.deepEqual((admissionResponse({}, labels, settings) as any).response, { uid: '', allowed: true });
});
