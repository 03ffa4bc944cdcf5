// Gateway API fidelity in translation and status: listener protocols and route kinds, unsupported
// route fields, retry (GEP-1731), redirect port derivation, invalid backends' share of traffic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../../src/api/object.js';
import { snapshotFromObjects } from '../../../src/controlplane/snapshot.js';
import { gatewayApiModel } from '../../../src/controlplane/translate/gateway-api.js';
import { gatewayStatus } from '../../../src/controlplane/status/gateway-api.js';
import { virtualServiceModel } from '../../../src/controlplane/translate/istio-model.js';
import { virtualServiceRoutes } from '../../../src/controlplane/translate/http-routes.js';
import { registryFor } from '../../../src/controlplane/registry/index.js';

const NOW = '2026-12-02T08:00:00Z';
const GW = 'gateway.networking.k8s.io/v1';
const programming = { serviceExists: true, ready: true, fqdn: 'gw-istio.egress.svc.cluster.local' };

function gateway(name: string, listeners: unknown[]): KubeObject {
  return { apiVersion: GW, kind: 'Gateway', metadata: { name, namespace: 'egress', generation: 1 }, spec: { gatewayClassName: 'istio', listeners } };
}
function route(name: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: GW, kind: 'HTTPRoute', metadata: { name, namespace: 'egress', generation: 1 }, spec };
}
const se = (host: string): KubeObject => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'ServiceEntry',
  metadata: { name: host, namespace: 'egress' },
  spec: { hosts: [host], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], resolution: 'DNS' },
});
const hostname = (name: string, extra: Record<string, unknown> = {}) => ({ group: 'networking.istio.io', kind: 'Hostname', name, port: 80, ...extra });

interface ListenerOut {
  name: string;
  supportedKinds: unknown[];
  attachedRoutes: number;
  conditions: { type: string; status: string; reason: string }[];
}

function gatewayOut(objects: KubeObject[], name = 'gw') {
  const info = gatewayApiModel(snapshotFromObjects(objects)).gatewayInfo.get(`egress/${name}`)!;
  const st = gatewayStatus(info, programming, NOW) as { conditions: { type: string; status: string; reason: string }[]; listeners: ListenerOut[] };
  const c = (list: { type: string; status: string; reason: string }[]) => Object.fromEntries(list.map((x) => [x.type, `${x.status} ${x.reason}`]));
  const listeners: Record<string, Record<string, unknown>> = Object.fromEntries(
    st.listeners.map((l) => [l.name, { ...c(l.conditions), kinds: l.supportedKinds }]),
  );
  return { gateway: c(st.conditions), listeners };
}

test('listener protocols are case-sensitive: `http` and `UDP` make the listener invalid, and a Gateway with no valid listener is not accepted', () => {
  const out = gatewayOut([
    gateway('gw', [
      { name: 'lower', port: 80, protocol: 'http' },
      { name: 'udp', port: 53, protocol: 'UDP' },
    ]),
  ]);
  for (const name of ['lower', 'udp']) {
    assert.equal(out.listeners[name]!.Accepted, 'False UnsupportedProtocol', name);
    assert.equal(out.listeners[name]!.Programmed, 'False Invalid', name);
    assert.deepEqual(out.listeners[name]!.kinds, [], name);
  }
  assert.equal(out.gateway.Accepted, 'False ListenersNotValid');

  const mixed = gatewayOut([
    gateway('gw', [
      { name: 'http', port: 80, protocol: 'HTTP' },
      { name: 'lower', port: 81, protocol: 'http' },
    ]),
  ]);
  assert.equal(mixed.listeners.http!.Accepted, 'True Accepted');
  assert.equal(mixed.gateway.Accepted, 'True ListenersNotValid');
});

