// Gateway API conformance, HTTPRoute extended features: our own tests of the behaviour the upstream
// suite's tests of the same name check (kubernetes-sigs/gateway-api conformance/tests; retries per
// GEP-1731), through real gateway proxies. conformance/report.ts maps the names to features.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { closedPort } from '../../helpers/upstreams.js';
import { waitFor } from '../../helpers/proxy-harness.js';
import { conformanceWorld, ports, type AppliedConfig } from '../../helpers/gwapi-conformance.js';

const gateway = (name: string, port: number) => `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: ${name}
spec:
  gatewayClassName: istio
  listeners:
  - name: http
    port: ${port}
    protocol: HTTP
---
`;

/** One HTTPRoute on gateway `same-namespace` with these rules (YAML list items at two spaces). */
const route = (name: string, rules: string, extra = '') => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: ${name}
spec:
  parentRefs:
  - name: same-namespace
${extra}  rules:
${rules}`;

const to = (name: string) => `    backendRefs:\n    - name: ${name}\n      port: 8080\n`;

async function single(
  t: Parameters<typeof conformanceWorld>[0],
  name: string,
  rules: string,
  extra = '',
): Promise<{ cfg: AppliedConfig; port: number; world: Awaited<ReturnType<typeof conformanceWorld>> }> {
  const world = await conformanceWorld(t);
  const [port] = await ports(1);
  const cfg = await world.apply(gateway('same-namespace', port!) + route(name, rules, extra));
  assert.deepEqual(cfg.routeConditions('HTTPRoute', name), [{ Accepted: 'True Accepted', ResolvedRefs: 'True ResolvedRefs' }]);
  return { cfg, port: port!, world };
}

test('HTTPRouteQueryParamMatching: exact and regular-expression query parameter matches', async (t) => {
  const { cfg, port } = await single(
    t,
    'query-param-matching',
    `  - matches:
    - queryParams:
      - name: animal
        value: whale
${to('infra-backend-v1')}  - matches:
    - queryParams:
      - name: animal
        value: dolphin
${to('infra-backend-v2')}  - matches:
    - queryParams:
      - name: animal
        value: dolphin
      - name: color
        value: blue
    - queryParams:
      - name: ANIMAL
        value: Whale
${to('infra-backend-v3')}  - matches:
    - queryParams:
      - name: id
        type: RegularExpression
        value: "^[0-9]+$"
${to('infra-backend-v1')}`,
  );
  const cases: [string, string | number][] = [
    ['/?animal=whale', 'infra-backend-v1'],
    ['/?animal=dolphin', 'infra-backend-v2'],
    ['/?animal=dolphin&color=blue', 'infra-backend-v3'],
    ['/?ANIMAL=Whale', 'infra-backend-v3'],
    ['/?id=123', 'infra-backend-v1'],
    ['/?id=12a', 404],
    ['/?animal=shark', 404],
    ['/', 404],
  ];
  for (const [path, want] of cases) {
    const r = await cfg.request(port, { path });
    assert.equal(typeof want === 'number' ? r.status : r.backend, want, path);
  }
});

test('HTTPRouteMethodMatching: method matches, alone and with other criteria', async (t) => {
  const { cfg, port } = await single(
    t,
    'method-matching',
    `  - matches:
    - method: POST
${to('infra-backend-v1')}  - matches:
    - method: GET
      path:
        value: /get
${to('infra-backend-v2')}`,
  );
  assert.equal((await cfg.request(port, { method: 'POST', path: '/' })).backend, 'infra-backend-v1');
  assert.equal((await cfg.request(port, { method: 'GET', path: '/get' })).backend, 'infra-backend-v2');
  assert.equal((await cfg.request(port, { method: 'GET', path: '/' })).status, 404);
  assert.equal((await cfg.request(port, { method: 'HEAD', path: '/get' })).status, 404);
});

test('HTTPRouteResponseHeaderModifier: set, add and remove response headers', async (t) => {
  const { cfg, port } = await single(
    t,
    'response-header-modifier',
    `  - filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier:
        set:
        - name: X-Header-Set
          value: set-overwrites-values
        add:
        - name: X-Header-Add
          value: header-val-1
        remove:
        - x-upstream-remove-me
        - content-type
