// Inspecting a running mesh as a user would: `outpost analyze` (no -f) on what the mesh holds,
// `outpost proxy-config routes|clusters|listeners deployment/<gw>`, `outpost proxy-status`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { eventually } from '../../helpers/mesh.js';
import { CNN_HTTP_PORT, cnnGatewaySubset, cnnHttpVirtualService, cnnIstioGateway, cnnServiceEntry, startFlowMesh, startFlowWorld } from './flows-support.js';

const CNN = 'edition.cnn.com';

test('analyze, proxy-config and proxy-status on a running mesh with an egress gateway', async (t) => {
  const world = await startFlowWorld([{ name: CNN, http: [80] }]);
  t.after(() => world.close());
  const mesh = await startFlowMesh(t, world, { egressgw: [{ name: 'http', port: 80 }] });
  const egHttp = world.yaml(
    'eg-http.yaml',
    [
      cnnServiceEntry('apps', [CNN_HTTP_PORT]),
      cnnIstioGateway('http'),
      cnnGatewaySubset(),
      cnnHttpVirtualService({ forwardPort: 80, forwardName: 'forward-cnn' }),
      `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: bound-to-nothing
  namespace: apps
spec:
  hosts:
  - ${CNN}
  gateways:
  - gw-ns/no-such-gateway
  http:
  - route:
    - destination:
        host: ${CNN}
`,
    ].join('---\n'),
  );
  await mesh.ok(['apply', '-f', egHttp]);

  const through = await mesh.ok(['exec', '-n', 'apps', '--', 'curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', `http://${CNN}/`]);
  assert.equal(through.stdout, '200');
  assert.equal(world.seen[CNN]!.length, 1);

  const analyzed = await mesh.outpost(['analyze', '-n', 'apps']);
  assert.equal(analyzed.code, 1, 'an Error finding exits 1');
  assert.match(analyzed.stdout, /^Error \[IST0101\] \(VirtualService apps\/bound-to-nothing\) Referenced gateway not found: "gw-ns\/no-such-gateway"$/m);
  assert.doesNotMatch(analyzed.stdout, /direct-cnn-through-egress-gateway/);

  const routes = await mesh.ok(['proxy-config', 'routes', 'deployment/egressgw', '-n', 'gw-ns']);
  assert.match(routes.stdout, /^NAME\s+VHOST NAME\s+DOMAINS\s+MATCH\s+VIRTUAL SERVICE/m);
  assert.match(
    routes.stdout,
    /^http\.80\s+edition\.cnn\.com:80\s+edition\.cnn\.com(, edition\.cnn\.com:80)?\s+\/\*\s+direct-cnn-through-egress-gateway\.apps\s*$/m,
  );
  const clusters = await mesh.ok(['proxy-config', 'clusters', 'deployment/egressgw', '-n', 'gw-ns']);
  assert.match(clusters.stdout, /^edition\.cnn\.com\s+80\s+-\s+outbound\s+STRICT_DNS\s/m);
  const listeners = await mesh.ok(['proxy-config', 'listeners', 'deployment/egressgw', '-n', 'gw-ns']);
  // Each local workload has its own loopback address: the gateway listens on it (Istio: 0.0.0.0).
  const gwIp = (await mesh.ok(['get', 'pod', '-n', 'gw-ns', '-l', 'istio=egressgw', '-o', 'jsonpath={.items[0].status.podIP}'])).stdout;
  assert.match(listeners.stdout, new RegExp(`^${gwIp.replace(/\./g, '\\.')}\\s+80\\s+ALL\\s+Route: http\\.80\\s*$`, 'm'));

  // istioctl's usual target, an app pod: its traffic goes through the namespace's sidecar.
  await mesh.ok(['apply', '-n', 'apps', '-f', fileURLToPath(new URL('../../fixtures/seed/curl.yaml', import.meta.url))]);
  const curlPod = await eventually('the curl pod', async () => {
    const r = await mesh.ok(['get', 'pod', '-n', 'apps', '-l', 'app=curl', '-o', 'jsonpath={.items[0].metadata.name}']);
    return r.stdout ? r.stdout : undefined;
  });
  for (const target of [[curlPod, '-n', 'apps'], [`${curlPod}.apps`], ['deployment/curl', '-n', 'apps']]) {
    const sc = await mesh.ok(['proxy-config', 'clusters', ...target]);
    assert.match(sc.stdout, /^egressgw\.gw-ns\.svc\.cluster\.local\s+80\s+cnn\s+outbound\s/m, target.join(' '));
  }
  const typo = await mesh.outpost(['proxy-config', 'clusters', 'no-such-pod', '-n', 'apps']);
  assert.equal(typo.code, 1);
  assert.match(typo.stderr, /no proxy "no-such-pod" in namespace apps/);

  const status = await eventually('every proxy SYNCED', async () => {
    const r = await mesh.ok(['proxy-status']);
    const rows = r.stdout.trimEnd().split('\n').slice(1);
    return rows.length >= 2 && rows.every((l) => /\sSYNCED\s+SYNCED\s+SYNCED\s+SYNCED\s/.test(l)) ? r.stdout : undefined;
  });
  assert.match(status.split('\n')[0]!, /^NAME\s+CLUSTER\s+CDS\s+LDS\s+EDS\s+RDS\s+ISTIOD\s+VERSION$/);
  assert.match(status, /^egressgw-[a-z0-9]+-[a-z0-9]+\.gw-ns\s+Kubernetes\s+SYNCED/m);
  assert.match(status, /\.apps\s+Kubernetes\s+SYNCED/m);

  // Cleanup as the tutorials do it: files that share an object (the ServiceEntry) delete it once.
  const shared = world.yaml('se-again.yaml', cnnServiceEntry('apps', [CNN_HTTP_PORT]));
  const deleted = await mesh.ok(['delete', '-f', egHttp, '-f', shared]);
  assert.equal(deleted.stdout.match(/^serviceentry\.networking\.istio\.io "cnn" deleted$/gm)?.length, 1, deleted.stdout);
  assert.match(deleted.stdout, /^virtualservice\.networking\.istio\.io "bound-to-nothing" deleted$/m);
  const again = await mesh.outpost(['delete', '-f', shared]);
  assert.equal(again.code, 1);
  assert.equal(again.stderr, 'Error from server (NotFound): serviceentries.networking.istio.io "cnn" not found\n');
});
