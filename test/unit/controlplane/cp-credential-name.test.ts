// credentialName: TLS material from Kubernetes Secrets in the gateway's namespace, for Gateway servers and
// DestinationRules at gateways; only the proxy whose config references a Secret gets its bytes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObject } from '../../../src/api/object.js';
import { snapshotFromObjects } from '../../../src/controlplane/snapshot.js';
import { translate } from '../../../src/controlplane/translate/index.js';
import { tlsMaterialProblems } from '../../../src/controlplane/translate/tls-material.js';
import type { ProxyIdentity } from '../../../src/proxyconfig/types.js';
import { testCerts } from '../../helpers/certs.js';

const certs = testCerts();
const b64 = (s: string) => Buffer.from(s).toString('base64');
const gwPod: ProxyIdentity = {
  id: 'egw-1.istio-system',
  role: 'router',
  namespace: 'istio-system',
  workload: 'egw',
  ip: '127.0.4.2',
  labels: { istio: 'egressgateway' },
};
const curl: ProxyIdentity = { id: 'curl-1.curl', role: 'sidecar', namespace: 'curl', workload: 'curl', ip: '127.0.1.2', labels: { app: 'curl' } };

function secret(name: string, namespace: string, data: Record<string, string>): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace },
    type: 'kubernetes.io/tls',
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
  } as unknown as KubeObject;
}
const clientSecret = secret('client-cred', 'istio-system', { 'tls.crt': certs.clientCertPem, 'tls.key': certs.clientKeyPem, 'ca.crt': certs.caPem });
const serverSecret = secret('egw-cert', 'istio-system', { 'tls.crt': certs.serverCertPem, 'tls.key': certs.serverKeyPem });
const serviceEntry: KubeObject = {
  apiVersion: 'networking.istio.io/v1',
  kind: 'ServiceEntry',
  metadata: { name: 'up', namespace: 'istio-system' },
  spec: { hosts: ['upstream.test'], ports: [{ number: 443, name: 'https', protocol: 'HTTPS' }], resolution: 'DNS' },
};
function dr(credentialName: string): KubeObject {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name: 'originate', namespace: 'istio-system' },
    spec: { host: 'upstream.test', trafficPolicy: { tls: { mode: 'MUTUAL', credentialName } } },
  };
}
const gateway: KubeObject = {
  apiVersion: 'networking.istio.io/v1',
  kind: 'Gateway',
  metadata: { name: 'egw', namespace: 'istio-system' },
  spec: {
    selector: { istio: 'egressgateway' },
    servers: [{ port: { number: 8443, name: 'https', protocol: 'HTTPS' }, hosts: ['*'], tls: { mode: 'SIMPLE', credentialName: 'egw-cert' } }],
  },
};

test("a DestinationRule credentialName at a gateway originates with the Secret's certificate, key and CA", () => {
  const cfg = translate(snapshotFromObjects([serviceEntry, dr('client-cred'), clientSecret]), gwPod);
  const c = cfg.clusters.find((x) => x.name === 'outbound|443||upstream.test')!;
  assert.deepEqual(c.tls, { mode: 'MUTUAL', caCertificates: certs.caPem, clientCertificate: certs.clientCertPem, privateKey: certs.clientKeyPem });
});

test('a Gateway server credentialName terminates TLS with the Secret', () => {
  const cfg = translate(snapshotFromObjects([gateway, serverSecret]), gwPod);
  const l = cfg.listeners.find((x) => x.port === 8443);
  assert.ok(
    l && l.protocol === 'HTTP' && l.tls?.mode === 'SIMPLE' && l.tls.certificateChain === certs.serverCertPem && l.tls.privateKey === certs.serverKeyPem,
  );
});

test('only the proxy whose config references a Secret gets its bytes', () => {
  const objects = [serviceEntry, dr('client-cred'), clientSecret, gateway, serverSecret];
  const sidecar = JSON.stringify(translate(snapshotFromObjects(objects), curl));
  assert.ok(!sidecar.includes('PRIVATE KEY'), 'the sidecar gets no key');
  assert.ok(!sidecar.includes(certs.clientCertPem.split('\n')[1]!), 'nor the certificate');
});

test('a missing Secret, or one without a key, fails closed and is reported with the reason', () => {
  const missing = translate(snapshotFromObjects([serviceEntry, dr('nope')]), gwPod).clusters.find((x) => x.name === 'outbound|443||upstream.test')!;
  assert.deepEqual(missing.endpoints, []);
  assert.equal(missing.tls, undefined);
  const noKey = secret('half', 'istio-system', { 'tls.crt': certs.clientCertPem });
  const problems = tlsMaterialProblems(
    snapshotFromObjects([
      serviceEntry,
      dr('nope'),
      {
        ...gateway,
        spec: {
          ...(gateway.spec as object),
          servers: [{ port: { number: 8443, name: 'https', protocol: 'HTTPS' }, hosts: ['*'], tls: { mode: 'SIMPLE', credentialName: 'half' } }],
        },
      },
      noKey,
    ]),
    () => undefined,
  );
  assert.deepEqual(
    problems.map((p) => [p.path, p.reason]),
    [
      ['spec.trafficPolicy.tls.credentialName', "cannot be resolved: no Secret of that name in the gateway's namespace"],
      ['spec.servers[0].tls.credentialName', 'names a Secret without tls.crt and tls.key'],
    ],
  );
});
