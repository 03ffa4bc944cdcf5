// What a captured sidecar gets for IPv6 (a dual-stack pod), for ServiceEntries with explicit
// `addresses`, and the VIP domains of its virtual hosts; an IPv4-only pod gets nothing of IPv6.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../../src/api/object.js';
import type { Listener, ProxyConfig, ProxyIdentity } from '../../../src/proxyconfig/types.js';
import { snapshotFromObjects } from '../../../src/controlplane/snapshot.js';
import { translate } from '../../../src/controlplane/translate/index.js';
import { registryFor } from '../../../src/controlplane/registry/index.js';
import { singleAddress, slotAddress, slotAddressV6 } from '../../../src/controlplane/registry/vip-allocation.js';

const v4only: ProxyIdentity = {
  id: 'curl-1.curl',
  role: 'sidecar',
  namespace: 'curl',
  workload: 'curl',
  ip: '198.18.7.2',
  labels: { app: 'curl' },
  capture: true,
};
const dual: ProxyIdentity = { ...v4only, ip6: 'fd00:7::2' };

function se(name: string, spec: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'ServiceEntry',
    metadata: { name, namespace: 'curl', creationTimestamp: '2024-01-01T00:00:00Z' },
    spec: { resolution: 'DNS', location: 'MESH_EXTERNAL', ...spec },
  };
}

const objects: KubeObject[] = [
  se('web', { hosts: ['api.example.com'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }] }),
  se('db', { hosts: ['db.example.com'], ports: [{ number: 5432, name: 'tcp', protocol: 'TCP' }] }),
  // Explicit addresses: one IPv4 address on TCP, a range with endpoints (STATIC), a passthrough range, an IPv6 address on TLS.
  se('fixed', {
    hosts: ['fixed.example.com'],
    addresses: ['10.9.8.7/32'],
    ports: [{ number: 9000, name: 'tcp', protocol: 'TCP' }],
    resolution: 'STATIC',
    endpoints: [{ address: '10.9.8.7' }],
  }),
  se('range', {
    hosts: ['range.example.com'],
    addresses: ['203.0.113.0/28'],
    ports: [{ number: 9000, name: 'tcp', protocol: 'TCP' }],
    resolution: 'STATIC',
    endpoints: [{ address: '203.0.113.5' }],
  }),
  se('open', { hosts: ['open.example.com'], addresses: ['192.0.2.0/24'], ports: [{ number: 6379, name: 'tcp', protocol: 'TCP' }], resolution: 'NONE' }),
  se('v6', {
    hosts: ['six.example.com'],
    addresses: ['fd00:9::9', '10.9.8.9'],
    ports: [
      { number: 443, name: 'tls', protocol: 'TLS' },
      { number: 8080, name: 'http', protocol: 'HTTP' },
    ],
    resolution: 'NONE',
  }),
];

const byName = (cfg: ProxyConfig): Map<string, Listener> => new Map(cfg.listeners.map((l) => [l.name, l]));

test('VIPs: each host gets an IPv4 address in 240.240/16 and its IPv6 twin in 2001:2::/48', () => {
  assert.equal(slotAddress(0), '240.240.0.1');
  assert.equal(slotAddressV6(0), '2001:2::f0f0:1');
  assert.equal(slotAddress(0x1233), '240.240.18.52');
  assert.equal(slotAddressV6(0x1233), '2001:2::f0f0:1234');
  for (const s of registryFor(snapshotFromObjects(objects)).services) {
    if (s.autoAddress === undefined) {
      assert.equal(s.autoAddressV6, undefined, s.host);
      continue;
    }
    const [, , c, d] = s.autoAddress.split('.').map(Number);
    assert.equal(s.autoAddressV6, `2001:2::f0f0:${((c! << 8) | d!).toString(16)}`, s.host);
  }
  assert.equal(singleAddress('10.9.8.7'), '10.9.8.7');
  assert.equal(singleAddress('10.9.8.7/32'), '10.9.8.7');
  assert.equal(singleAddress('fd00::1/128'), 'fd00::1');
  assert.equal(singleAddress('10.9.8.0/24'), undefined);
});

test('a dual-stack pod: AAAA-able VIPs, listeners on the IPv6 VIPs, virtualOutbound on ::1, inbound on ::', () => {
  const cfg = translate(snapshotFromObjects(objects), dual);
  const l = byName(cfg);
  const db = cfg.capture!.dns.find((d) => d.name === 'db.example.com')!.addresses;
  assert.equal(db.length, 2);
  const [v4, v6] = db as [string, string];
  assert.match(v4, /^240\.240\./);
  assert.match(v6, /^2001:2::f0f0:[0-9a-f]+$/);
  const port = cfg.capture!.outbound.find((o) => o.port === 5432)!.listenerPort;
  for (const vip of [v4, v6]) {
    const x = l.get(`${vip}_5432`);
    assert.equal(x?.address, vip);
    assert.equal(x?.port, port, 'one listener port per destination port, both families');
    assert.equal(x?.capture, 'outbound');
  }
  assert.deepEqual(l.get('virtualOutbound')?.additionalAddresses, ['::1']);
  assert.deepEqual(cfg.capture!.dns.find((d) => d.name === 'six.example.com')?.addresses, ['fd00:9::9', '10.9.8.9']);
  // Inbound: the app port's listener takes IPv6 on `::` beside IPv4 on 0.0.0.0.
  const svc: KubeObject = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'curl', namespace: 'curl' },
    spec: { clusterIP: '198.19.7.5', selector: { app: 'curl' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
  };
  const inbound = byName(translate(snapshotFromObjects([...objects, svc]), dual)).get('virtualInbound_8080');
  assert.equal(inbound?.address, '0.0.0.0');
  assert.deepEqual(inbound?.additionalAddresses, ['::']);
  assert.equal(byName(translate(snapshotFromObjects([...objects, svc]), v4only)).get('virtualInbound_8080')?.additionalAddresses, undefined);
});

