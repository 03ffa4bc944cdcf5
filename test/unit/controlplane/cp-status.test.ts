// Status: Gateway Accepted/Programmed/addresses/listeners and route parent conditions, one case per Istio reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../../src/api/object.js';
import type { Istio } from '../../../src/api/kinds/sail-istio.js';
import { snapshotFromObjects } from '../../../src/controlplane/snapshot.js';
import { gatewayApiModel } from '../../../src/controlplane/translate/gateway-api.js';
import { gatewayProgramming, gatewayStatus, humanJoin, routeStatus } from '../../../src/controlplane/status/gateway-api.js';
import { desiredRevision, revisionInUse, revisionStatus } from '../../../src/controlplane/status/istio.js';
import { desiredGatewayObjects } from '../../../src/controlplane/deployer/index.js';
import { loadObjects, podFor } from '../../fixtures/cp/load.js';

const NOW = '2024-11-07T15:00:10Z';
const GW = 'gateway.networking.k8s.io/v1';

function gateway(name: string, ns: string, listeners: unknown[], extra: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: GW,
    kind: 'Gateway',
    metadata: { name, namespace: ns, generation: 2, uid: `${name}-uid` },
    spec: { gatewayClassName: 'istio', listeners, ...extra },
  };
}
function route(name: string, ns: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: GW, kind: 'HTTPRoute', metadata: { name, namespace: ns, generation: 3 }, spec };
}
const http = (name: string, hostname?: string, from = 'Same', extra: Record<string, unknown> = {}) => ({
  name,
  port: 80,
  protocol: 'HTTP',
  ...(hostname ? { hostname } : {}),
  allowedRoutes: { namespaces: { from } },
  ...extra,
});
const se = (name: string, ns: string, host: string): KubeObject => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'ServiceEntry',
  metadata: { name, namespace: ns },
  spec: { hosts: [host], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], resolution: 'DNS' },
});

function parentConditions(objects: KubeObject[], routeName: string, ns = 'egress') {
  const model = gatewayApiModel(snapshotFromObjects(objects));
  const info = model.routeInfo.get(`HTTPRoute/${ns}/${routeName}`)!;
  return info.parents.map((p) => Object.fromEntries(p.conditions.map((c) => [c.type, `${c.status} ${c.reason}: ${c.message}`])));
}

test("route Accepted and ResolvedRefs on success, with Istio's messages", () => {
  const objs = [
    gateway('gw', 'egress', [http('http', 'httpbin.org')]),
    se('httpbin', 'egress', 'httpbin.org'),
    route('r', 'egress', {
      parentRefs: [{ name: 'gw' }],
      hostnames: ['httpbin.org'],
      rules: [{ backendRefs: [{ group: 'networking.istio.io', kind: 'Hostname', name: 'httpbin.org', port: 80 }] }],
    }),
  ];
  assert.deepEqual(parentConditions(objs, 'r'), [{ Accepted: 'True Accepted: Route was valid', ResolvedRefs: 'True ResolvedRefs: All references resolved' }]);
  const info = gatewayApiModel(snapshotFromObjects(objs)).routeInfo.get('HTTPRoute/egress/r')!;
  const status = routeStatus(info, NOW) as {
    parents: { controllerName: string; parentRef: unknown; conditions: { observedGeneration: number; lastTransitionTime: string }[] }[];
  };
  assert.equal(status.parents[0]!.controllerName, 'istio.io/gateway-controller');
  assert.deepEqual(status.parents[0]!.parentRef, { name: 'gw' });
  assert.equal(status.parents[0]!.conditions[0]!.observedGeneration, 3);
  assert.equal(status.parents[0]!.conditions[0]!.lastTransitionTime, NOW);
});

