// One test per analyzer finding, positive (the problem is reported in istioctl's words) and
// negative (the seed's working configuration is clean).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../../src/api/object.js';
import { loadSources } from '../../../src/api/load.js';
import { analyze, formatFinding, type Finding } from '../../../src/analyze/index.js';

const SEED = 'test/fixtures/seed';

async function seed(files: string[], defaultNamespace?: string) {
  const r = await loadSources({ paths: files.map((f) => `${SEED}/${f}`), ...(defaultNamespace ? { defaultNamespace } : {}) });
  assert.equal(r.errors.length, 0);
  return r.documents;
}

const ISTIO_SET = ['http-se.yaml', 'http-gtw.yaml', 'http-vs.yaml', 'egressgw.yaml', 'curl.yaml', 'namespaces.yaml'];

const lines = (fs: Finding[]) => fs.map(formatFinding);
const obj = (apiVersion: string, kind: string, namespace: string | undefined, name: string, spec?: unknown, extra: Partial<KubeObject> = {}): KubeObject => ({
  apiVersion,
  kind,
  metadata: { name, ...(namespace ? { namespace } : {}) },
  ...(spec !== undefined ? { spec } : {}),
  ...extra,
});
const se = (ns: string, name: string, hosts: string[], resolution?: string) =>
  obj('networking.istio.io/v1', 'ServiceEntry', ns, name, {
    hosts,
    ports: [{ number: 80, name: 'http', protocol: 'HTTP' }],
    ...(resolution ? { resolution } : {}),
  });
const vs = (ns: string, name: string, spec: unknown) => obj('networking.istio.io/v1', 'VirtualService', ns, name, spec);

test('negative: the seed Istio-API egress setup (with its gateway workload) is clean', async () => {
  assert.deepEqual(lines(analyze(await seed(ISTIO_SET))), []);
});

test('negative: the seed Gateway API egress setup is clean', async () => {
  assert.deepEqual(lines(analyze(await seed(['egress-gateway-cr.yaml'], 'egress-gateway'), 'egress-gateway')), []);
});

test('IST0101 gateway not found, reported at the line of spec.gateways', async () => {
  const docs = await seed(['http-se.yaml', 'http-vs.yaml', 'egressgw.yaml']);
  const out = lines(analyze(docs));
  assert.ok(
    out.includes(`Error [IST0101] (VirtualService curl/egress-vs ${SEED}/http-vs.yaml:9) Referenced gateway not found: "gw-ns/egress-gw"`),
    out.join('\n'),
  );
  assert.ok(
    out.includes(
      `Error [IST0101] (VirtualService curl/egress-vs ${SEED}/http-vs.yaml:20) Referenced host+subset in destinationrule not found: "egressgw.gw-ns.svc.cluster.local+rh-docs"`,
    ),
    out.join('\n'),
  );
});

test('IST0101 route host that no ServiceEntry or Service defines', async () => {
  const docs = await seed(['http-gtw.yaml', 'http-vs.yaml', 'egressgw.yaml']);
  assert.deepEqual(lines(analyze(docs)), [
    `Error [IST0101] (VirtualService curl/egress-vs ${SEED}/http-vs.yaml:30) Referenced host not found: "docs.redhat.com"`,
  ]);
});

test('IST0101 Gateway selector that matches no gateway workload', async () => {
  const docs = await seed(['http-se.yaml', 'http-gtw.yaml', 'http-vs.yaml']);
  const out = lines(analyze(docs));
  assert.ok(out.includes(`Error [IST0101] (Gateway gw-ns/egress-gw ${SEED}/http-gtw.yaml:7) Referenced selector not found: "istio=egressgw"`), out.join('\n'));
});

