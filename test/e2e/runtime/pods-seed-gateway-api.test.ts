// The seed chapter §3.3 with pods in their own network namespaces (inside a network namespace the
// test makes, httpbin.org's stand-in on an address of a veth pair there): the same commands give
// the same results as on the loopback model, with pod addresses from the pod range.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { eventually } from '../../helpers/mesh.js';
import { netnsSkipReason, startNetnsMesh } from '../../helpers/netns.js';

const skip = netnsSkipReason();
const seed = (name: string): string => fileURLToPath(new URL(`../../fixtures/seed/${name}`, import.meta.url));

test('seed §3.3 (Gateway API) with pods in their own network namespaces', { skip }, async (t) => {
  const { ext, mesh } = await startNetnsMesh(t);
  await mesh.ok(['apply', '-f', seed('istio.yaml')]);
  await mesh.ok(['apply', '-f', seed('gateway-cr.yaml')]);
  await mesh.ok(['create', 'namespace', 'egress-gateway']);
  assert.equal((await mesh.ok(['label', 'namespace', 'egress-gateway', 'istio-injection=enabled'])).stdout, 'namespace/egress-gateway labeled\n');
  const egress = await mesh.ok(['apply', '-n', 'egress-gateway', '-f', seed('egress-gateway-cr.yaml')]);
  assert.match(egress.stdout, /^gateway\.gateway\.networking\.k8s\.io\/httpbin-egress-gateway created$/m);
  await eventually('Programmed=True', async () => {
    const r = await mesh.ok(['describe', 'gateway', '-n', 'egress-gateway']);
    return /Reason:\s+Programmed\n\s+Status:\s+True\n\s+Type:\s+Programmed/.test(r.stdout) ? true : undefined;
  });
  await eventually(
    'the automated deployment ready',
    async () => {
      const r = await mesh.ok(['get', 'deployment', 'httpbin-egress-gateway-istio', '-n', 'egress-gateway']);
      return /^httpbin-egress-gateway-istio\s+1\/1\s/m.test(r.stdout) ? true : undefined;
    },
    200,
  );
  const gwIp = (
    await mesh.ok([
      'get',
      'pod',
      '-n',
      'egress-gateway',
      '-l',
      'gateway.networking.k8s.io/gateway-name=httpbin-egress-gateway',
      '-o',
      'jsonpath={.items[0].status.podIP}',
    ])
  ).stdout;
  assert.match(gwIp, /^198\.18\.\d+\.\d+$/, 'the gateway pod has its own address from the pod range');

  // $ curl -v http://httpbin.org/get from a pod of egress-gateway
  const r = await mesh.ok(['exec', '-n', 'egress-gateway', '--', 'curl', '-sS', '-v', 'http://httpbin.org/get']);
  const body = JSON.parse(r.stdout) as { url: string; origin: string };
  assert.equal(body.url, 'http://httpbin.org/get');
  assert.match(r.stderr, /< HTTP\/1\.1 200 OK/);
  assert.equal(ext.seen.length, 1, 'httpbin.org got the request once');
  assert.equal(ext.seen[0]!.remoteAddress, gwIp, 'it came from the gateway pod');

  const last = (await mesh.ok(['logs', 'deployment/httpbin-egress-gateway-istio', '-n', 'egress-gateway', '--tail', '1'])).stdout;
  assert.match(last, /"GET \/get HTTP\/(1\.1|2)" 200 /);
  assert.match(last, / outbound\|80\|\|httpbin\.org /);
  assert.match(last, / egress-gateway\.forward-httpbin-from-egress-gateway\.0\n$/);
  const sidecarLast = (await mesh.ok(['logs', '-n', 'egress-gateway', '-c', 'istio-proxy', '--tail', '1'])).stdout;
  assert.match(sidecarLast, / outbound\|80\|\|httpbin-egress-gateway-istio\.egress-gateway\.svc\.cluster\.local /, 'the sidecar sent it to the gateway');
});
