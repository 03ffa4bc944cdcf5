// Schema defaults written on admission (pure), and the Istio semantic defaults the control plane reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../../src/api/object.js';
import { applySchemaDefaults } from '../../../src/api/validate.js';
import {
  serviceEntryDefaults,
  virtualServiceGateways,
  listenerAllowedRoutes,
  servicePortTarget,
  httpRuleMatches,
  namespaceInjection,
  isGatewayInjected,
  certificateRefDefaults,
  gatewayAddressType,
  selectorMatches,
} from '../../../src/api/kinds/index.js';

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    Object.values(o).forEach(deepFreeze);
    Object.freeze(o);
  }
  return o;
}

test('Gateway API schema defaults: allowedRoutes Same, parentRef group/kind, PathPrefix "/", backendRef group/kind/weight', () => {
  const gw = deepFreeze({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name: 'g' },
    spec: { gatewayClassName: 'istio', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] },
  }) as KubeObject;
  assert.deepEqual((applySchemaDefaults(gw).spec as { listeners: unknown[] }).listeners[0], {
    name: 'http',
    port: 80,
    protocol: 'HTTP',
    allowedRoutes: { namespaces: { from: 'Same' } },
  });
  const route = deepFreeze({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'r' },
    spec: { parentRefs: [{ name: 'g' }], rules: [{ backendRefs: [{ name: 'g-istio', port: 80 }] }] },
  }) as KubeObject;
  assert.deepEqual(applySchemaDefaults(route).spec, {
    parentRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'g' }],
    rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [{ group: '', kind: 'Service', weight: 1, name: 'g-istio', port: 80 }] }],
  });
  // Given values are kept.
  const se = deepFreeze({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'r' },
    spec: { parentRefs: [{ kind: 'ServiceEntry', group: 'networking.istio.io', name: 'x' }] },
  }) as KubeObject;
  assert.deepEqual((applySchemaDefaults(se).spec as { parentRefs: unknown[] }).parentRefs[0], {
    group: 'networking.istio.io',
    kind: 'ServiceEntry',
    name: 'x',
  });
});

test('Service schema defaults: targetPort = port, protocol TCP, type ClusterIP; the input is not mutated', () => {
  const svc = deepFreeze({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 's' },
    spec: {
      ports: [
        { port: 80, name: 'http' },
        { port: 443, name: 'https', targetPort: 8443 },
      ],
    },
  }) as KubeObject;
  const out = applySchemaDefaults(svc);
  assert.notEqual(out, svc);
  assert.deepEqual(out.spec, {
    type: 'ClusterIP',
    sessionAffinity: 'None',
    ports: [
      { protocol: 'TCP', port: 80, name: 'http', targetPort: 80 },
      { protocol: 'TCP', port: 443, name: 'https', targetPort: 8443 },
    ],
  });
});

test('Istio ServiceEntry is not defaulted on admission; its semantic defaults are NONE, MESH_EXTERNAL, exportTo *', () => {
  const se = deepFreeze({
    apiVersion: 'networking.istio.io/v1',
    kind: 'ServiceEntry',
    metadata: { name: 'se' },
    spec: { hosts: ['a.example.com'] },
  }) as KubeObject;
  assert.deepEqual(applySchemaDefaults(se), se);
  const d = serviceEntryDefaults({ hosts: ['a.example.com'] });
  assert.equal(d.resolution, 'NONE');
  assert.equal(d.location, 'MESH_EXTERNAL');
  assert.deepEqual(d.exportTo, ['*']);
  assert.equal(servicePortTarget({ number: 80, name: 'http' }), 80);
  assert.equal(servicePortTarget({ number: 80, name: 'http', targetPort: 443 }), 443);
});

test('semantic defaults: VirtualService gateways mesh, allowedRoutes Same, default route match, injection labels', () => {
  assert.deepEqual(virtualServiceGateways({ hosts: ['a'] }), ['mesh']);
  assert.deepEqual(virtualServiceGateways({ hosts: ['a'], gateways: ['gw-ns/egress-gw'] }), ['gw-ns/egress-gw']);
  assert.equal(listenerAllowedRoutes({ name: 'h', port: 80, protocol: 'HTTP' }).namespaces.from, 'Same');
  assert.deepEqual(httpRuleMatches({}), [{ path: { type: 'PathPrefix', value: '/' } }]);
  assert.deepEqual(namespaceInjection({ metadata: { name: 'curl', labels: { 'istio-injection': 'enabled' } } }), { injected: true, revision: 'default' });
  assert.deepEqual(namespaceInjection({ metadata: { name: 'curl', labels: { 'istio.io/rev': 'default' } } }), { injected: true, revision: 'default' });
  assert.deepEqual(namespaceInjection({ metadata: { name: 'curl' } }), { injected: false });
  assert.equal(isGatewayInjected({ spec: { selector: {}, template: { metadata: { annotations: { 'inject.istio.io/templates': 'gateway' } } } } }), true);
});

test('Gateway API semantic defaults the control plane reads: allowedRoutes kinds group, certificateRef, address type', () => {
  const kinds = listenerAllowedRoutes({
    name: 'h',
    port: 80,
    protocol: 'HTTP',
    allowedRoutes: { kinds: [{ kind: 'HTTPRoute' }, { group: 'x.io', kind: 'R' }] },
  }).kinds;
  assert.deepEqual(kinds, [
    { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' },
    { group: 'x.io', kind: 'R' },
  ]);
  assert.deepEqual(listenerAllowedRoutes({ name: 'h', port: 80, protocol: 'HTTP' }).kinds, []);
  assert.deepEqual(certificateRefDefaults({ name: 'cert' }, 'gw-ns'), { group: '', kind: 'Secret', name: 'cert', namespace: 'gw-ns' });
  assert.deepEqual(certificateRefDefaults({ name: 'cert', namespace: 'certs', kind: 'ConfigMap' }, 'gw-ns'), {
    group: '',
    kind: 'ConfigMap',
    name: 'cert',
    namespace: 'certs',
  });
  assert.equal(gatewayAddressType({ value: '10.0.0.1' }), 'IPAddress');
  assert.equal(gatewayAddressType({ type: 'Hostname', value: 'gw.example' }), 'Hostname');
});

test('LabelSelector: labels and expressions; an empty selector selects all, an unknown operator nothing', () => {
  const labels = { app: 'web', tier: 'front' };
  assert.equal(selectorMatches(undefined, labels), true);
  assert.equal(selectorMatches({}, labels), true);
  assert.equal(selectorMatches({ matchLabels: { app: 'web' } }, labels), true);
  assert.equal(selectorMatches({ matchLabels: { app: 'db' } }, labels), false);
  assert.equal(selectorMatches({ matchExpressions: [{ key: 'tier', operator: 'In', values: ['front', 'back'] }] }, labels), true);
  assert.equal(selectorMatches({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['front'] }] }, labels), false);
  assert.equal(selectorMatches({ matchExpressions: [{ key: 'env', operator: 'DoesNotExist' }] }, labels), true);
  assert.equal(selectorMatches({ matchExpressions: [{ key: 'env', operator: 'Exists' }] }, labels), false);
  const unknown = { matchExpressions: [{ key: 'env', operator: 'Absent' as 'Exists' }] };
  assert.equal(selectorMatches(unknown, labels), false);
});
