// The seed chapter §3.3, command for command: the Kubernetes Gateway API sends sidecar traffic
// for httpbin.org through an automatically deployed egress gateway.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { HTTPBIN_HOST, startExternalServices } from '../../helpers/external.js';
import { eventually, startTestMesh } from '../../helpers/mesh.js';

const seed = (name: string): string => fileURLToPath(new URL(`../../fixtures/seed/${name}`, import.meta.url));

test('seed §3.3: egress through a Gateway API gateway', async (t) => {
  const ext = await startExternalServices();
  t.after(() => ext.close());
  const mesh = await startTestMesh(t, { hostsFile: ext.hostsFile });
  const istio = seed('istio.yaml');
  await mesh.ok(['apply', '-f', istio]);

  // $ oc apply -f gateway-cr.yaml
  const cr = await mesh.ok(['apply', '-f', seed('gateway-cr.yaml')]);
  assert.match(cr.stdout, /^gateway\.gateway\.networking\.k8s\.io\/bookinfo-gateway created$/m);
  assert.match(cr.stdout, /^httproute\.gateway\.networking\.k8s\.io\/bookinfo created$/m);

  // $ oc create namespace egress-gateway; oc label namespace egress-gateway istio-injection=enabled
  await mesh.ok(['create', 'namespace', 'egress-gateway']);
  assert.equal((await mesh.ok(['label', 'namespace', 'egress-gateway', 'istio-injection=enabled'])).stdout, 'namespace/egress-gateway labeled\n');

  // $ oc apply -f egress-gateway-cr.yaml (in the egress-gateway project)
  const egress = await mesh.ok(['apply', '-n', 'egress-gateway', '-f', seed('egress-gateway-cr.yaml')]);
  assert.match(egress.stdout, /^serviceentry\.networking\.istio\.io\/httpbin-ext created$/m);
  assert.match(egress.stdout, /^gateway\.gateway\.networking\.k8s\.io\/httpbin-egress-gateway created$/m);
  assert.match(egress.stdout, /^httproute\.gateway\.networking\.k8s\.io\/direct-httpbin-to-egress-gateway created$/m);
  assert.match(egress.stdout, /^httproute\.gateway\.networking\.k8s\.io\/forward-httpbin-from-egress-gateway created$/m);

  // $ oc describe gateway -n egress-gateway: Accepted and Programmed
  const described = await eventually('Programmed=True', async () => {
    const r = await mesh.ok(['describe', 'gateway', '-n', 'egress-gateway']);
    return /Reason:\s+Programmed\n\s+Status:\s+True\n\s+Type:\s+Programmed/.test(r.stdout) ? r.stdout : undefined;
  });
  assert.match(described, /^Name:\s+httpbin-egress-gateway$/m);
  assert.match(described, /Reason:\s+Accepted\n\s+Status:\s+True\n\s+Type:\s+Accepted/);

  // The automated deployment: a workload named <gateway>-istio.
  // Programmed follows the pod's readiness; the Deployment's own status is written just after it.
  await eventually('the Deployment shows 1/1 ready', async () => {
    const deploy = await mesh.ok(['get', 'deployment', 'httpbin-egress-gateway-istio', '-n', 'egress-gateway']);
    return /^httpbin-egress-gateway-istio\s+1\/1\s/m.test(deploy.stdout) ? true : undefined;
  });
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
  assert.match(gwIp, /^127\.\d+\.\d+\.\d+$/);

  // $ curl -v http://httpbin.org/get from a pod of egress-gateway
  const r = await mesh.ok(['exec', '-n', 'egress-gateway', '--', 'curl', '-sS', '-v', `http://${HTTPBIN_HOST}/get`]);
  const body = JSON.parse(r.stdout) as { url: string; headers: Record<string, string> };
  assert.equal(body.url, `http://${HTTPBIN_HOST}/get`);
  assert.match(r.stderr, /< HTTP\/1\.1 200 OK/);
  assert.equal(ext.seen[HTTPBIN_HOST]!.length, 1, 'httpbin.org got the request once');

  const last = (await mesh.ok(['logs', 'deployment/httpbin-egress-gateway-istio', '-n', 'egress-gateway', '--tail', '1'])).stdout;
  assert.match(last, /"GET \/get HTTP\/(1\.1|2)" 200 /);
  assert.match(last, / outbound\|80\|\|httpbin\.org /);
  assert.match(last, / egress-gateway\.forward-httpbin-from-egress-gateway\.0\n$/);
  const sidecarLast = (await mesh.ok(['logs', '-n', 'egress-gateway', '-c', 'istio-proxy', '--tail', '1'])).stdout;
  assert.match(sidecarLast, / outbound\|80\|\|httpbin-egress-gateway-istio\.egress-gateway\.svc\.cluster\.local /, 'the sidecar sent it to the gateway');
});