${to('infra-backend-v1')}`,
  );
  const r = await cfg.request(port, {});
  assert.equal(r.status, 200);
  assert.equal(r.headers['x-header-set'], 'set-overwrites-values');
  assert.equal(r.headers['x-header-add'], 'header-val-1');
  assert.equal(r.headers['content-type'], undefined, "a header of the backend's response is removed");
  assert.equal(r.headers['x-upstream'], 'infra-backend-v1');
});

const redirect = (path: string, body: string) => `  - matches:
    - path:
        type: PathPrefix
        value: ${path}
    filters:
    - type: RequestRedirect
      requestRedirect:
${body}`;

test("HTTPRouteRedirectPortAndScheme: the port comes from the filter, else the scheme's well-known port, else the listener's port", async (t) => {
  const { cfg, port } = await single(
    t,
    'redirect-port-and-scheme',
    [
      redirect('/scheme-nil-and-port-nil', '        hostname: example.org\n'),
      redirect('/scheme-nil-and-port-80', '        hostname: example.org\n        port: 80\n'),
      redirect('/scheme-nil-and-port-8080', '        hostname: example.org\n        port: 8080\n'),
      redirect('/scheme-https-and-port-nil', '        hostname: example.org\n        scheme: https\n'),
      redirect('/scheme-https-and-port-443', '        hostname: example.org\n        scheme: https\n        port: 443\n'),
      redirect('/scheme-https-and-port-8443', '        hostname: example.org\n        scheme: https\n        port: 8443\n'),
    ].join(''),
  );
  const cases: [string, string][] = [
    ['/scheme-nil-and-port-nil', `http://example.org:${port}/scheme-nil-and-port-nil`],
    ['/scheme-nil-and-port-80', 'http://example.org/scheme-nil-and-port-80'],
    ['/scheme-nil-and-port-8080', 'http://example.org:8080/scheme-nil-and-port-8080'],
    ['/scheme-https-and-port-nil', 'https://example.org/scheme-https-and-port-nil'],
    ['/scheme-https-and-port-443', 'https://example.org/scheme-https-and-port-443'],
    ['/scheme-https-and-port-8443', 'https://example.org:8443/scheme-https-and-port-8443'],
  ];
  for (const [path, location] of cases) {
    // The client names the listener's port in Host, as curl does; Location follows the rules anyway.
    const r = await cfg.request(port, { host: `example.com:${port}`, path });
    assert.equal(r.status, 302, path);
    assert.equal(r.headers.location, location, path);
  }
});

test("HTTPRouteRedirectPort: the filter's port replaces the request's", async (t) => {
  const { cfg, port } = await single(t, 'redirect-port', redirect('/port', '        port: 8083\n'));
  const r = await cfg.request(port, { host: 'example.com', path: '/port/x?a=b' });
  assert.equal(r.status, 302);
  assert.equal(r.headers.location, 'http://example.com:8083/port/x?a=b');
});

test('HTTPRouteRedirectScheme: https with and without a port; the status code is kept', async (t) => {
  const { cfg, port } = await single(
    t,
    'redirect-scheme',
    [
      redirect('/scheme', '        scheme: https\n'),
      redirect('/scheme-and-host', '        scheme: https\n        hostname: example.org\n'),
      redirect('/scheme-and-status', '        scheme: https\n        statusCode: 301\n'),
    ].join(''),
  );
  const a = await cfg.request(port, { host: 'example.com', path: '/scheme' });
  assert.deepEqual([a.status, a.headers.location], [302, 'https://example.com/scheme']);
  const b = await cfg.request(port, { host: 'example.com', path: '/scheme-and-host' });
  assert.deepEqual([b.status, b.headers.location], [302, 'https://example.org/scheme-and-host']);
  const c = await cfg.request(port, { host: 'example.com', path: '/scheme-and-status' });
  assert.deepEqual([c.status, c.headers.location], [301, 'https://example.com/scheme-and-status']);
});

