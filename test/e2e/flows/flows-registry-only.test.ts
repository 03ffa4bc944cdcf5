// Accessing External Services (AES) under REGISTRY_ONLY: a ServiceEntry lets httpbin.org through,
// a VirtualService timeout turns a slow answer into 504 UT, an HTTPS host no ServiceEntry lists
// is refused (BlackHoleCluster), one that is listed passes.
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { test } from 'node:test';
import { eventually } from '../../helpers/mesh.js';
import { REGISTRY_ONLY, answerAfterDelay, awaitLastLogLine, lastLines, standInBody, startFlowMesh, startFlowWorld } from './flows-support.js';

const HTTPBIN = 'httpbin.org';
const UNLISTED = 'unlisted.example.com';
const LISTED = 'listed.example.com'; // the tutorial's www.google.com; the test certificate covers *.example.com

/** httpbin's /delay/N (see answerAfterDelay), answering with the URL asked for. */
function delayHandler(req: IncomingMessage, res: ServerResponse): void {
  answerAfterDelay(req, res, `{"url": "http://${HTTPBIN}${req.url ?? ''}"}\n`);
}

test('AES: REGISTRY_ONLY with a ServiceEntry, a 1s VirtualService timeout, and a blocked HTTPS host', async (t) => {
  const world = await startFlowWorld([
    { name: HTTPBIN, http: [80], handler: delayHandler },
    { name: UNLISTED, https: [443] },
    { name: LISTED, https: [443] },
  ]);
  t.after(() => world.close());
  const mesh = await startFlowMesh(t, world, { meshConfig: REGISTRY_ONLY });
  await mesh.ok([
    'apply',
    '-f',
    world.yaml(
      'aes.yaml',
      `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: httpbin-ext
  namespace: apps
spec:
  hosts:
  - ${HTTPBIN}
  ports:
  - number: 80
    name: http-port
    protocol: HTTP
  resolution: DNS
  location: MESH_EXTERNAL
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: listed-https
  namespace: apps
spec:
  hosts:
  - ${LISTED}
  ports:
  - number: 443
    name: https
    protocol: HTTPS
  resolution: DNS
  location: MESH_EXTERNAL
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: httpbin-ext
  namespace: apps
spec:
  hosts:
  - ${HTTPBIN}
  http:
  - timeout: 1s
    route:
    - destination:
        host: ${HTTPBIN}
      weight: 100
`,
    ),
  ]);

  const fast = await mesh.ok(['exec', '-n', 'apps', '--', 'curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', `http://${HTTPBIN}/get`]);
  assert.equal(fast.stdout, '200');

  const slow = await mesh.outpost(['exec', '-n', 'apps', '--', 'curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', `http://${HTTPBIN}/delay/3`]);
  assert.equal(slow.code, 0, slow.stderr);
  assert.equal(slow.stdout, '504');
  const timeoutLine = lastLines((await mesh.ok(['logs', '-n', 'apps', '-c', 'istio-proxy', '--tail', '1'])).stdout)[0] ?? '';
  assert.match(timeoutLine, /"GET \/delay\/3 HTTP\/1\.1" 504 UT response_timeout /);
  assert.match(timeoutLine, / outbound\|80\|\|httpbin\.org /);

  // A listed HTTPS host passes (TLS, routed on SNI, not terminated).
  const listed = await mesh.outpost(['exec', '-n', 'apps', '--', 'curl', '-sS', '--cacert', world.caFile, `https://${LISTED}/`]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.equal(listed.stdout, standInBody(LISTED));
  const listedLine = await awaitLastLogLine(mesh, 'the sidecar line for the listed host', ['-n', 'apps', '-c', 'istio-proxy'], (l) => l.includes(LISTED));
  assert.match(listedLine, / outbound\|443\|\|listed\.example\.com .* listed\.example\.com -$/);

  // An unlisted HTTPS host: the tunnel goes to BlackHoleCluster, curl fails (503 to its CONNECT), nothing leaves.
  const blocked = await mesh.outpost(['exec', '-n', 'apps', '--', 'curl', '-sS', '--cacert', world.caFile, `https://${UNLISTED}/`]);
  assert.notEqual(blocked.code, 0, `curl should fail, got:\n${blocked.stdout}`);
  assert.equal(world.seen[UNLISTED]!.length, 0, 'the blocked host saw nothing');
  const blackHole = await eventually(
    'a BlackHoleCluster line',
    async () => {
      const lines = lastLines((await mesh.ok(['logs', '-n', 'apps', '-c', 'istio-proxy'])).stdout, 3);
      return lines.find((l) => l.includes('BlackHoleCluster'));
    },
    50,
  );
  // The CONNECT (curl's https_proxy) is answered as Envoy answers one it cannot connect: 503 UH.
  assert.match(blackHole, /^\[\S+Z\] "- - -" 503 UH no_healthy_upstream /);
});
