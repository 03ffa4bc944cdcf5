// The analyzers ported from Istio's list, one test each: the problem is reported with Istio's code,
// level and wording (positive), and the corrected configuration is clean (negative).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../../src/api/object.js';
import { loadSources } from '../../../src/api/load.js';
import { analyze, formatFinding, type Finding } from '../../../src/analyze/index.js';

const lines = (fs: Finding[]) => fs.map(formatFinding);
const codes = (fs: Finding[]) => fs.map((f) => f.code);
const obj = (apiVersion: string, kind: string, namespace: string | undefined, name: string, spec?: unknown, extra: Partial<KubeObject> = {}): KubeObject => ({
  apiVersion,
  kind,
  metadata: { name, ...(namespace ? { namespace } : {}) },
  ...(spec !== undefined ? { spec } : {}),
  ...extra,
});
const NET = 'networking.istio.io/v1';
const se = (ns: string, name: string, hosts: string[], ports: Array<{ number: number; name: string; protocol: string }>, extra: Record<string, unknown> = {}) =>
  obj(NET, 'ServiceEntry', ns, name, { hosts, ports, resolution: 'DNS', ...extra });
const vs = (ns: string, name: string, spec: unknown) => obj(NET, 'VirtualService', ns, name, spec);
const dr = (ns: string, name: string, spec: unknown) => obj(NET, 'DestinationRule', ns, name, spec);
const deployment = (ns: string, name: string, labels: Record<string, string>, podSpec: Record<string, unknown> = {}) =>
  obj('apps/v1', 'Deployment', ns, name, {
    selector: { matchLabels: labels },
    template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'i' }], ...podSpec } },
  });
const service = (ns: string, name: string, selector: Record<string, string>, ports: unknown[], extra: Record<string, unknown> = {}) =>
  obj('v1', 'Service', ns, name, { selector, ports, ...extra });
const namespace = (name: string, labels: Record<string, string> = {}) => obj('v1', 'Namespace', undefined, name, undefined, { metadata: { name, labels } });

const WEB = se(
  'apps',
  'web',
  ['web.example.com'],
  [
    { number: 80, name: 'http', protocol: 'HTTP' },
    { number: 443, name: 'https', protocol: 'HTTPS' },
  ],
);

test('IST0112 destination without a port when the host has several; IST0101 for a port the host does not have', () => {
  const route = (port?: number) =>
    vs('apps', 'v', {
      hosts: ['web.example.com'],
      http: [{ route: [{ destination: { host: 'web.example.com', ...(port ? { port: { number: port } } : {}) } }] }],
    });
  assert.deepEqual(lines(analyze([WEB, route()])), [
    'Error [IST0112] (VirtualService apps/v) This VirtualService routes to a service "web.example.com" that exposes multiple ports [80 443]. Specifying a port in the destination is required to disambiguate.',
  ]);
  assert.deepEqual(lines(analyze([WEB, route(8080)])), ['Error [IST0101] (VirtualService apps/v) Referenced host:port not found: "web.example.com:8080"']);
  assert.deepEqual(lines(analyze([WEB, route(443)])), []);
  // A Service's ports count the same way, and one port needs no selector.
  const svc = service('apps', 'api', { app: 'api' }, [{ port: 8080, name: 'http' }]);
  const toSvc = (port?: number) =>
    vs('apps', 'v', { hosts: ['api'], http: [{ route: [{ destination: { host: 'api', ...(port ? { port: { number: port } } : {}) } }] }] });
  assert.deepEqual(lines(analyze([svc, deployment('apps', 'api', { app: 'api' }), toSvc()])), []);
  assert.deepEqual(lines(analyze([svc, deployment('apps', 'api', { app: 'api' }), toSvc(9090)])), [
    'Error [IST0101] (VirtualService apps/v) Referenced host:port not found: "api:9090"',
  ]);
});