test('allowedRoutes.kinds: no supported kind → ResolvedRefs False InvalidRouteKinds and no supportedKinds; a mix keeps the supported ones', () => {
  const only = { name: 'http', port: 80, protocol: 'HTTP', allowedRoutes: { kinds: [{ kind: 'InvalidRoute' }] } };
  const mix = { name: 'http', port: 80, protocol: 'HTTP', allowedRoutes: { kinds: [{ kind: 'InvalidRoute' }, { kind: 'HTTPRoute' }] } };
  const wrongProto = { name: 'http', port: 80, protocol: 'HTTP', allowedRoutes: { kinds: [{ kind: 'TCPRoute' }] } };
  const a = gatewayOut([gateway('gw', [only])]).listeners.http!;
  assert.equal(a.ResolvedRefs, 'False InvalidRouteKinds');
  assert.deepEqual(a.kinds, []);
  const b = gatewayOut([gateway('gw', [mix])]).listeners.http!;
  assert.equal(b.ResolvedRefs, 'False InvalidRouteKinds');
  assert.deepEqual(b.kinds, [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' }]);
  assert.equal(
    gatewayOut([gateway('gw', [wrongProto])]).listeners.http!.ResolvedRefs,
    'False InvalidRouteKinds',
    'a TCPRoute cannot attach to an HTTP listener',
  );
  // Routes still attach through the supported kind.
  const objs = [gateway('gw', [mix]), se('httpbin.org'), route('r', { parentRefs: [{ name: 'gw' }], rules: [{ backendRefs: [hostname('httpbin.org')] }] })];
  const info = gatewayApiModel(snapshotFromObjects(objs)).gatewayInfo.get('egress/gw')!;
  assert.equal(info.listeners[0]!.attachedRoutes, 1);
});

test('route fields outpost does not carry out are reported: Accepted False UnsupportedValue, and the route is not programmed', () => {
  const objs = [
    gateway('gw', [{ name: 'http', port: 80, protocol: 'HTTP' }]),
    se('httpbin.org'),
    route('cors', {
      parentRefs: [{ name: 'gw' }],
      rules: [{ filters: [{ type: 'CORS', cors: { allowOrigins: ['https://a.example'] } }], backendRefs: [hostname('httpbin.org')] }],
    }),
    route('ext', {
      parentRefs: [{ name: 'gw' }],
      rules: [{ backendRefs: [hostname('httpbin.org', { filters: [{ type: 'ExtensionRef', extensionRef: { group: 'x', kind: 'y', name: 'z' } }] })] }],
    }),
  ];
  const model = gatewayApiModel(snapshotFromObjects(objs));
  const accepted = (name: string) => model.routeInfo.get(`HTTPRoute/egress/${name}`)!.parents[0]!.conditions.find((c) => c.type === 'Accepted')!;
  assert.equal(accepted('cors').status, 'False');
  assert.equal(accepted('cors').reason, 'UnsupportedValue');
  assert.match(accepted('cors').message, /^spec\.rules\[0\]\.filters\[0\]\.type: unsupported value "CORS"/);
  assert.match(accepted('ext').message, /^spec\.rules\[0\]\.backendRefs\[0\]\.filters\[0\]\.type: unsupported value "ExtensionRef"/);
  assert.equal(model.virtualServices.length, 0);
  assert.equal(model.gatewayInfo.get('egress/gw')!.listeners[0]!.attachedRoutes, 0);
});

function gwRoutes(rules: unknown[], listenerPort = 8080) {
  const objs = [
    gateway('gw', [{ name: 'http', port: listenerPort, protocol: 'HTTP' }]),
    se('httpbin.org'),
    route('r', { parentRefs: [{ name: 'gw' }], rules }),
  ];
  const snap = snapshotFromObjects(objs);
  const vs = gatewayApiModel(snap).virtualServices[0]!;
  return virtualServiceRoutes(vs, { port: listenerPort, gateways: new Set(vs.gateways), registry: registryFor(snap), namespace: 'egress' });
}

test('retry (GEP-1731): attempts, codes and backoff become the route retry policy; backendRequest is then the per-try timeout; attempts 0 disables', () => {
  const [r] = gwRoutes([
    { backendRefs: [hostname('httpbin.org')], timeouts: { request: '10s', backendRequest: '2s' }, retry: { attempts: 3, codes: [500, 503], backoff: '100ms' } },
  ]);
  assert.ok(r!.action.kind === 'forward');
  assert.deepEqual(r!.action.retry, {
    attempts: 3,
    retryOn: ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes', '500', '503'],
    perTryTimeoutMs: 2000,
    backoffBaseMs: 100,
  });
  assert.equal(r!.action.timeoutMs, 10_000);
  const [none] = gwRoutes([{ backendRefs: [hostname('httpbin.org')], retry: { attempts: 0, codes: [500] } }]);
  assert.ok(none!.action.kind === 'forward' && none!.action.retry === undefined);
  const [dflt] = gwRoutes([{ backendRefs: [hostname('httpbin.org')], retry: { codes: [502] } }]);
  assert.ok(dflt!.action.kind === 'forward' && dflt!.action.retry!.attempts === 2 && dflt!.action.retry!.retryOn.includes('502'));
  // Without a retry stanza, backendRequest stays the route timeout (Istio's translation).
  const [plain] = gwRoutes([{ backendRefs: [hostname('httpbin.org')], timeouts: { backendRequest: '2s' } }]);
  assert.ok(plain!.action.kind === 'forward' && plain!.action.timeoutMs === 2000);
});

test("RequestRedirect port: the listener port without scheme and port, the scheme's well-known port with a scheme, else the given port", () => {
  const redirect = (requestRedirect: Record<string, unknown>) => ({ filters: [{ type: 'RequestRedirect', requestRedirect }] });
  const routes = gwRoutes([
    redirect({ hostname: 'example.org' }),
    redirect({ scheme: 'https' }),
    redirect({ port: 9090 }),
    redirect({ scheme: 'https', port: 8443 }),
  ]);
  const actions = routes.map((r) => r.action);
  assert.deepEqual(actions, [
    { kind: 'redirect', code: 302, host: 'example.org', port: 8080 },
    { kind: 'redirect', code: 302, scheme: 'https', port: 443 },
    { kind: 'redirect', code: 302, port: 9090 },
    { kind: 'redirect', code: 302, scheme: 'https', port: 8443 },
  ]);
});

test('an unresolvable backendRef keeps its weight: its share gets 500 (an abort of that percentage), the rest goes to the valid backends', () => {
  const [r] = gwRoutes([{ backendRefs: [hostname('httpbin.org', { weight: 3 }), hostname('nowhere.example', { weight: 1 })] }]);
  assert.ok(r!.action.kind === 'forward');
  assert.equal(r!.action.clusters.length, 1);
  assert.deepEqual(r!.fault, { abort: { httpStatus: 500, percentage: 25 } });
  const [all] = gwRoutes([{ backendRefs: [hostname('nowhere.example')] }]);
  assert.deepEqual(all!.action, { kind: 'directResponse', status: 500 });
});

test("VirtualService redirect derivePort FROM_REQUEST_PORT: the port of the route's listener", () => {
  const vs = virtualServiceModel({
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: 'v', namespace: 'egress' },
    spec: { hosts: ['httpbin.org'], http: [{ redirect: { scheme: 'https', derivePort: 'FROM_REQUEST_PORT' } }] },
  });
  const snap = snapshotFromObjects([se('httpbin.org')]);
  const [r] = virtualServiceRoutes(vs, { port: 8080, gateways: new Set(['mesh']), registry: registryFor(snap), namespace: 'egress' });
  assert.deepEqual(r!.action, { kind: 'redirect', code: 301, scheme: 'https', port: 8080 });
});

test("RequestMirror (Gateway API) and VirtualService mirror/mirrors become the forward action's mirrors, with their percentages", () => {
  const [r] = gwRoutes([
    {
      filters: [{ type: 'RequestMirror', requestMirror: { backendRef: hostname('httpbin.org'), fraction: { numerator: 1, denominator: 4 } } }],
      backendRefs: [hostname('httpbin.org')],
    },
  ]);
  assert.ok(r!.action.kind === 'forward');
  assert.deepEqual(r!.action.mirrors, [{ cluster: 'outbound|80||httpbin.org', percentage: 25 }]);
  const vs = virtualServiceModel({
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: 'v', namespace: 'egress' },
    spec: {
      hosts: ['httpbin.org'],
      http: [
        {
          route: [{ destination: { host: 'httpbin.org' } }],
          mirror: { host: 'httpbin.org', port: { number: 80 } },
          mirrorPercentage: { value: 10 },
          mirrors: [{ destination: { host: 'httpbin.org' } }],
        },
      ],
    },
  });
  const snap = snapshotFromObjects([se('httpbin.org')]);
  const [v] = virtualServiceRoutes(vs, { port: 80, gateways: new Set(['mesh']), registry: registryFor(snap), namespace: 'egress' });
  assert.ok(v!.action.kind === 'forward');
  assert.deepEqual(v!.action.mirrors, [{ cluster: 'outbound|80||httpbin.org', percentage: 10 }, { cluster: 'outbound|80||httpbin.org' }]);
});

