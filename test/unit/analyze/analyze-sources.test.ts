// What analyze looks at and reports: files laid over the mesh's objects (same kind, namespace and
// name replaced, namespaces defaulted as the mesh does), and istioctl's namespace filter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../../src/api/object.js';
import { loadSources } from '../../../src/api/load.js';
import { overlayFiles } from '../../../src/analyze/sources.js';
import { scopeFindings, type Finding } from '../../../src/analyze/index.js';

const obj = (apiVersion: string, kind: string, name: string, namespace?: string): KubeObject => ({
  apiVersion,
  kind,
  metadata: { name, ...(namespace ? { namespace } : {}) },
});

test('overlayFiles: a file replaces the live object of the same group, kind, namespace and name, whatever its version', async () => {
  const live = [
    obj('networking.istio.io/v1', 'Gateway', 'egress-gw', 'gw-ns'),
    obj('networking.istio.io/v1', 'DestinationRule', 'egress-dr', 'gw-ns'),
    obj('v1', 'Service', 'egressgw', 'gw-ns'),
    obj('v1', 'Namespace', 'curl'),
  ];
  const files = (await loadSources({ paths: ['test/fixtures/seed/http-gtw.yaml', 'test/fixtures/seed/namespaces.yaml'] })).documents;
  const merged = overlayFiles(live, files, 'default');
  const names = merged.map((x) =>
    'object' in x ? `file ${(x.object as KubeObject).kind}/${(x.object as KubeObject).metadata.name}` : `live ${x.kind}/${x.metadata.name}`,
  );
  assert.deepEqual(names, [
    'live Service/egressgw',
    'file Gateway/egress-gw',
    'file DestinationRule/egress-dr',
    'file Namespace/curl',
    'file Namespace/gw-ns',
    'file Namespace/egress-gateway',
  ]);
  // A document without a namespace is in the default namespace, and replaces the live object there only.
  const unnamed = (await loadSources({ paths: ['-'], stdin: 'apiVersion: v1\nkind: Service\nmetadata:\n  name: egressgw\nspec:\n  ports:\n  - port: 80\n' }))
    .documents;
  assert.equal(overlayFiles(live, unnamed, 'default').length, live.length + 1);
  assert.equal(overlayFiles(live, unnamed, 'gw-ns').length, live.length);
});

test('scopeFindings: the namespace, cluster-scoped objects and its own Namespace are shown; the rest counted by namespace', () => {
  const f = (kind: string, name: string, namespace?: string): Finding => ({
    code: 'IST0101',
    level: 'Error',
    message: 'm',
    resource: { kind, name, ...(namespace ? { namespace } : {}) },
  });
  const { shown, elsewhere } = scopeFindings(
    [
      f('VirtualService', 'a', 'curl'),
      f('GatewayClass', 'c'),
      f('Namespace', 'curl'),
      f('Namespace', 'gw-ns'),
      f('Gateway', 'g', 'gw-ns'),
      f('Service', 's', 'apps'),
    ],
    'curl',
  );
  assert.deepEqual(
    shown.map((x) => `${x.resource.kind}/${x.resource.name}`),
    ['VirtualService/a', 'GatewayClass/c', 'Namespace/curl'],
  );
  assert.deepEqual(
    [...elsewhere],
    [
      ['apps', 1],
      ['gw-ns', 2],
    ],
  );
});