test('IST0101 mirror host not found (and a known mirror host is fine)', () => {
  const v = (mirror: string) =>
    vs('apps', 'v', {
      hosts: ['web.example.com'],
      http: [{ route: [{ destination: { host: 'web.example.com', port: { number: 80 } } }], mirror: { host: mirror, port: { number: 80 } } }],
    });
  assert.deepEqual(lines(analyze([WEB, v('shadow.example.com')])), [
    'Error [IST0101] (VirtualService apps/v) Referenced mirror host not found: "shadow.example.com"',
  ]);
  assert.deepEqual(lines(analyze([WEB, v('web.example.com')])), []);
});

test('IST0101 and IST0132 both for a VirtualService bound to a Gateway that does not exist, at the line of spec.gateways', async () => {
  const r = await loadSources({ paths: ['test/fixtures/seed/http-se.yaml', 'test/fixtures/seed/http-vs.yaml', 'test/fixtures/seed/egressgw.yaml'] });
  const out = lines(analyze(r.documents));
  assert.ok(
    out.includes('Error [IST0101] (VirtualService curl/egress-vs test/fixtures/seed/http-vs.yaml:9) Referenced gateway not found: "gw-ns/egress-gw"'),
    out.join('\n'),
  );
  assert.ok(
    out.includes(
      'Warning [IST0132] (VirtualService curl/egress-vs test/fixtures/seed/http-vs.yaml:9) one or more host [docs.redhat.com] defined in VirtualService curl/egress-vs not found in Gateway gw-ns/egress-gw.',
    ),
    out.join('\n'),
  );
  const withGateway = await loadSources({
    paths: ['test/fixtures/seed/http-se.yaml', 'test/fixtures/seed/http-vs.yaml', 'test/fixtures/seed/egressgw.yaml', 'test/fixtures/seed/http-gtw.yaml'],
  });
  assert.deepEqual(
    codes(analyze(withGateway.documents)).filter((c) => c === 'IST0132' || c === 'IST0101'),
    [],
  );
});

test('IST0130 rules after a catch-all rule or whose matches all repeat earlier ones; IST0131 for a repeated or covered match', () => {
  const found = lines(
    analyze([
      WEB,
      vs('apps', 'v', {
        hosts: ['web.example.com'],
        http: [
          { name: 'api', match: [{ uri: { prefix: '/api' } }], route: [{ destination: { host: 'web.example.com', port: { number: 80 } } }] },
          {
            name: 'api-again',
            match: [{ uri: { prefix: '/api' }, name: 'same' }],
            route: [{ destination: { host: 'web.example.com', port: { number: 80 } } }],
          },
          {
            match: [{ uri: { prefix: '/api/v2' } }, { uri: { exact: '/health' } }],
            route: [{ destination: { host: 'web.example.com', port: { number: 80 } } }],
          },
          { route: [{ destination: { host: 'web.example.com', port: { number: 80 } } }] },
          { match: [{ uri: { prefix: '/late' } }], route: [{ destination: { host: 'web.example.com', port: { number: 80 } } }] },
        ],
      }),
    ]),
  );
  assert.deepEqual(found, [
    'Warning [IST0130] (VirtualService apps/v) VirtualService rule "api-again" not used (all matches used by prior rules).',
    'Warning [IST0130] (VirtualService apps/v) VirtualService rule #4 not used (route without matches defined before).',
    'Info [IST0131] (VirtualService apps/v) VirtualService rule "api-again" match "same" is not used (duplicate/overlapping match in rule "api").',
    'Info [IST0131] (VirtualService apps/v) VirtualService rule #2 match #0 of prefix /api/v2 is not used (duplicate/overlapping match in rule #0 of prefix /api on "api").',
  ]);
  // Two catch-all rules: the second one is never used.
  const twoDefaults = lines(
    analyze([
      WEB,
      vs('apps', 'v', {
        hosts: ['web.example.com'],
        tcp: [
          { route: [{ destination: { host: 'web.example.com', port: { number: 80 } } }] },
          { route: [{ destination: { host: 'web.example.com', port: { number: 443 } } }] },
        ],
      }),
    ]),
  );
  assert.deepEqual(twoDefaults, ['Warning [IST0130] (VirtualService apps/v) VirtualService rule #1 not used (only the last rule can have no matches).']);
  // Distinct matches, more specific first, and the catch-all last: clean.
  const ordered = vs('apps', 'v', {
    hosts: ['web.example.com'],
    http: [
      { match: [{ uri: { prefix: '/api/v2' } }], route: [{ destination: { host: 'web.example.com', port: { number: 80 } } }] },
      { match: [{ uri: { prefix: '/api' }, headers: { x: { exact: '1' } } }], route: [{ destination: { host: 'web.example.com', port: { number: 80 } } }] },
      { route: [{ destination: { host: 'web.example.com', port: { number: 443 } } }] },
    ],
  });
  assert.deepEqual(lines(analyze([WEB, ordered])), []);
});

