// Capture's pure parts: VIP auto-allocation, the capture section and listeners a captured sidecar
// gets, the pod's nftables ruleset with Istio's annotations, and the sidecar's DNS proxy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import net from 'node:net';
import type { KubeObject } from '../../../src/api/object.js';
import type { ProxyIdentity } from '../../../src/proxyconfig/types.js';
import { snapshotFromObjects } from '../../../src/controlplane/snapshot.js';
import { translate } from '../../../src/controlplane/translate/index.js';
import { registryFor } from '../../../src/controlplane/registry/index.js';
import { captureRuleset, parseCaptureAnnotations } from '../../../src/runtime/pods/capture.js';
import { DnsProxy, dnsAnswer, parseQuestion } from '../../../src/dataplane/dns/dns-proxy.js';

const curl: ProxyIdentity = {
  id: 'curl-1.curl',
  role: 'sidecar',
  namespace: 'curl',
  workload: 'curl',
  ip: '198.18.7.2',
  labels: { app: 'curl' },
  capture: true,
};

function se(name: string, spec: Record<string, unknown>, created = '2024-01-01T00:00:00Z'): KubeObject {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'ServiceEntry',
    metadata: { name, namespace: 'curl', creationTimestamp: created },
    spec: { resolution: 'DNS', ...spec },
  };
}

const objects: KubeObject[] = [
  se('web', { hosts: ['api.example.com'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }] }),
  se('tls', { hosts: ['secure.example.com'], ports: [{ number: 443, name: 'tls', protocol: 'TLS' }] }),
  se('db', { hosts: ['db.example.com'], ports: [{ number: 5432, name: 'tcp', protocol: 'TCP' }] }),
  se('none', { hosts: ['passthrough.example.com'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], resolution: 'NONE' }),
  se('wild', { hosts: ['*.wild.example.com'], ports: [{ number: 443, name: 'tls', protocol: 'TLS' }], resolution: 'NONE' }),
  se('fixed', {
    hosts: ['fixed.example.com'],
    addresses: ['10.9.8.7'],
    ports: [{ number: 9000, name: 'tcp', protocol: 'TCP' }],
    resolution: 'STATIC',
    endpoints: [{ address: '10.9.8.7' }],
  }),
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'curl', namespace: 'curl' },
    spec: {
      clusterIP: '198.19.7.5',
      selector: { app: 'curl' },
      ports: [
        { name: 'http', port: 80, targetPort: 8080 },
        { name: 'metrics', port: 9090 },
      ],
    },
  },
];

test('VIPs: stable, from 240.240/16, none for wildcard, NONE or explicit addresses', () => {
  const vips = (objs: KubeObject[]) => new Map(registryFor(snapshotFromObjects(objs)).services.map((s) => [s.host, s.autoAddress]));
  const a = vips(objects);
  assert.match(a.get('api.example.com')!, /^240\.240\.\d+\.\d+$/);
  assert.equal(a.get('passthrough.example.com'), undefined);
  assert.equal(a.get('*.wild.example.com'), undefined);
  assert.equal(a.get('fixed.example.com'), undefined);
  assert.equal(new Set([...a.values()].filter(Boolean)).size, 3, 'one address per host');
  // Other entries coming and going do not move a host's address (a restart computes the same).
  const b = vips(objects.filter((o) => o.metadata.name !== 'tls'));
  assert.equal(b.get('api.example.com'), a.get('api.example.com'));
  assert.equal(b.get('db.example.com'), a.get('db.example.com'));
});

test('VIPs: a hash collision goes to the younger host, the older keeps its address', async () => {
  const { allocateVips } = await import('../../../src/controlplane/registry/vip-allocation.js');
  const base = registryFor(snapshotFromObjects([se('x', { hosts: ['x.example'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }] })])).services[0]!;
  // 3000 hosts in 65534 slots collide by hash about 70 times (birthday bound): still one address each.
  const many = Array.from({ length: 3000 }, (_, i) => ({ ...base, host: `h${i}.example`, age: String(i).padStart(5, '0') }));
  const out = allocateVips(many);
  assert.equal(new Set(out.map((s) => s.autoAddress)).size, 3000);
  const again = allocateVips([...many].reverse());
  assert.deepEqual(new Map(again.map((s) => [s.host, s.autoAddress])), new Map(out.map((s) => [s.host, s.autoAddress])));
});