test('IST0162 Gateway port that is neither a port nor a targetPort of the workload Service (Istio retired IST0104 for it)', () => {
  const gw = (port: number) =>
    obj('networking.istio.io/v1', 'Gateway', 'gw-ns', 'gw', {
      selector: { istio: 'egressgw' },
      servers: [{ port: { number: port, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }],
    });
  const workload = [
    obj('apps/v1', 'Deployment', 'gw-ns', 'egressgw', {
      selector: { matchLabels: { istio: 'egressgw' } },
      template: { metadata: { labels: { istio: 'egressgw' } }, spec: { containers: [{ name: 'p', image: 'auto' }] } },
    }),
    obj('v1', 'Service', 'gw-ns', 'egressgw', { selector: { istio: 'egressgw' }, ports: [{ port: 80, targetPort: 8080, name: 'http' }] }),
  ];
  assert.deepEqual(lines(analyze([gw(9090), ...workload])), [
    'Warning [IST0162] (Gateway gw-ns/gw) The gateway is listening on a target port (port 9090) that is not defined in the Service associated with its workload instances (Pod selector istio=egressgw). If you need to access the gateway port through the gateway Service, it will not be available.',
  ]);
  assert.deepEqual(lines(analyze([gw(8080), ...workload])), [], 'the targetPort');
  assert.deepEqual(lines(analyze([gw(80), ...workload])), [], 'the Service port');
});

test('IST0109 two mesh VirtualServices for the same host (and not for different hosts)', () => {
  const route = { http: [{ route: [{ destination: { host: 'docs.redhat.com' } }] }] };
  const both = [
    se('curl', 'se', ['docs.redhat.com', 'a.example.com'], 'DNS'),
    vs('curl', 'a', { hosts: ['docs.redhat.com'], ...route }),
    vs('curl', 'b', { hosts: ['docs.redhat.com'], ...route }),
  ];
  const msg =
    'The VirtualServices curl/a,curl/b associated with mesh gateway define the same host docs.redhat.com which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource.';
  assert.deepEqual(lines(analyze(both)), [`Error [IST0109] (VirtualService curl/a) ${msg}`, `Error [IST0109] (VirtualService curl/b) ${msg}`]);
  const apart = [both[0]!, both[1]!, vs('curl', 'b', { hosts: ['a.example.com'], ...route })];
  assert.deepEqual(lines(analyze(apart)), []);
});

test('IST0132 VirtualService bound to a gateway whose servers do not include its hosts', async () => {
  const docs = await seed(['http-se.yaml', 'http-gtw.yaml', 'egressgw.yaml']);
  const other = vs('curl', 'other', {
    hosts: ['docs.redhat.com'],
    gateways: ['gw-ns/egress-gw'],
    http: [{ route: [{ destination: { host: 'docs.redhat.com' } }] }],
  });
  assert.deepEqual(lines(analyze([...docs, other])), []);
  const wrongHost = vs('curl', 'other', {
    hosts: ['api.redhat.com'],
    gateways: ['gw-ns/egress-gw'],
    http: [{ route: [{ destination: { host: 'docs.redhat.com' } }] }],
  });
  assert.deepEqual(lines(analyze([...docs, wrongHost])), [
    'Warning [IST0132] (VirtualService curl/other) one or more host [api.redhat.com] defined in VirtualService curl/other not found in Gateway gw-ns/egress-gw.',
  ]);
});

test('OUT0001 resolution NONE ServiceEntry used at the egress gateway (a forwarding loop)', async () => {
  const docs = await seed(['http-gtw.yaml', 'http-vs.yaml', 'egressgw.yaml']);
  const found = lines(analyze([...docs, se('curl', 'egress-se', ['docs.redhat.com'])]));
  assert.deepEqual(found, [
    `Error [OUT0001] (VirtualService curl/egress-vs ${SEED}/http-vs.yaml:30) ServiceEntry curl/egress-se has resolution NONE, so gateway gw-ns/egress-gw would forward "docs.redhat.com" to the original destination, which is the gateway itself (a forwarding loop); set resolution: DNS`,
  ]);
  // The same ServiceEntry used only by sidecars (mesh) is fine.
  const meshOnly = vs('curl', 'm', { hosts: ['docs.redhat.com'], http: [{ route: [{ destination: { host: 'docs.redhat.com' } }] }] });
  assert.deepEqual(lines(analyze([se('curl', 'egress-se', ['docs.redhat.com']), meshOnly])), []);
});

test('IST0101 HTTPRoute parentRef and backendRef that do not exist', async () => {
  const docs = await seed(['egress-gateway-cr.yaml'], 'egress-gateway');
  const withoutSe = docs.filter((d) => d.object.kind !== 'ServiceEntry');
  assert.deepEqual(lines(analyze(withoutSe, 'egress-gateway')), [
    `Error [IST0101] (HTTPRoute egress-gateway/direct-httpbin-to-egress-gateway ${SEED}/egress-gateway-cr.yaml:43) Referenced parent ServiceEntry not found: "egress-gateway/httpbin-ext"`,
    `Error [IST0101] (HTTPRoute egress-gateway/forward-httpbin-from-egress-gateway ${SEED}/egress-gateway-cr.yaml:63) Referenced backend Hostname not found: "httpbin.org"`,
  ]);
  const withoutGw = docs.filter((d) => !(d.object.kind === 'Gateway'));
  const out = lines(analyze(withoutGw, 'egress-gateway'));
  assert.ok(
    out.includes(
      `Error [IST0101] (HTTPRoute egress-gateway/direct-httpbin-to-egress-gateway ${SEED}/egress-gateway-cr.yaml:46) Referenced backend Service not found: "egress-gateway/httpbin-egress-gateway-istio"`,
    ),
    out.join('\n'),
  );
  assert.ok(
    out.includes(
      `Error [IST0101] (HTTPRoute egress-gateway/forward-httpbin-from-egress-gateway ${SEED}/egress-gateway-cr.yaml:56) Referenced parent Gateway not found: "egress-gateway/httpbin-egress-gateway"`,
    ),
    out.join('\n'),
  );
});

test('IST0101 Gateway API gatewayClassName that no GatewayClass defines (istio is built in)', () => {
  const gw = (cls: string) =>
    obj('gateway.networking.k8s.io/v1', 'Gateway', 'ns', 'g', { gatewayClassName: cls, listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] });
  assert.deepEqual(lines(analyze([gw('istio')])), []);
  assert.deepEqual(lines(analyze([gw('nginx')])), ['Error [IST0101] (Gateway ns/g) Referenced gatewayclass not found: "nginx"']);
  assert.deepEqual(
    lines(analyze([gw('nginx'), obj('gateway.networking.k8s.io/v1', 'GatewayClass', undefined, 'nginx', { controllerName: 'example.com/x' })])),
    [],
  );
});