test('IST0173 DestinationRule subset that selects no workload; IST0174 host that is no mesh service', () => {
  const svc = service('apps', 'reviews', { app: 'reviews' }, [{ port: 9080, name: 'http' }]);
  const v1 = deployment('apps', 'reviews-v1', { app: 'reviews', version: 'v1' });
  const rule = dr('apps', 'reviews', {
    host: 'reviews',
    subsets: [
      { name: 'v1', labels: { version: 'v1' } },
      { name: 'v3', labels: { version: 'v3' } },
    ],
  });
  assert.deepEqual(lines(analyze([svc, v1, rule])), [
    'Error [IST0173] (DestinationRule apps/reviews) The Subset v3 defined in the DestinationRule does not select any pods. Which may lead to 503 UH (NoHealthyUpstream).',
  ]);
  assert.deepEqual(lines(analyze([svc, v1, deployment('apps', 'reviews-v3', { app: 'reviews', version: 'v3' }), rule])), []);
  const unknown = dr('apps', 'typo', { host: 'reviewz' });
  assert.deepEqual(lines(analyze([svc, v1, unknown])), [
    'Warning [IST0174] (DestinationRule apps/typo) The host reviewz defined in the DestinationRule does not match any services in the mesh.',
  ]);
  assert.deepEqual(lines(analyze([WEB, dr('apps', 'web', { host: 'web.example.com' })])), []);
});

test('IST0128 and IST0129 TLS origination without caCertificates', () => {
  const rule = (tls: Record<string, unknown>, portTls?: Record<string, unknown>) =>
    dr('apps', 'web-tls', {
      host: 'web.example.com',
      trafficPolicy: { tls, ...(portTls ? { portLevelSettings: [{ port: { number: 443 }, tls: portTls }] } : {}) },
    });
  assert.deepEqual(lines(analyze([WEB, rule({ mode: 'SIMPLE' }, { mode: 'SIMPLE', sni: 'web.example.com' })])), [
    'Warning [IST0128] (DestinationRule apps/web-tls) DestinationRule apps/web-tls in namespace apps has TLS mode set to SIMPLE but no caCertificates are set to validate server identity for host: web.example.com',
    'Warning [IST0129] (DestinationRule apps/web-tls) DestinationRule apps/web-tls in namespace apps has TLS mode set to SIMPLE but no caCertificates are set to validate server identity for host: web.example.com at port number:443',
  ]);
  assert.deepEqual(lines(analyze([WEB, rule({ mode: 'SIMPLE', caCertificates: '/etc/ca.pem' }, { mode: 'DISABLE' })])), []);
});

