// The real kubectl (v1.32) against outpost's API: discovery, apply (client- and server-side),
// get/describe/explain, label/annotate/patch/edit, conflicts, 422s, wait, get -w, logs, delete.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { KUBECTL, kubectl, startTestApi } from './apiserver-helpers.js';

const skip = KUBECTL ? false : 'kubectl is not installed (looked in /usr/bin and /usr/local/bin)';

const SE_YAML = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: egress-se
  namespace: default
spec:
  hosts:
  - docs.redhat.com
  ports:
  - number: 80
    name: http-port
    protocol: HTTP
  location: MESH_EXTERNAL
  resolution: DNS
`;

const GW_YAML = `apiVersion: v1
kind: Namespace
metadata:
  name: egress-gateway
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: egress-gw
  namespace: egress-gateway
spec:
  gatewayClassName: istio
  listeners:
  - name: http
    hostname: docs.redhat.com
    port: 80
    protocol: HTTP
    allowedRoutes:
      namespaces:
        from: All
`;

const GW = { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'egress-gateway', name: 'egress-gw' };
const SE = { group: 'networking.istio.io', kind: 'ServiceEntry', namespace: 'default', name: 'egress-se' };

test('kubectl: discovery, apply, get, explain, invalid documents and conflicts', { skip }, async (t) => {
  const api = await startTestApi(t);
  const file = join(api.dir, 'se.yaml');
  writeFileSync(file, SE_YAML);
  const ns = await kubectl(api, ['get', 'ns']);
  assert.equal(ns.code, 0, ns.stderr);
  assert.match(ns.stdout, /^NAME\s+STATUS\s+AGE\ndefault\s+Active\s+\d+s\n$/);
  // `create namespace` sends protobuf (kubectl's typed client).
  assert.equal((await kubectl(api, ['create', 'namespace', 'curl'])).stdout, 'namespace/curl created\n');
  assert.equal((await kubectl(api, ['label', 'namespace', 'curl', 'istio-injection=enabled'])).stdout, 'namespace/curl labeled\n');
  assert.deepEqual(api.store.get({ group: '', kind: 'Namespace', name: 'curl' })!.metadata.labels, { 'istio-injection': 'enabled' });
  const resources = await kubectl(api, ['api-resources']);
  assert.match(resources.stdout, /serviceentries\s+se\s+networking\.istio\.io\/v1\s+true\s+ServiceEntry/);
  assert.match(resources.stdout, /istiorevisions\s+istiorev\s+sailoperator\.io\/v1\s+false\s+IstioRevision/);
  const cats = await kubectl(api, ['api-resources', '--categories=gateway-api', '-o', 'name']);
  assert.ok(cats.stdout.split('\n').includes('httproutes.gateway.networking.k8s.io'), cats.stdout);

  assert.deepEqual(await kubectl(api, ['apply', '-f', file]), { code: 0, stdout: 'serviceentry.networking.istio.io/egress-se created\n', stderr: '' });
  assert.equal((await kubectl(api, ['apply', '-f', file])).stdout, 'serviceentry.networking.istio.io/egress-se unchanged\n');
  const get = await kubectl(api, ['get', 'se']);
  assert.match(get.stdout, /^NAME\s+HOSTS\s+LOCATION\s+RESOLUTION\s+AGE\negress-se\s+\["docs\.redhat\.com"\]\s+MESH_EXTERNAL\s+DNS\s+\d+s\n$/);
  const jp = await kubectl(api, ['get', 'serviceentries.networking.istio.io', 'egress-se', '-o', 'jsonpath={.spec.hosts[0]} {.metadata.generation}']);
  assert.equal(jp.stdout, 'docs.redhat.com 1');
  const yaml = await kubectl(api, ['get', 'se', 'egress-se', '-o', 'yaml']);
  assert.match(yaml.stdout, /kubectl\.kubernetes\.io\/last-applied-configuration/);
  const explain = await kubectl(api, ['explain', 'se.spec.resolution']);
  assert.equal(explain.code, 0, explain.stderr);
  assert.match(explain.stdout, /FIELD: resolution <string>\nENUM:\n\s+NONE\n\s+STATIC\n\s+DNS\n/);

  // An invalid document: kubectl shows the field, and nothing is applied.
  const bad = join(api.dir, 'bad.yaml');
  writeFileSync(bad, SE_YAML.replace('egress-se', 'bad-se').replace('resolution: DNS', 'resolution: DNZ'));
  const invalid = await kubectl(api, ['apply', '-f', bad]);
  assert.equal(invalid.code, 1);
  assert.match(invalid.stderr, /The ServiceEntry "bad-se" is invalid: spec\.resolution: Unsupported value: "DNZ": supported values: "NONE", "STATIC", "DNS"/);
  assert.equal(api.store.get({ ...SE, name: 'bad-se' }), undefined);
  const missing = await kubectl(api, ['get', 'se', 'bad-se']);
  assert.equal(missing.stderr, 'Error from server (NotFound): serviceentries.networking.istio.io "bad-se" not found\n');
  const patchInvalid = await kubectl(api, ['patch', 'se', 'egress-se', '--type=merge', '-p', '{"spec":{"resolution":"DNZ"}}']);
  assert.match(patchInvalid.stderr, /The ServiceEntry "egress-se" is invalid: spec\.resolution: Unsupported value: "DNZ"/);

  // A write with a stale resourceVersion is a conflict.
  const stale = join(api.dir, 'stale.yaml');
  writeFileSync(stale, (await kubectl(api, ['get', 'se', 'egress-se', '-o', 'yaml'])).stdout);
  assert.equal((await kubectl(api, ['label', 'se', 'egress-se', 'app=egress'])).stdout, 'serviceentry.networking.istio.io/egress-se labeled\n');
  const conflict = await kubectl(api, ['replace', '-f', stale]);
  assert.equal(conflict.code, 1);
  assert.match(
    conflict.stderr,
    /Error from server \(Conflict\): error when replacing ".*stale\.yaml": Operation cannot be fulfilled on serviceentries\.networking\.istio\.io "egress-se": the object has been modified; please apply your changes to the latest version and try again/,
  );
  assert.deepEqual(api.store.get(SE)!.metadata.labels, { app: 'egress' });
});

test('kubectl: label, annotate, patch, edit, server-side apply, delete', { skip }, async (t) => {
  const api = await startTestApi(t);
  const file = join(api.dir, 'se.yaml');
  writeFileSync(file, SE_YAML);
  assert.equal((await kubectl(api, ['create', '-f', file])).stdout, 'serviceentry.networking.istio.io/egress-se created\n');
  assert.equal((await kubectl(api, ['annotate', 'se', 'egress-se', 'owner=team-a'])).stdout, 'serviceentry.networking.istio.io/egress-se annotated\n');
  assert.equal((await kubectl(api, ['label', 'se', 'egress-se', 'tier=edge'])).code, 0);
  const selected = await kubectl(api, ['get', 'se', '-l', 'tier in (edge,core)', '-o', 'name']);
  assert.equal(selected.stdout, 'serviceentry.networking.istio.io/egress-se\n');
  assert.equal((await kubectl(api, ['get', 'se', '-l', '!tier', '-o', 'name'])).stdout, '');
  assert.equal(
    (await kubectl(api, ['patch', 'se', 'egress-se', '--type=merge', '-p', '{"spec":{"resolution":"NONE"}}'])).stdout,
    'serviceentry.networking.istio.io/egress-se patched\n',
  );
  assert.equal(
    (await kubectl(api, ['patch', 'se', 'egress-se', '--type=json', '-p', '[{"op":"add","path":"/spec/hosts/-","value":"www.redhat.com"}]'])).code,
    0,
  );
  assert.equal(
    (await kubectl(api, ['patch', 'se', 'egress-se', '-p', '{"spec":{"location":"MESH_INTERNAL"}}'])).code,
    0,
    'strategic (the default) is treated as merge',
  );
  let obj = api.store.get(SE)!;
  assert.deepEqual(obj.spec, {
    hosts: ['docs.redhat.com', 'www.redhat.com'],
    ports: [{ number: 80, name: 'http-port', protocol: 'HTTP' }],
    location: 'MESH_INTERNAL',
    resolution: 'NONE',
  });
  assert.equal(obj.metadata.generation, 4);
  assert.deepEqual(obj.metadata.annotations, { owner: 'team-a' });
  const edit = await kubectl(api, ['edit', 'se', 'egress-se'], undefined, { EDITOR: 'sed -i s/www.redhat.com/edited.redhat.com/', KUBE_EDITOR: '' });
  assert.equal(edit.stdout, 'serviceentry.networking.istio.io/egress-se edited\n', edit.stderr);
  assert.deepEqual((api.store.get(SE)!.spec as { hosts: string[] }).hosts, ['docs.redhat.com', 'edited.redhat.com']);
  // Server-side apply with a field manager.
  const ssaFile = join(api.dir, 'ssa.yaml');
  writeFileSync(ssaFile, SE_YAML.replace('egress-se', 'ssa-se'));
  assert.equal((await kubectl(api, ['apply', '--server-side', '-f', ssaFile])).stdout, 'serviceentry.networking.istio.io/ssa-se serverside-applied\n');
  writeFileSync(ssaFile, SE_YAML.replace('egress-se', 'ssa-se').replace('resolution: DNS', 'resolution: NONE'));
  assert.equal((await kubectl(api, ['apply', '--server-side', '--field-manager=team-b', '-f', ssaFile])).code, 0);
  obj = api.store.get({ ...SE, name: 'ssa-se' })!;
  assert.equal((obj.spec as { resolution: string }).resolution, 'NONE');
  const managers = (obj.metadata.managedFields as { manager: string; operation: string }[]).map((m) => `${m.manager}/${m.operation}`);
  assert.ok(managers.includes('kubectl/Apply') && managers.includes('team-b/Apply'), managers.join(' '));
  const del = await kubectl(api, ['delete', 'se', 'egress-se', 'ssa-se']);
  assert.equal(del.stdout, 'serviceentry.networking.istio.io "egress-se" deleted\nserviceentry.networking.istio.io "ssa-se" deleted\n', del.stderr);
  assert.equal(api.store.list({ group: 'networking.istio.io', kind: 'ServiceEntry' }).items.length, 0);
});

test('kubectl: get -w and wait see a status change; describe shows conditions and events; logs', { skip }, async (t) => {
  const logLines = [
    '[2025-01-01T00:00:00.000Z] "GET / HTTP/1.1" 301 - via_upstream - "-" 0 0 10 9 "-" "curl/8.5.0" "x" "docs.redhat.com" "1.2.3.4:80" outbound|80||docs.redhat.com 127.0.0.5:1234 127.0.0.5:80 127.0.0.6:5678 - -',
  ];
  const api = await startTestApi(t, { logsFor: (ns, pod) => (ns === 'egress-gateway' && pod === 'egress-gw-istio-0' ? logLines : undefined) });
  const file = join(api.dir, 'gw.yaml');
  writeFileSync(file, GW_YAML);
  assert.equal((await kubectl(api, ['apply', '-f', file])).stdout, 'namespace/egress-gateway created\ngateway.gateway.networking.k8s.io/egress-gw created\n');

  // `get -w` prints the table, then a row per change.
  const watcher = spawn(KUBECTL!, ['--kubeconfig', api.kubeconfig, 'get', 'gateway', '-n', 'egress-gateway', '-w'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => {
    if (watcher.exitCode === null) watcher.kill();
  });
  let watched = '';
  let onData: () => void = () => {};
  watcher.stdout.on('data', (d) => {
    watched += String(d);
    onData();
  });
  const until = (re: RegExp) =>
    new Promise<void>((resolve) => {
      onData = () => {
        if (re.test(watched)) resolve();
      };
      onData();
    });
  await until(/egress-gw\s+istio\s+\d+s\n/);
  const wait = kubectl(api, ['wait', '--for=condition=Programmed', 'gateway/egress-gw', '-n', 'egress-gateway', '--timeout=20s']);
  const gw = api.store.get(GW)!;
  api.store.updateStatus(GW, {
    addresses: [{ type: 'IPAddress', value: '127.0.0.9' }],
    conditions: [
      { type: 'Accepted', status: 'True', reason: 'Accepted', message: 'Resource accepted', observedGeneration: 1, lastTransitionTime: '2025-01-01T00:00:00Z' },
      {
        type: 'Programmed',
        status: 'True',
        reason: 'Programmed',
        message: 'Resource programmed, assigned to service(s) egress-gw-istio.egress-gateway.svc.cluster.local:80',
        observedGeneration: 1,
        lastTransitionTime: '2025-01-01T00:00:00Z',
      },
    ],
  });
  await until(/egress-gw\s+istio\s+127\.0\.0\.9\s+True\s+\d+s\n/);
  watcher.kill();
  assert.match(watched, /^NAME\s+CLASS\s+ADDRESS\s+PROGRAMMED\s+AGE\n/);
  assert.equal(watched.match(/NAME/g)!.length, 1, 'one header');
  const waited = await wait;
  assert.equal(waited.stdout, 'gateway.gateway.networking.k8s.io/egress-gw condition met\n', waited.stderr);

  // Events written by the control plane (through the store) show in describe.
  api.store.create({
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: 'egress-gw.1', namespace: 'egress-gateway' },
    involvedObject: { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', name: 'egress-gw', namespace: 'egress-gateway', uid: gw.metadata.uid },
    reason: 'Programmed',
    message: 'deployed egress-gw-istio',
    type: 'Normal',
    source: { component: 'outpost' },
    firstTimestamp: new Date().toISOString(),
    lastTimestamp: new Date().toISOString(),
    count: 1,
  });
  const describe = await kubectl(api, ['describe', 'gateway', '-n', 'egress-gateway']);
  assert.equal(describe.code, 0, describe.stderr);
  assert.match(
    describe.stdout,
    /Message:\s+Resource programmed, assigned to service\(s\) egress-gw-istio\.egress-gateway\.svc\.cluster\.local:80\n\s+Observed Generation:\s+1\n\s+Reason:\s+Programmed\n\s+Status:\s+True\n\s+Type:\s+Programmed/,
  );
  assert.match(describe.stdout, /Events:\n\s+Type\s+Reason\s+Age\s+From\s+Message\n.*\n\s+Normal\s+Programmed\s+\S+\s+outpost\s+deployed egress-gw-istio/);

  // logs deployment/NAME: the deployment's selector picks the pod, the pod's log comes from logsFor.
  const owner = [{ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', name: 'egress-gw', uid: gw.metadata.uid!, controller: true }];
  const labels = { 'gateway.networking.k8s.io/gateway-name': 'egress-gw' };
  api.store.create({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'egress-gw-istio', namespace: 'egress-gateway', labels, ownerReferences: owner },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { containers: [{ name: 'istio-proxy', image: 'outpost' }] } },
    },
  });
  api.store.create({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'egress-gw-istio-0', namespace: 'egress-gateway', labels, ownerReferences: owner },
    spec: { containers: [{ name: 'istio-proxy', image: 'outpost' }] },
    status: { phase: 'Running' },
  });
  const logs = await kubectl(api, ['logs', 'deployment/egress-gw-istio', '-n', 'egress-gateway']);
  assert.equal(logs.stdout, `${logLines[0]}\n`, logs.stderr);
  const pods = await kubectl(api, ['get', 'pods', '-n', 'egress-gateway']);
  assert.match(pods.stdout, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\negress-gw-istio-0\s+0\/1\s+Running\s+0\s+\d+s\n$/);
  // Deleting the Gateway takes what it owns along.
  assert.equal(
    (await kubectl(api, ['delete', 'gateway', 'egress-gw', '-n', 'egress-gateway'])).stdout,
    'gateway.gateway.networking.k8s.io "egress-gw" deleted\n',
  );
  assert.equal((await kubectl(api, ['get', 'deploy,pods', '-n', 'egress-gateway'])).stderr, 'No resources found in egress-gateway namespace.\n');
});
