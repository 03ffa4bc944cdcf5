import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Route, RouteTable, VirtualHost, RouteMatch, WeightedCluster } from '../../../src/proxyconfig/types.js';
import {
  compileRouteTable,
  ConfigError,
  pickWeighted,
  rewritePath,
  redirectLocation,
  applyHeaderOps,
  type RequestView,
} from '../../../src/dataplane/routing/index.js';
import { seededRandom } from '../../helpers/rng.js';

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

function route(name: string, match: RouteMatch = {}): Route {
  return { name, match, action: { kind: 'forward', clusters: [{ cluster: `c-${name}`, weight: 1 }] } };
}

function vhost(name: string, domains: string[], routes: Route[] = [route(name)]): VirtualHost {
  return { name, domains, routes };
}

function table(...vhosts: VirtualHost[]): RouteTable {
  return deepFreeze({ name: '80', virtualHosts: vhosts });
}

function req(over: Partial<Omit<RequestView, 'header'>> & { headers?: Record<string, string> } = {}): RequestView {
  const headers = over.headers ?? {};
  return {
    method: over.method ?? 'GET',
    path: over.path ?? '/',
    authority: over.authority ?? 'example.com',
    scheme: over.scheme ?? 'http',
    header: (n) => headers[n],
  };
}

// --- virtual host precedence: exact, longest *.suffix, longest prefix*, * ---------------------

const precedence = compileRouteTable(
  table(
    vhost('any', ['*']),
    vhost('prefix-short', ['api.*']),
    vhost('prefix-long', ['api.example.*']),
    vhost('suffix-short', ['*.com']),
    vhost('suffix-long', ['*.example.com']),
    vhost('exact', ['www.example.com']),
    vhost('with-port', ['ported.example.com:8080']),
    vhost('v6', ['[::1]', '[fe80::1]:9090']),
  ),
);

const vhostCases: Array<[string, number | undefined, string | undefined]> = [
  ['www.example.com', undefined, 'exact'],
  ['WWW.Example.COM', undefined, 'exact'],
  ['www.example.com:80', undefined, 'exact'],
  ['foo.example.com', undefined, 'suffix-long'],
  ['a.b.example.com', undefined, 'suffix-long'],
  ['example.com', undefined, 'suffix-short'],
  ['other.com', undefined, 'suffix-short'],
  ['api.example.org', undefined, 'prefix-long'],
  ['api.other.org', undefined, 'prefix-short'],
  ['api.example.com', undefined, 'suffix-long'],
  ['nothing.org', undefined, 'any'],
  ['ported.example.com:8080', undefined, 'with-port'],
  ['ported.example.com', 8080, 'with-port'],
  ['ported.example.com:9090', undefined, 'suffix-long'],
  ['[::1]:8080', undefined, 'v6'],
  ['[::1]', undefined, 'v6'],
  ['[fe80::1]:9090', undefined, 'v6'],
  ['[fe80::1]:9091', undefined, 'any'],
];

for (const [authority, port, expected] of vhostCases) {
  test(`virtual host for ${authority}${port ? ` (port ${port})` : ''} is ${expected}`, () => {
    assert.equal(precedence.findVirtualHost(authority, port)?.name, expected);
    // The cached answer is the same.
    assert.equal(precedence.findVirtualHost(authority, port)?.name, expected);
  });
}

test('without a * domain, an unmatched host finds no virtual host', () => {
  const t = compileRouteTable(table(vhost('exact', ['a.example.com'])));
  assert.equal(t.findVirtualHost('b.example.com'), undefined);
});

test('a wildcard stands for at least one character', () => {
  const t = compileRouteTable(table(vhost('w', ['*.example.com']), vhost('p', ['foo*'])));
  assert.equal(t.findVirtualHost('.example.com'), undefined);
  assert.equal(t.findVirtualHost('foo'), undefined);
  assert.equal(t.findVirtualHost('foox')?.name, 'p');
});

test('a host:port domain beats the same host without port', () => {
  const t = compileRouteTable(table(vhost('bare', ['h.test']), vhost('ported', ['h.test:81'])));
  assert.equal(t.findVirtualHost('h.test:81')?.name, 'ported');
  assert.equal(t.findVirtualHost('h.test:82')?.name, 'bare');
  assert.equal(t.findVirtualHost('h.test')?.name, 'bare');
  assert.equal(t.findVirtualHost('h.test', 81)?.name, 'ported');
});

test('a domain in two virtual hosts is a ConfigError naming both', () => {
  assert.throws(
    () => compileRouteTable(table(vhost('one', ['dup.test']), vhost('two', ['DUP.test']))),
    (e: unknown) => e instanceof ConfigError && /dup\.test/i.test(e.message) && /one/.test(e.message) && /two/.test(e.message),
  );
});

