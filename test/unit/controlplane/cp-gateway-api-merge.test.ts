// Several Gateway API routes on one parent: HTTPRoute rules merge and follow Gateway API match
// precedence (exact path, longest prefix, method, headers, query), at sidecars and at gateways; an
// HTTPRoute and a TLSRoute on one ServiceEntry both apply (HTTP port and TLS port).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../../src/api/object.js';
import type { ProxyConfig, ProxyIdentity, Route } from '../../../src/proxyconfig/types.js';
import { snapshotFromObjects } from '../../../src/controlplane/snapshot.js';
import { translate } from '../../../src/controlplane/translate/index.js';
import { desiredGatewayObjects } from '../../../src/controlplane/deployer/index.js';

const GW = 'gateway.networking.k8s.io';
const app: ProxyIdentity = { id: 'sleep-1.apps', role: 'sidecar', namespace: 'apps', workload: 'sleep', ip: '127.0.1.2', labels: { app: 'sleep' } };
const gwPod: ProxyIdentity = {
  id: 'egw-istio-1.apps',
  role: 'router',
  namespace: 'apps',
  workload: 'egw-istio',
  ip: '127.0.3.3',
  labels: { 'gateway.networking.k8s.io/gateway-name': 'egw' },
};

const se = (name: string, host: string): KubeObject => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'ServiceEntry',
  metadata: { name, namespace: 'apps', creationTimestamp: '2024-01-01T00:00:00Z' },
  spec: {
    hosts: [host],
    ports: [
      { number: 80, name: 'http', protocol: 'HTTP' },
      { number: 443, name: 'tls', protocol: 'TLS' },
    ],
    resolution: 'DNS',
  },
});
const gateway: KubeObject = {
  apiVersion: `${GW}/v1`,
  kind: 'Gateway',
  metadata: { name: 'egw', namespace: 'apps', uid: 'u' },
  spec: {
    gatewayClassName: 'istio',
    listeners: [
      { name: 'http', hostname: 'httpbin.org', port: 80, protocol: 'HTTP' },
      { name: 'tls', hostname: 'httpbin.org', port: 443, protocol: 'TLS', tls: { mode: 'Passthrough' } },
    ],
  },
};
const backend = (host: string, port = 80) => ({ group: 'networking.istio.io', kind: 'Hostname', name: host, port });
function route(kind: string, name: string, created: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: `${GW}/${kind === 'HTTPRoute' ? 'v1' : 'v1alpha2'}`, kind, metadata: { name, namespace: 'apps', creationTimestamp: created }, spec };
}
const seParent = { parentRefs: [{ group: 'networking.istio.io', kind: 'ServiceEntry', name: 'httpbin' }] };

function world(...routes: KubeObject[]): KubeObject[] {
  return [
    se('httpbin', 'httpbin.org'),
    se('alt', 'alt.example.com'),
    gateway,
    ...desiredGatewayObjects(gateway).filter((o) => o.kind === 'Service'),
    ...routes,
  ];
}

function describe(r: Route): string {
  const m = r.match;
  const path = m.path ? `${m.path.kind}:${m.path.value}` : 'any';
  const target = r.action.kind === 'forward' ? r.action.clusters.map((c) => c.cluster).join(',') : r.action.kind;
  return `${path}${m.method ? ` ${m.method.value}` : ''}${m.headers?.length ? ` h${m.headers.length}` : ''} -> ${target}`;
}

function routesFor(cfg: ProxyConfig, table: string, vhost: string): string[] {
  const vh = cfg.routeTables.find((t) => t.name === table)?.virtualHosts.find((v) => v.name === vhost);
  assert.ok(vh, `virtual host ${vhost} in ${table}: ${JSON.stringify(cfg.routeTables.map((t) => [t.name, t.virtualHosts.map((v) => v.name)]))}`);
  return vh.routes.map(describe);
}

test('one HTTPRoute: a later, more specific rule still wins over an earlier catch-all', () => {
  const r = route('HTTPRoute', 'httpbin', '2024-01-02T00:00:00Z', {
    ...seParent,
    rules: [{ backendRefs: [backend('httpbin.org')] }, { matches: [{ path: { type: 'Exact', value: '/get' } }], backendRefs: [backend('alt.example.com')] }],
  });
  assert.deepEqual(routesFor(translate(snapshotFromObjects(world(r)), app), '80', 'httpbin.org:80'), [
    'exact:/get -> outbound|80||alt.example.com',
    'prefix:/ -> outbound|80||httpbin.org',
  ]);
});

