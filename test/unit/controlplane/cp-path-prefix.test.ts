// Gateway API PathPrefix matches by path segment (Envoy's path_separated_prefix); Istio's VirtualService prefix stays a plain prefix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../../src/api/object.js';
import type { ProxyIdentity, Route, StringMatch } from '../../../src/proxyconfig/types.js';
import { compileRouteTable, ConfigError, rewritePath, StringMatcher, type RequestView } from '../../../src/dataplane/routing/index.js';
import { snapshotFromObjects } from '../../../src/controlplane/snapshot.js';
import { translate } from '../../../src/controlplane/translate/index.js';
import { desiredGatewayObjects } from '../../../src/controlplane/deployer/index.js';
import { loadObjects, podFor } from '../../fixtures/cp/load.js';

function req(path: string, authority = 'httpbin.org'): RequestView {
  return { method: 'GET', path, authority, scheme: 'http', header: () => undefined };
}

// --- the matcher -------------------------------------------------------------------------------

const segmentCases: [StringMatch, string, boolean][] = [
  [{ kind: 'pathPrefix', value: '/foo' }, '/foo', true],
  [{ kind: 'pathPrefix', value: '/foo' }, '/foo/', true],
  [{ kind: 'pathPrefix', value: '/foo' }, '/foo/bar', true],
  [{ kind: 'pathPrefix', value: '/foo' }, '/foobar', false],
  [{ kind: 'pathPrefix', value: '/foo' }, '/fo', false],
  [{ kind: 'pathPrefix', value: '/foo' }, '/bar/foo', false],
  [{ kind: 'pathPrefix', value: '/foo/' }, '/foo', true], // a trailing slash in the prefix is ignored
  [{ kind: 'pathPrefix', value: '/foo/' }, '/foo/bar', true],
  [{ kind: 'pathPrefix', value: '/foo/' }, '/foobar', false],
  [{ kind: 'pathPrefix', value: '/foo/bar' }, '/foo/bar/baz', true],
  [{ kind: 'pathPrefix', value: '/foo/bar' }, '/foo/barbaz', false],
  [{ kind: 'pathPrefix', value: '/' }, '/anything', true],
  [{ kind: 'pathPrefix', value: '/FOO', ignoreCase: true }, '/foo/x', true],
  [{ kind: 'pathPrefix', value: '/FOO', ignoreCase: true }, '/fooX', false],
  [{ kind: 'pathPrefix', value: '/FOO' }, '/foo', false],
  [{ kind: 'prefix', value: '/foo' }, '/foobar', true], // the plain prefix is unchanged
];

for (const [m, path, want] of segmentCases) {
  test(`${m.kind} ${JSON.stringify(m.value)}${'ignoreCase' in m && m.ignoreCase ? ' (ignoreCase)' : ''} ${want ? 'matches' : 'does not match'} ${path}`, () => {
    assert.equal(new StringMatcher(m, 'test').test(path), want);
  });
}

test('an unknown match kind is a config error naming where', () => {
  assert.throws(
    () => new StringMatcher({ kind: 'suffix', value: 'x' } as unknown as StringMatch, 'routes[0].match.path'),
    (e: unknown) => e instanceof ConfigError && /routes\[0\]\.match\.path: unknown match kind "suffix"/.test(e.message),
  );
});

test('route matching: a pathPrefix sees the path without its query; first match wins', () => {
  const route = (name: string, path: StringMatch): Route => ({ name, match: { path }, action: { kind: 'directResponse', status: 200 } });
  const table = compileRouteTable({
    name: 'http.80',
    virtualHosts: [
      {
        name: 'httpbin.org:80',
        domains: ['httpbin.org'],
        routes: [route('foo', { kind: 'pathPrefix', value: '/foo' }), route('rest', { kind: 'prefix', value: '/' })],
      },
    ],
  });
  const vh = table.findVirtualHost('httpbin.org')!;
  const pick = (path: string) => vh.match(req(path))?.name;
  assert.equal(pick('/foo?x=1'), 'foo');
  assert.equal(pick('/foo/?x=1'), 'foo');
  assert.equal(pick('/foo/bar?x=/y'), 'foo');
  assert.equal(pick('/foobar'), 'rest');
  assert.equal(pick('/foo.txt'), 'rest');
});

// --- translation -------------------------------------------------------------------------------

/** The Gateway API seed with the gateway's HTTPRoute given `matches`, plus the gateway pod. */
function seedWithMatches(matches: unknown[]): { objects: KubeObject[]; gateway: ProxyIdentity } {
  const objects = loadObjects('mesh-base', 'seed-gateway-api').map((o) => {
    if (o.kind !== 'HTTPRoute' || o.metadata.name !== 'forward-httpbin-from-egress-gateway') return o;
    const spec = o.spec as { rules: Record<string, unknown>[] };
    return { ...o, spec: { ...spec, rules: [{ ...spec.rules[0], matches }] } };
  });
  const made = desiredGatewayObjects(objects.find((o) => o.kind === 'Gateway')!);
  const pod = podFor(made[0]!, '127.0.3.3');
  objects.push(...made, pod);
  return {
    objects,
    gateway: {
      id: `${pod.metadata.name}.egress-gateway`,
      role: 'router',
      namespace: 'egress-gateway',
      workload: 'httpbin-egress-gateway-istio',
      ip: '127.0.3.3',
      labels: pod.metadata.labels!,
    },
  };
}