test('a wildcard in the middle of a domain is rejected', () => {
  assert.throws(() => compileRouteTable(table(vhost('bad', ['a.*.com']))), ConfigError);
});

// --- route matching ---------------------------------------------------------------------------

function firstRoute(routes: Route[], r: RequestView): string | undefined {
  const t = compileRouteTable(table(vhost('v', ['*'], routes)));
  return t.findVirtualHost(r.authority)?.match(r)?.name;
}

test('path exact ignores the query string; prefix matches the start; first match wins', () => {
  const routes = [
    route('exact', { path: { kind: 'exact', value: '/status' } }),
    route('prefix', { path: { kind: 'prefix', value: '/api/' } }),
    route('prefix-api-more', { path: { kind: 'prefix', value: '/api/v2' } }),
    route('catch-all'),
  ];
  assert.equal(firstRoute(routes, req({ path: '/status?x=1' })), 'exact');
  assert.equal(firstRoute(routes, req({ path: '/status/x' })), 'catch-all');
  assert.equal(firstRoute(routes, req({ path: '/api/v2/x' })), 'prefix');
  assert.equal(firstRoute(routes, req({ path: '/other' })), 'catch-all');
});

test('ignoreCase on exact and prefix', () => {
  const routes = [
    route('exact', { path: { kind: 'exact', value: '/Status', ignoreCase: true } }),
    route('prefix', { path: { kind: 'prefix', value: '/API', ignoreCase: true } }),
  ];
  assert.equal(firstRoute(routes, req({ path: '/sTaTuS' })), 'exact');
  assert.equal(firstRoute(routes, req({ path: '/api/x' })), 'prefix');
  assert.equal(firstRoute([route('cs', { path: { kind: 'prefix', value: '/API' } })], req({ path: '/api' })), undefined);
});

test('regex path must match the whole path (without the query)', () => {
  const routes = [route('re', { path: { kind: 'regex', value: '/users/[0-9]+' } })];
  assert.equal(firstRoute(routes, req({ path: '/users/42' })), 're');
  assert.equal(firstRoute(routes, req({ path: '/users/42?full=1' })), 're');
  assert.equal(firstRoute(routes, req({ path: '/users/42/x' })), undefined);
  assert.equal(firstRoute(routes, req({ path: '/x/users/42' })), undefined);
});

test('RE2 syntax: (?P<name>) groups and a leading (?i) work', () => {
  assert.equal(firstRoute([route('named', { path: { kind: 'regex', value: '/(?P<id>[a-z]+)' } })], req({ path: '/abc' })), 'named');
  assert.equal(firstRoute([route('ci', { path: { kind: 'regex', value: '(?i)/ABC' } })], req({ path: '/abc' })), 'ci');
});

for (const [pattern, why] of [
  ['/(?<=a)b', /lookbehind/],
  ['/(?!a)b', /lookahead/],
  ['/(a)\\1', /backreference/],
  ['/(', /invalid regex/],
] as const) {
  test(`regex ${pattern} is a ConfigError naming the route and field`, () => {
    const t = table(vhost('vh', ['*'], [route('bad-route', { path: { kind: 'regex', value: pattern } })]));
    assert.throws(
      () => compileRouteTable(t),
      (e: unknown) => e instanceof ConfigError && why.test(e.message) && /bad-route/.test(e.message) && /match\.path/.test(e.message),
    );
  });
}

test('an escaped backslash before a digit is not a backreference', () => {
  assert.equal(firstRoute([route('ok', { path: { kind: 'regex', value: '/a\\\\1' } })], req({ path: '/a\\1' })), 'ok');
});

test('headers: exact, prefix, regex, present, absent, invert', () => {
  const routes = [
    route('exact', { headers: [{ name: 'X-Env', match: { kind: 'exact', value: 'prod' } }] }),
    route('prefix', { headers: [{ name: 'x-env', match: { kind: 'prefix', value: 'stag' } }] }),
    route('regex', { headers: [{ name: 'x-env', match: { kind: 'regex', value: 'dev-[0-9]' } }] }),
    route('inverted', {
      headers: [
        { name: 'x-env', match: { kind: 'exact', value: 'qa' }, invert: true },
        { name: 'x-env', present: true },
      ],
    }),
    route('present', { headers: [{ name: 'x-debug', present: true }] }),
    route('absent', { headers: [{ name: 'x-user', present: false }] }),
    route('fallback'),
  ];
  assert.equal(firstRoute(routes, req({ headers: { 'x-env': 'prod' } })), 'exact');
  assert.equal(firstRoute(routes, req({ headers: { 'x-env': 'staging' } })), 'prefix');
  assert.equal(firstRoute(routes, req({ headers: { 'x-env': 'dev-1' } })), 'regex');
  assert.equal(firstRoute(routes, req({ headers: { 'x-env': 'dev-12' } })), 'inverted');
  assert.equal(firstRoute(routes, req({ headers: { 'x-env': 'qa', 'x-debug': '' } })), 'present');
  assert.equal(firstRoute(routes, req({ headers: { 'x-env': 'qa' } })), 'absent');
  assert.equal(firstRoute(routes, req({ headers: { 'x-env': 'qa', 'x-user': 'u' } })), 'fallback');
});

