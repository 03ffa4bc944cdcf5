// Gateway API conformance, Gateway and HTTPRoute core: our own tests of the behaviour the upstream
// suite's tests of the same name check (kubernetes-sigs/gateway-api conformance/tests), through real
// gateway proxies. Test names start with the upstream ShortName; conformance/report.ts maps them to
// features and writes the report.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { APP_NS, WEB_NS, conformanceWorld, ports, type AppliedConfig } from '../../helpers/gwapi-conformance.js';
import { testCerts } from '../../helpers/certs.js';

const gateway = (name: string, port: number, from = 'Same', hostname?: string) => `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: ${name}
spec:
  gatewayClassName: istio
  listeners:
  - name: http
    port: ${port}
    protocol: HTTP${hostname ? `\n    hostname: ${JSON.stringify(hostname)}` : ''}
    allowedRoutes:
      namespaces:
        from: ${from}
`;

const route = (name: string, parent: string, rules: string, extra = '') => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: ${name}
spec:
  parentRefs:
  - name: ${parent}
${extra}  rules:
${rules}`;

const backend = (name: string, extra = '') => `    backendRefs:\n    - name: ${name}\n      port: 8080\n${extra}`;

async function expectBackend(cfg: AppliedConfig, port: number, req: Parameters<AppliedConfig['request']>[1], want: string | number): Promise<void> {
  const r = await cfg.request(port, req);
  if (typeof want === 'number') assert.equal(r.status, want, `${JSON.stringify(req)} → ${r.status} ${r.backend ?? ''}`);
  else {
    assert.equal(r.status, 200, `${JSON.stringify(req)} → ${r.status}`);
    assert.equal(r.backend, want, `${JSON.stringify(req)}`);
  }
}

test("HTTPRouteSimpleSameNamespace: a route in the Gateway's namespace sends every request to its backend", async (t) => {
  const world = await conformanceWorld(t);
  const [p] = await ports(1);
  const cfg = await world.apply(`${gateway('same-namespace', p!)}---
${route('gateway-conformance-infra-test', 'same-namespace', `  - ${backend('infra-backend-v1').trimStart()}`)}`);
  assert.deepEqual(cfg.routeConditions('HTTPRoute', 'gateway-conformance-infra-test'), [{ Accepted: 'True Accepted', ResolvedRefs: 'True ResolvedRefs' }]);
  const gw = cfg.gatewayStatus('same-namespace');
  assert.equal(gw.conditions.Accepted, 'True Accepted');
  assert.equal(gw.conditions.Programmed, 'True Programmed');
  assert.equal(gw.listeners.http!.attachedRoutes, 1);
  const r = await cfg.request(p!, { path: '/' });
  assert.equal(r.status, 200);
  assert.equal(r.backend, 'infra-backend-v1');
  assert.equal(r.echo!.url, '/');
});

test('HTTPExactPathMatching: Exact paths match only themselves', async (t) => {
  const world = await conformanceWorld(t);
  const [p] = await ports(1);
  const cfg = await world.apply(`${gateway('same-namespace', p!)}---
${route(
  'exact-matching',
  'same-namespace',
  `  - matches:
    - path:
        type: Exact
        value: /one
${backend('infra-backend-v1')}  - matches:
    - path:
        type: Exact
        value: /two
${backend('infra-backend-v2')}`,
)}`);
  await expectBackend(cfg, p!, { path: '/one' }, 'infra-backend-v1');
  await expectBackend(cfg, p!, { path: '/two' }, 'infra-backend-v2');
  for (const path of ['/', '/one/example', '/two/', '/Two', '/onetwo']) await expectBackend(cfg, p!, { path }, 404);
});

test('HTTPRouteMatching: PathPrefix on segments, header matches, and the most specific match wins', async (t) => {
  const world = await conformanceWorld(t);
  const [p] = await ports(1);
  const cfg = await world.apply(`${gateway('same-namespace', p!)}---
${route(
  'matching',
  'same-namespace',
  `  - matches:
    - path:
        type: PathPrefix
        value: /
${backend('infra-backend-v1')}  - matches:
    - path:
        type: PathPrefix
        value: /v2
    - headers:
      - name: version
        value: two
${backend('infra-backend-v2')}`,
)}`);
  await expectBackend(cfg, p!, { path: '/' }, 'infra-backend-v1');
  await expectBackend(cfg, p!, { path: '/example' }, 'infra-backend-v1');
  await expectBackend(cfg, p!, { path: '/v2' }, 'infra-backend-v2');
  await expectBackend(cfg, p!, { path: '/v2/example' }, 'infra-backend-v2');
  await expectBackend(cfg, p!, { path: '/v2example' }, 'infra-backend-v1');
  await expectBackend(cfg, p!, { path: '/', headers: { version: 'two' } }, 'infra-backend-v2');
});

test("HTTPRouteHeaderMatching: exact and regular-expression header matches, all of a match's headers must hold", async (t) => {
  const world = await conformanceWorld(t);
  const [p] = await ports(1);
  const cfg = await world.apply(`${gateway('same-namespace', p!)}---
