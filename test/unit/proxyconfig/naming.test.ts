import { test } from 'node:test';
import assert from 'node:assert/strict';
import { outboundClusterName, parseClusterName, gatewayDeploymentName, serviceFqdn } from '../../../src/proxyconfig/naming.js';
import { resolveKindName, kindFor } from '../../../src/api/kinds.js';

test("cluster names are Istio's", () => {
  assert.equal(outboundClusterName(80, undefined, 'docs.redhat.com'), 'outbound|80||docs.redhat.com');
  assert.equal(outboundClusterName(80, 'rh-docs', serviceFqdn('egressgw', 'gw-ns')), 'outbound|80|rh-docs|egressgw.gw-ns.svc.cluster.local');
  assert.deepEqual(parseClusterName('outbound|443|x|a.b'), { direction: 'outbound', port: 443, subset: 'x', host: 'a.b' });
  assert.equal(parseClusterName('PassthroughCluster'), undefined);
  assert.equal(gatewayDeploymentName('httpbin-egress-gateway', 'istio'), 'httpbin-egress-gateway-istio');
});

test('kind names resolve like kubectl', () => {
  assert.equal(resolveKindName('se')?.kind, 'ServiceEntry');
  assert.equal(resolveKindName('istiorevisions.sailoperator.io')?.kind, 'IstioRevision');
  assert.equal(resolveKindName('gateway')?.group, 'gateway.networking.k8s.io');
  assert.equal(resolveKindName('gateways.networking.istio.io')?.group, 'networking.istio.io');
  assert.equal(kindFor('networking.istio.io/v1alpha3', 'Gateway')?.plural, 'gateways');
  assert.equal(kindFor('networking.istio.io/v2', 'Gateway'), undefined);
});