test('NoMatchingParent: sectionName, port, missing ServiceEntry and Service parents', () => {
  const objs = [
    gateway('gw', 'egress', [http('http')]),
    route('a', 'egress', { parentRefs: [{ name: 'gw', sectionName: 'https' }], rules: [] }),
    route('b', 'egress', { parentRefs: [{ name: 'gw', port: 8080 }], rules: [] }),
    route('c', 'egress', { parentRefs: [{ group: 'networking.istio.io', kind: 'ServiceEntry', name: 'nope' }], rules: [] }),
    route('d', 'egress', { parentRefs: [{ group: '', kind: 'Service', name: 'nosvc' }], rules: [] }),
  ];
  assert.equal(parentConditions(objs, 'a')[0]!.Accepted, 'False NoMatchingParent: sectionName "https" not found');
  assert.equal(parentConditions(objs, 'b')[0]!.Accepted, 'False NoMatchingParent: port 8080 not found');
  assert.equal(parentConditions(objs, 'c')[0]!.Accepted, 'False NoMatchingParent: parent service entry: "nope" not found');
  assert.equal(parentConditions(objs, 'd')[0]!.Accepted, 'False NoMatchingParent: parent service: "nosvc" not found');
});

test('NotAllowedByListeners: namespace not allowed, kind not allowed; Selector admits labelled namespaces', () => {
  const objs: KubeObject[] = [
    gateway('gw', 'egress', [http('http', 'httpbin.org', 'Same')]),
    gateway('tls', 'egress', [{ name: 'tls', port: 443, protocol: 'TLS', tls: { mode: 'Passthrough' } }]),
    gateway('sel', 'egress', [
      http('http', undefined, 'Selector', { allowedRoutes: { namespaces: { from: 'Selector', selector: { matchLabels: { egress: 'yes' } } } } }),
    ]),
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'apps', labels: { egress: 'yes' } } },
    route('r', 'apps', { parentRefs: [{ name: 'gw', namespace: 'egress' }], hostnames: ['httpbin.org'], rules: [] }),
    route('k', 'egress', { parentRefs: [{ name: 'tls' }], rules: [] }),
    route('s', 'apps', { parentRefs: [{ name: 'sel', namespace: 'egress' }], rules: [] }),
  ];
  assert.equal(
    parentConditions(objs, 'r', 'apps')[0]!.Accepted,
    'False NotAllowedByListeners: hostnames matched parent hostname "httpbin.org", but namespace "apps" is not allowed by the parent',
  );
  assert.equal(parentConditions(objs, 'k')[0]!.Accepted, 'False NotAllowedByListeners: kind gateway.networking.k8s.io/HTTPRoute is not allowed');
  assert.equal(parentConditions(objs, 's', 'apps')[0]!.Accepted, 'True Accepted: Route was valid');
});

test('NoMatchingListenerHostname', () => {
  const objs = [
    gateway('gw', 'egress', [http('http', 'httpbin.org')]),
    route('r', 'egress', { parentRefs: [{ name: 'gw' }], hostnames: ['example.com'], rules: [] }),
  ];
  assert.equal(parentConditions(objs, 'r')[0]!.Accepted, 'False NoMatchingListenerHostname: no hostnames matched parent hostname "httpbin.org"');
  // Wildcards intersect both ways.
  const ok = [
    gateway('gw', 'egress', [http('http', '*.example.com')]),
    route('r', 'egress', { parentRefs: [{ name: 'gw' }], hostnames: ['api.example.com'], rules: [] }),
  ];
  assert.equal(parentConditions(ok, 'r')[0]!.Accepted, 'True Accepted: Route was valid');
});

