// Gateway API HTTPS listeners with certificateRefs: a core Secret (ReferenceGrant across namespaces) is
// resolved and the listener terminates TLS with it; every bad ref is reported and the listener is not programmed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../../src/api/object.js';
import type { PemDownstreamTls, ProxyIdentity } from '../../../src/proxyconfig/types.js';
import { snapshotFromObjects } from '../../../src/controlplane/snapshot.js';
import { gatewayApiModel } from '../../../src/controlplane/translate/gateway-api.js';
import { gatewayStatus } from '../../../src/controlplane/status/gateway-api.js';
import { translate } from '../../../src/controlplane/translate/index.js';
import { testCerts } from '../../helpers/certs.js';

const certs = testCerts();
const NOW = '2026-12-02T08:00:00Z';
const GW = 'gateway.networking.k8s.io/v1';
const programming = { serviceExists: true, ready: true, fqdn: 'gw-istio.egress.svc.cluster.local' };
const b64 = (s: string) => Buffer.from(s).toString('base64');
const gwPod: ProxyIdentity = {
  id: 'gw-1.egress',
  role: 'router',
  namespace: 'egress',
  workload: 'gw-istio',
  ip: '127.0.4.2',
  labels: { 'gateway.networking.k8s.io/gateway-name': 'gw' },
};
const otherGwPod: ProxyIdentity = {
  id: 'other-1.egress',
  role: 'router',
  namespace: 'egress',
  workload: 'other-istio',
  ip: '127.0.4.3',
  labels: { 'gateway.networking.k8s.io/gateway-name': 'other' },
};

function secret(name: string, namespace: string, data: Record<string, string>, type = 'kubernetes.io/tls'): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace },
    type,
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
  } as unknown as KubeObject;
}
const good = (name: string, namespace = 'egress') => secret(name, namespace, { 'tls.crt': certs.serverCertPem, 'tls.key': certs.serverKeyPem });
function gateway(name: string, certificateRefs: unknown[]): KubeObject {
  return {
    apiVersion: GW,
    kind: 'Gateway',
    metadata: { name, namespace: 'egress', generation: 1 },
    spec: { gatewayClassName: 'istio', listeners: [{ name: 'https', port: 8443, protocol: 'HTTPS', tls: { mode: 'Terminate', certificateRefs } }] },
  };
}
const grant = (to: Record<string, unknown>): KubeObject => ({
  apiVersion: 'gateway.networking.k8s.io/v1beta1',
  kind: 'ReferenceGrant',
  metadata: { name: 'certs', namespace: 'certs' },
  spec: { from: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'egress' }], to: [{ group: '', kind: 'Secret', ...to }] },
});

function listener(objects: KubeObject[]): Record<string, string> {
  const info = gatewayApiModel(snapshotFromObjects(objects)).gatewayInfo.get('egress/gw')!;
  const st = gatewayStatus(info, programming, NOW) as { listeners: { conditions: { type: string; status: string; reason: string; message: string }[] }[] };
  const conds = st.listeners[0]!.conditions;
  const c = Object.fromEntries(conds.map((x) => [x.type, `${x.status} ${x.reason}`]));
  return { ...c, message: conds.find((x) => x.type === 'ResolvedRefs')!.message };
}
// The HTTPS listener, if served; its TLS is the PEM kind (these Gateways reference Secrets).
const served = (objects: KubeObject[], pod = gwPod) =>
  translate(snapshotFromObjects(objects), pod).listeners.find((l) => l.port === 8443) as { protocol: string; tls?: PemDownstreamTls } | undefined;

test("a certificateRef to a kubernetes.io/tls Secret in the Gateway's namespace resolves, and the listener terminates TLS with it", () => {
  const objects = [gateway('gw', [{ name: 'cert' }]), good('cert')];
  const l = listener(objects);
  assert.equal(l.ResolvedRefs, 'True ResolvedRefs');
  assert.equal(l.Programmed, 'True Programmed');
  const out = served(objects);
  assert.ok(out, 'the HTTPS listener is served');
  assert.equal(out.protocol, 'HTTP');
  assert.equal(out.tls?.mode, 'SIMPLE');
  assert.equal(out.tls?.certificateChain, certs.serverCertPem);
  assert.equal(out.tls?.privateKey, certs.serverKeyPem);
});

test('only the gateway proxy whose listener references the Secret gets its bytes', () => {
  const objects = [gateway('gw', [{ name: 'cert' }]), gateway('other', []), good('cert')];
  const other = JSON.stringify(translate(snapshotFromObjects(objects), otherGwPod));
  assert.ok(!other.includes('PRIVATE KEY'));
  assert.ok(!other.includes(certs.serverCertPem.split('\n')[1]!));
});

