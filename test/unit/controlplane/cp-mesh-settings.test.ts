// Mesh settings from the `Istio` resource: the DNS resolution bound (outpost's field of Istio's
// ProxyConfig, meshConfig.defaultConfig.dnsResolutionTimeout) reaches every ProxyConfig; a bad
// value is refused where it stands.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseText, formatLoadError, type LoadError } from '../../../src/api/load.js';
import { snapshotFromObjects } from '../../../src/controlplane/snapshot.js';
import { meshSettings } from '../../../src/controlplane/mesh-settings.js';
import { translate } from '../../../src/controlplane/translate/index.js';

function istio(timeout: string): string {
  return `apiVersion: sailoperator.io/v1
kind: Istio
metadata:
  name: default
spec:
  values:
    meshConfig:
      defaultConfig:
        dnsResolutionTimeout: ${timeout}
`;
}

test('meshConfig.defaultConfig.dnsResolutionTimeout becomes mesh.dnsResolutionTimeoutMs', () => {
  const errors: LoadError[] = [];
  const docs = parseText('istio.yaml', istio('750ms'), errors);
  assert.deepEqual(errors.map(formatLoadError), []);
  const mesh = meshSettings(snapshotFromObjects(docs.map((d) => d.object)));
  assert.equal(mesh.dnsResolutionTimeoutMs, 750);
  // Every proxy's config carries it: sidecars and gateways.
  for (const role of ['sidecar', 'router'] as const) {
    const cfg = translate(snapshotFromObjects(docs.map((d) => d.object)), { id: `p.apps`, role, namespace: 'apps', workload: 'w', labels: {} });
    assert.equal(cfg.mesh.dnsResolutionTimeoutMs, 750, role);
  }
  const none = meshSettings(snapshotFromObjects([]));
  assert.equal(none.dnsResolutionTimeoutMs, undefined, "absent: the proxy keeps Envoy's 5 s");
});

test('a dnsResolutionTimeout that is not a duration is refused with its place', () => {
  const errors: LoadError[] = [];
  parseText('istio.yaml', istio('soon'), errors);
  assert.deepEqual(errors.map(formatLoadError), [
    'istio.yaml:9:31: Istio default: spec.values.meshConfig.defaultConfig.dnsResolutionTimeout: invalid value "soon": must be a duration such as "5s" or "500ms"',
  ]);
});
