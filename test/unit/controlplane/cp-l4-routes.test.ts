// Gateway API TLSRoute and TCPRoute: the EG-HTTPS tutorial's Gateway API variant (a mesh TLSRoute on
// a ServiceEntry to <gw>-istio:443, then a TLSRoute on the gateway's TLS listener to the Hostname)
// becomes SNI chains at both hops; status and listener kinds say the routes attached.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../../src/api/object.js';
import type { Listener, ProxyIdentity } from '../../../src/proxyconfig/types.js';
import { snapshotFromObjects } from '../../../src/controlplane/snapshot.js';
import { translate } from '../../../src/controlplane/translate/index.js';
import { gatewayApiModel } from '../../../src/controlplane/translate/gateway-api.js';
import { desiredGatewayObjects } from '../../../src/controlplane/deployer/index.js';
import { validateObject } from '../../../src/api/validate.js';

const GW = 'gateway.networking.k8s.io';
const app: ProxyIdentity = { id: 'sleep-1.apps', role: 'sidecar', namespace: 'apps', workload: 'sleep', ip: '127.0.1.2', labels: { app: 'sleep' } };
const gwPod: ProxyIdentity = {
  id: 'cnn-egress-gateway-istio-1.apps',
  role: 'router',
  namespace: 'apps',
  workload: 'cnn-egress-gateway-istio',
  ip: '127.0.3.3',
  labels: { 'gateway.networking.k8s.io/gateway-name': 'cnn-egress-gateway' },
};

const serviceEntry: KubeObject = {
  apiVersion: 'networking.istio.io/v1',
  kind: 'ServiceEntry',
  metadata: { name: 'cnn', namespace: 'apps' },
  spec: {
    hosts: ['edition.cnn.com'],
    ports: [
      { number: 80, name: 'http-port', protocol: 'HTTP' },
      { number: 443, name: 'tls', protocol: 'TLS' },
    ],
    resolution: 'DNS',
  },
};
const gateway = (listener: Record<string, unknown>): KubeObject => ({
  apiVersion: `${GW}/v1`,
  kind: 'Gateway',
  metadata: { name: 'cnn-egress-gateway', namespace: 'apps', uid: 'gw-uid' },
  spec: {
    gatewayClassName: 'istio',
    listeners: [
      {
        name: 'tls',
        hostname: 'edition.cnn.com',
        port: 443,
        protocol: 'TLS',
        tls: { mode: 'Passthrough' },
        allowedRoutes: { namespaces: { from: 'Same' } },
        ...listener,
      },
    ],
  },
});
const direct: KubeObject = {
  apiVersion: `${GW}/v1alpha2`,
  kind: 'TLSRoute',
  metadata: { name: 'direct-cnn-to-egress-gateway', namespace: 'apps' },
  spec: {
    parentRefs: [{ kind: 'ServiceEntry', group: 'networking.istio.io', name: 'cnn' }],
    rules: [{ backendRefs: [{ name: 'cnn-egress-gateway-istio', port: 443 }] }],
  },
};
const forward: KubeObject = {
  apiVersion: `${GW}/v1alpha2`,
  kind: 'TLSRoute',
  metadata: { name: 'forward-cnn-from-egress-gateway', namespace: 'apps' },
  spec: {
    parentRefs: [{ name: 'cnn-egress-gateway' }],
    hostnames: ['edition.cnn.com'],
    rules: [{ backendRefs: [{ kind: 'Hostname', group: 'networking.istio.io', name: 'edition.cnn.com', port: 443 }] }],
  },
};

function world(...extra: KubeObject[]): KubeObject[] {
  const gw = extra.find((o) => o.kind === 'Gateway') ?? gateway({});
  return [serviceEntry, gw, ...desiredGatewayObjects(gw).filter((o) => o.kind === 'Service'), ...extra.filter((o) => o !== gw)];
}

function tlsListener(listeners: readonly Listener[], port: number): Extract<Listener, { protocol: 'TLS' }> {
  const l = listeners.find((x) => x.port === port && x.protocol === 'TLS');
  assert.ok(l && l.protocol === 'TLS', `a TLS listener on ${port}: ${JSON.stringify(listeners.map((x) => [x.port, x.protocol]))}`);
  return l;
}

test("TLSRoute on a ServiceEntry sends the sidecar's SNI edition.cnn.com to <gw>-istio:443", () => {
  const cfg = translate(snapshotFromObjects(world(direct, forward)), app);
  // (The gateway's own Service, TLS on 443 too, keeps its default chain.)
  const chain = tlsListener(cfg.listeners, 443).chains.find((c) => c.sniHosts.includes('edition.cnn.com'));
  assert.deepEqual(chain && [chain.sniHosts, chain.route.clusters.map((w) => w.cluster)], [
    ['edition.cnn.com'],
    ['outbound|443||cnn-egress-gateway-istio.apps.svc.cluster.local'],
  ]);
});