${route(
  'header-matching',
  'same-namespace',
  `  - matches:
    - headers:
      - name: version
        value: one
${backend('infra-backend-v1')}  - matches:
    - headers:
      - name: version
        value: two
${backend('infra-backend-v2')}  - matches:
    - headers:
      - name: version
        value: two
      - name: color
        value: orange
${backend('infra-backend-v1')}  - matches:
    - headers:
      - name: color
        type: RegularExpression
        value: "^(blue|green)$"
${backend('infra-backend-v3')}`,
)}`);
  await expectBackend(cfg, p!, { headers: { version: 'one' } }, 'infra-backend-v1');
  await expectBackend(cfg, p!, { headers: { version: 'two' } }, 'infra-backend-v2');
  await expectBackend(cfg, p!, { headers: { version: 'two', color: 'orange' } }, 'infra-backend-v1');
  await expectBackend(cfg, p!, { headers: { color: 'green' } }, 'infra-backend-v3');
  await expectBackend(cfg, p!, { headers: { color: 'greenish' } }, 404);
  await expectBackend(cfg, p!, { headers: { version: 'three' } }, 404);
});

test('HTTPRouteMatchingAcrossRoutes: rules of several routes for one hostname merge by precedence', async (t) => {
  const world = await conformanceWorld(t);
  const [p] = await ports(1);
  const cfg = await world.apply(`${gateway('same-namespace', p!)}---
${route(
  'matching-part1',
  'same-namespace',
  `  - matches:
    - path:
        type: PathPrefix
        value: /
${backend('infra-backend-v1')}  - matches:
    - path:
        type: PathPrefix
        value: /v2
${backend('infra-backend-v2')}`,
  '  hostnames:\n  - example.com\n  - example.net\n',
)}---
${route(
  'matching-part2',
  'same-namespace',
  `  - matches:
    - path:
        type: Exact
        value: /v2/exact
${backend('infra-backend-v3')}`,
  '  hostnames:\n  - example.com\n',
)}`);
  await expectBackend(cfg, p!, { host: 'example.com', path: '/' }, 'infra-backend-v1');
  await expectBackend(cfg, p!, { host: 'example.net', path: '/v2/exact' }, 'infra-backend-v2');
  await expectBackend(cfg, p!, { host: 'example.com', path: '/v2/exact' }, 'infra-backend-v3');
  await expectBackend(cfg, p!, { host: 'example.com', path: '/v2/other' }, 'infra-backend-v2');
  await expectBackend(cfg, p!, { host: 'example.org', path: '/' }, 404);
});

test("HTTPRouteListenerHostnameMatching: each listener's hostname selects the routes attached to it by sectionName", async (t) => {
  const world = await conformanceWorld(t);
  const [p] = await ports(1);
  const cfg = await world.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: httproute-listener-hostname-matching
spec:
  gatewayClassName: istio
  listeners:
  - name: listener-1
    port: ${p}
    protocol: HTTP
    hostname: bar.com
  - name: listener-2
    port: ${p}
    protocol: HTTP
    hostname: foo.bar.com
  - name: listener-3
    port: ${p}
    protocol: HTTP
    hostname: "*.bar.com"
  - name: listener-4
    port: ${p}
    protocol: HTTP
    hostname: "*.foo.com"
${[
  ['backend-v1', 'listener-1', 'infra-backend-v1'],
  ['backend-v2', 'listener-2', 'infra-backend-v2'],
  ['backend-v3', 'listener-3', 'infra-backend-v3'],
  ['backend-v3-4', 'listener-4', 'infra-backend-v3'],
]
  .map(
    ([name, section, be]) => `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: ${name}
