// The local mesh's life: not running → clear message; up -d; a second up refuses; down then up
// keeps every resource and status; down stops every process.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { eventually, startTestMesh } from '../../helpers/mesh.js';

const GATEWAY = `apiVersion: v1
kind: Namespace
metadata:
  name: gw-ns
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: egressgw
  namespace: gw-ns
spec:
  selector:
    matchLabels:
      istio: egressgw
  template:
    metadata:
      annotations:
        inject.istio.io/templates: gateway
      labels:
        istio: egressgw
        sidecar.istio.io/inject: "true"
    spec:
      containers:
      - name: istio-proxy
        image: auto
---
apiVersion: v1
kind: Service
metadata:
  name: egressgw
  namespace: gw-ns
spec:
  selector:
    istio: egressgw
  ports:
  - name: http
    port: 80
    targetPort: 80
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: egress-se
  namespace: gw-ns
spec:
  hosts: [docs.redhat.com]
  ports:
  - number: 80
    name: http-port
    protocol: HTTP
  location: MESH_EXTERNAL
  resolution: DNS
`;

test('a mesh that is not running says so, for every verb that needs it', async (t) => {
  const mesh = await startTestMesh(t, { noStart: true });
  for (const args of [
    ['get', 'pods'],
    ['apply', '-f', '/dev/null'],
    ['logs', 'deployment/x'],
    ['proxy-config', 'clusters', 'x'],
    ['exec', '--', 'true'],
  ]) {
    const r = await mesh.outpost(args);
    if (args[0] === 'apply') continue; // an empty file is refused before the mesh is asked
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^outpost: the mesh is not running \(state dir .+\)\. Start it with `outpost up -d`\.$/m);
  }
});

test('up -d, a second up refuses, down then up keeps resources and status', async (t) => {
  const mesh = await startTestMesh(t);
  const api = JSON.parse(readFileSync(join(mesh.stateDir, 'api.json'), 'utf8')) as { url: string; pid: number };
  assert.match(api.url, /^http:\/\/127\./);
  assert.ok(existsSync(join(mesh.stateDir, 'kubeconfig')));

  const second = await mesh.outpost(['up', '-d']);
  assert.equal(second.code, 1);
  assert.match(second.stderr, /already running/);

  const dir = mkdtempSync(join(tmpdir(), 'outpost-yaml-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'gw.yaml'), GATEWAY);
  await mesh.ok(['apply', '-f', join(dir, 'gw.yaml')]);
  await eventually('the gateway pod is ready', async () => {
    const r = await mesh.ok(['get', 'deployment', 'egressgw', '-n', 'gw-ns']);
    return /^egressgw\s+1\/1\s/m.test(r.stdout) ? true : undefined;
  });
  const before = JSON.parse((await mesh.ok(['get', 'serviceentries', '-n', 'gw-ns', 'egress-se', '-o', 'json'])).stdout) as {
    metadata: { uid: string; resourceVersion: string };
  };
  const podIpBefore = (await mesh.ok(['get', 'pod', '-n', 'gw-ns', '-l', 'istio=egressgw', '-o', 'jsonpath={.items[0].status.podIP}'])).stdout;
  const revBefore = (await mesh.ok(['get', 'istiorevisions', 'default', '-o', 'jsonpath={.status.state}'])).stdout;

  const down = await mesh.down();
  assert.equal(down.code, 0, down.stderr);
  assert.ok(!existsSync(join(mesh.stateDir, 'api.json')), 'down removes api.json');
  const after = await mesh.outpost(['get', 'pods', '-A']);
  assert.equal(after.code, 1);

  await mesh.up();
  const again = JSON.parse((await mesh.ok(['get', 'serviceentries', '-n', 'gw-ns', 'egress-se', '-o', 'json'])).stdout) as { metadata: { uid: string } };
  assert.equal(again.metadata.uid, before.metadata.uid, 'the same object, not a new one');
  const ready = await mesh.ok(['get', 'deployment', 'egressgw', '-n', 'gw-ns']);
  assert.match(ready.stdout, /^egressgw\s+1\/1\s/m, 'up -d returns once the gateway is ready again');
  const podIpAfter = (await mesh.ok(['get', 'pod', '-n', 'gw-ns', '-l', 'istio=egressgw', '-o', 'jsonpath={.items[0].status.podIP}'])).stdout;
  assert.equal(podIpAfter, podIpBefore, 'a workload keeps its address');
  assert.equal((await mesh.ok(['get', 'istiorevisions', 'default', '-o', 'jsonpath={.status.state}'])).stdout, revBefore);
});