test('ResolvedRefs failures: BackendNotFound, RefNotPermitted (and a ReferenceGrant fixes it), InvalidDestination, InvalidKind', () => {
  const gw = gateway('gw', 'egress', [http('http', undefined, 'All')]);
  const rule = (ref: Record<string, unknown>) => ({ parentRefs: [{ name: 'gw', namespace: 'egress' }], rules: [{ backendRefs: [ref] }] });
  const objs: KubeObject[] = [
    gw,
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'backend', namespace: 'other' }, spec: { ports: [{ port: 80, name: 'http' }] } },
    route('nf', 'egress', rule({ name: 'missing', port: 80 })),
    route('hn', 'egress', rule({ group: 'networking.istio.io', kind: 'Hostname', name: 'nowhere.example', port: 80 })),
    route('xns', 'egress', rule({ name: 'backend', namespace: 'other', port: 80 })),
    route('dot', 'egress', rule({ name: 'backend.other', port: 80 })),
    route('hns', 'egress', rule({ group: 'networking.istio.io', kind: 'Hostname', name: 'x.example', namespace: 'egress', port: 80 })),
    route('kind', 'egress', rule({ group: 'example.com', kind: 'Bucket', name: 'b' })),
  ];
  const rr = (name: string) => parentConditions(objs, name)[0]!.ResolvedRefs;
  assert.equal(rr('nf'), 'False BackendNotFound: backend(missing.egress.svc.cluster.local) not found');
  assert.equal(rr('hn'), 'False BackendNotFound: backend(nowhere.example) not found');
  assert.equal(rr('xns'), 'False RefNotPermitted: backendRef backend/other not accessible to a HTTPRoute in namespace "egress" (missing a ReferenceGrant?)');
  assert.equal(rr('dot'), 'False InvalidDestination: service name invalid; the name of the Service must be used, not the hostname.');
  assert.equal(rr('hns'), 'False InvalidDestination: namespace may not be set with Hostname type');
  assert.equal(rr('kind'), 'False InvalidKind: referencing unsupported backendRef: group "example.com" kind "Bucket"');
  assert.equal(parentConditions(objs, 'nf')[0]!.Accepted, 'True Accepted: Route was valid', 'a bad backend does not un-accept the route');
  const granted = [
    ...objs,
    {
      apiVersion: 'gateway.networking.k8s.io/v1beta1',
      kind: 'ReferenceGrant',
      metadata: { name: 'g', namespace: 'other' },
      spec: { from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'egress' }], to: [{ group: '', kind: 'Service' }] },
    },
  ];
  assert.equal(parentConditions(granted, 'xns')[0]!.ResolvedRefs, 'True ResolvedRefs: All references resolved');
});

test('Gateway: AddressNotAssigned until the gateway pod is ready, then Programmed with the Service address', () => {
  const base = loadObjects('seed-gateway-api');
  const gw = base.find((o) => o.kind === 'Gateway')!;
  const made = desiredGatewayObjects(gw);

  const none = snapshotFromObjects(base);
  const info0 = gatewayApiModel(none).gatewayInfo.get('egress-gateway/httpbin-egress-gateway')!;
  const s0 = gatewayStatus(info0, gatewayProgramming(none, info0), NOW) as Record<string, any>;
  assert.equal(s0.conditions[1].reason, 'AddressNotAssigned');
  assert.equal(s0.addresses, undefined);

  const pending = snapshotFromObjects([...base, ...made]);
  const info1 = gatewayApiModel(pending).gatewayInfo.get('egress-gateway/httpbin-egress-gateway')!;
  const s1 = gatewayStatus(info1, gatewayProgramming(pending, info1), NOW) as Record<string, any>;
  assert.deepEqual(s1.conditions[1], {
    type: 'Programmed',
    status: 'False',
    reason: 'AddressNotAssigned',
    observedGeneration: 1,
    lastTransitionTime: NOW,
    message:
      'Assigned to service(s) httpbin-egress-gateway-istio.egress-gateway.svc.cluster.local:80, but failed to assign to all requested addresses: no instances found for hostname "httpbin-egress-gateway-istio.egress-gateway.svc.cluster.local"',
  });

  const ready = snapshotFromObjects([...base, ...made, podFor(made[0]!, '127.0.3.3')]);
  const info2 = gatewayApiModel(ready).gatewayInfo.get('egress-gateway/httpbin-egress-gateway')!;
  const s2 = gatewayStatus(info2, gatewayProgramming(ready, info2), NOW) as Record<string, any>;
  assert.deepEqual(
    s2.conditions.map((c: any) => [c.type, c.status, c.reason, c.message]),
    [
      ['Accepted', 'True', 'Accepted', 'Resource accepted'],
      ['Programmed', 'True', 'Programmed', 'Resource programmed, assigned to service(s) httpbin-egress-gateway-istio.egress-gateway.svc.cluster.local:80'],
    ],
  );
  assert.deepEqual(s2.addresses, [{ type: 'Hostname', value: 'httpbin-egress-gateway-istio.egress-gateway.svc.cluster.local' }]);
  assert.equal(s2.listeners[0].attachedRoutes, 1);
  assert.deepEqual(
    s2.listeners[0].conditions.map((c: any) => `${c.type}=${c.status}/${c.reason}`),
    ['Accepted=True/Accepted', 'Conflicted=False/NoConflicts', 'Programmed=True/Programmed', 'ResolvedRefs=True/ResolvedRefs'],
  );

  // The address stays once reported; lastTransitionTime stays when nothing changed.
  const later = '2024-11-07T16:00:00Z';
  const again = gatewayStatus({ ...info1, gateway: { ...info1.gateway, status: s2 } }, gatewayProgramming(pending, info1), later) as Record<string, any>;
  assert.deepEqual(again.addresses, s2.addresses);
  assert.equal(again.conditions[0].lastTransitionTime, NOW);
  assert.equal(again.conditions[1].lastTransitionTime, later);
});