test('a captured sidecar listens on VIPs and cluster IPs, has a DNS table and inbound listeners', () => {
  const pa: KubeObject = {
    apiVersion: 'security.istio.io/v1',
    kind: 'PeerAuthentication',
    metadata: { name: 'p', namespace: 'curl' },
    spec: { selector: { matchLabels: { app: 'curl' } }, mtls: { mode: 'STRICT' }, portLevelMtls: { 9090: { mode: 'DISABLE' } } },
  };
  const cfg = translate(snapshotFromObjects([...objects, pa]), curl);
  const vip = (host: string) => cfg.capture!.dns.find((d) => d.name === host)?.addresses[0];
  assert.match(vip('secure.example.com')!, /^240\.240\./);
  assert.deepEqual(cfg.capture!.dns.find((d) => d.name === 'curl.curl.svc.cluster.local')?.addresses, ['198.19.7.5']);
  assert.deepEqual(cfg.capture!.dns.find((d) => d.name === 'fixed.example.com')?.addresses, ['10.9.8.7']);
  assert.equal(vip('passthrough.example.com'), undefined);
  assert.ok(cfg.capture!.httpPorts.includes(80));
  const byName = new Map(cfg.listeners.map((l) => [l.name, l]));
  const db = byName.get(`${vip('db.example.com')}_5432`);
  assert.equal(db?.protocol, 'TCP');
  assert.equal(db?.capture, 'outbound');
  assert.deepEqual(db?.protocol === 'TCP' ? db.route.clusters.map((c) => c.cluster) : [], ['outbound|5432||db.example.com']);
  assert.equal(byName.get(`${vip('secure.example.com')}_443`)?.protocol, 'TLS');
  assert.equal(byName.get('198.19.7.5_80')?.protocol, 'HTTP');
  // Each destination port has its own listener port on the VIPs (an app's wildcard listener on 80 must not clash).
  const o = new Map(cfg.capture!.outbound.map((x) => [x.port, x.listenerPort]));
  assert.equal(byName.get('198.19.7.5_80')?.port, o.get(80));
  assert.equal(db?.port, o.get(5432));
  assert.ok([...o.values()].every((p) => p >= 15200));
  // Inbound: the Service's target port 8080 (HTTP) and 9090 (TCP), STRICT except where portLevelMtls disables it.
  assert.deepEqual(cfg.capture!.inbound, [
    { port: 8080, listenerPort: 15006 },
    { port: 9090, listenerPort: 15101 },
  ]);
  const in8080 = byName.get('virtualInbound_8080')!;
  assert.equal(in8080.protocol, 'HTTP');
  assert.equal(in8080.mtls, 'STRICT');
  assert.equal(byName.get('virtualInbound_9090')?.mtls, undefined);
  assert.deepEqual(cfg.clusters.find((c) => c.name === 'inbound|8080||')?.endpoints, [{ address: '198.18.7.2', port: 8080 }]);
  // A sidecar whose pod is not captured gets none of it.
  const plain = translate(snapshotFromObjects(objects), { ...curl, capture: undefined });
  assert.equal(plain.capture, undefined);
  assert.ok(!plain.listeners.some((l) => l.capture !== undefined));
});