test('IST0177 ServiceEntries that give one host and port different protocols where both are visible', () => {
  const a = se('apps', 'a', ['api.example.com'], [{ number: 443, name: 'tls', protocol: 'TLS' }]);
  const b = se('apps', 'b', ['api.example.com'], [{ number: 443, name: 'https', protocol: 'HTTPS' }]);
  const msg = 'Multiple ServiceEntries (apps/a, apps/b) define the same host "api.example.com" and port 443 with conflicting protocols (HTTPS, TLS).';
  assert.deepEqual(lines(analyze([a, b])), [`Warning [IST0177] (ServiceEntry apps/a) ${msg}`, `Warning [IST0177] (ServiceEntry apps/b) ${msg}`]);
  assert.deepEqual(lines(analyze([a, se('apps', 'b', ['api.example.com'], [{ number: 443, name: 'tls-2', protocol: 'TLS' }])])), []);
  // Exported to different namespaces only: no namespace sees both.
  const localA = se('apps', 'a', ['api.example.com'], [{ number: 443, name: 'tls', protocol: 'TLS' }], { exportTo: ['.'] });
  const otherB = se('web', 'b', ['api.example.com'], [{ number: 443, name: 'https', protocol: 'HTTPS' }], { exportTo: ['.'] });
  assert.deepEqual(lines(analyze([localA, otherB])), []);
});

test('IST0101 Sidecar selector that selects no pod; IST0110 two Sidecars for one pod; IST0111 two Sidecars without selector', () => {
  const sc = (name: string, labels?: Record<string, string>) =>
    obj(NET, 'Sidecar', 'apps', name, { ...(labels ? { workloadSelector: { labels } } : {}), egress: [{ hosts: ['./*'] }] });
  const app = deployment('apps', 'curl', { app: 'curl' });
  assert.deepEqual(lines(analyze([app, sc('s', { app: 'nginx' })])), ['Error [IST0101] (Sidecar apps/s) Referenced selector not found: "app=nginx"']);
  assert.deepEqual(lines(analyze([app, sc('a', { app: 'curl' }), sc('b', { app: 'curl' })])), [
    'Error [IST0110] (Sidecar apps/a) The Sidecars [a b] in namespace "apps" select the same workload pod "curl", which can lead to undefined behavior.',
    'Error [IST0110] (Sidecar apps/b) The Sidecars [a b] in namespace "apps" select the same workload pod "curl", which can lead to undefined behavior.',
  ]);
  assert.deepEqual(codes(analyze([app, sc('a'), sc('b')])), ['IST0111', 'IST0111']);
  assert.deepEqual(lines(analyze([app, sc('a'), sc('b', { app: 'curl' })])), []);
});

test("IST0116 and IST0137 Services that disagree about one Deployment's ports", () => {
  const ns = namespace('apps', { 'istio-injection': 'enabled' });
  const app = deployment('apps', 'web', { app: 'web' });
  const tcp = service('apps', 'web-tcp', { app: 'web' }, [{ port: 53, name: 'dns-tcp', protocol: 'TCP' }]);
  const udp = service('apps', 'web-udp', { app: 'web' }, [{ port: 53, name: 'dns-udp', protocol: 'UDP' }]);
  assert.deepEqual(lines(analyze([ns, app, tcp, udp])), [
    'Warning [IST0116] (Deployment apps/web) This deployment web is associated with multiple services using port 53 but different protocols: [apps/web-tcp apps/web-udp]',
  ]);
  const a = service('apps', 'web-a', { app: 'web' }, [{ port: 80, targetPort: 8080, name: 'http' }]);
  const b = service('apps', 'web-b', { app: 'web' }, [{ port: 8000, targetPort: 8080, name: 'http' }]);
  assert.deepEqual(lines(analyze([ns, app, a, b])), [
    'Warning [IST0137] (Deployment apps/web) This deployment web is associated with multiple services [apps/web-a apps/web-b] using targetPort "8080" but different ports: [80 8000].',
  ]);
  assert.deepEqual(lines(analyze([ns, app, a])), []);
  // Outside the mesh (namespace not injected) Istio does not check the association.
  assert.deepEqual(lines(analyze([namespace('apps', { 'istio-injection': 'disabled' }), app, a, b])), []);
});