test('two HTTPRoutes on one ServiceEntry merge at the sidecar: longest prefix, then method, then headers', () => {
  const older = route('HTTPRoute', 'catch-all', '2024-01-02T00:00:00Z', { ...seParent, rules: [{ backendRefs: [backend('httpbin.org')] }] });
  const newer = route('HTTPRoute', 'specific', '2024-01-03T00:00:00Z', {
    ...seParent,
    rules: [
      { matches: [{ path: { type: 'PathPrefix', value: '/delay' } }], timeouts: { request: '1s' }, backendRefs: [backend('httpbin.org')] },
      { matches: [{ path: { type: 'PathPrefix', value: '/delay/long' } }], backendRefs: [backend('alt.example.com')] },
      { matches: [{ path: { type: 'PathPrefix', value: '/delay' }, method: 'POST' }], backendRefs: [backend('alt.example.com')] },
      { matches: [{ path: { type: 'PathPrefix', value: '/delay' }, headers: [{ name: 'x-a', value: '1' }] }], backendRefs: [backend('alt.example.com')] },
    ],
  });
  const routes = routesFor(translate(snapshotFromObjects(world(older, newer)), app), '80', 'httpbin.org:80');
  assert.deepEqual(routes, [
    'pathPrefix:/delay/long -> outbound|80||alt.example.com',
    'pathPrefix:/delay POST -> outbound|80||alt.example.com',
    'pathPrefix:/delay h1 -> outbound|80||alt.example.com',
    'pathPrefix:/delay -> outbound|80||httpbin.org',
    'prefix:/ -> outbound|80||httpbin.org',
  ]);
});

test('two HTTPRoutes for one hostname at a gateway merge in precedence order', () => {
  const older = route('HTTPRoute', 'fwd-all', '2024-01-02T00:00:00Z', {
    parentRefs: [{ name: 'egw', sectionName: 'http' }],
    hostnames: ['httpbin.org'],
    rules: [{ backendRefs: [backend('httpbin.org')] }],
  });
  const newer = route('HTTPRoute', 'fwd-get', '2024-01-03T00:00:00Z', {
    parentRefs: [{ name: 'egw', sectionName: 'http' }],
    hostnames: ['httpbin.org'],
    rules: [{ matches: [{ path: { type: 'Exact', value: '/get' } }], backendRefs: [backend('alt.example.com')] }],
  });
  const cfg = translate(snapshotFromObjects(world(older, newer)), gwPod);
  const table = cfg.routeTables.find((t) => t.virtualHosts.some((v) => v.domains.includes('httpbin.org')))!;
  const vh = table.virtualHosts.find((v) => v.domains.includes('httpbin.org'))!;
  assert.deepEqual(vh.routes.map(describe), ['exact:/get -> outbound|80||alt.example.com', 'prefix:/ -> outbound|80||httpbin.org']);
});

test('an HTTPRoute and a TLSRoute of the same name on one ServiceEntry: the HTTP port and the TLS port both go to the gateway', () => {
  const http = route('HTTPRoute', 'direct', '2024-01-02T00:00:00Z', { ...seParent, rules: [{ backendRefs: [{ name: 'egw-istio', port: 80 }] }] });
  const tls = route('TLSRoute', 'direct', '2024-01-02T00:00:00Z', { ...seParent, rules: [{ backendRefs: [{ name: 'egw-istio', port: 443 }] }] });
  const cfg = translate(snapshotFromObjects(world(http, tls)), app);
  assert.deepEqual(routesFor(cfg, '80', 'httpbin.org:80'), ['prefix:/ -> outbound|80||egw-istio.apps.svc.cluster.local']);
  const l = cfg.listeners.find((x) => x.port === 443 && x.protocol === 'TLS');
  assert.ok(l && l.protocol === 'TLS');
  const chain = l.chains.find((c) => c.sniHosts.includes('httpbin.org'));
  assert.deepEqual(
    chain?.route.clusters.map((c) => c.cluster),
    ['outbound|443||egw-istio.apps.svc.cluster.local'],
  );
});

test('timeouts: request is the route timeout; backendRequest, when set, replaces it (Istio, no retry policy)', () => {
  const timeoutOf = (timeouts: Record<string, string>) => {
    const r = route('HTTPRoute', 't', '2024-01-02T00:00:00Z', { ...seParent, rules: [{ timeouts, backendRefs: [backend('httpbin.org')] }] });
    const vh = translate(snapshotFromObjects(world(r)), app)
      .routeTables.find((t) => t.name === '80')!
      .virtualHosts.find((v) => v.name === 'httpbin.org:80')!;
    const a = vh.routes[0]!.action;
    return a.kind === 'forward' ? a.timeoutMs : undefined;
  };
  assert.equal(timeoutOf({ request: '3s' }), 3000);
  assert.equal(timeoutOf({ request: '3s', backendRequest: '500ms' }), 500);
  assert.equal(timeoutOf({ backendRequest: '2s' }), 2000);
  assert.equal(timeoutOf({}), undefined);
});