test('a missing Secret: ResolvedRefs False InvalidCertificateRef, and the listener is not programmed', () => {
  const l = listener([gateway('gw', [{ name: 'nope' }])]);
  assert.equal(l.ResolvedRefs, 'False InvalidCertificateRef');
  assert.match(l.message, /egress\/nope: Secret not found/);
  assert.equal(l.Programmed, 'False Invalid');
  assert.equal(served([gateway('gw', [{ name: 'nope' }])]), undefined);
});

test('a malformed Secret (no key, a certificate that does not parse, or another type) is an InvalidCertificateRef', () => {
  const cases: [KubeObject, RegExp][] = [
    [secret('cert', 'egress', { 'tls.crt': certs.serverCertPem }), /no tls\.crt and tls\.key/],
    [
      secret('cert', 'egress', { 'tls.crt': '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n', 'tls.key': certs.serverKeyPem }),
      /not a valid PEM certificate and private key/,
    ],
    [secret('cert', 'egress', { 'tls.crt': certs.serverCertPem, 'tls.key': 'garbage' }), /not a valid PEM certificate and private key/],
    [
      secret('cert', 'egress', { 'tls.crt': certs.serverCertPem, 'tls.key': certs.serverKeyPem }, 'kubernetes.io/basic-auth'),
      /type "kubernetes\.io\/basic-auth" is not kubernetes\.io\/tls/,
    ],
  ];
  for (const [s, message] of cases) {
    const objects = [gateway('gw', [{ name: 'cert' }]), s];
    const l = listener(objects);
    assert.equal(l.ResolvedRefs, 'False InvalidCertificateRef', String(message));
    assert.match(l.message, message);
    assert.equal(l.Programmed, 'False Invalid');
    assert.equal(served(objects), undefined, String(message));
  }
});

test('a certificateRef to another group or kind is an InvalidCertificateRef', () => {
  for (const ref of [
    { group: 'example.com', kind: 'Secret', name: 'cert' },
    { kind: 'ConfigMap', name: 'cert' },
  ]) {
    const l = listener([gateway('gw', [ref]), good('cert')]);
    assert.equal(l.ResolvedRefs, 'False InvalidCertificateRef');
    assert.match(l.message, /only a core Secret is supported/);
  }
});

test("a cross-namespace certificateRef needs a ReferenceGrant in the Secret's namespace (RefNotPermitted without)", () => {
  const objects = [gateway('gw', [{ name: 'shared', namespace: 'certs' }]), good('shared', 'certs')];
  const denied = listener(objects);
  assert.equal(denied.ResolvedRefs, 'False RefNotPermitted');
  assert.equal(denied.message, 'certificateRef shared/certs not accessible to a Gateway in namespace "egress" (missing a ReferenceGrant?)');
  assert.equal(denied.Programmed, 'False Invalid');
  assert.equal(served(objects), undefined);
  assert.equal(listener([...objects, grant({ name: 'other' })]).ResolvedRefs, 'False RefNotPermitted', 'a grant for another name does not count');

  const granted = [...objects, grant({ name: 'shared' })];
  assert.equal(listener(granted).ResolvedRefs, 'True ResolvedRefs');
  assert.equal(served(granted)?.tls?.certificateChain, certs.serverCertPem);
  assert.equal(served([...objects, grant({})])?.tls?.privateKey, certs.serverKeyPem, 'a grant without a name covers every Secret');
});

test('every certificateRef must resolve: one bad ref of two leaves the listener unprogrammed', () => {
  const objects = [gateway('gw', [{ name: 'cert' }, { name: 'missing' }]), good('cert')];
  assert.equal(listener(objects).ResolvedRefs, 'False InvalidCertificateRef');
  assert.equal(served(objects), undefined);
});

test('a TLS listener without tls.mode is Terminate (the Gateway API default), not Passthrough: it says so and is not programmed', () => {
  const tlsGateway: KubeObject = {
    apiVersion: GW,
    kind: 'Gateway',
    metadata: { name: 'gw', namespace: 'egress', generation: 1 },
    spec: { gatewayClassName: 'istio', listeners: [{ name: 'tls', port: 8443, protocol: 'TLS', tls: { certificateRefs: [{ name: 'cert' }] } }] },
  };
  const objects = [tlsGateway, good('cert')];
  const l = listener(objects);
  assert.equal(l.ResolvedRefs, 'False InvalidCertificateRef');
  assert.match(l.message, /mode Terminate are not supported yet/);
  assert.equal(l.Programmed, 'False Invalid');
  assert.equal(served(objects), undefined, 'not served as a passthrough listener');
});