test('listener conflicts and unsupported protocols', () => {
  const snap = snapshotFromObjects([
    gateway('gw', 'egress', [
      { name: 'a', port: 80, protocol: 'HTTP' },
      { name: 'b', port: 80, protocol: 'TCP' },
      { name: 'c', port: 90, protocol: 'UDP' },
      { name: 'd', port: 91, protocol: 'HTTP' },
    ]),
  ]);
  const info = gatewayApiModel(snap).gatewayInfo.get('egress/gw')!;
  const s = gatewayStatus(info, gatewayProgramming(snap, info), NOW) as Record<string, any>;
  assert.equal(s.conditions[0].reason, 'ListenersNotValid');
  assert.equal(s.conditions[0].message, "One or more of the Gateway's listeners are invalid");
  const l = (n: string) => Object.fromEntries(s.listeners.find((x: any) => x.name === n).conditions.map((c: any) => [c.type, `${c.status}/${c.reason}`]));
  assert.equal(l('a').Conflicted, 'True/ProtocolConflict');
  assert.equal(l('c').Accepted, 'False/UnsupportedProtocol');
  assert.equal(l('d').Programmed, 'True/Programmed');
  assert.equal(humanJoin(['a', 'b', 'c']), 'a, b, and c');
});

test('IstioRevision default: Local, version from the Istio resource, InUse from namespace labels', () => {
  const istio = loadObjects('mesh-base').find((o) => o.kind === 'Istio')! as Istio;
  const rev = desiredRevision(istio);
  assert.deepEqual(rev.spec, { type: 'Local', version: 'v1.24.3', namespace: 'istio-system', values: { meshConfig: { accessLogFile: '/dev/stdout' } } });
  assert.equal(rev.metadata.name, 'default');
  const used = snapshotFromObjects(loadObjects('mesh-base'));
  assert.equal(revisionInUse(used, 'default'), true);
  const unused = snapshotFromObjects([istio, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x' } }]);
  assert.equal(revisionInUse(unused, 'default'), false);
  const byRev = snapshotFromObjects([istio, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'curl', labels: { 'istio.io/rev': 'default' } } }]);
  assert.equal(revisionInUse(byRev, 'default'), true);
  // A gateway installed through gateway injection uses the revision before any namespace is labelled
  // (the seed's RevisionBased path shows IN USE True before `label istio.io/rev`).
  const gwDeployment = (rev?: string) => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'egressgw', namespace: 'gw-ns' },
    spec: {
      selector: { matchLabels: { istio: 'egressgw' } },
      template: {
        metadata: { annotations: { 'inject.istio.io/templates': 'gateway' }, labels: { istio: 'egressgw', ...(rev ? { 'istio.io/rev': rev } : {}) } },
      },
    },
  });
  assert.equal(revisionInUse(snapshotFromObjects([istio, gwDeployment()]), 'default'), true);
  assert.equal(revisionInUse(snapshotFromObjects([istio, gwDeployment('canary')]), 'default'), false);
  const st = revisionStatus(rev, true, NOW) as Record<string, any>;
  assert.equal(st.state, 'Healthy');
  assert.deepEqual(
    st.conditions.filter((c: any) => c.type === 'Ready' || c.type === 'InUse').map((c: any) => `${c.type}=${c.status}`),
    ['Ready=True', 'InUse=True'],
  );
});
