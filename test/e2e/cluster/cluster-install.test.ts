// `outpost install --dry-run`: the manifests a user reviews before applying them to a cluster.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { KINDS } from '../../../src/api/kinds.js';
import { runOutpost } from '../../helpers/mesh.js';

/** A structural schema (what apiextensions v1 requires): every node says its type, or is int-or-string / preserved. */
function assertStructural(schema: any, where: string): void {
  assert.ok(schema.type || schema['x-kubernetes-int-or-string'] || schema['x-kubernetes-preserve-unknown-fields'], `${where}: no type`);
  assert.equal(schema.$ref, undefined, `${where}: no $ref in a CRD schema`);
  for (const [k, v] of Object.entries(schema.properties ?? {})) assertStructural(v, `${where}.${k}`);
  if (schema.items) assertStructural(schema.items, `${where}[]`);
  if (schema.additionalProperties && typeof schema.additionalProperties === 'object') assertStructural(schema.additionalProperties, `${where}{}`);
}

test(
  'outpost install --dry-run prints CRDs for every served kind, least-privilege RBAC, the controller and the injection webhook',
  { timeout: 60_000 },
  async () => {
    const r = await runOutpost(['install', '--dry-run', '--image', 'registry.example/outpost:1.0']);
    assert.equal(r.code, 0, r.stderr);
    const docs = parseAllDocuments(r.stdout).map((d) => d.toJS());
    const byKind = (kind: string) => docs.filter((d) => d.kind === kind);

    const crds = byKind('CustomResourceDefinition');
    for (const k of KINDS.filter((k) => ['networking.istio.io', 'security.istio.io', 'gateway.networking.k8s.io', 'sailoperator.io'].includes(k.group))) {
      const crd = crds.find((c) => c.metadata.name === `${k.plural}.${k.group}`);
      assert.ok(crd, `a CRD for ${k.kind}.${k.group}`);
      assert.equal(crd.spec.scope, k.namespaced ? 'Namespaced' : 'Cluster');
      assert.deepEqual(
        crd.spec.versions.map((v: any) => v.name),
        k.versions,
      );
      assert.equal(crd.spec.versions.filter((v: any) => v.storage).length, 1, 'one storage version');
      for (const v of crd.spec.versions) assertStructural(v.schema.openAPIV3Schema, `${k.kind} ${v.name}`);
    }
    assert.equal(crds.filter((c) => c.spec.group === '' || c.spec.group === 'apps').length, 0, 'no CRDs for built-in kinds');

    const role = byKind('ClusterRole')[0];
    for (const rule of role.rules) {
      assert.ok(!rule.verbs.includes('*') && !rule.resources.includes('*') && !rule.apiGroups.includes('*'), `no wildcards: ${JSON.stringify(rule)}`);
    }
    const can = (group: string, resource: string, verb: string) =>
      role.rules.some((x: any) => x.apiGroups.includes(group) && x.resources.includes(resource) && x.verbs.includes(verb));
    assert.ok(can('networking.istio.io', 'serviceentries', 'watch'));
    assert.ok(can('gateway.networking.k8s.io', 'gateways/status', 'patch'));
    assert.ok(can('authentication.k8s.io', 'tokenreviews', 'create'));
    assert.ok(!can('', 'secrets', 'create') && !can('networking.istio.io', 'serviceentries', 'update'), 'no writes to what users own');
    assert.deepEqual(byKind('Role')[0].rules, [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] }]);

    const deploy = byKind('Deployment')[0];
    assert.equal(deploy.metadata.namespace, 'istio-system');
    const c = deploy.spec.template.spec.containers[0];
    assert.equal(c.image, 'registry.example/outpost:1.0');
    assert.equal(c.args[0], 'controller');
    assert.ok(c.args.includes('--webhook-address'));
    assert.equal(c.securityContext.runAsNonRoot, true);

    const secret = byKind('Secret')[0];
    const hook = byKind('MutatingWebhookConfiguration')[0];
    assert.equal(hook.webhooks.length, 3);
    for (const w of hook.webhooks) {
      assert.equal(w.clientConfig.caBundle, secret.data['tls.crt'], 'the webhook trusts the certificate the controller serves');
      assert.equal(w.failurePolicy, 'Ignore');
      assert.deepEqual(w.clientConfig.service, { name: 'outpost-controller', namespace: 'istio-system', path: '/inject', port: 443 });
    }
  },
);
