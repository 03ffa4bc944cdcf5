// Sidecar scope: Sidecar egress hosts import VirtualServices as they import services; TCP services sharing a port.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../../src/api/object.js';
import type { ProxyConfig, ProxyIdentity } from '../../../src/proxyconfig/types.js';
import { snapshotFromObjects } from '../../../src/controlplane/snapshot.js';
import { translate } from '../../../src/controlplane/translate/index.js';
import { registryFor } from '../../../src/controlplane/registry/index.js';

const curl: ProxyIdentity = { id: 'curl-1.curl', role: 'sidecar', namespace: 'curl', workload: 'curl', ip: '127.0.1.2', labels: { app: 'curl' } };

function serviceEntry(name: string, namespace: string, spec: Record<string, unknown>, created = '2024-01-01T00:00:00Z'): KubeObject {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'ServiceEntry',
    metadata: { name, namespace, creationTimestamp: created },
    spec: { resolution: 'DNS', ...spec },
  };
}

const api = serviceEntry('api', 'curl', { hosts: ['api.example.com'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }] });
const canary = serviceEntry('canary', 'curl', { hosts: ['canary.example.com'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }] });
const teamVs: KubeObject = {
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name: 'api-canary', namespace: 'team-a' },
  spec: { hosts: ['api.example.com'], http: [{ route: [{ destination: { host: 'canary.example.com' } }] }] },
};
const sidecar = (hosts: string[]): KubeObject => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'Sidecar',
  metadata: { name: 'default', namespace: 'curl' },
  spec: { egress: [{ hosts }] },
});

function apiTarget(cfg: ProxyConfig): string | undefined {
  const vh = cfg.routeTables.find((t) => t.name === '80')!.virtualHosts.find((v) => v.name === 'api.example.com:80')!;
  const a = vh.routes[0]!.action;
  return a.kind === 'forward' ? a.clusters[0]!.cluster : undefined;
}

test('without a Sidecar, a VirtualService from another namespace routes the host', () => {
  assert.equal(apiTarget(translate(snapshotFromObjects([api, canary, teamVs]), curl)), 'outbound|80||canary.example.com');
});

test("Sidecar egress hosts that do not import the VirtualService's namespace leave the host on its default route", () => {
  const cfg = translate(snapshotFromObjects([api, canary, teamVs, sidecar(['./*'])]), curl);
  assert.equal(apiTarget(cfg), 'outbound|80||api.example.com');
});

test("Sidecar egress hosts that name the VirtualService's namespace and host import it", () => {
  for (const hosts of [['./*', 'team-a/api.example.com'], ['./*', 'team-a/*.example.com'], ['*/*']]) {
    assert.equal(apiTarget(translate(snapshotFromObjects([api, canary, teamVs, sidecar(hosts)]), curl)), 'outbound|80||canary.example.com', hosts.join(' '));
  }
  // The right namespace but another host: not imported.
  assert.equal(
    apiTarget(translate(snapshotFromObjects([api, canary, teamVs, sidecar(['./*', 'team-a/other.example.com'])]), curl)),
    'outbound|80||api.example.com',
  );
});

const tcp = (name: string, created: string, addresses?: string[]) =>
  serviceEntry(
    name,
    'curl',
    { hosts: [`${name}.db.internal`], ports: [{ number: 5432, name: 'pg', protocol: 'TCP' }], ...(addresses ? { addresses } : {}) },
    created,
  );

function tcpTarget(objects: KubeObject[]): string {
  const l = translate(snapshotFromObjects(objects), curl).listeners.find((x) => x.name === '0.0.0.0_5432')!;
  assert.ok(l.protocol === 'TCP');
  return l.route.clusters[0]!.cluster;
}

test('ServiceEntry addresses are kept in the registry', () => {
  const reg = registryFor(snapshotFromObjects([tcp('vip', '2024-01-01T00:00:00Z', ['240.0.0.1', '240.0.1.0/24']), tcp('plain', '2024-01-01T00:00:00Z')]));
  assert.deepEqual(reg.lookup('vip.db.internal', 'curl')!.addresses, ['240.0.0.1', '240.0.1.0/24']);
  assert.equal(reg.lookup('plain.db.internal', 'curl')!.addresses, undefined);
});

test('TCP services sharing a port: the wildcard listener goes to the oldest service without addresses, else the oldest', () => {
  const withVip = tcp('a', '2024-01-01T00:00:00Z', ['240.0.0.1']);
  const older = tcp('b', '2024-01-02T00:00:00Z');
  const newer = tcp('c', '2024-01-03T00:00:00Z');
  assert.equal(tcpTarget([newer, withVip, older]), 'outbound|5432||b.db.internal');
  assert.equal(tcpTarget([newer, older]), 'outbound|5432||b.db.internal');
  assert.equal(tcpTarget([tcp('z', '2024-01-01T00:00:00Z'), tcp('y', '2024-02-01T00:00:00Z')]), 'outbound|5432||z.db.internal', 'age, not host order');
  assert.equal(tcpTarget([withVip, tcp('d', '2024-01-05T00:00:00Z', ['240.0.0.2'])]), 'outbound|5432||a.db.internal');
});