test('an inverted match holds when the header is absent', () => {
  const routes = [route('inv', { headers: [{ name: 'x-env', match: { kind: 'exact', value: 'qa' }, invert: true }] })];
  assert.equal(firstRoute(routes, req()), 'inv');
});

test('query parameters: exact, regex, present, absent', () => {
  const routes = [
    route('exact', { queryParams: [{ name: 'v', match: { kind: 'exact', value: '2' } }] }),
    route('regex', { queryParams: [{ name: 'id', match: { kind: 'regex', value: '[0-9]+' } }] }),
    route('present', { queryParams: [{ name: 'debug', present: true }] }),
    route('absent', { queryParams: [{ name: 'debug', present: false }], path: { kind: 'exact', value: '/q' } }),
  ];
  assert.equal(firstRoute(routes, req({ path: '/q?a=1&v=2' })), 'exact');
  assert.equal(firstRoute(routes, req({ path: '/q?vv=2&id=77' })), 'regex');
  assert.equal(firstRoute(routes, req({ path: '/q?id=x&debug' })), 'present');
  assert.equal(firstRoute(routes, req({ path: '/q?id=x' })), 'absent');
  assert.equal(firstRoute(routes, req({ path: '/q' })), 'absent');
});

test('method, scheme and authority matches', () => {
  const routes = [
    route('post', { method: { kind: 'exact', value: 'POST' } }),
    route('https', { scheme: { kind: 'exact', value: 'https' } }),
    route('auth', { authority: { kind: 'prefix', value: 'api.' } }),
  ];
  assert.equal(firstRoute(routes, req({ method: 'POST' })), 'post');
  assert.equal(firstRoute(routes, req({ scheme: 'https' })), 'https');
  assert.equal(firstRoute(routes, req({ authority: 'api.test' })), 'auth');
  assert.equal(firstRoute(routes, req()), undefined);
});

test('every criterion must hold', () => {
  const routes = [route('both', { path: { kind: 'prefix', value: '/a' }, method: { kind: 'exact', value: 'GET' } })];
  assert.equal(firstRoute(routes, req({ path: '/a', method: 'PUT' })), undefined);
  assert.equal(firstRoute(routes, req({ path: '/b', method: 'GET' })), undefined);
  assert.equal(firstRoute(routes, req({ path: '/a', method: 'GET' })), 'both');
});

// --- weighted clusters ------------------------------------------------------------------------

test('weighted pick follows the weights (chi-square bound, seeded)', () => {
  const clusters: WeightedCluster[] = [
    { cluster: 'a', weight: 70 },
    { cluster: 'b', weight: 20 },
    { cluster: 'zero', weight: 0 },
    { cluster: 'c', weight: 10 },
  ];
  const rand = seededRandom(42);
  const n = 100_000;
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const c = pickWeighted(clusters, rand)!.cluster;
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  assert.equal(counts.get('zero'), undefined);
  let chi2 = 0;
  for (const [name, w] of [
    ['a', 0.7],
    ['b', 0.2],
    ['c', 0.1],
  ] as const) {
    const expected = n * w;
    chi2 += ((counts.get(name) ?? 0) - expected) ** 2 / expected;
  }
  // 2 degrees of freedom: p = 0.001 at 13.8.
  assert.ok(chi2 < 13.8, `chi2 ${chi2} counts ${JSON.stringify([...counts])}`);
});

test('weighted pick edge cases', () => {
  assert.equal(pickWeighted([]), undefined);
  assert.equal(pickWeighted([{ cluster: 'z', weight: 0 }]), undefined);
  assert.equal(pickWeighted([{ cluster: 'one', weight: 5 }])?.cluster, 'one');
  assert.equal(
    pickWeighted(
      [
        { cluster: 'a', weight: 1 },
        { cluster: 'b', weight: 1 },
      ],
      () => 0.9999999999,
    )?.cluster,
    'b',
  );
  assert.equal(
    pickWeighted(
      [
        { cluster: 'a', weight: 1 },
        { cluster: 'b', weight: 1 },
      ],
      () => 0,
    )?.cluster,
    'a',
  );
});

// --- rewrites and redirects -------------------------------------------------------------------