spec:
  parentRefs:
  - name: httproute-listener-hostname-matching
    sectionName: ${section}
  rules:
  - ${backend(be!).trimStart()}`,
  )
  .join('')}`);
  await expectBackend(cfg, p!, { host: 'bar.com' }, 'infra-backend-v1');
  await expectBackend(cfg, p!, { host: 'foo.bar.com' }, 'infra-backend-v2');
  await expectBackend(cfg, p!, { host: 'baz.bar.com' }, 'infra-backend-v3');
  await expectBackend(cfg, p!, { host: 'boo.bar.com' }, 'infra-backend-v3');
  await expectBackend(cfg, p!, { host: 'bar.foo.com' }, 'infra-backend-v3');
  await expectBackend(cfg, p!, { host: 'multiple.prefixes.bar.com' }, 'infra-backend-v3');
  await expectBackend(cfg, p!, { host: 'foo.com' }, 404);
  await expectBackend(cfg, p!, { host: 'no.matching.host' }, 404);
});

test("HTTPRouteHostnameIntersection: a route serves only the intersection of its hostnames with the listener's", async (t) => {
  const world = await conformanceWorld(t);
  const [p] = await ports(1);
  const cfg = await world.apply(`${gateway('httproute-hostname-intersection', p!, 'Same', '*.wildcard.io')}---
${route('specific-host-matches-listener-wildcard-host', 'httproute-hostname-intersection', `  - ${backend('infra-backend-v1').trimStart()}`, '  hostnames:\n  - non.matching.com\n  - foo.wildcard.io\n  - bar.wildcard.io\n')}---
${route('no-intersecting-hosts', 'httproute-hostname-intersection', `  - ${backend('infra-backend-v2').trimStart()}`, '  hostnames:\n  - specific.but.wrong.com\n')}`);
  await expectBackend(cfg, p!, { host: 'foo.wildcard.io' }, 'infra-backend-v1');
  await expectBackend(cfg, p!, { host: 'bar.wildcard.io' }, 'infra-backend-v1');
  await expectBackend(cfg, p!, { host: 'non.matching.com' }, 404);
  await expectBackend(cfg, p!, { host: 'baz.wildcard.io' }, 404);
  assert.equal(cfg.routeConditions('HTTPRoute', 'no-intersecting-hosts')[0]!.Accepted, 'False NoMatchingListenerHostname');
});