test('HTTPRouteRedirectPath: ReplaceFullPath and ReplacePrefixMatch in Location', async (t) => {
  const { cfg, port } = await single(
    t,
    'redirect-path',
    [
      redirect('/original-prefix', '        path:\n          type: ReplacePrefixMatch\n          replacePrefixMatch: /replacement-prefix\n'),
      redirect('/full', '        path:\n          type: ReplaceFullPath\n          replaceFullPath: /full-path-replacement\n'),
      redirect(
        '/path-and-host',
        '        hostname: example.org\n        path:\n          type: ReplacePrefixMatch\n          replacePrefixMatch: /replacement-prefix\n',
      ),
    ].join(''),
  );
  const cases: [string, string][] = [
    ['/original-prefix/lemon', `http://example.com:${port}/replacement-prefix/lemon`],
    ['/full/path/original', `http://example.com:${port}/full-path-replacement`],
    ['/path-and-host', `http://example.org:${port}/replacement-prefix`],
  ];
  for (const [path, location] of cases) {
    const r = await cfg.request(port, { host: 'example.com', path });
    assert.equal(r.headers.location, location, path);
  }
});

test('HTTPRouteRedirectHostAndStatus: hostname and status code of the redirect', async (t) => {
  const { cfg, port } = await single(
    t,
    'redirect-host-and-status',
    [
      redirect('/hostname-redirect', '        hostname: example.org\n'),
      redirect('/host-and-status', '        hostname: example.org\n        statusCode: 301\n'),
    ].join(''),
  );
  const a = await cfg.request(port, { host: 'example.com', path: '/hostname-redirect' });
  assert.deepEqual([a.status, a.headers.location], [302, `http://example.org:${port}/hostname-redirect`]);
  const b = await cfg.request(port, { host: 'example.com', path: '/host-and-status' });
  assert.deepEqual([b.status, b.headers.location], [301, `http://example.org:${port}/host-and-status`]);
});

test('HTTPRouteRedirectStatusCodes: 303, 307 and 308 redirects', async (t) => {
  const { cfg, port } = await single(
    t,
    'redirect-status-codes',
    [303, 307, 308].map((c) => redirect(`/${c}`, `        hostname: example.org\n        statusCode: ${c}\n`)).join(''),
  );
  for (const c of [303, 307, 308]) {
    const r = await cfg.request(port, { host: 'example.com', path: `/${c}` });
    assert.deepEqual([r.status, r.headers.location], [c, `http://example.org:${port}/${c}`]);
  }
});

test('HTTPRouteRewriteHost: URLRewrite hostname replaces the Host the backend sees', async (t) => {
  const { cfg, port } = await single(
    t,
    'rewrite-host',
    `  - matches:
    - path:
        value: /one
    filters:
    - type: URLRewrite
      urlRewrite:
        hostname: one.example.org
${to('infra-backend-v1')}  - filters:
    - type: URLRewrite
      urlRewrite:
        hostname: example.org
${to('infra-backend-v2')}`,
    '  hostnames:\n  - rewrite.example\n',
  );
  const a = await cfg.request(port, { host: 'rewrite.example', path: '/one' });
  assert.deepEqual([a.backend, a.echo!.headers.host], ['infra-backend-v1', 'one.example.org']);
  const b = await cfg.request(port, { host: 'rewrite.example', path: '/' });
  assert.deepEqual([b.backend, b.echo!.headers.host], ['infra-backend-v2', 'example.org']);
});

