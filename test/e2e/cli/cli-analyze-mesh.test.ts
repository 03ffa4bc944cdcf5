// `outpost analyze` against a running mesh as istioctl analyze works against a cluster: files are
// analyzed together with the mesh's resources (a file's object replaces the live one of the same
// name), `--use-kube=false` analyzes the files alone, and without -A only one namespace is reported.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startTestMesh } from '../../helpers/mesh.js';

const SEED = 'test/fixtures/seed';

test('analyze -f with the running mesh, --use-kube=false, and the namespace filter with its hint', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-analyze-mesh-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const hosts = join(dir, 'hosts');
  writeFileSync(hosts, '127.0.0.1 localhost\n');
  const mesh = await startTestMesh(t, { hostsFile: hosts });
  // The mesh holds the namespaces, the egress gateway's Deployment and Service, and the ServiceEntry.
  await mesh.ok(['apply', '-f', `${SEED}/namespaces.yaml`, '-f', `${SEED}/egressgw.yaml`, '-f', `${SEED}/http-se.yaml`]);
  const files = ['-f', `${SEED}/http-gtw.yaml`, '-f', `${SEED}/http-vs.yaml`];

  // Together with the mesh: the Gateway's workload and the routes' hosts are found.
  const together = await mesh.outpost(['analyze', '-A', ...files]);
  assert.equal(together.stdout, '', together.stderr);
  assert.equal(together.code, 0);
  assert.equal(together.stderr, `\u2714 No validation issues found when analyzing:\n  - ${SEED}/http-gtw.yaml\n  - ${SEED}/http-vs.yaml\n`);

  // The files alone: nothing selects the Gateway, and the gateway Service is unknown.
  const alone = await mesh.outpost(['analyze', '-A', '--use-kube=false', ...files]);
  assert.equal(alone.code, 1);
  assert.match(
    alone.stdout,
    new RegExp(`^Error \\[IST0101\\] \\(Gateway gw-ns/egress-gw ${SEED}/http-gtw.yaml:7\\) Referenced selector not found: "istio=egressgw"$`, 'm'),
  );
  assert.match(
    alone.stdout,
    new RegExp(
      `^Error \\[IST0101\\] \\(VirtualService curl/egress-vs ${SEED}/http-vs.yaml:19\\) Referenced host not found: "egressgw.gw-ns.svc.cluster.local"$`,
      'm',
    ),
  );
  assert.match(
    alone.stdout,
    new RegExp(`^Error \\[IST0101\\] \\(VirtualService curl/egress-vs ${SEED}/http-vs.yaml:30\\) Referenced host not found: "docs.redhat.com"$`, 'm'),
  );

  // A file replaces the live object of the same kind, namespace and name: the live Gateway is
  // fine, the file's version of it selects nothing.
  await mesh.ok(['apply', '-f', `${SEED}/http-gtw.yaml`, '-f', `${SEED}/http-vs.yaml`]);
  const live = await mesh.outpost(['analyze', '-A']);
  assert.equal(live.stdout, '', live.stderr);
  assert.equal(live.stderr, '\u2714 No validation issues found when analyzing all namespaces.\n');
  const renamed = join(dir, 'gw.yaml');
  writeFileSync(
    renamed,
    `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: egress-gw
  namespace: gw-ns
spec:
  selector:
    istio: no-such-gateway
  servers:
  - port:
      number: 80
      name: http
      protocol: HTTP
    hosts:
    - docs.redhat.com
`,
  );
  const overridden = await mesh.outpost(['analyze', '-n', 'gw-ns', '-f', renamed]);
  assert.equal(overridden.code, 1);
  assert.equal(overridden.stdout, `Error [IST0101] (Gateway gw-ns/egress-gw ${renamed}:7) Referenced selector not found: "istio=no-such-gateway"\n`);
  assert.equal(overridden.stderr, '');

  // Without -A, one namespace (default, or -n) is reported, and the others' findings are announced.
  await mesh.ok(['apply', '-f', '-'], {
    input: `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: bound-to-nothing
  namespace: curl
spec:
  hosts:
  - docs.redhat.com
  gateways:
  - gw-ns/no-such-gateway
  http:
  - route:
    - destination:
        host: docs.redhat.com
`,
  });
  const defaultNs = await mesh.outpost(['analyze']);
  assert.equal(defaultNs.code, 0, 'findings elsewhere do not fail the analysis of namespace default');
  assert.equal(defaultNs.stdout, '');
  assert.equal(
    defaultNs.stderr,
    '\u2714 No validation issues found when analyzing namespace: default.\nNote: 2 more findings in other namespaces (curl); use -A (--all-namespaces) to show them.\n',
  );
  const curlNs = await mesh.outpost(['analyze', '-n', 'curl']);
  assert.equal(curlNs.code, 1);
  assert.equal(
    curlNs.stdout,
    [
      'Error [IST0101] (VirtualService curl/bound-to-nothing) Referenced gateway not found: "gw-ns/no-such-gateway"',
      'Warning [IST0132] (VirtualService curl/bound-to-nothing) one or more host [docs.redhat.com] defined in VirtualService curl/bound-to-nothing not found in Gateway gw-ns/no-such-gateway.',
      '',
    ].join('\n'),
  );
  assert.equal(curlNs.stderr, '');
  const everywhere = await mesh.outpost(['analyze', '-A', '-o', 'json']);
  assert.equal(everywhere.code, 1);
  assert.deepEqual(
    (JSON.parse(everywhere.stdout) as Array<{ code: string }>).map((f) => f.code),
    ['IST0101', 'IST0132'],
  );
});