test('prefix rewrite replaces the matched prefix and keeps the query', () => {
  const r = route('r', { path: { kind: 'prefix', value: '/old' } });
  assert.equal(rewritePath('/old/x?q=1', r, { pathPrefix: '/new' }), '/new/x?q=1');
  assert.equal(rewritePath('/old', r, { pathPrefix: '/' }), '/');
  const exact = route('e', { path: { kind: 'exact', value: '/a' } });
  assert.equal(rewritePath('/a?z', exact, { pathPrefix: '/b' }), '/b?z');
  assert.equal(rewritePath('/a?z', exact, { fullPath: '/full' }), '/full?z');
});

test('regex rewrite substitutes every match, with capture groups', () => {
  const rw = deepFreeze({ regex: { pattern: '/v([0-9]+)/', substitution: '/version-\\1/' } });
  const routes = [{ ...route('rr'), action: { kind: 'forward' as const, clusters: [{ cluster: 'c', weight: 1 }], rewrite: rw } }];
  compileRouteTable(table(vhost('v', ['*'], routes)));
  assert.equal(rewritePath('/v1/a/v2/b?x=/v3/', routes[0]!, rw), '/version-1/a/version-2/b?x=/v3/');
});

test('a bad rewrite regex is rejected at compile time', () => {
  const routes: Route[] = [{ name: 'rw', match: {}, action: { kind: 'forward', clusters: [], rewrite: { regex: { pattern: '(?<=x)', substitution: '' } } } }];
  assert.throws(
    () => compileRouteTable(table(vhost('v', ['*'], routes))),
    (e: unknown) => e instanceof ConfigError && /rw/.test(e.message),
  );
});

test('redirect location: scheme, host, port, path, prefix', () => {
  const r = route('r', { path: { kind: 'prefix', value: '/old' } });
  const base = req({ authority: 'Docs.Example.com:8080', path: '/old/page?x=1' });
  assert.equal(redirectLocation(base, r, { kind: 'redirect', code: 301 }), 'http://docs.example.com:8080/old/page?x=1');
  assert.equal(redirectLocation(base, r, { kind: 'redirect', code: 301, host: 'new.test' }), 'http://new.test/old/page?x=1');
  assert.equal(redirectLocation(base, r, { kind: 'redirect', code: 301, port: 9000 }), 'http://docs.example.com:9000/old/page?x=1');
  assert.equal(redirectLocation(base, r, { kind: 'redirect', code: 301, path: '/p' }), 'http://docs.example.com:8080/p?x=1');
  assert.equal(redirectLocation(base, r, { kind: 'redirect', code: 301, prefixRewrite: '/new' }), 'http://docs.example.com:8080/new/page?x=1');
  const plain = req({ authority: 'docs.example.com:80', path: '/' });
  assert.equal(redirectLocation(plain, r, { kind: 'redirect', code: 301, scheme: 'https' }), 'https://docs.example.com/');
  assert.equal(redirectLocation(plain, r, { kind: 'redirect', code: 301, scheme: 'https', port: 443 }), 'https://docs.example.com/');
  assert.equal(redirectLocation(req({ authority: '[::1]:8080' }), r, { kind: 'redirect', code: 302 }), 'http://[::1]:8080/');
});

// --- header operations ------------------------------------------------------------------------

test('header ops: remove, then set, then add; names case-insensitive', () => {
  const h: Record<string, string | string[]> = { 'x-a': '1', 'x-b': '2', 'x-c': ['3'], 'x-gone': 'g' };
  applyHeaderOps(h, { remove: ['X-Gone'], set: { 'X-A': 'one', 'x-new': 'n' }, add: { 'x-b': 'two', 'X-C': 'three', 'x-d': 'd' } });
  assert.deepEqual(h, { 'x-a': 'one', 'x-b': ['2', 'two'], 'x-c': ['3', 'three'], 'x-new': 'n', 'x-d': 'd' });
  applyHeaderOps(h, undefined);
  assert.equal(h['x-a'], 'one');
});

test('virtual-host lookups stay right past the cache bound, for the same authority on different ports', () => {
  const t = compileRouteTable(table(vhost('ported', ['h.test:81']), vhost('bare', ['h.test']), vhost('any', ['*'])));
  for (let i = 0; i < 3000; i++) {
    assert.equal(t.findVirtualHost(`n${i}.test`, 80)?.name, 'any');
    if (i % 500 === 0) {
      assert.equal(t.findVirtualHost('h.test', 81)?.name, 'ported');
      assert.equal(t.findVirtualHost('h.test', 82)?.name, 'bare');
      assert.equal(t.findVirtualHost('h.test')?.name, 'bare');
      assert.equal(t.findVirtualHost('h.test:81')?.name, 'ported');
    }
  }
});