test('spec.addresses other than Hostname are reported (Accepted False UnsupportedAddress) and the Gateway is not programmed', () => {
  const gw = { ...gateway('gw', [{ name: 'http', port: 80, protocol: 'HTTP' }]) };
  (gw.spec as Record<string, unknown>).addresses = [{ type: 'IPAddress', value: '10.0.0.1' }];
  const out = gatewayOut([gw]);
  assert.equal(out.gateway.Accepted, 'False UnsupportedAddress');
  assert.equal(out.gateway.Programmed, 'False Invalid');
  assert.equal(gatewayApiModel(snapshotFromObjects([gw])).gateways.length, 0);
});

test('a TLS listener with tls.mode Terminate is not silently passed through: it needs certificates outpost cannot resolve yet', () => {
  const out = gatewayOut([
    gateway('gw', [
      { name: 'term', port: 443, protocol: 'TLS', tls: { mode: 'Terminate', certificateRefs: [{ name: 'cert' }] } },
      { name: 'pass', port: 8443, protocol: 'TLS', tls: { mode: 'Passthrough' } },
    ]),
  ]);
  assert.equal(out.listeners.term!.ResolvedRefs, 'False InvalidCertificateRef');
  assert.equal(out.listeners.term!.Programmed, 'False Invalid');
  assert.equal(out.listeners.pass!.Programmed, 'True Programmed');
});