test('HTTPRouteRewritePath: ReplacePrefixMatch and ReplaceFullPath, the query kept', async (t) => {
  const { cfg, port } = await single(
    t,
    'rewrite-path',
    `  - matches:
    - path:
        type: PathPrefix
        value: /prefix/one
    filters:
    - type: URLRewrite
      urlRewrite:
        path:
          type: ReplacePrefixMatch
          replacePrefixMatch: /one
${to('infra-backend-v1')}  - matches:
    - path:
        type: PathPrefix
        value: /strip-prefix
    filters:
    - type: URLRewrite
      urlRewrite:
        path:
          type: ReplacePrefixMatch
          replacePrefixMatch: /
${to('infra-backend-v1')}  - matches:
    - path:
        type: PathPrefix
        value: /full/one
    filters:
    - type: URLRewrite
      urlRewrite:
        path:
          type: ReplaceFullPath
          replaceFullPath: /one
${to('infra-backend-v1')}`,
  );
  const cases: [string, string][] = [
    ['/prefix/one/two', '/one/two'],
    ['/prefix/one', '/one'],
    ['/strip-prefix/three', '/three'],
    ['/strip-prefix', '/'],
    ['/full/one/two', '/one'],
    ['/prefix/one/two?q=1', '/one/two?q=1'],
  ];
  for (const [path, seen] of cases) {
    const r = await cfg.request(port, { path });
    assert.equal(r.echo?.url, seen, path);
  }
});

test('HTTPRouteTimeoutRequest: timeouts.request answers 504 when the backend is slower', async (t) => {
  const { cfg, port } = await single(
    t,
    'request-timeout',
    `  - timeouts:
      request: 500ms
${to('infra-backend-v1')}`,
  );
  assert.equal((await cfg.request(port, { path: '/delay/3000' })).status, 504);
  assert.equal((await cfg.request(port, { path: '/' })).status, 200);
});

test('HTTPRouteTimeoutBackendRequest: timeouts.backendRequest bounds the request to the backend', async (t) => {
  const { cfg, port } = await single(
    t,
    'backend-request-timeout',
    `  - timeouts:
      request: 10s
      backendRequest: 500ms
${to('infra-backend-v1')}`,
  );
  assert.equal((await cfg.request(port, { path: '/delay/3000' })).status, 504);
  assert.equal((await cfg.request(port, { path: '/' })).status, 200);
});

test('HTTPRouteBackendProtocolH2C: a backend whose Service port has appProtocol kubernetes.io/h2c is spoken to in HTTP/2 cleartext', async (t) => {
  const { cfg, port } = await single(t, 'backend-protocol-h2c', `  - ${to('infra-backend-h2c').trimStart()}`);
  const r = await cfg.request(port, { path: '/h2c' });
  assert.equal(r.status, 200);
  assert.equal(r.backend, 'infra-backend-h2c');
  assert.equal(r.echo!.httpVersion, '2.0');
  // HTTP/2 from the client as well.
  const r2 = await cfg.requestH2(port, { path: '/h2c-both' });
  assert.deepEqual([r2.status, r2.backend], [200, 'infra-backend-h2c']);
});

test('HTTPRouteParentRefPort: a parentRef port selects the listener of that port; another port matches nothing', async (t) => {
  const world = await conformanceWorld(t);
  const [p] = await ports(1);
  const cfg = await world.apply(`${gateway('same-namespace', p!)}apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: parentref-port
spec:
  parentRefs:
  - name: same-namespace
    port: ${p}
  rules:
  - ${to('infra-backend-v1').trimStart()}---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: parentref-other-port
spec:
  parentRefs:
  - name: same-namespace
    port: ${p! === 65535 ? p! - 1 : p! + 1}
  hostnames:
  - other.example
  rules:
  - ${to('infra-backend-v2').trimStart()}`);
  assert.equal(cfg.routeConditions('HTTPRoute', 'parentref-port')[0]!.Accepted, 'True Accepted');
  assert.equal(cfg.routeConditions('HTTPRoute', 'parentref-other-port')[0]!.Accepted, 'False NoMatchingParent');
  assert.equal((await cfg.request(p!, { host: 'other.example' })).backend, 'infra-backend-v1');
});

test("HTTPRouteBackendRequestHeaderModifier: a backendRef's own RequestHeaderModifier applies to requests sent to that backend", async (t) => {
  const { cfg, port } = await single(
    t,
    'backend-request-header-modifier',
    `  - backendRefs:
    - name: infra-backend-v1
      port: 8080
      filters:
      - type: RequestHeaderModifier
        requestHeaderModifier:
          set:
          - name: x-backend
            value: v1
`,
  );
  const r = await cfg.request(port, {});
  assert.equal(r.echo!.headers['x-backend'], 'v1');
});

