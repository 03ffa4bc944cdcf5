// The NetworkPolicy rule compiler: policies + pods + namespaces → one nft ruleset per pod and the
// node's forward chains, compared with reviewed golden files (UPDATE_NETPOL_GOLDEN=1 rewrites them).
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../../../src/api/object.js';
import { applySchemaDefaults } from '../../../src/api/validate.js';
import { compileNetworkPolicies, nodeRuleset, type CompileInput, type PolicyPod } from '../../../src/runtime/pods/network-policy/compile.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/netpol/', import.meta.url));
const update = process.env.UPDATE_NETPOL_GOLDEN === '1';

function load(file: string): KubeObject[] {
  return parseAllDocuments(readFileSync(join(FIXTURES, file), 'utf8')).map((d) => applySchemaDefaults(d.toJS() as KubeObject));
}

function golden(name: string, actual: string): void {
  const file = join(FIXTURES, name);
  if (update || !existsSync(file)) writeFileSync(file, actual);
  assert.equal(actual, readFileSync(file, 'utf8'), `${name} differs (UPDATE_NETPOL_GOLDEN=1 to accept, then review)`);
}

const PODS: PolicyPod[] = [
  { namespace: 'curl', name: 'curl-0', labels: { app: 'curl' }, ip: '198.18.7.2', ports: [], netns: 'n2' },
  { namespace: 'gw-ns', name: 'egressgw-0', labels: { istio: 'egressgateway' }, ip: '198.18.7.3', ports: [{ name: 'http', port: 80 }], netns: 'n3' },
  {
    namespace: 'apps',
    name: 'web-0',
    labels: { app: 'web' },
    ip: '198.18.7.4',
    ports: [
      { name: 'http', port: 8080 },
      { name: 'metrics', port: 9090 },
    ],
    netns: 'n4',
  },
  {
    namespace: 'apps',
    name: 'db-0',
    labels: { app: 'db' },
    ip: '198.18.7.5',
    ports: [
      { name: 'pg', port: 5432 },
      { name: 'dns', port: 5353, protocol: 'UDP' },
    ],
    netns: 'n5',
  },
  {
    namespace: 'kube-system',
    name: 'kube-dns',
    labels: { 'k8s-app': 'kube-dns' },
    ip: '198.18.7.1',
    ports: [
      { name: 'dns', port: 53, protocol: 'UDP' },
      { name: 'dns-tcp', port: 53 },
    ],
    onNode: true,
  },
  { namespace: 'istio-system', name: 'istiod', labels: { app: 'istiod' }, ip: '198.18.7.1', ports: [{ name: 'grpc-xds', port: 15010 }], onNode: true },
];

function input(policies: KubeObject[]): CompileInput {
  return {
    policies,
    pods: PODS,
    namespaces: [
      { name: 'curl', labels: { team: 'curl', 'istio-injection': 'enabled' } },
      { name: 'gw-ns', labels: {} },
      { name: 'apps', labels: {} },
    ],
    nodeAddress: '198.18.7.1',
    serviceSubnet: '198.19.7.0/24',
  };
}

function render(policies: KubeObject[]): string {
  const r = compileNetworkPolicies(input(policies));
  return [...r.pods.values()].map((p) => p.ruleset).join('\n') + '\n' + nodeRuleset('outpost-abc123', r);
}

test('the OpenShift-style egress policies and ingress by namespace, pod and named port compile to the golden rulesets', () => {
  golden('openshift.nft', render(load('openshift.yaml')));
});

test('ipBlock with except, endPort, UDP/SCTP, named egress ports and an ingress allow-all compile to the golden rulesets', () => {
  golden('peers.nft', render(load('peers.yaml')));
});

test('no policy: every pod gets a table that isolates nothing', () => {
  const r = compileNetworkPolicies(input([]));
  for (const p of r.pods.values()) {
    assert.deepEqual([p.ingress, p.egress], [undefined, undefined]);
    assert.match(p.ruleset, /not isolated for ingress/);
    assert.match(p.ruleset, /not isolated for egress/);
  }
  assert.deepEqual([r.nodeEgress, r.nodeIngress], [[], []]);
  // Peers only (node-hosted services) get no table.
  assert.equal(r.pods.has('kube-system/kube-dns'), false);
});

test('policyTypes default: Ingress only, plus Egress when egress rules exist', () => {
  const [ingressOnly, withEgress] = load('defaults.yaml');
  assert.deepEqual((ingressOnly!.spec as { policyTypes: string[] }).policyTypes, ['Ingress']);
  assert.deepEqual((withEgress!.spec as { policyTypes: string[] }).policyTypes, ['Ingress', 'Egress']);
  const r = compileNetworkPolicies(input([ingressOnly!]));
  assert.equal(r.pods.get('apps/web-0')!.egress, undefined);
  assert.deepEqual(r.pods.get('apps/web-0')!.ingress, [], 'an Ingress policy without rules denies all ingress');
  assert.deepEqual(r.selected.get('apps/deny-ingress'), ['apps/db-0', 'apps/web-0']);
});