test('HTTPRouteCrossNamespace: a route in another namespace attaches when the listener allows that namespace', async (t) => {
  const world = await conformanceWorld(t);
  const [p] = await ports(1);
  const cfg = await world.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: backend-namespaces
spec:
  gatewayClassName: istio
  listeners:
  - name: http
    port: ${p}
    protocol: HTTP
    allowedRoutes:
      namespaces:
        from: Selector
        selector:
          matchLabels:
            gateway-conformance: web-backend
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: cross-namespace
  namespace: ${WEB_NS}
spec:
  parentRefs:
  - name: backend-namespaces
    namespace: gateway-conformance-infra
  rules:
  - ${backend('web-backend').trimStart()}---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: not-selected
  namespace: ${APP_NS}
spec:
  parentRefs:
  - name: backend-namespaces
    namespace: gateway-conformance-infra
  rules:
  - ${backend('app-backend-v1').trimStart()}`);
  assert.equal(cfg.routeConditions('HTTPRoute', 'cross-namespace', WEB_NS)[0]!.Accepted, 'True Accepted');
  assert.equal(cfg.routeConditions('HTTPRoute', 'not-selected', APP_NS)[0]!.Accepted, 'False NotAllowedByListeners');
  await expectBackend(cfg, p!, {}, 'web-backend');
});

test('HTTPRouteReferenceGrant: a backend in another namespace is used only with a ReferenceGrant there', async (t) => {
  const world = await conformanceWorld(t);
  const [p] = await ports(1);
  const routes = `---
${route(
  'reference-grant',
  'same-namespace',
  `  - matches:
    - path:
        value: /granted
    backendRefs:
    - name: web-backend
      namespace: ${WEB_NS}
      port: 8080
`,
)}`;
  const grant = `---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata:
  name: reference-grant
  namespace: ${WEB_NS}
spec:
  from:
  - group: gateway.networking.k8s.io
    kind: HTTPRoute
    namespace: gateway-conformance-infra
  to:
  - group: ""
    kind: Service
    name: web-backend
`;
  const without = await world.apply(`${gateway('same-namespace', p!)}${routes}`);
  assert.equal(without.routeConditions('HTTPRoute', 'reference-grant')[0]!.ResolvedRefs, 'False RefNotPermitted');
  await expectBackend(without, p!, { path: '/granted' }, 500);
  t.diagnostic('HTTPRouteInvalidCrossNamespaceBackendRef: without the grant, ResolvedRefs False RefNotPermitted and 500');

  const [p2] = await ports(1);
  const withGrant = await world.apply(`${gateway('same-namespace', p2!)}${routes}${grant}`);
  assert.equal(withGrant.routeConditions('HTTPRoute', 'reference-grant')[0]!.ResolvedRefs, 'True ResolvedRefs');
  await expectBackend(withGrant, p2!, { path: '/granted' }, 'web-backend');
});

test('HTTPRouteInvalidCrossNamespaceBackendRef: no ReferenceGrant → ResolvedRefs False RefNotPermitted, requests get 500', async (t) => {
  const world = await conformanceWorld(t);
  const [p] = await ports(1);
  const cfg = await world.apply(`${gateway('same-namespace', p!)}---
${route(
  'invalid-cross-namespace-backend-ref',
  'same-namespace',
  `  - backendRefs:
    - name: web-backend
      namespace: ${WEB_NS}
      port: 8080
`,
)}`);
  assert.deepEqual(cfg.routeConditions('HTTPRoute', 'invalid-cross-namespace-backend-ref'), [
    { Accepted: 'True Accepted', ResolvedRefs: 'False RefNotPermitted' },
  ]);
  await expectBackend(cfg, p!, {}, 500);
  assert.equal(world.backends.get('web-backend')!.requests.length, 0);
});

test('HTTPRouteInvalidNonExistentBackendRef: a missing Service → ResolvedRefs False BackendNotFound, requests get 500', async (t) => {
  const world = await conformanceWorld(t);
  const [p] = await ports(1);
  const cfg = await world.apply(`${gateway('same-namespace', p!)}---
${route('invalid-nonexistent-backend-ref', 'same-namespace', `  - ${backend('nonexistent').trimStart()}`)}`);
  assert.deepEqual(cfg.routeConditions('HTTPRoute', 'invalid-nonexistent-backend-ref'), [{ Accepted: 'True Accepted', ResolvedRefs: 'False BackendNotFound' }]);
  await expectBackend(cfg, p!, {}, 500);
});

test('HTTPRouteInvalidBackendRefUnknownKind: an unknown backend kind → ResolvedRefs False InvalidKind, requests get 500', async (t) => {
  const world = await conformanceWorld(t);
  const [p] = await ports(1);
  const cfg = await world.apply(`${gateway('same-namespace', p!)}---
${route(
  'invalid-backend-ref-unknown-kind',
  'same-namespace',
  `  - backendRefs:
    - group: unknownkind.example.com
      kind: NonExistent
      name: infra-backend-v1
      port: 8080
`,
)}`);
  assert.deepEqual(cfg.routeConditions('HTTPRoute', 'invalid-backend-ref-unknown-kind'), [{ Accepted: 'True Accepted', ResolvedRefs: 'False InvalidKind' }]);
  await expectBackend(cfg, p!, {}, 500);
});

test('HTTPRoutePartiallyInvalidViaInvalidReferenceGrant: an invalid backend keeps its weight — its share gets 500, the rest reaches the valid backend', async (t) => {
  const world = await conformanceWorld(t);
  const [p] = await ports(1);
  const cfg = await world.apply(`${gateway('same-namespace', p!)}---
${route(
  'invalid-reference-grant',
  'same-namespace',
  `  - backendRefs:
    - name: infra-backend-v1
      port: 8080
      weight: 1
    - name: web-backend
      namespace: ${WEB_NS}
      port: 8080
      weight: 1
`,
)}`);
  assert.equal(cfg.routeConditions('HTTPRoute', 'invalid-reference-grant')[0]!.ResolvedRefs, 'False RefNotPermitted');
  const seen = new Map<string, number>();
  for (let i = 0; i < 60; i++) {
    const r = await cfg.request(p!, {});
    const key = `${r.status} ${r.backend ?? '-'}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  assert.deepEqual([...seen.keys()].sort(), ['200 infra-backend-v1', '500 -'], 'only the valid backend answers; the invalid share gets 500');
});

