// Every completed request is logged as completed: curl reads the whole answer and closes, and the
// sidecar's line must say `200 - via_upstream` with the downstream addresses, never DC. Seen most
// often when curl first tunnels (https) and then sends a plain request through the gateway.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cnnHttpAndTlsGatewayApi, startFlowMesh, startFlowWorld, waitProgrammed } from './flows-support.js';

const CNN = 'edition.cnn.com';
const RUNS = 30;

test('a completed request is never logged as DC (client closes right after the last byte)', async (t) => {
  const world = await startFlowWorld([{ name: CNN, http: [80], https: [443] }]);
  t.after(() => world.close());
  const mesh = await startFlowMesh(t, world);
  await mesh.ok(['apply', '-f', world.yaml('cnn.yaml', cnnHttpAndTlsGatewayApi('apps'))]);
  await waitProgrammed(mesh, 'cnn-egress-gateway', 'apps');
  for (let i = 0; i < RUNS; i++) {
    const r = await mesh.ok([
      'exec',
      '-n',
      'apps',
      '--',
      'curl',
      '-sS',
      '-o',
      '/dev/null',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}\n',
      '--cacert',
      world.caFile,
      `https://${CNN}/`,
      `http://${CNN}/r${i}`,
    ]);
    assert.equal(r.stdout, '200\n200\n');
  }
  const lines = (await mesh.ok(['logs', '-n', 'apps', '-c', 'istio-proxy'])).stdout.split('\n').filter((l) => l.includes('"GET /r'));
  assert.equal(lines.length, RUNS);
  const bad = lines.filter((l) => !/" 200 - via_upstream /.test(l) || / - - - \S+$/.test(l));
  assert.deepEqual(bad, [], 'every line: 200 - via_upstream, with downstream addresses');
});