test('an IPv4-only pod: no IPv6 answer, listener or address', () => {
  const cfg = translate(snapshotFromObjects(objects), v4only);
  for (const d of cfg.capture!.dns)
    assert.ok(
      d.addresses.every((a) => !a.includes(':')),
      `${d.name}: ${d.addresses.join(' ')}`,
    );
  for (const x of cfg.listeners) {
    assert.ok(!x.address.includes(':'), x.name);
    assert.equal(x.additionalAddresses, undefined, x.name);
  }
  assert.ok(!(cfg.capture!.addressed ?? []).some((a) => a.address.includes(':')));
});

test('explicit addresses: a listener per address and TCP/TLS port, through the address+port map', () => {
  const cfg = translate(snapshotFromObjects(objects), dual);
  const l = byName(cfg);
  const addressed = cfg.capture!.addressed!;
  const lp = (address: string, port: number): number | undefined => addressed.find((a) => a.address === address && a.port === port)?.listenerPort;
  // Listener ports follow the VIP ports, one each.
  const vipPorts = cfg.capture!.outbound.map((o) => o.listenerPort);
  assert.equal(new Set([...vipPorts, ...addressed.map((a) => a.listenerPort)]).size, vipPorts.length + addressed.length);

  const fixed = l.get('10.9.8.7_9000')!;
  assert.equal(fixed.protocol, 'TCP');
  assert.equal(fixed.address, '198.18.7.2', 'IPv4: on the pod address');
  assert.equal(fixed.port, lp('10.9.8.7', 9000));
  assert.deepEqual(fixed.protocol === 'TCP' ? fixed.route.clusters.map((c) => c.cluster) : [], ['outbound|9000||fixed.example.com']);
  assert.deepEqual(fixed.originalDestination, { address: '10.9.8.7', port: 9000 });

  // Same port, another address: routed by the destination address to the other entry.
  const range = l.get('203.0.113.0/28_9000')!;
  assert.deepEqual(range.protocol === 'TCP' ? range.route.clusters.map((c) => c.cluster) : [], ['outbound|9000||range.example.com']);
  assert.equal(range.originalDestination, undefined);
  assert.notEqual(lp('203.0.113.0/28', 9000), lp('10.9.8.7', 9000));

  // A passthrough range: no listener could tell the address; left to the kernel.
  assert.equal(l.get('192.0.2.0/24_6379'), undefined);
  assert.deepEqual(cfg.capture!.passthrough, [{ address: '192.0.2.0/24', port: 6379 }]);

  // IPv6 on TLS: on ::1, routed by SNI, ORIGINAL_DST to the dialled address; the HTTP port stays with virtualOutbound.
  const six = l.get('fd00:9::9_443')!;
  assert.equal(six.protocol, 'TLS');
  assert.equal(six.address, '::1');
  assert.equal(six.port, lp('fd00:9::9', 443));
  assert.deepEqual(six.originalDestination, { address: 'fd00:9::9', port: 443 });
  assert.equal(l.get('10.9.8.9_443')?.protocol, 'TLS');
  assert.equal(l.get('fd00:9::9_8080'), undefined);
  assert.ok(cfg.capture!.httpPorts.includes(8080));
});

test('virtual hosts carry the addresses a captured pod dials: VIPs (IPv6 in brackets) and explicit addresses', () => {
  const cfg = translate(snapshotFromObjects(objects), dual);
  const [v4, v6] = cfg.capture!.dns.find((d) => d.name === 'api.example.com')!.addresses as [string, string];
  const vh = (table: string, name: string) => cfg.routeTables.find((t) => t.name === table)?.virtualHosts.find((v) => v.name === name);
  assert.deepEqual(vh('80', 'api.example.com:80')?.domains, ['api.example.com', 'api.example.com:80', v4, `${v4}:80`, `[${v6}]`, `[${v6}]:80`]);
  assert.deepEqual(vh('8080', 'six.example.com:8080')?.domains, [
    'six.example.com',
    'six.example.com:8080',
    '[fd00:9::9]',
    '[fd00:9::9]:8080',
    '10.9.8.9',
    '10.9.8.9:8080',
  ]);
  // Not captured: reached by name only.
  const plain = translate(snapshotFromObjects(objects), { ...dual, capture: undefined });
  const t = plain.routeTables.find((x) => x.name === '80')!;
  assert.deepEqual(t.virtualHosts.find((v) => v.name === 'api.example.com:80')?.domains, ['api.example.com', 'api.example.com:80']);
});