test('IST0118 Service port name without a protocol Istio knows; IST0150 ExternalName port named tcp', () => {
  const bad = service('apps', 'web', { app: 'web' }, [
    { port: 8080, name: 'web' },
    { port: 80, name: 'http-web' },
    { port: 3306, name: 'db' },
  ]);
  assert.deepEqual(lines(analyze([bad])), [
    "Info [IST0118] (Service apps/web) Port name web (port: 8080, targetPort: 8080) doesn't follow the naming convention of Istio port.",
  ]);
  assert.deepEqual(lines(analyze([service('apps', 'web', { app: 'web' }, [{ port: 8080, name: 'web', appProtocol: 'http' }])])), []);
  const ext = obj('v1', 'Service', 'apps', 'db', { type: 'ExternalName', externalName: 'db.example.com', ports: [{ port: 5432, name: 'tcp' }] });
  assert.deepEqual(lines(analyze([ext])), [
    'Warning [IST0150] (Service apps/db) Port name for ExternalName service is invalid. Proxy may prevent tcp named ports and unmatched traffic for ports serving TCP protocol from being forwarded correctly',
  ]);
});

test("IST0144 an application running as the proxy's UID 1337", () => {
  assert.deepEqual(lines(analyze([deployment('apps', 'web', { app: 'web' }, { securityContext: { runAsUser: 1337 } })])), [
    'Warning [IST0144] (Deployment apps/web) User ID (UID) 1337 is reserved for the sidecar proxy.',
  ]);
  assert.deepEqual(lines(analyze([deployment('apps', 'web', { app: 'web' }, { securityContext: { runAsUser: 1000 } })])), []);
});

test('IST0103 a pod of an injected namespace without istio-proxy', () => {
  const ns = namespace('apps', { 'istio-injection': 'enabled' });
  const pod = (containers: string[], labels: Record<string, string> = {}) =>
    obj(
      'v1',
      'Pod',
      'apps',
      'web-1',
      { containers: containers.map((name) => ({ name, image: 'i' })) },
      { metadata: { name: 'web-1', namespace: 'apps', labels } },
    );
  assert.deepEqual(lines(analyze([ns, pod(['web'])])), [
    'Warning [IST0103] (Pod apps/web-1) The pod apps/web-1 is missing the Istio proxy. This can often be resolved by restarting or redeploying the workload.',
  ]);
  assert.deepEqual(lines(analyze([ns, pod(['web', 'istio-proxy'])])), []);
  assert.deepEqual(lines(analyze([ns, pod(['web'], { 'sidecar.istio.io/inject': 'false' })])), []);
});

test('IST0127 AuthorizationPolicy that selects no workload; IST0101 source namespace that does not exist', () => {
  const ns = namespace('apps', { 'istio-injection': 'enabled' });
  const app = deployment('apps', 'web', { app: 'web' });
  const ap = (spec: Record<string, unknown>) => obj('security.istio.io/v1', 'AuthorizationPolicy', 'apps', 'allow', spec);
  assert.deepEqual(lines(analyze([ns, app, ap({ selector: { matchLabels: { app: 'api' } } })])), [
    'Warning [IST0127] (AuthorizationPolicy apps/allow) No matching workloads for this resource with the following labels: app=api',
  ]);
  assert.deepEqual(
    lines(analyze([ns, app, ap({ selector: { matchLabels: { app: 'web' } }, rules: [{ from: [{ source: { namespaces: ['frontend', 'app*'] } }] }] })])),
    ['Error [IST0101] (AuthorizationPolicy apps/allow) Referenced namespace not found: "frontend"'],
  );
  assert.deepEqual(
    lines(
      analyze([
        ns,
        namespace('frontend', { 'istio-injection': 'disabled' }),
        app,
        ap({ selector: { matchLabels: { app: 'web' } }, rules: [{ from: [{ source: { namespaces: ['frontend'] } }] }] }),
      ]),
    ),
    [],
  );
});

