// `get` with several kinds (`get gateways,httproutes`): kubectl's shape, one table per kind with
// objects, names kind-qualified, a blank line between; yaml/json/name cover all kinds at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveKindName } from '../../../src/api/kinds.js';
import type { KubeObject } from '../../../src/api/object.js';
import { printGroups } from '../../../src/cli/commands/get.js';

const created = new Date(Date.now() - 5000).toISOString();
const gw: KubeObject = {
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'Gateway',
  metadata: { name: 'egress', namespace: 'x', creationTimestamp: created },
  spec: { gatewayClassName: 'istio' },
  status: { conditions: [{ type: 'Programmed', status: 'True' }] },
};
const route: KubeObject = {
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  metadata: { name: 'fwd', namespace: 'x', creationTimestamp: created },
  spec: { hostnames: ['httpbin.org'] },
};

test('several kinds print as kubectl prints them', async () => {
  const groups = [
    { info: resolveKindName('gateways')!, items: [gw] },
    { info: resolveKindName('serviceentries')!, items: [] },
    { info: resolveKindName('httproutes')!, items: [route] },
  ];
  const out = await printGroups(groups, undefined, false, false);
  const [first, second, ...rest] = out.split('\n\n');
  assert.equal(rest.join(''), '');
  assert.match(first!, /^NAME\s+CLASS\s+ADDRESS\s+PROGRAMMED\s+AGE\ngateway\.gateway\.networking\.k8s\.io\/egress\s+istio\s+True\s+\d+s$/);
  assert.match(second!, /^NAME\s+HOSTNAMES\s+AGE\nhttproute\.gateway\.networking\.k8s\.io\/fwd\s+\["httpbin\.org"\]\s+\d+s\n$/);
  assert.equal(await printGroups(groups, 'name', false, false), 'gateway.gateway.networking.k8s.io/egress\nhttproute.gateway.networking.k8s.io/fwd\n');
  const list = JSON.parse(await printGroups(groups, 'json', false, false)) as { kind: string; items: KubeObject[] };
  assert.equal(list.kind, 'List');
  assert.deepEqual(
    list.items.map((o) => o.kind),
    ['Gateway', 'HTTPRoute'],
  );
});