test('HTTPRouteNamedRule: rules with names are accepted and route', async (t) => {
  const { cfg, port } = await single(
    t,
    'named-rule',
    `  - name: named-rule-one
    matches:
    - path:
        value: /named
${to('infra-backend-v1')}  - name: named-rule-two
${to('infra-backend-v2')}`,
  );
  assert.equal((await cfg.request(port, { path: '/named' })).backend, 'infra-backend-v1');
  assert.equal((await cfg.request(port, { path: '/other' })).backend, 'infra-backend-v2');
});

test('HTTPRouteRetryCodes: retry.codes and attempts: a listed status is retried `attempts` times, an unlisted one is not', async (t) => {
  const { cfg, port, world } = await single(
    t,
    'retry-codes',
    `  - retry:
      codes: [500, 502, 503, 504]
      attempts: 2
      backoff: 10ms
${to('infra-backend-v1')}`,
  );
  const seen = world.backends.get('infra-backend-v1')!.requests;
  const listed = await cfg.request(port, { path: '/status/503' });
  assert.equal(listed.status, 503, "after the last retry, the backend's answer");
  assert.equal(seen.filter((r) => r.url === '/status/503').length, 3, 'the first try and two retries');
  const unlisted = await cfg.request(port, { path: '/status/501' });
  assert.equal(unlisted.status, 501);
  assert.equal(seen.filter((r) => r.url === '/status/501').length, 1);
  const ok = await cfg.request(port, { path: '/' });
  assert.equal(ok.status, 200);
});

test('HTTPRouteRetryConnectionError: with a retry stanza, a try that cannot connect is retried on another endpoint; attempts: 0 disables retries', async (t) => {
  const world = await conformanceWorld(t);
  const [p] = await ports(1);
  const live = world.backends.get('infra-backend-v1')!.port;
  const dead = await closedPort();
  const pod = (name: string, containerPort: number) => `---
apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  labels:
    app: flaky
spec:
  containers:
  - name: backend
    image: echo
    ports:
    - name: http
      containerPort: ${containerPort}
status:
  phase: Running
  podIP: 127.0.0.1
  conditions:
  - type: Ready
    status: "True"
`;
  const cfg = await world.apply(`${gateway('same-namespace', p!)}apiVersion: v1
kind: Service
metadata:
  name: flaky
spec:
  selector:
    app: flaky
  ports:
  - name: http
    port: 8080
    targetPort: http
${pod('flaky-live', live)}${pod('flaky-dead', dead)}---
${route(
  'retry-connection-error',
  `  - matches:
    - path:
        value: /retry
    retry:
      attempts: 3
      backoff: 10ms
${to('flaky')}  - matches:
    - path:
        value: /no-retry
    retry:
      attempts: 0
${to('flaky')}`,
)}`);
  // Istio's default balancing picks between the two endpoints at random: enough requests that
  // each path meets the dead endpoint (a miss in all 24 has chance 2^-24).
  const statuses = async (path: string) => {
    const out: number[] = [];
    for (let i = 0; i < 24; i++) out.push((await cfg.request(p!, { path })).status);
    return out;
  };
  assert.deepEqual(new Set(await statuses('/retry')), new Set([200]), 'a retry avoids the endpoint it already tried');
  const without = await statuses('/no-retry');
  assert.ok(without.includes(503), `without retries some requests meet the dead endpoint: ${without.join(' ')}`);
  assert.ok(without.includes(200));
});