test('the pod ruleset: proxy group and in-pod traffic pass, DNS to 15053, HTTP ports to 15001, REGISTRY_ONLY takes the rest', () => {
  const capture = {
    dns: [],
    httpPorts: [80, 8080],
    outbound: [
      { port: 80, listenerPort: 15200 },
      { port: 5432, listenerPort: 15201 },
    ],
    inbound: [{ port: 8080, listenerPort: 15006 }],
  };
  const base = { podIP: '198.18.7.2', localRanges: ['240.240.0.0/16', '198.19.7.0/24'] };
  const none = parseCaptureAnnotations({});
  const strict = captureRuleset({ ...base, capture, policy: 'REGISTRY_ONLY', annotations: none });
  // VIPs and cluster IPs: the same address on the sidecar's port for that destination port, before anything passes on lo.
  assert.match(
    strict,
    /ip daddr \{ 240\.240\.0\.0\/16, 198\.19\.7\.0\/24 \} tcp dport \{ 80, 5432 \} dnat ip to ip daddr : tcp dport map \{ 80 : 15200, 5432 : 15201 \}/,
  );
  assert.ok(strict.indexOf('dnat ip to ip daddr') < strict.indexOf('oifname "lo" return'));
  assert.match(strict, /meta skgid 1337 return/);
  assert.match(strict, /oifname "lo" return/);
  assert.match(strict, /udp dport 53 redirect to :15053/);
  assert.match(strict, /tcp dport \{ 80, 8080 \} dnat ip to 198\.18\.7\.2:15001/);
  assert.match(strict, /meta nfproto ipv4 meta l4proto tcp dnat ip to 198\.18\.7\.2:15001/);
  assert.match(strict, /tcp dport \{ 8080 \} redirect to :tcp dport map \{ 8080 : 15006 \}/);
  const open = captureRuleset({ ...base, capture, policy: 'ALLOW_ANY', annotations: none });
  assert.doesNotMatch(open, /meta l4proto tcp dnat/);
  const ann = parseCaptureAnnotations({
    'traffic.sidecar.istio.io/excludeOutboundPorts': '5432, 6379',
    'traffic.sidecar.istio.io/excludeOutboundIPRanges': '10.0.0.0/8,192.0.2.1',
    'traffic.sidecar.istio.io/includeOutboundIPRanges': '203.0.113.0/24',
    'traffic.sidecar.istio.io/excludeInboundPorts': '8080',
  });
  const r = captureRuleset({ ...base, capture, policy: 'REGISTRY_ONLY', annotations: ann });
  assert.match(r, /tcp dport \{ 5432, 6379 \} return\n {4}udp dport \{ 5432, 6379 \} return/);
  assert.match(r, /ip daddr \{ 10\.0\.0\.0\/8, 192\.0\.2\.1 \} return/);
  assert.match(r, /ip daddr != \{ 203\.0\.113\.0\/24 \} return/);
  // Exclusions come before DNS and HTTP capture; the excluded inbound port leaves no prerouting chain.
  assert.ok(r.indexOf('5432, 6379') < r.indexOf('dport 53'));
  assert.doesNotMatch(r, /prerouting/);
  assert.throws(() => parseCaptureAnnotations({ 'traffic.sidecar.istio.io/excludeOutboundPorts': '80,http' }), /excludeOutboundPorts: "http" is not a port/);
  assert.throws(
    () => parseCaptureAnnotations({ 'traffic.sidecar.istio.io/excludeOutboundIPRanges': '10.0.0.0/33' }),
    /excludeOutboundIPRanges: "10\.0\.0\.0\/33"/,
  );
  assert.throws(() => parseCaptureAnnotations({ 'traffic.sidecar.istio.io/excludeOutboundIPRanges': '*' }), /"\*" is not allowed/);
});

