// `outpost get all|istio-io|gateway-api`: a category stands for its kinds, `all` in kubectl's order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { categoryKinds } from '../../../src/cli/commands/get.js';
import { parseWorkloadTarget } from '../../../src/cli/commands/proxy-config.js';

test("get all lists pods, services, deployments (kubectl's order)", () => {
  assert.deepEqual(
    categoryKinds('all').map((k) => k.kind),
    ['Pod', 'Service', 'Deployment'],
  );
});

test('gateway-api and istio-io categories include the route and networking kinds', () => {
  const gw = categoryKinds('gateway-api').map((k) => k.kind);
  for (const k of ['Gateway', 'HTTPRoute', 'GRPCRoute', 'TLSRoute', 'TCPRoute', 'ReferenceGrant']) assert.ok(gw.includes(k), k);
  const istio = categoryKinds('istio-io').map((k) => k.kind);
  for (const k of ['ServiceEntry', 'Gateway', 'VirtualService', 'DestinationRule']) assert.ok(istio.includes(k), k);
  assert.deepEqual(categoryKinds('no-such-category'), []);
});

test('proxy-config targets: pod names, <pod>.<ns>, deployment/NAME', () => {
  assert.deepEqual(parseWorkloadTarget('curl-abc-123', 'apps'), { kind: 'Pod', name: 'curl-abc-123', namespace: 'apps' });
  assert.deepEqual(parseWorkloadTarget('curl-abc-123.apps', undefined), { kind: 'Pod', name: 'curl-abc-123', namespace: 'apps' });
  assert.deepEqual(parseWorkloadTarget('deployment/curl', 'apps'), { kind: 'Deployment', name: 'curl', namespace: 'apps' });
  assert.deepEqual(parseWorkloadTarget('deploy/curl', undefined), { kind: 'Deployment', name: 'curl', namespace: 'default' });
});