test("IST0166 AuthorizationPolicy selector on a Gateway API gateway's pods (targetRefs is the way)", () => {
  const gw = obj('gateway.networking.k8s.io/v1', 'Gateway', 'apps', 'egress', {
    gatewayClassName: 'istio',
    listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }],
  });
  const ns = namespace('apps', { 'istio-injection': 'enabled' });
  const app = deployment('apps', 'web', { app: 'web' });
  const bySelector = obj('security.istio.io/v1', 'AuthorizationPolicy', 'apps', 'gw-policy', {
    selector: { matchLabels: { 'gateway.networking.k8s.io/gateway-name': 'egress' } },
  });
  assert.ok(
    lines(analyze([ns, app, gw, bySelector])).includes(
      'Warning [IST0166] (AuthorizationPolicy apps/gw-policy) Ineffective selector on Kubernetes Gateway egress. Use the TargetRef field instead.',
    ),
  );
  const byRef = obj('security.istio.io/v1', 'AuthorizationPolicy', 'apps', 'gw-policy', {
    targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'egress' }],
  });
  assert.deepEqual(lines(analyze([ns, app, gw, byRef])), []);
});

test('IST0123 namespace with two kinds of injection label', () => {
  assert.deepEqual(lines(analyze([namespace('apps', { 'istio-injection': 'enabled', 'istio.io/rev': 'canary' })])), [
    'Warning [IST0123] (Namespace apps) The namespace has more than one type of injection labels [istio-injection=enabled istio.io/rev=canary], which may lead to undefined behavior. Make sure only one injection label exists.',
  ]);
  assert.deepEqual(lines(analyze([namespace('apps', { 'istio.io/rev': 'canary' })])), []);
});

test('IST0138 one certificate served by two Gateways of one workload; IST0101 credentialName without its Secret where the gateway runs', () => {
  const gw = (name: string, tls: Record<string, unknown>, host: string) =>
    obj(NET, 'Gateway', 'gw-ns', name, {
      selector: { istio: 'egressgw' },
      servers: [{ port: { number: 443, name: 'https', protocol: 'HTTPS' }, hosts: [host], tls: { mode: 'SIMPLE', ...tls } }],
    });
  const workload = [
    deployment('gw-ns', 'egressgw', { istio: 'egressgw' }),
    service('gw-ns', 'egressgw', { istio: 'egressgw' }, [{ port: 443, name: 'https' }]),
  ];
  const pem = { serverCertificate: '/certs/a.pem', privateKey: '/certs/a.key' };
  assert.deepEqual(lines(analyze([...workload, gw('a', pem, 'a.example.com'), gw('b', pem, 'b.example.com')])), [
    'Warning [IST0138] (Gateway gw-ns/a) Duplicate certificate in multiple gateways [gw-ns/a gw-ns/b] may cause 404s if clients re-use HTTP2 connections.',
    'Warning [IST0138] (Gateway gw-ns/b) Duplicate certificate in multiple gateways [gw-ns/b gw-ns/a] may cause 404s if clients re-use HTTP2 connections.',
  ]);
  assert.deepEqual(
    lines(analyze([...workload, gw('a', pem, 'a.example.com'), gw('b', { serverCertificate: '/certs/b.pem', privateKey: '/certs/b.key' }, 'b.example.com')])),
    [],
  );
  assert.deepEqual(lines(analyze([...workload, gw('a', { credentialName: 'a-cert' }, 'a.example.com')])), [
    'Error [IST0101] (Gateway gw-ns/a) Referenced credentialName not found: "a-cert"',
  ]);
  const secret = (ns: string) => obj('v1', 'Secret', ns, 'a-cert', undefined, { type: 'kubernetes.io/tls', data: { 'tls.crt': 'eA==', 'tls.key': 'eA==' } });
  assert.deepEqual(lines(analyze([...workload, secret('gw-ns'), gw('a', { credentialName: 'a-cert' }, 'a.example.com')])), []);
  // In another namespace than the gateway's pods, the Secret does not count.
  assert.deepEqual(lines(analyze([...workload, secret('other'), gw('a', { credentialName: 'a-cert' }, 'a.example.com')])), [
    'Error [IST0101] (Gateway gw-ns/a) Referenced credentialName not found: "a-cert"',
  ]);
});

