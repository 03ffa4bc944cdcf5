// outboundTrafficPolicy from the Istio resource: ALLOW_ANY passes unknown hosts through
// (PassthroughCluster); REGISTRY_ONLY answers 502 (block_all). Changing it reconfigures the
// running sidecar. The unlisted stand-in lives on loopback, so the SSRF guard (on by default)
// denies the passthrough until meshConfig.outpost.ssrfGuard says REPORT_ONLY.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { UNLISTED_HOST, startExternalServices } from '../../helpers/external.js';
import { startTestMesh } from '../../helpers/mesh.js';
import { istioResource, outboundPolicy } from '../../helpers/istio-resource.js';

function istioYaml(mode: 'ALLOW_ANY' | 'REGISTRY_ONLY', ssrfGuard?: string): string {
  return istioResource(outboundPolicy(mode) + (ssrfGuard !== undefined ? `      outpost:\n        ssrfGuard: ${ssrfGuard}\n` : ''));
}

test('ALLOW_ANY passes an unlisted host through; REGISTRY_ONLY blocks it with 502', async (t) => {
  const ext = await startExternalServices();
  t.after(() => ext.close());
  const mesh = await startTestMesh(t, { hostsFile: ext.hostsFile });
  const dir = mkdtempSync(join(tmpdir(), 'outpost-yaml-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'istio.yaml');

  await mesh.ok(['create', 'namespace', 'apps']);
  await mesh.ok(['label', 'namespace', 'apps', 'istio-injection=enabled']);

  writeFileSync(file, istioYaml('ALLOW_ANY'));
  await mesh.ok(['apply', '-f', file]);
  // ALLOW_ANY to a name no ServiceEntry lists that resolves to loopback: the SSRF guard says no.
  const guarded = await mesh.ok(['exec', '-n', 'apps', '--', 'curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', `http://${UNLISTED_HOST}/`]);
  assert.equal(guarded.stdout, '403');
  assert.equal(ext.seen[UNLISTED_HOST]?.length ?? 0, 0, 'the denied request never left');
  const guardLine = (await mesh.ok(['logs', '-n', 'apps', '-c', 'istio-proxy', '--tail', '1'])).stdout;
  assert.match(guardLine, /" 403 SSRF ssrf_guard_denied\{mesh_network\}|" 403 SSRF ssrf_guard_denied\{loopback\}/);
  assert.match(guardLine, / PassthroughCluster /);
  // The mesh's own API through the sidecar (exec's no_proxy keeps it direct; --noproxy '' sends it via the sidecar): a control endpoint.
  const api = new URL((JSON.parse(readFileSync(join(mesh.stateDir, 'api.json'), 'utf8')) as { url: string }).url);
  const toApi = await mesh.ok([
    'exec',
    '-n',
    'apps',
    '--',
    'curl',
    '-sS',
    '--noproxy',
    '',
    '-o',
    '/dev/null',
    '-w',
    '%{http_code}',
    `http://${api.host}/version`,
  ]);
  assert.equal(toApi.stdout, '403');
  const apiLine = (await mesh.ok(['logs', '-n', 'apps', '-c', 'istio-proxy', '--tail', '1'])).stdout;
  assert.match(apiLine, /" 403 SSRF ssrf_guard_denied\{control_plane\} /);

  writeFileSync(file, istioYaml('ALLOW_ANY', 'REPORT_ONLY'));
  await mesh.ok(['apply', '-f', file]);
  const allowed = await mesh.ok(['exec', '-n', 'apps', '--', 'curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', `http://${UNLISTED_HOST}/`]);
  assert.equal(allowed.stdout, '200');
  assert.equal(ext.seen[UNLISTED_HOST]!.length, 1);
  const passLine = (await mesh.ok(['logs', '-n', 'apps', '-c', 'istio-proxy', '--tail', '1'])).stdout;
  assert.match(passLine, / PassthroughCluster /);

  writeFileSync(file, istioYaml('REGISTRY_ONLY', 'REPORT_ONLY'));
  assert.match((await mesh.ok(['apply', '-f', file])).stdout, /^istio\.sailoperator\.io\/default configured$/m);
  const blocked = await mesh.outpost(['exec', '-n', 'apps', '--', 'curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', `http://${UNLISTED_HOST}/`]);
  assert.equal(blocked.code, 0, blocked.stderr);
  assert.equal(blocked.stdout, '502');
  assert.equal(ext.seen[UNLISTED_HOST]!.length, 1, 'the blocked request never left');
  const blockLine = (await mesh.ok(['logs', '-n', 'apps', '-c', 'istio-proxy', '--tail', '1'])).stdout;
  assert.match(blockLine, /" 502 /);
  assert.match(blockLine, /block_all/);
});