test('HTTPRouteWeight: traffic splits by weight; a zero weight gets nothing', async (t) => {
  const world = await conformanceWorld(t);
  const [p] = await ports(1);
  const cfg = await world.apply(`${gateway('same-namespace', p!)}---
${route(
  'weighted-backends',
  'same-namespace',
  `  - backendRefs:
    - name: infra-backend-v1
      port: 8080
      weight: 70
    - name: infra-backend-v2
      port: 8080
      weight: 30
    - name: infra-backend-v3
      port: 8080
      weight: 0
`,
)}`);
  const counts = new Map<string, number>();
  const total = 200;
  for (let i = 0; i < total; i++) {
    const r = await cfg.request(p!, {});
    assert.equal(r.status, 200);
    counts.set(r.backend!, (counts.get(r.backend!) ?? 0) + 1);
  }
  assert.equal(counts.get('infra-backend-v3'), undefined);
  // Within the upstream test's tolerance (5 % of the total) of 70/30, with room for chance.
  const v1 = (counts.get('infra-backend-v1') ?? 0) / total;
  assert.ok(v1 > 0.55 && v1 < 0.85, `infra-backend-v1 got ${v1 * 100} % of the requests`);
});

test('HTTPRouteRequestHeaderModifier: set, add and remove request headers', async (t) => {
  const world = await conformanceWorld(t);
  const [p] = await ports(1);
  const cfg = await world.apply(`${gateway('same-namespace', p!)}---
${route(
  'request-header-modifier',
  'same-namespace',
  `  - filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set:
        - name: X-Header-Set
          value: set-overwrites-values
        add:
        - name: X-Header-Add
          value: add-appends-values
        remove:
        - X-Header-Remove
${backend('infra-backend-v1')}`,
)}`);
  const r = await cfg.request(p!, {
    headers: { 'x-header-set': 'some-other-value', 'x-header-add': 'something', 'x-header-remove': 'gone', 'x-keep': 'kept' },
  });
  assert.equal(r.status, 200);
  assert.equal(r.echo!.headers['x-header-set'], 'set-overwrites-values');
  // Two values of one header (node joins repeated headers with ", ").
  assert.deepEqual(r.echo!.headers['x-header-add']!.split(/,\s*/), ['something', 'add-appends-values']);
  assert.equal(r.echo!.headers['x-header-remove'], undefined);
  assert.equal(r.echo!.headers['x-keep'], 'kept');
});

test('HTTPRouteInvalidParentRefNotMatchingSectionName: a sectionName no listener has → Accepted False NoMatchingParent', async (t) => {
  const world = await conformanceWorld(t);
  const [p] = await ports(1);
  const cfg = await world.apply(`${gateway('same-namespace', p!)}---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: httproute-with-nonmatching-section-name
spec:
  parentRefs:
  - name: same-namespace
    sectionName: unknown-section
  rules:
  - ${backend('infra-backend-v1').trimStart()}`);
  assert.equal(cfg.routeConditions('HTTPRoute', 'httproute-with-nonmatching-section-name')[0]!.Accepted, 'False NoMatchingParent');
  assert.equal(cfg.gatewayStatus('same-namespace').listeners.http!.attachedRoutes, 0);
  await expectBackend(cfg, p!, {}, 404);
});

