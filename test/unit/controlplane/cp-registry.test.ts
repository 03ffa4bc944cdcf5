// Registry: Kubernetes Services (selector → ready pods → endpoints at targetPort) and ServiceEntries (hosts, resolution, visibility).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../../src/api/object.js';
import { snapshotFromObjects } from '../../../src/controlplane/snapshot.js';
import { registryFor } from '../../../src/controlplane/registry/index.js';
import { kubePortProtocol } from '../../../src/api/kinds/port-protocol.js';

const pod = (name: string, ns: string, labels: Record<string, string>, ip: string, phase = 'Running', ready = 'True', ports: unknown[] = []): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: ns, labels },
  spec: { containers: [{ name: 'c', ports }] },
  status: { phase, podIP: ip, conditions: [{ type: 'Ready', status: ready }] },
});
const se = (name: string, ns: string, spec: Record<string, unknown>, creationTimestamp?: string): KubeObject => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'ServiceEntry',
  metadata: { name, namespace: ns, ...(creationTimestamp ? { creationTimestamp } : {}) },
  spec,
});

test('a Kubernetes Service has endpoints for Running, Ready pods with an IP, at the targetPort (numbers and names)', () => {
  const reg = registryFor(
    snapshotFromObjects([
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'web', namespace: 'shop' },
        spec: {
          selector: { app: 'web' },
          ports: [
            { name: 'http-main', port: 80, targetPort: 8080 },
            { name: 'grpc', port: 9000, targetPort: 'grpc-port' },
            { port: 5432, appProtocol: 'tcp' },
          ],
        },
      },
      pod('web-1', 'shop', { app: 'web' }, '127.0.9.2', 'Running', 'True', [{ name: 'grpc-port', containerPort: 9090 }]),
      pod('web-2', 'shop', { app: 'web' }, '127.0.9.3', 'Pending'),
      pod('web-3', 'shop', { app: 'web' }, '127.0.9.4', 'Running', 'False'),
      pod('other', 'shop', { app: 'db' }, '127.0.9.5'),
      pod('web-x', 'elsewhere', { app: 'web' }, '127.0.9.6'),
    ]),
  );
  const svc = reg.lookup('web.shop.svc.cluster.local', 'shop')!;
  assert.equal(svc.origin, 'Service');
  assert.deepEqual(
    svc.ports.map((p) => [p.port, p.protocol]),
    [
      [80, 'HTTP'],
      [9000, 'GRPC'],
      [5432, 'TCP'],
    ],
  );
  assert.deepEqual(
    svc.endpoints.map((e) => [e.address, e.ports.get(80), e.ports.get(9000), e.ports.get(5432)]),
    [['127.0.9.2', 8080, 9090, 5432]],
  );
});

test('port protocol: appProtocol first, then the name prefix, else TCP', () => {
  assert.equal(kubePortProtocol('http', 'tcp-x'), 'HTTP');
  assert.equal(kubePortProtocol(undefined, 'http2-foo'), 'HTTP2');
  assert.equal(kubePortProtocol(undefined, 'https'), 'HTTPS');
  assert.equal(kubePortProtocol('kubernetes.io/h2c', undefined), 'HTTP2');
  assert.equal(kubePortProtocol(undefined, 'metrics'), 'TCP');
});

test('ServiceEntry: one service per host, resolution, targetPort, endpoints by port name', () => {
  const reg = registryFor(
    snapshotFromObjects([
      se('multi', 'a', {
        hosts: ['one.example.com', 'two.example.com'],
        ports: [{ number: 80, name: 'http', protocol: 'HTTP', targetPort: 8080 }],
        resolution: 'DNS',
      }),
      se('static', 'a', {
        hosts: ['db.internal'],
        ports: [{ number: 5432, name: 'pg', protocol: 'TCP' }],
        resolution: 'STATIC',
        location: 'MESH_INTERNAL',
        endpoints: [
          { address: '127.0.50.1', ports: { pg: 15432 } },
          { address: '127.0.50.2', weight: 3 },
        ],
      }),
      se('rr', 'a', { hosts: ['rr.example.com'], ports: [{ number: 443, name: 'tls', protocol: 'TLS' }], resolution: 'DNS_ROUND_ROBIN' }),
      se('wild', 'a', { hosts: ['*.wikipedia.org'], ports: [{ number: 443, name: 'tls', protocol: 'TLS' }] }),
    ]),
  );
  const one = reg.lookup('one.example.com', 'a')!;
  assert.equal(one.resolution, 'DNS');
  assert.deepEqual(one.endpoints, [{ address: 'one.example.com', ports: new Map([[80, 8080]]), labels: {} }]);
  assert.ok(reg.lookup('two.example.com', 'a'));
  const db = reg.lookup('db.internal', 'a')!;
  assert.equal(db.location, 'MESH_INTERNAL');
  assert.deepEqual(
    db.endpoints.map((e) => [e.address, e.ports.get(5432), e.weight]),
    [
      ['127.0.50.1', 15432, undefined],
      ['127.0.50.2', 5432, 3],
    ],
  );
  assert.equal(reg.lookup('rr.example.com', 'a')!.resolution, 'DNS_ROUND_ROBIN');
  const wild = reg.lookup('*.wikipedia.org', 'a')!;
  assert.equal(wild.resolution, 'NONE');
  assert.deepEqual(wild.endpoints, []);
  assert.equal(reg.resolve('en.wikipedia.org', 'a')?.host, '*.wikipedia.org');
  assert.equal(reg.resolve('wikipedia.org', 'a'), undefined);
});

test('exportTo limits which namespaces see a service; a namespace prefers its own entry on a host collision', () => {
  const reg = registryFor(
    snapshotFromObjects([
      se('private', 'team-a', { hosts: ['private.example.com'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], exportTo: ['.'] }),
      se('shared-old', 'team-b', { hosts: ['api.example.com'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }] }, '2024-01-01T00:00:00Z'),
      se('shared-new', 'team-c', { hosts: ['api.example.com'], ports: [{ number: 8080, name: 'http', protocol: 'HTTP' }] }, '2024-06-01T00:00:00Z'),
      se('listed', 'team-a', { hosts: ['listed.example.com'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], exportTo: ['team-d'] }),
    ]),
  );
  assert.ok(reg.lookup('private.example.com', 'team-a'));
  assert.equal(reg.lookup('private.example.com', 'team-b'), undefined);
  assert.equal(reg.lookup('listed.example.com', 'team-a'), undefined);
  assert.ok(reg.lookup('listed.example.com', 'team-d'));
  assert.equal(reg.lookup('api.example.com', 'team-c')!.namespace, 'team-c');
  assert.equal(reg.lookup('api.example.com', 'other')!.namespace, 'team-b', 'the oldest wins elsewhere');
  assert.deepEqual(
    reg.visibleTo('team-b').map((s) => s.host),
    ['api.example.com'],
  );
});

test("a ServiceEntry with a Kubernetes Service's host does not replace the Service", () => {
  const reg = registryFor(
    snapshotFromObjects([
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'web', namespace: 'shop' },
        spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80 }] },
      },
      se('decorate', 'shop', { hosts: ['web.shop.svc.cluster.local'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], resolution: 'DNS' }),
    ]),
  );
  assert.equal(reg.lookup('web.shop.svc.cluster.local', 'shop')!.origin, 'Service');
  assert.equal(reg.visibleTo('shop').length, 1);
});