test('HTTPRouteUnsupportedFilter: route fields outpost does not implement are refused in status: ExtensionRef → Accepted False UnsupportedValue', async (t) => {
  const world = await conformanceWorld(t);
  const [p] = await ports(1);
  const cfg = await world.apply(
    `${gateway('same-namespace', p!)}${route(
      'extension-ref',
      `  - filters:
    - type: ExtensionRef
      extensionRef:
        group: example.com
        kind: Filter
        name: some-filter
${to('infra-backend-v1')}`,
    )}`,
  );
  assert.equal(cfg.routeConditions('HTTPRoute', 'extension-ref')[0]!.Accepted, 'False UnsupportedValue');
  assert.equal((await cfg.request(p!, {})).status, 404, 'a refused route carries no traffic');
});

const mirror = (name: string, extra = '') => `    - type: RequestMirror
      requestMirror:
        backendRef:
          name: ${name}
          port: 8080
${extra}`;

test("HTTPRouteRequestMirror: a copy of each request goes to the mirror backend; the client gets the primary backend's answer", async (t) => {
  const { cfg, port, world } = await single(
    t,
    'request-mirror',
    `  - filters:
${mirror('infra-backend-v2')}${to('infra-backend-v1')}`,
  );
  const r = await cfg.request(port, { host: 'mirror.example', path: '/mirror?x=1', method: 'POST', headers: { 'content-type': 'text/plain', 'x-mark': 'm1' } });
  assert.deepEqual([r.status, r.backend], [200, 'infra-backend-v1']);
  const copies = world.backends.get('infra-backend-v2')!.requests;
  await waitFor(async () => copies.some((c) => c.url === '/mirror?x=1'), 'the mirrored copy');
  const copy = copies.find((c) => c.url === '/mirror?x=1')!;
  assert.equal(copy.method, 'POST');
  assert.equal(copy.headers['x-mark'], 'm1');
  assert.equal(copy.headers.host, 'mirror.example-shadow', "Envoy's shadow host");
  // A body is mirrored too.
  const withBody = await cfg.request(port, { path: '/mirror-body', method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello mirror' });
  assert.equal(withBody.echo!.body, 'hello mirror');
  await waitFor(async () => copies.some((c) => c.url === '/mirror-body' && c.body === 'hello mirror'), 'the mirrored body');
});

test('HTTPRouteRequestMultipleMirrors: every RequestMirror filter of a rule gets its copy', async (t) => {
  const { cfg, port, world } = await single(
    t,
    'request-multiple-mirrors',
    `  - filters:
${mirror('infra-backend-v2')}${mirror('infra-backend-v3')}${to('infra-backend-v1')}`,
  );
  const r = await cfg.request(port, { path: '/multi' });
  assert.equal(r.backend, 'infra-backend-v1');
  for (const be of ['infra-backend-v2', 'infra-backend-v3']) {
    await waitFor(async () => world.backends.get(be)!.requests.some((c) => c.url === '/multi'), `the copy at ${be}`);
  }
});

test('HTTPRouteRequestPercentageMirror: percent and fraction mirror a share of the requests', async (t) => {
  const { cfg, port, world } = await single(
    t,
    'request-percentage-mirror',
    `  - matches:
    - path:
        value: /percent
    filters:
${mirror('infra-backend-v2', '        percent: 50\n')}${to('infra-backend-v1')}  - matches:
    - path:
        value: /fraction
    filters:
${mirror('infra-backend-v3', '        fraction:\n          numerator: 1\n          denominator: 4\n')}${to('infra-backend-v1')}`,
  );
  const n = 60;
  for (let i = 0; i < n; i++) {
    assert.equal((await cfg.request(port, { path: `/percent/${i}` })).status, 200);
    assert.equal((await cfg.request(port, { path: `/fraction/${i}` })).status, 200);
  }
  const at = (be: string, prefix: string) => world.backends.get(be)!.requests.filter((c) => c.url.startsWith(prefix)).length;
  await waitFor(async () => at('infra-backend-v2', '/percent/') > 0 && at('infra-backend-v3', '/fraction/') > 0, 'some mirrored copies');
  // Never all of them (each share is a fraction; 60 hits in a row would be chance of 2^-60 or less).
  assert.ok(at('infra-backend-v2', '/percent/') < n);
  assert.ok(at('infra-backend-v3', '/fraction/') < n);
});