test('GatewayWithAttachedRoutes: listeners count the routes attached to them', async (t) => {
  const world = await conformanceWorld(t);
  const [p, q] = await ports(2);
  const cfg = await world.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gateway-with-two-listeners
spec:
  gatewayClassName: istio
  listeners:
  - name: first
    port: ${p}
    protocol: HTTP
  - name: second
    port: ${q}
    protocol: HTTP
---
${route('both', 'gateway-with-two-listeners', `  - ${backend('infra-backend-v1').trimStart()}`)}---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: second-only
spec:
  parentRefs:
  - name: gateway-with-two-listeners
    sectionName: second
  hostnames:
  - second.example.com
  rules:
  - ${backend('infra-backend-v2').trimStart()}`);
  const st = cfg.gatewayStatus('gateway-with-two-listeners');
  assert.equal(st.listeners.first!.attachedRoutes, 1);
  assert.equal(st.listeners.second!.attachedRoutes, 2);
  await expectBackend(cfg, p!, { host: 'second.example.com' }, 'infra-backend-v1');
  await expectBackend(cfg, q!, { host: 'second.example.com' }, 'infra-backend-v2');
});

test('GatewayInvalidRouteKind: allowedRoutes.kinds without a supported kind → ResolvedRefs False InvalidRouteKinds, no supportedKinds; a mix keeps HTTPRoute', async (t) => {
  const world = await conformanceWorld(t);
  const [p, q] = await ports(2);
  const listener = (name: string, port: number, kinds: string) => `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: ${name}
spec:
  gatewayClassName: istio
  listeners:
  - name: http
    port: ${port}
    protocol: HTTP
    allowedRoutes:
      kinds:
${kinds}`;
  const cfg = await world.apply(`${listener('gateway-only-invalid-route-kind', p!, '      - kind: InvalidRoute\n')}---
${listener('gateway-supported-and-invalid-route-kind', q!, '      - kind: InvalidRoute\n      - kind: HTTPRoute\n')}`);
  const only = cfg.gatewayStatus('gateway-only-invalid-route-kind').listeners.http!;
  assert.equal(only.conditions.ResolvedRefs, 'False InvalidRouteKinds');
  assert.deepEqual(only.supportedKinds, []);
  assert.equal(only.attachedRoutes, 0);
  const mix = cfg.gatewayStatus('gateway-supported-and-invalid-route-kind').listeners.http!;
  assert.equal(mix.conditions.ResolvedRefs, 'False InvalidRouteKinds');
  assert.deepEqual(mix.supportedKinds, [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' }]);
});

test('GatewayUnsupportedListenerProtocol: `http` (wrong case) and `UDP` listeners are invalid; with no valid listener the Gateway is not accepted', async (t) => {
  const world = await conformanceWorld(t);
  const [p, q] = await ports(2);
  const cfg = await world.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: unsupported-protocols
spec:
  gatewayClassName: istio
  listeners:
  - name: lower-case
    port: ${p}
    protocol: http
  - name: udp
    port: ${q}
    protocol: UDP
`);
  const st = cfg.gatewayStatus('unsupported-protocols');
  for (const l of ['lower-case', 'udp']) {
    assert.equal(st.listeners[l]!.conditions.Accepted, 'False UnsupportedProtocol');
    assert.equal(st.listeners[l]!.conditions.Programmed, 'False Invalid');
  }
  assert.equal(st.conditions.Accepted, 'False ListenersNotValid');
  // Nothing listens for the invalid listener.
  await assert.rejects(cfg.request(p!, {}), /ECONNREFUSED/);
});

test('GatewayHTTPListenerIsolation: a request is routed only by the most specific listener matching its host', async (t) => {
  const world = await conformanceWorld(t);
  const [p] = await ports(1);
  const listeners: [string, string | undefined, string][] = [
    ['empty-hostname', undefined, 'infra-backend-v1'],
    ['wildcard-example-com', '*.example.com', 'infra-backend-v2'],
    ['wildcard-foo-example-com', '*.foo.example.com', 'infra-backend-v3'],
    ['abc-foo-example-com', 'abc.foo.example.com', 'infra-backend-v1'],
  ];
  const cfg = await world.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: http-listener-isolation
spec:
  gatewayClassName: istio
  listeners:
${listeners
  .map(
    ([name, host]) => `  - name: ${name}
    port: ${p}
    protocol: HTTP${host ? `\n    hostname: "${host}"` : ''}
    allowedRoutes:
      namespaces:
        from: All
`,
  )
  .join('')}${listeners
    .map(
      ([name, , be]) => `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: attaches-to-${name}
spec:
  parentRefs:
  - name: http-listener-isolation
    sectionName: ${name}
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /${name}
${backend(be)}`,
    )
    .join('')}`);
  const cases: [string, string, string | number][] = [
    ['bar.com', '/empty-hostname', 'infra-backend-v1'],
    ['bar.com', '/wildcard-example-com', 404],
    ['bar.foo.example.com', '/wildcard-foo-example-com', 'infra-backend-v3'],
    ['bar.foo.example.com', '/wildcard-example-com', 404],
    ['bar.foo.example.com', '/empty-hostname', 404],
    ['bar.example.com', '/wildcard-example-com', 'infra-backend-v2'],
    ['bar.example.com', '/empty-hostname', 404],
    ['abc.foo.example.com', '/abc-foo-example-com', 'infra-backend-v1'],
    ['abc.foo.example.com', '/wildcard-foo-example-com', 404],
    ['abc.foo.example.com', '/wildcard-example-com', 404],
  ];
  for (const [host, path, want] of cases) await expectBackend(cfg, p!, { host, path }, want);
});

test('GatewayPort8080: a listener on port 8080 serves its routes, and a redirect on it keeps port 8080', async (t) => {
  const world = await conformanceWorld(t);
  const cfg = await world.apply(`${gateway('same-namespace-with-http-listener-on-8080', 8080)}---
${route(
  'http-route-for-listener-on-port-8080',
  'same-namespace-with-http-listener-on-8080',
  `  - matches:
    - path:
        value: /redirect
    filters:
    - type: RequestRedirect
      requestRedirect:
        hostname: example.org
  - ${backend('infra-backend-v1').trimStart()}`,
)}`);
  assert.equal(cfg.gatewayStatus('same-namespace-with-http-listener-on-8080').conditions.Programmed, 'True Programmed');
  await expectBackend(cfg, 8080, { path: '/' }, 'infra-backend-v1');
  const r = await cfg.request(8080, { host: 'example.com', path: '/redirect' });
  assert.deepEqual([r.status, r.headers.location], [302, 'http://example.org:8080/redirect']);
});

test('GatewayInfrastructurePropagation: spec.infrastructure labels and annotations reach the generated Deployment, pods and Service', async (t) => {
  const world = await conformanceWorld(t);
  const [p] = await ports(1);
  const cfg = await world.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gateway-with-infrastructure-metadata
spec:
  gatewayClassName: istio
  infrastructure:
    labels:
      gateway-conformance: infrastructure-test
    annotations:
      gateway-conformance: infrastructure-test
  listeners:
  - name: http
    port: ${p}
    protocol: HTTP
`);
  const name = 'gateway-with-infrastructure-metadata-istio';
  for (const [group, kind] of [
    ['apps', 'Deployment'],
    ['', 'Service'],
    ['', 'Pod'],
  ] as const) {
    const obj =
      kind === 'Pod'
        ? cfg.snapshot.of('', 'Pod').find((o) => o.metadata.labels?.['gateway.networking.k8s.io/gateway-name'] === 'gateway-with-infrastructure-metadata')
        : cfg.snapshot.get(group, kind, 'gateway-conformance-infra', name);
    assert.ok(obj, kind);
    assert.equal(obj.metadata.labels?.['gateway-conformance'], 'infrastructure-test', `${kind} label`);
    assert.equal(obj.metadata.annotations?.['gateway-conformance'], 'infrastructure-test', `${kind} annotation`);
  }
  assert.equal(cfg.gatewayStatus('gateway-with-infrastructure-metadata').conditions.Programmed, 'True Programmed');
});