function gatewayPaths(matches: unknown[]): (StringMatch | undefined)[] {
  const { objects, gateway } = seedWithMatches(matches);
  const cfg = translate(snapshotFromObjects(objects), gateway, { readPem: () => undefined });
  const vh = cfg.routeTables.find((t) => t.name === 'http.80')!.virtualHosts.find((v) => v.name === 'httpbin.org:80')!;
  return vh.routes.map((r) => r.match.path);
}

test('Gateway API PathPrefix translates to a path-segment prefix without the trailing slash', () => {
  assert.deepEqual(gatewayPaths([{ path: { type: 'PathPrefix', value: '/foo' } }]), [{ kind: 'pathPrefix', value: '/foo' }]);
  assert.deepEqual(gatewayPaths([{ path: { type: 'PathPrefix', value: '/foo/' } }]), [{ kind: 'pathPrefix', value: '/foo' }]);
  // PathPrefix is the default type of a path match.
  assert.deepEqual(gatewayPaths([{ path: { value: '/status' } }]), [{ kind: 'pathPrefix', value: '/status' }]);
});

test('Gateway API PathPrefix `/` and a match without a path stay the plain prefix `/`', () => {
  assert.deepEqual(gatewayPaths([{ path: { type: 'PathPrefix', value: '/' } }]), [{ kind: 'prefix', value: '/' }]);
  assert.deepEqual(gatewayPaths([{ headers: [{ name: 'x-a', value: 'b' }] }]), [{ kind: 'prefix', value: '/' }]);
});

test('Gateway API Exact and RegularExpression are unchanged', () => {
  assert.deepEqual(gatewayPaths([{ path: { type: 'Exact', value: '/foo' } }, { path: { type: 'RegularExpression', value: '/f.*' } }]), [
    { kind: 'exact', value: '/foo' },
    { kind: 'regex', value: '/f.*' },
  ]);
});

test('the translated gateway routes /foo, /foo/ and /foo/bar but not /foobar (404 NR)', () => {
  const { objects, gateway } = seedWithMatches([{ path: { type: 'PathPrefix', value: '/foo/' } }]);
  const cfg = translate(snapshotFromObjects(objects), gateway, { readPem: () => undefined });
  const table = compileRouteTable(cfg.routeTables.find((t) => t.name === 'http.80')!);
  const vh = table.findVirtualHost('httpbin.org')!;
  for (const p of ['/foo', '/foo/', '/foo/bar', '/foo?q=1']) assert.equal(vh.match(req(p))?.name, 'egress-gateway.forward-httpbin-from-egress-gateway.0', p);
  for (const p of ['/foobar', '/', '/bar/foo']) assert.equal(vh.match(req(p)), undefined, p);
});

test('Istio VirtualService uri.prefix stays a plain string prefix (as Istio does)', () => {
  const objects = loadObjects('mesh-base', 'seed-istio-api').map((o) => {
    if (o.kind !== 'VirtualService') return o;
    const spec = o.spec as { http: Record<string, unknown>[] };
    return {
      ...o,
      spec: {
        ...spec,
        http: spec.http.map((h) => ({
          ...h,
          match: ((h.match as Record<string, unknown>[] | undefined) ?? [{}]).map((m) => ({ ...m, uri: { prefix: '/foo' } })),
        })),
      },
    };
  });
  const curl: ProxyIdentity = { id: 'curl-1.curl', role: 'sidecar', namespace: 'curl', workload: 'curl', ip: '127.0.1.2', labels: { app: 'curl' } };
  const cfg = translate(snapshotFromObjects(objects), curl, { readPem: () => undefined });
  const vh = cfg.routeTables.find((t) => t.name === '80')!.virtualHosts.find((v) => v.name === 'docs.redhat.com:80')!;
  assert.ok(vh.routes.length > 0);
  for (const r of vh.routes) assert.deepEqual(r.match.path, { kind: 'prefix', value: '/foo' });
});

// Needs src/dataplane/routing/rewrite.ts (not owned here) to treat `pathPrefix` as it treats `prefix`
// when replacing the matched prefix (rewritePath and redirectLocation).
test('URLRewrite ReplacePrefixMatch under a PathPrefix replaces the matched segments', () => {
  const route: Route = {
    name: 'r',
    match: { path: { kind: 'pathPrefix', value: '/foo' } },
    action: { kind: 'forward', clusters: [{ cluster: 'c', weight: 1 }], rewrite: { pathPrefix: '/xyz' } },
  };
  assert.equal(rewritePath('/foo/bar?q=1', route, { pathPrefix: '/xyz' }), '/xyz/bar?q=1');
  assert.equal(rewritePath('/foo', route, { pathPrefix: '/xyz' }), '/xyz');
  assert.equal(rewritePath('/foo/bar', route, { pathPrefix: '/' }), '/bar');
  assert.equal(rewritePath('/foo', route, { pathPrefix: '/' }), '/');
  assert.equal(rewritePath('/foo?x=1', route, { pathPrefix: '' }), '/?x=1');
});