test("IST0171 a negative condition in a Gateway API resource's status", () => {
  const gw = (status: string) =>
    obj(
      'gateway.networking.k8s.io/v1',
      'Gateway',
      'apps',
      'g',
      { gatewayClassName: 'istio', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] },
      { status: { conditions: [{ type: 'Accepted', status, reason: status === 'True' ? 'Accepted' : 'ListenersNotValid', message: 'no valid listeners' }] } },
    );
  assert.deepEqual(lines(analyze([gw('False')])), [
    'Warning [IST0171] (Gateway apps/g) A condition with a negative status is present: type=Accepted, reason=ListenersNotValid, message=no valid listeners.',
  ]);
  assert.deepEqual(lines(analyze([gw('True')])), []);
});

test('IST0140 a gateway route without subset to a host another VirtualService splits by subset', () => {
  const svc = service('apps', 'reviews', { app: 'reviews' }, [{ port: 9080, name: 'http' }]);
  const pods = [deployment('apps', 'reviews-v1', { app: 'reviews', version: 'v1' })];
  const rule = dr('apps', 'reviews', { host: 'reviews', subsets: [{ name: 'v1', labels: { version: 'v1' } }] });
  const split = vs('apps', 'reviews', { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v1' } }] }] });
  const gw = obj(NET, 'Gateway', 'apps', 'gw', {
    selector: { app: 'reviews' },
    servers: [{ port: { number: 9080, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }],
  });
  const ingress = (subset?: string) =>
    vs('apps', 'ingress', {
      hosts: ['reviews.example.com'],
      gateways: ['gw'],
      http: [{ route: [{ destination: { host: 'reviews', ...(subset ? { subset } : {}) } }] }],
    });
  assert.deepEqual(lines(analyze([svc, ...pods, rule, split, gw, ingress()])), [
    'Warning [IST0140] (VirtualService apps/ingress) Subset in virtual service apps/reviews has no effect on ingress gateway apps/ingress requests',
  ]);
  assert.deepEqual(lines(analyze([svc, ...pods, rule, split, gw, ingress('v1')])), []);
});

test('IST0146 Deployment with image: auto that no injection webhook selects; IST0147 such a Pod applied by hand', () => {
  const gwDeployment = (labels: Record<string, string>) =>
    obj('apps/v1', 'Deployment', 'gw-ns', 'egressgw', {
      selector: { matchLabels: { istio: 'egressgw' } },
      template: {
        metadata: { labels: { istio: 'egressgw', ...labels }, annotations: { 'inject.istio.io/templates': 'gateway' } },
        spec: { containers: [{ name: 'istio-proxy', image: 'auto' }] },
      },
    });
  assert.deepEqual(lines(analyze([gwDeployment({})])), [
    'Warning [IST0146] (Deployment gw-ns/egressgw) Deployment egressgw contains `image: auto` but does not match any Istio injection webhook selectors.',
  ]);
  assert.deepEqual(lines(analyze([gwDeployment({ 'sidecar.istio.io/inject': 'true' })])), []);
  assert.deepEqual(lines(analyze([namespace('gw-ns', { 'istio-injection': 'enabled' }), gwDeployment({})])), []);
  const pod = (owned: boolean) =>
    obj(
      'v1',
      'Pod',
      'gw-ns',
      'gw-pod',
      { containers: [{ name: 'istio-proxy', image: 'auto' }] },
      {
        metadata: {
          name: 'gw-pod',
          namespace: 'gw-ns',
          ...(owned ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'egressgw', uid: 'u' }] } : {}),
        },
      },
    );
  assert.deepEqual(lines(analyze([pod(false)])), [
    'Error [IST0147] (Pod gw-ns/gw-pod) Pod gw-pod contains `image: auto` but does not match any Istio injection webhook selectors.',
  ]);
  assert.deepEqual(lines(analyze([pod(true)])), [], 'a pod the mesh made for an injected Deployment');
});