const b64 = (text: string) => Buffer.from(text).toString('base64');
/** A kubernetes.io/tls Secret with the test server certificate (valid for *.example.com). */
const tlsSecret = (name: string, ns?: string, data?: Record<string, string>) => {
  const certs = testCerts();
  const d = data ?? { 'tls.crt': certs.serverCertPem, 'tls.key': certs.serverKeyPem };
  return `apiVersion: v1
kind: Secret
metadata:
  name: ${name}${ns ? `\n  namespace: ${ns}` : ''}
type: kubernetes.io/tls
data:
${Object.entries(d)
  .map(([k, v]) => `  ${k}: ${b64(v)}`)
  .join('\n')}
`;
};
const httpsGateway = (
  name: string,
  port: number,
  refs: { name: string; namespace?: string; kind?: string; group?: string }[],
  listener = 'https',
) => `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: ${name}
spec:
  gatewayClassName: istio
  listeners:
  - name: ${listener}
    port: ${port}
    protocol: HTTPS
    tls:
      certificateRefs:
${refs.map((r) => `      - name: ${r.name}${r.namespace ? `\n        namespace: ${r.namespace}` : ''}${r.kind ? `\n        kind: ${r.kind}` : ''}${r.group !== undefined ? `\n        group: ${JSON.stringify(r.group)}` : ''}`).join('\n')}
`;
const secretGrant = (ns: string, name?: string) => `apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata:
  name: reference-grant
  namespace: ${ns}
spec:
  from:
  - group: gateway.networking.k8s.io
    kind: Gateway
    namespace: gateway-conformance-infra
  to:
  - group: ""
    kind: Secret${name ? `\n    name: ${name}` : ''}
`;

test('HTTPRouteHTTPSListener: an HTTPS listener terminates TLS with its certificateRefs Secret and routes by hostname', async (t) => {
  const world = await conformanceWorld(t);
  const [p] = await ports(1);
  const cfg = await world.apply(`${tlsSecret('tls-validity-checks-certificate')}---
${httpsGateway('same-namespace-with-https-listener', p!, [{ group: '', kind: 'Secret', name: 'tls-validity-checks-certificate' }])}---
${route('https-route', 'same-namespace-with-https-listener', `  - ${backend('infra-backend-v1').trimStart()}`, '  hostnames:\n  - example.com\n')}`);
  const gw = cfg.gatewayStatus('same-namespace-with-https-listener');
  assert.deepEqual([gw.listeners.https!.conditions.ResolvedRefs, gw.listeners.https!.conditions.Programmed], ['True ResolvedRefs', 'True Programmed']);
  assert.equal(gw.listeners.https!.attachedRoutes, 1);
  const ca = testCerts().caPem;
  const r = await cfg.requestTls(p!, { ca, servername: 'www.example.com' }, { host: 'example.com', path: '/' });
  assert.equal(r.status, 200);
  assert.equal(r.backend, 'infra-backend-v1');
  assert.equal((await cfg.requestTls(p!, { ca, servername: 'www.example.com' }, { host: 'unknown-example.org' })).status, 404);
  await assert.rejects(cfg.requestTls(p!, { ca: testCerts().otherCaPem, servername: 'www.example.com' }, { host: 'example.com' }));
});