function query(name: string, type: number, id = 0x1234): Buffer {
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const q = Buffer.concat([Buffer.from([id >> 8, id & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), ...labels, Buffer.from([0, 0, type, 0, 1])]);
  return q;
}

function aRecords(msg: Buffer): { rcode: number; addresses: string[] } {
  const q = parseQuestion(msg)!;
  const n = msg.readUInt16BE(6);
  const out: string[] = [];
  let off = q.end;
  for (let i = 0; i < n; i++) {
    const len = msg.readUInt16BE(off + 10);
    if (msg.readUInt16BE(off + 2) === 1) out.push([...msg.subarray(off + 12, off + 12 + len)].join('.'));
    off += 12 + len;
  }
  return { rcode: msg[3]! & 15, addresses: out.sort() };
}

test('the DNS proxy answers its table over UDP and TCP and forwards the rest', async (t) => {
  // The node's resolver stand-in: answers every name with 192.0.2.9.
  const upstream = createSocket('udp4');
  await new Promise<void>((r) => upstream.bind(0, '127.0.0.1', () => r()));
  upstream.on('message', (m, rinfo) => upstream.send(dnsAnswer(m, parseQuestion(m)!, 0, ['192.0.2.9']), rinfo.port, rinfo.address));
  t.after(() => upstream.close());
  const proxy = new DnsProxy({ address: '127.0.0.1', port: 0, upstream: `127.0.0.1:${upstream.address().port}` });
  await proxy.start();
  t.after(() => proxy.close());
  proxy.setTable([{ name: 'api.example.com', addresses: ['240.240.1.2', '240.240.1.3'] }]);
  const client = createSocket('udp4');
  t.after(() => client.close());
  const ask = (msg: Buffer): Promise<Buffer> =>
    new Promise((resolve) => {
      client.once('message', resolve);
      client.send(msg, proxy.udpPort!, '127.0.0.1');
    });
  assert.deepEqual(aRecords(await ask(query('API.example.com', 1))), { rcode: 0, addresses: ['240.240.1.2', '240.240.1.3'] });
  assert.deepEqual(aRecords(await ask(query('api.example.com', 28))), { rcode: 0, addresses: [] }, 'known name, other type: NOERROR, empty');
  assert.deepEqual(aRecords(await ask(query('other.example.net', 1))), { rcode: 0, addresses: ['192.0.2.9'] });
  // TCP: length-prefixed.
  const tcpPort = proxy.tcpPort!;
  const reply = await new Promise<Buffer>((resolve, reject) => {
    const s = net.connect(tcpPort, '127.0.0.1', () => {
      const q = query('api.example.com', 1);
      const len = Buffer.alloc(2);
      len.writeUInt16BE(q.length);
      s.write(Buffer.concat([len, q]));
    });
    let buf = Buffer.alloc(0);
    s.on('data', (b: Buffer) => {
      buf = Buffer.concat([buf, b]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        s.destroy();
        resolve(buf.subarray(2));
      }
    });
    s.on('error', reject);
  });
  assert.deepEqual(aRecords(reply).addresses, ['240.240.1.2', '240.240.1.3']);
});

const goldenCapture = {
  dns: [],
  httpPorts: [80],
  outbound: [
    { port: 80, listenerPort: 15200 },
    { port: 5432, listenerPort: 15201 },
  ],
  addressed: [
    { address: '10.9.8.7', port: 9000, listenerPort: 15202 },
    { address: '203.0.113.0/28', port: 9000, listenerPort: 15203 },
    { address: 'fd00:9::9', port: 443, listenerPort: 15204 },
  ],
  passthrough: [
    { address: '192.0.2.0/24', port: 6379 },
    { address: 'fd00:8::/64', port: 6379 },
  ],
  inbound: [{ port: 8080, listenerPort: 15006 }],
};

test('golden ruleset, IPv4-only pod: no IPv6 rule at all; explicit addresses through the address+port map', () => {
  const r = captureRuleset({
    capture: goldenCapture,
    podIP: '198.18.7.2',
    localRanges: ['240.240.0.0/16', '198.19.7.0/24'],
    policy: 'REGISTRY_ONLY',
    annotations: parseCaptureAnnotations({ 'traffic.sidecar.istio.io/excludeOutboundIPRanges': '10.0.0.0/8,fd00:1::/64' }),
  });
  assert.equal(
    r,
    `table inet outpost_capture {}
delete table inet outpost_capture
table inet outpost_capture {
  chain output {
    type nat hook output priority -100; policy accept;
    meta skgid 1337 return
    ip daddr { 240.240.0.0/16, 198.19.7.0/24 } tcp dport { 80, 5432 } dnat ip to ip daddr : tcp dport map { 80 : 15200, 5432 : 15201 }
    oifname "lo" return
    ip daddr { 10.0.0.0/8 } return
    udp dport 53 redirect to :15053
    tcp dport 53 redirect to :15053
    ip daddr . tcp dport { 192.0.2.0/24 . 6379 } return
    meta l4proto tcp dnat ip to ip daddr . tcp dport map { 10.9.8.7 . 9000 : 198.18.7.2 . 15202, 203.0.113.0/28 . 9000 : 198.18.7.2 . 15203 }
    meta nfproto ipv4 tcp dport { 80 } dnat ip to 198.18.7.2:15001
    meta nfproto ipv4 meta l4proto tcp dnat ip to 198.18.7.2:15001
  }
  chain prerouting {
    type nat hook prerouting priority -100; policy accept;
    iifname != "eth0" return
    tcp dport { 8080 } redirect to :tcp dport map { 8080 : 15006 }
  }
}
`,
  );
});

test('golden ruleset, dual-stack pod: IPv6 as IPv4, to the sidecar on ::1; ranges per family', () => {
  const r = captureRuleset({
    capture: goldenCapture,
    podIP: '198.18.7.2',
    podIP6: 'fd00:7::2',
    localRanges: ['240.240.0.0/16', '2001:2::/48', '198.19.7.0/24'],
    policy: 'REGISTRY_ONLY',
    annotations: parseCaptureAnnotations({
      'traffic.sidecar.istio.io/excludeOutboundPorts': '6380',
      'traffic.sidecar.istio.io/excludeOutboundIPRanges': '10.0.0.0/8, fd00:1::/64',
    }),
  });
  assert.equal(
    r,
    `table inet outpost_capture {}
delete table inet outpost_capture
table inet outpost_capture {
  chain output {
    type nat hook output priority -100; policy accept;
    meta skgid 1337 return
    ip daddr { 240.240.0.0/16, 198.19.7.0/24 } tcp dport { 80, 5432 } dnat ip to ip daddr : tcp dport map { 80 : 15200, 5432 : 15201 }
    ip6 daddr { 2001:2::/48 } tcp dport { 80, 5432 } dnat ip6 to ip6 daddr : tcp dport map { 80 : 15200, 5432 : 15201 }
    oifname "lo" return
    tcp dport { 6380 } return
    udp dport { 6380 } return
    ip daddr { 10.0.0.0/8 } return
    ip6 daddr { fd00:1::/64 } return
    udp dport 53 redirect to :15053
    tcp dport 53 redirect to :15053
    ip daddr . tcp dport { 192.0.2.0/24 . 6379 } return
    ip6 daddr . tcp dport { fd00:8::/64 . 6379 } return
    meta l4proto tcp dnat ip to ip daddr . tcp dport map { 10.9.8.7 . 9000 : 198.18.7.2 . 15202, 203.0.113.0/28 . 9000 : 198.18.7.2 . 15203 }
    meta l4proto tcp redirect to :ip6 daddr . tcp dport map { fd00:9::9 . 443 : 15204 }
    meta nfproto ipv4 tcp dport { 80 } dnat ip to 198.18.7.2:15001
    meta nfproto ipv6 tcp dport { 80 } redirect to :15001
    meta nfproto ipv4 meta l4proto tcp dnat ip to 198.18.7.2:15001
    meta nfproto ipv6 meta l4proto tcp redirect to :15001
  }
  chain prerouting {
    type nat hook prerouting priority -100; policy accept;
    iifname != "eth0" return
    tcp dport { 8080 } redirect to :tcp dport map { 8080 : 15006 }
  }
}
`,
  );
  // includeOutboundIPRanges per family: a family with no included range is not captured (DNS still is).
  const only4 = captureRuleset({
    capture: goldenCapture,
    podIP: '198.18.7.2',
    podIP6: 'fd00:7::2',
    localRanges: [],
    policy: 'ALLOW_ANY',
    annotations: parseCaptureAnnotations({ 'traffic.sidecar.istio.io/includeOutboundIPRanges': '203.0.113.0/24' }),
  });
  assert.match(only4, /tcp dport 53 redirect to :15053\n {4}ip daddr != \{ 203\.0\.113\.0\/24 \} return\n {4}meta nfproto ipv6 return\n/);
  const only6 = captureRuleset({
    capture: goldenCapture,
    podIP: '198.18.7.2',
    podIP6: 'fd00:7::2',
    localRanges: [],
    policy: 'ALLOW_ANY',
    annotations: parseCaptureAnnotations({ 'traffic.sidecar.istio.io/includeOutboundIPRanges': 'fd00:ee::/32' }),
  });
  assert.match(only6, /meta nfproto ipv4 return\n {4}ip6 daddr != \{ fd00:ee::\/32 \} return\n/);
  assert.throws(
    () => parseCaptureAnnotations({ 'traffic.sidecar.istio.io/excludeOutboundIPRanges': 'fd00::/129' }),
    /excludeOutboundIPRanges: "fd00::\/129" is not an IPv4 or IPv6 address or CIDR/,
  );
  assert.throws(() => parseCaptureAnnotations({ 'traffic.sidecar.istio.io/excludeOutboundIPRanges': 'fd00:::1' }), /is not an IPv4 or IPv6/);
});

test('the DNS proxy answers AAAA with the IPv6 addresses, A with the IPv4 ones, and listens on ::1', async (t) => {
  const proxy = new DnsProxy({ address: '::1', port: 0 });
  await proxy.start();
  t.after(() => proxy.close());
  proxy.setTable([
    { name: 'api.example.com', addresses: ['240.240.1.2', '2001:2::f0f0:102'] },
    { name: 'v4.example.com', addresses: ['240.240.1.3'] },
  ]);
  const client = createSocket('udp6');
  t.after(() => client.close());
  const ask = (msg: Buffer): Promise<Buffer> =>
    new Promise((resolve) => {
      client.once('message', resolve);
      client.send(msg, proxy.udpPort!, '::1');
    });
  const records = (msg: Buffer): string[] => {
    const q = parseQuestion(msg)!;
    const out: string[] = [];
    let off = q.end;
    for (let i = 0; i < msg.readUInt16BE(6); i++) {
      const len = msg.readUInt16BE(off + 10);
      const data = msg.subarray(off + 12, off + 12 + len);
      out.push(`${msg.readUInt16BE(off + 2)} ${len === 4 ? [...data].join('.') : data.toString('hex')}`);
      off += 12 + len;
    }
    return out;
  };
  assert.deepEqual(records(await ask(query('api.example.com', 28))), ['28 200100020000000000000000f0f00102']);
  assert.deepEqual(records(await ask(query('api.example.com', 1))), ['1 240.240.1.2']);
  assert.deepEqual(records(await ask(query('v4.example.com', 28))), [], 'known name, no IPv6 address: NOERROR, empty');
});
