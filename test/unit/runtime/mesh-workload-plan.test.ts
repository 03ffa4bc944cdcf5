import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObject } from '../../../src/api/object.js';
import { subnetFor } from '../../../src/runtime/addresses.js';
import { isGatewayDeployment, namespaceInjection, planWorkloads, podNameFor } from '../../../src/runtime/workload-plan.js';

const ns = (name: string, labels: Record<string, string> = {}): KubeObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
const rev = (name: string): KubeObject => ({ apiVersion: 'sailoperator.io/v1', kind: 'IstioRevision', metadata: { name } });
const deploy = (namespace: string, name: string, template: { labels?: Record<string, string>; annotations?: Record<string, string> }): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace, uid: `uid-${name}` },
  spec: { template: { metadata: template, spec: { containers: [{ name: name === 'curl' ? 'curl' : 'istio-proxy' }] } } },
});

test('injection: istio-injection=enabled, a known istio.io/rev, and an unknown one reported', () => {
  const revs = new Set(['default']);
  assert.deepEqual(namespaceInjection(ns('a', { 'istio-injection': 'enabled' }), revs), { injected: true, revision: 'default' });
  assert.deepEqual(namespaceInjection(ns('b', { 'istio.io/rev': 'default' }), revs), { injected: true, revision: 'default' });
  const unknown = namespaceInjection(ns('c', { 'istio.io/rev': 'canary' }), revs);
  assert.equal(unknown.injected, false);
  assert.match(unknown.warning!.message, /no IstioRevision "canary"/);
  assert.equal(namespaceInjection(ns('d', { 'istio-injection': 'disabled', 'istio.io/rev': 'default' }), revs).injected, false);
});

test('gateway Deployments: gateway injection and Gateway API deployments', () => {
  assert.ok(isGatewayDeployment(deploy('gw-ns', 'egressgw', { annotations: { 'inject.istio.io/templates': 'gateway' }, labels: { istio: 'egressgw' } })));
  assert.ok(
    isGatewayDeployment(
      deploy('egress-gateway', 'httpbin-egress-gateway-istio', { labels: { 'gateway.networking.k8s.io/gateway-name': 'httpbin-egress-gateway' } }),
    ),
  );
  assert.ok(!isGatewayDeployment(deploy('curl', 'curl', { labels: { app: 'curl' } })));
});

test('plan: a router per gateway, a sidecar per injected namespace, a Pod per Deployment', () => {
  const gw = deploy('gw-ns', 'egressgw', { annotations: { 'inject.istio.io/templates': 'gateway' }, labels: { istio: 'egressgw' } });
  const curl = deploy('curl', 'curl', { labels: { app: 'curl' } });
  const plan = planWorkloads({ namespaces: [ns('curl', { 'istio-injection': 'enabled' }), ns('gw-ns')], deployments: [gw, curl], revisions: [rev('default')] });
  assert.deepEqual(plan.proxies.map((p) => [p.key, p.role]).sort(), [
    ['curl/sidecar', 'sidecar'],
    ['gw-ns/gateway/egressgw', 'router'],
  ]);
  const router = plan.proxies.find((p) => p.role === 'router')!;
  assert.deepEqual(router.labels, { istio: 'egressgw' });
  const curlPod = plan.pods.find((p) => p.deployment === curl)!;
  assert.equal(curlPod.proxyKey, 'curl/sidecar');
  assert.deepEqual(
    curlPod.containers.map((c) => c.name),
    ['curl', 'istio-proxy'],
  );
  assert.match(curlPod.podName, /^curl-[a-z0-9]{10}-[a-z0-9]{5}$/);
  assert.equal(podNameFor(curl), curlPod.podName, 'pod names are stable');
});

test('each state dir gets its own /24 outside 127.0.x.x and 127.200+', () => {
  const a = subnetFor('/tmp/a');
  const b = subnetFor('/tmp/b');
  assert.notEqual(a, b);
  for (const s of [a, b]) {
    const [, x] = s.split('.').map(Number);
    assert.ok(x! >= 1 && x! < 200, s);
  }
});
