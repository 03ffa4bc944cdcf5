// `outpost up --dns-server IP:PORT`: proxies find external hosts through a real DNS server on
// loopback (no hosts file): a ServiceEntry's DNS cluster resolves httpbin.org there.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startDnsServer } from '../../helpers/dns-server.js';
import { HTTPBIN_HOST, startExternalServices } from '../../helpers/external.js';
import { startTestMesh } from '../../helpers/mesh.js';

const SE = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: httpbin-ext
  namespace: curl
spec:
  hosts:
  - ${HTTPBIN_HOST}
  ports:
  - number: 80
    name: http
    protocol: HTTP
  location: MESH_EXTERNAL
  resolution: DNS
`;

test('--dns-server: the sidecar resolves an external host through a DNS server on loopback', async (t) => {
  const ext = await startExternalServices();
  t.after(() => ext.close());
  const dns = await startDnsServer({ [HTTPBIN_HOST]: [ext.addresses[HTTPBIN_HOST]!] });
  t.after(() => dns.close());
  const mesh = await startTestMesh(t, { dnsServer: dns.address });
  const dir = mkdtempSync(join(tmpdir(), 'outpost-dns-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'se.yaml'), SE);

  await mesh.ok(['create', 'namespace', 'curl']);
  await mesh.ok(['label', 'namespace', 'curl', 'istio-injection=enabled']);
  await mesh.ok(['apply', '-f', join(dir, 'se.yaml')]);
  await mesh.ok(['apply', '-f', fileURLToPath(new URL('../../fixtures/seed/istio.yaml', import.meta.url))]);

  const r = await mesh.ok(['exec', '-n', 'curl', '--', 'curl', '-sS', `http://${HTTPBIN_HOST}/get`]);
  assert.equal((JSON.parse(r.stdout) as { url: string }).url, `http://${HTTPBIN_HOST}/get`);
  assert.equal(ext.seen[HTTPBIN_HOST]!.length, 1, 'httpbin.org got the request');
  assert.ok(dns.queries(HTTPBIN_HOST) > 0, 'the proxy asked the DNS server');
  const last = (await mesh.ok(['logs', '-n', 'curl', '-c', 'istio-proxy', '--tail', '1'])).stdout;
  assert.match(last, new RegExp(` "${ext.addresses[HTTPBIN_HOST]!.replace(/\./g, '\\.')}:80" outbound\\|80\\|\\|httpbin\\.org `));
});