test("IST0002 deprecated fields: a fault delay's percent, a Sidecar's egressProxy", () => {
  const delay = (d: Record<string, unknown>) =>
    vs('apps', 'v', {
      hosts: ['web.example.com'],
      http: [{ fault: { delay: { fixedDelay: '1s', ...d } }, route: [{ destination: { host: 'web.example.com', port: { number: 80 } } }] }],
    });
  assert.deepEqual(lines(analyze([WEB, delay({ percent: 50 })])), [
    'Warning [IST0002] (VirtualService apps/v) Deprecated: HTTPRoute.fault.delay.percent is deprecated; use HTTPRoute.fault.delay.percentage',
  ]);
  assert.deepEqual(lines(analyze([WEB, delay({ percentage: { value: 50 } })])), []);
  const sc = (policy: Record<string, unknown>) => obj(NET, 'Sidecar', 'apps', 'default', { egress: [{ hosts: ['./*'] }], outboundTrafficPolicy: policy });
  assert.deepEqual(lines(analyze([sc({ mode: 'REGISTRY_ONLY', egressProxy: { host: 'proxy.example.com', port: { number: 3128 } } })])), [
    'Warning [IST0002] (Sidecar apps/default) Deprecated: OutboundTrafficPolicy.EgressProxy ignored',
  ]);
  assert.deepEqual(lines(analyze([sc({ mode: 'REGISTRY_ONLY' })])), []);
});

test("negative: a Gateway API gateway with the Deployment and Service outpost's deployer makes for it is clean", async () => {
  const { desiredGatewayObjects } = await import('../../../src/controlplane/deployer/index.js');
  const gw = obj(
    'gateway.networking.k8s.io/v1',
    'Gateway',
    'egress-gateway',
    'egress',
    {
      gatewayClassName: 'istio',
      listeners: [
        { name: 'http', port: 80, protocol: 'HTTP' },
        { name: 'tls', port: 443, protocol: 'TLS', tls: { mode: 'Passthrough' } },
      ],
    },
    { metadata: { name: 'egress', namespace: 'egress-gateway', uid: 'u1' } },
  );
  const ns = namespace('egress-gateway', { 'istio-injection': 'enabled' });
  assert.deepEqual(lines(analyze([ns, gw, ...desiredGatewayObjects(gw)])), []);
});

test('IST0101 host:port for the Service a Gateway API Gateway gets: its listener ports count before the Service exists', () => {
  const gw = obj('gateway.networking.k8s.io/v1', 'Gateway', 'egress-gateway', 'egress', {
    gatewayClassName: 'istio',
    listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }],
  });
  const toGateway = (port: number) =>
    vs('apps', 'v', {
      hosts: ['httpbin.org'],
      http: [{ route: [{ destination: { host: 'egress-istio.egress-gateway.svc.cluster.local', port: { number: port } } }] }],
    });
  const httpbin = se('apps', 'httpbin', ['httpbin.org'], [{ number: 80, name: 'http', protocol: 'HTTP' }]);
  assert.deepEqual(lines(analyze([gw, httpbin, toGateway(80)])), []);
  assert.deepEqual(lines(analyze([gw, httpbin, toGateway(8080)])), [
    'Error [IST0101] (VirtualService apps/v) Referenced host:port not found: "egress-istio.egress-gateway.svc.cluster.local:8080"',
  ]);
});
