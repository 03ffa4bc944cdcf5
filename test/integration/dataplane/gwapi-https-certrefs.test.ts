// A Gateway API HTTPS listener terminating TLS with a certificateRefs Secret, on a real proxy: a node:https
// client trusting the test CA reaches the backend through it; one trusting another CA is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { KubeObject } from '../../../src/api/object.js';
import type { ProxyIdentity } from '../../../src/proxyconfig/types.js';
import { snapshotFromObjects } from '../../../src/controlplane/snapshot.js';
import { translate } from '../../../src/controlplane/translate/index.js';
import { testCerts } from '../../helpers/certs.js';
import { startHttpUpstream } from '../../helpers/upstreams.js';
import { freePort, startProxy } from '../../helpers/proxy-harness.js';

const NS = 'egress';
const HOST = 'nginx.example.com';
const gwPod: ProxyIdentity = {
  id: 'gw-1.egress',
  role: 'router',
  namespace: NS,
  workload: 'gw-istio',
  ip: '127.0.0.1',
  labels: { 'gateway.networking.k8s.io/gateway-name': 'gw' },
};
const b64 = (s: string) => Buffer.from(s).toString('base64');

function mesh(port: number, upstreamPort: number): KubeObject[] {
  const certs = testCerts();
  return [
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'gw-cert', namespace: 'certs' },
      type: 'kubernetes.io/tls',
      data: { 'tls.crt': b64(certs.serverCertPem), 'tls.key': b64(certs.serverKeyPem) },
    } as unknown as KubeObject,
    {
      apiVersion: 'gateway.networking.k8s.io/v1beta1',
      kind: 'ReferenceGrant',
      metadata: { name: 'gw-cert', namespace: 'certs' },
      spec: { from: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: NS }], to: [{ group: '', kind: 'Secret', name: 'gw-cert' }] },
    },
    {
      apiVersion: 'networking.istio.io/v1',
      kind: 'ServiceEntry',
      metadata: { name: 'backend', namespace: NS },
      spec: {
        hosts: [HOST],
        ports: [{ number: 80, name: 'http', protocol: 'HTTP' }],
        resolution: 'STATIC',
        endpoints: [{ address: '127.0.0.1', ports: { http: upstreamPort } }],
      },
    },
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: 'gw', namespace: NS },
      spec: {
        gatewayClassName: 'istio',
        listeners: [
          {
            name: 'https',
            port,
            protocol: 'HTTPS',
            hostname: HOST,
            tls: { mode: 'Terminate', certificateRefs: [{ kind: 'Secret', name: 'gw-cert', namespace: 'certs' }] },
          },
        ],
      },
    },
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'backend', namespace: NS },
      spec: {
        parentRefs: [{ name: 'gw' }],
        hostnames: [HOST],
        rules: [{ backendRefs: [{ group: 'networking.istio.io', kind: 'Hostname', name: HOST, port: 80 }] }],
      },
    },
  ];
}

function get(port: number, ca: string): Promise<{ status: number; body: string; peerCn: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, servername: HOST, path: '/get', headers: { host: HOST }, ca, agent: false }, (res) => {
      const peerCn = String((res.socket as TLSSocket).getPeerCertificate().subject?.CN ?? '');
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, peerCn }));
    });
    req.on('error', reject);
    req.end();
  });
}

test("an HTTPS client trusting the Secret's CA reaches the backend through the Gateway API HTTPS listener", async (t) => {
  const certs = testCerts();
  const up = await startHttpUpstream();
  t.after(() => up.close());
  const port = await freePort();
  const cfg = translate(snapshotFromObjects(mesh(port, up.port)), gwPod);
  await startProxy(t, cfg);

  const r = await get(port, certs.caPem);
  assert.equal(r.status, 200);
  assert.equal(r.peerCn, 'upstream.test', "the gateway presents the Secret's certificate");
  assert.equal(up.requests.length, 1);
  assert.equal(up.requests[0]!.url, '/get');
  assert.equal(up.requests[0]!.headers.host, HOST);

  // A client that trusts only another CA refuses the gateway's certificate; nothing reaches the backend.
  await assert.rejects(get(port, certs.otherCaPem), /self[- ]signed|unable to (verify|get)|certificate/i);
  assert.equal(up.requests.length, 1);
});