test('GatewayInvalidTLSConfiguration: a missing, malformed or non-Secret certificateRef → ResolvedRefs False InvalidCertificateRef, not programmed', async (t) => {
  const world = await conformanceWorld(t);
  const [a, b, c, d] = await ports(4);
  const cfg = await world.apply(`${tlsSecret('malformed-certificate', undefined, { 'tls.crt': 'not a certificate', 'tls.key': 'not a key' })}---
${httpsGateway('gateway-certificate-nonexistent-secret', a!, [{ name: 'nonexistent-certificate' }])}---
${httpsGateway('gateway-certificate-unsupported-group', b!, [{ group: 'wrong.group.company.io', kind: 'Secret', name: 'tls-validity-checks-certificate' }])}---
${httpsGateway('gateway-certificate-unsupported-kind', c!, [{ group: '', kind: 'WrongKind', name: 'tls-validity-checks-certificate' }])}---
${httpsGateway('gateway-certificate-malformed-secret', d!, [{ name: 'malformed-certificate' }])}`);
  for (const name of [
    'gateway-certificate-nonexistent-secret',
    'gateway-certificate-unsupported-group',
    'gateway-certificate-unsupported-kind',
    'gateway-certificate-malformed-secret',
  ]) {
    const l = cfg.gatewayStatus(name).listeners.https!.conditions;
    assert.equal(l.ResolvedRefs, 'False InvalidCertificateRef', name);
    assert.equal(l.Programmed, 'False Invalid', name);
  }
  await assert.rejects(cfg.requestTls(a!, { ca: testCerts().caPem }, {}), /ECONNREFUSED/, 'an unprogrammed listener is not served');
});

test('GatewaySecretMissingReferenceGrant: a Secret in another namespace without a ReferenceGrant → ResolvedRefs False RefNotPermitted', async (t) => {
  const world = await conformanceWorld(t);
  const [p] = await ports(1);
  const cfg = await world.apply(`${tlsSecret('certificate', WEB_NS)}---
${httpsGateway('gateway-secret-missing-reference-grant', p!, [{ name: 'certificate', namespace: WEB_NS }])}`);
  const l = cfg.gatewayStatus('gateway-secret-missing-reference-grant').listeners.https!.conditions;
  assert.deepEqual([l.ResolvedRefs, l.Programmed], ['False RefNotPermitted', 'False Invalid']);
});

test('GatewaySecretReferenceGrantSpecific: a ReferenceGrant naming the Secret (or all Secrets) lets the listener use it', async (t) => {
  const world = await conformanceWorld(t);
  const [p, q] = await ports(2);
  const specific = await world.apply(`${tlsSecret('certificate', WEB_NS)}---
${secretGrant(WEB_NS, 'certificate')}---
${httpsGateway('gateway-secret-reference-grant-specific', p!, [{ name: 'certificate', namespace: WEB_NS }])}---
${route('https-route', 'gateway-secret-reference-grant-specific', `  - ${backend('infra-backend-v1').trimStart()}`)}`);
  const l = specific.gatewayStatus('gateway-secret-reference-grant-specific').listeners.https!.conditions;
  assert.deepEqual([l.ResolvedRefs, l.Programmed], ['True ResolvedRefs', 'True Programmed']);
  assert.equal(
    (await specific.requestTls(p!, { ca: testCerts().caPem, servername: 'www.example.com' }, { host: 'www.example.com' })).backend,
    'infra-backend-v1',
  );
  const all = await world.apply(`${tlsSecret('certificate', WEB_NS)}---
${secretGrant(WEB_NS)}---
${httpsGateway('gateway-secret-reference-grant-all-in-namespace', q!, [{ name: 'certificate', namespace: WEB_NS }])}`);
  assert.equal(all.gatewayStatus('gateway-secret-reference-grant-all-in-namespace').listeners.https!.conditions.ResolvedRefs, 'True ResolvedRefs');
});
