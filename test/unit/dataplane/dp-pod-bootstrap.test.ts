// A proxy in a pod bootstraps from its environment: the downward API's labels file, env, and the
// controller's CA when distribution is https; missing pieces are one clear error naming them.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { bootstrapFromPodEnv, parseDownwardLabels } from '../../../src/dataplane/pod-bootstrap.js';

test('the downward API labels file: key="value" lines with Go quoting; anything else names the line', () => {
  assert.deepEqual(parseDownwardLabels('app="curl"\npod-template-hash="5b7d8f9c6d"\nx="a \\"q\\""\n', 'labels'), {
    app: 'curl',
    'pod-template-hash': '5b7d8f9c6d',
    x: 'a "q"',
  });
  assert.throws(() => parseDownwardLabels('app=curl\n', '/etc/istio/pod/labels'), /\/etc\/istio\/pod\/labels:1: expected key="value"/);
});

test("a pod proxy's bootstrap from env: identity from the pod, token file, the CA for https", (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-podboot-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const labels = join(dir, 'labels');
  writeFileSync(labels, 'app="curl"\n');
  const env = {
    POD_NAME: 'curl-5b7d8f9c6d-m4n8p',
    POD_NAMESPACE: 'curl',
    INSTANCE_IP: '10.0.0.7',
    OUTPOST_CONTROLLER_URL: 'https://outpost-controller.istio-system.svc:15012',
    OUTPOST_POD_LABELS_FILE: labels,
    OUTPOST_CONTROLLER_CA: '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n',
  };
  const b = bootstrapFromPodEnv('sidecar', env);
  assert.deepEqual(b.identity, {
    id: 'curl-5b7d8f9c6d-m4n8p.curl',
    role: 'sidecar',
    namespace: 'curl',
    workload: 'curl',
    labels: { app: 'curl' },
    ip: '10.0.0.7',
  });
  assert.equal(b.controlPlane?.tokenFile, '/var/run/secrets/tokens/outpost-token');
  assert.equal(b.controlPlane?.ca, env.OUTPOST_CONTROLLER_CA);
  assert.throws(() => bootstrapFromPodEnv('router', { ...env, POD_NAME: '' }), /POD_NAME is not set/);
  assert.throws(() => bootstrapFromPodEnv('router', { ...env, OUTPOST_CONTROLLER_CA: undefined }), /https but OUTPOST_CONTROLLER_CA is not set/);
  assert.throws(
    () => bootstrapFromPodEnv('router', { ...env, OUTPOST_POD_LABELS_FILE: join(dir, 'missing') }),
    /cannot read the pod's labels from .*missing: ENOENT/,
  );
});