test("TLSRoute on the gateway's TLS listener passes SNI edition.cnn.com through to outbound|443||edition.cnn.com", () => {
  const cfg = translate(snapshotFromObjects(world(direct, forward)), gwPod);
  const chains = tlsListener(cfg.listeners, 443).chains;
  assert.deepEqual(
    chains.map((c) => [c.sniHosts, c.route.clusters.map((w) => w.cluster)]),
    [[['edition.cnn.com'], ['outbound|443||edition.cnn.com']]],
  );
});

test('TLSRoute status: Accepted and ResolvedRefs; the listener supports TLSRoute and counts it', () => {
  const model = gatewayApiModel(snapshotFromObjects(world(direct, forward)));
  for (const name of ['direct-cnn-to-egress-gateway', 'forward-cnn-from-egress-gateway']) {
    const info = model.routeInfo.get(`TLSRoute/apps/${name}`)!;
    assert.deepEqual(
      info.parents[0]!.conditions.map((c) => `${c.type}=${c.status} ${c.reason}`),
      ['Accepted=True Accepted', 'ResolvedRefs=True ResolvedRefs'],
      name,
    );
  }
  const listener = model.gatewayInfo.get('apps/cnn-egress-gateway')!.listeners[0]!;
  assert.deepEqual(listener.supportedKinds, [{ group: GW, kind: 'TLSRoute' }]);
  assert.equal(listener.attachedRoutes, 1);
});

test('an HTTPRoute on a TLS listener is not allowed; a TLSRoute whose hostnames miss the listener is refused', () => {
  const httpRoute: KubeObject = {
    apiVersion: `${GW}/v1`,
    kind: 'HTTPRoute',
    metadata: { name: 'h', namespace: 'apps' },
    spec: { parentRefs: [{ name: 'cnn-egress-gateway' }], rules: [] },
  };
  const other: KubeObject = {
    ...forward,
    metadata: { name: 'other', namespace: 'apps' },
    spec: { ...(forward.spec as object), hostnames: ['www.wikipedia.org'] },
  };
  const model = gatewayApiModel(snapshotFromObjects(world(httpRoute, other)));
  assert.equal(model.routeInfo.get('HTTPRoute/apps/h')!.parents[0]!.conditions[0]!.reason, 'NotAllowedByListeners');
  const refused = model.routeInfo.get('TLSRoute/apps/other')!.parents[0]!.conditions[0]!;
  assert.equal(
    `${refused.status} ${refused.reason}: ${refused.message}`,
    'False NoMatchingListenerHostname: no hostnames matched parent hostname "edition.cnn.com"',
  );
});

test('a wildcard listener and route hostnames: each SNI the route names gets its own chain', () => {
  const wc = gateway({ hostname: '*.wikipedia.org' });
  const route: KubeObject = {
    ...forward,
    spec: {
      ...(forward.spec as object),
      hostnames: ['*.wikipedia.org'],
      rules: [{ backendRefs: [{ kind: 'Hostname', group: 'networking.istio.io', name: 'edition.cnn.com', port: 443 }] }],
    },
  };
  const cfg = translate(snapshotFromObjects(world(wc, route)), gwPod);
  assert.deepEqual(
    tlsListener(cfg.listeners, 443).chains.map((c) => c.sniHosts),
    [['*.wikipedia.org']],
  );
});

test('TCPRoute on a TCP listener forwards the port to its backend', () => {
  const db: KubeObject = {
    apiVersion: 'networking.istio.io/v1',
    kind: 'ServiceEntry',
    metadata: { name: 'db', namespace: 'apps' },
    spec: { hosts: ['db.example.com'], ports: [{ number: 5432, name: 'pg', protocol: 'TCP' }], resolution: 'DNS' },
  };
  const gw = gateway({ name: 'pg', hostname: undefined, port: 5432, protocol: 'TCP', tls: undefined });
  const route: KubeObject = {
    apiVersion: `${GW}/v1alpha2`,
    kind: 'TCPRoute',
    metadata: { name: 'pg', namespace: 'apps' },
    spec: {
      parentRefs: [{ name: 'cnn-egress-gateway' }],
      rules: [{ backendRefs: [{ kind: 'Hostname', group: 'networking.istio.io', name: 'db.example.com', port: 5432 }] }],
    },
  };
  const cfg = translate(snapshotFromObjects([...world(gw, route), db]), gwPod);
  const l = cfg.listeners.find((x) => x.port === 5432);
  assert.ok(l && l.protocol === 'TCP', JSON.stringify(cfg.listeners));
  assert.deepEqual(
    l.route.clusters.map((w) => w.cluster),
    ['outbound|5432||db.example.com'],
  );
});

test('TLSRoute and TCPRoute validate: a TLSRoute needs rules, a backendRef needs a name', () => {
  assert.deepEqual(
    validateObject(forward).filter((i) => i.severity === 'error'),
    [],
  );
  const noRules = validateObject({ ...forward, spec: { parentRefs: [{ name: 'gw' }] } });
  assert.ok(
    noRules.some((i) => /rules/.test(`${i.path} ${i.message}`)),
    JSON.stringify(noRules),
  );
  const noName = validateObject({ ...forward, spec: { rules: [{ backendRefs: [{ port: 443 }] }] } });
  assert.ok(
    noName.some((i) => /name/.test(`${i.path} ${i.message}`)),
    JSON.stringify(noName),
  );
});