test('IST0134 ServiceEntry with TCP ports needs addresses', () => {
  const tcp = obj('networking.istio.io/v1', 'ServiceEntry', 'ns', 'db', {
    hosts: ['db.example.com'],
    ports: [{ number: 5432, name: 'tcp', protocol: 'TCP' }],
    resolution: 'DNS',
  });
  assert.deepEqual(lines(analyze([tcp])), ['Warning [IST0134] (ServiceEntry ns/db) ServiceEntry addresses are required for this protocol.']);
  const withAddr = { ...tcp, spec: { ...(tcp.spec as object), addresses: ['240.0.0.1'] } };
  assert.deepEqual(lines(analyze([withAddr])), []);
});

test('IST0145 two Gateways on the same workload, port and host', async () => {
  const docs = await seed(['http-gtw.yaml', 'egressgw.yaml']);
  const dup = obj('networking.istio.io/v1', 'Gateway', 'gw-ns', 'egress-gw-2', {
    selector: { istio: 'egressgw' },
    servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['docs.redhat.com'] }],
  });
  const out = lines(analyze([...docs, dup]));
  assert.ok(
    out.includes(
      'Error [IST0145] (Gateway gw-ns/egress-gw-2) Conflict with gateways gw-ns/egress-gw (workload selector istio=egressgw, port 80, hosts docs.redhat.com).',
    ),
    out.join('\n'),
  );
  const apart = obj('networking.istio.io/v1', 'Gateway', 'gw-ns', 'egress-gw-2', {
    selector: { istio: 'egressgw' },
    servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['api.redhat.com'] }],
  });
  assert.ok(!lines(analyze([...docs, apart])).some((l) => l.includes('IST0145')));
});

test('IST0102 namespace with workloads but no injection (Info: does not fail analysis)', () => {
  const found = analyze([
    obj('v1', 'Namespace', undefined, 'plain', undefined),
    obj('apps/v1', 'Deployment', 'plain', 'app', {
      selector: { matchLabels: { a: 'b' } },
      template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i' }] } },
    }),
  ]);
  assert.deepEqual(lines(found), [
    "Info [IST0102] (Namespace plain) The namespace is not enabled for Istio injection. Run 'kubectl label namespace plain istio-injection=enabled' to enable it, or 'kubectl label namespace plain istio-injection=disabled' to explicitly mark it as not needing injection.",
  ]);
  const injected = obj('v1', 'Namespace', undefined, 'plain', undefined, { metadata: { name: 'plain', labels: { 'istio-injection': 'enabled' } } });
  assert.deepEqual(lines(analyze([injected])), []);
});

test('OUT0002 HTTPRoute hostnames that match no listener of its Gateway', () => {
  const gw = obj('gateway.networking.k8s.io/v1', 'Gateway', 'ns', 'g', {
    gatewayClassName: 'istio',
    listeners: [{ name: 'http', port: 80, protocol: 'HTTP', hostname: 'httpbin.org' }],
  });
  const route = (h: string) =>
    obj('gateway.networking.k8s.io/v1', 'HTTPRoute', 'ns', 'r', {
      parentRefs: [{ name: 'g' }],
      hostnames: [h],
      rules: [{ backendRefs: [{ name: 'g-istio', port: 80 }] }],
    });
  assert.deepEqual(lines(analyze([gw, route('httpbin.org')])), []);
  assert.deepEqual(lines(analyze([gw, route('example.com')])), [
    'Warning [OUT0002] (HTTPRoute ns/r) no hostnames matched parent hostname "httpbin.org" of Gateway ns/g',
  ]);
});
