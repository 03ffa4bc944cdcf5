// NetworkPolicy enforced in each pod's network namespace (netns model, inside a network namespace
// the test makes). Egress: the policies people write on OpenShift (default-deny egress in `curl`;
// allow DNS, istio-system and the gateway's namespace; the gateway's namespace may reach the
// outside) keep the seed's request working through the egress gateway while direct egress from
// the curl pod (curl --noproxy, raw TCP, UDP) is blocked. Ingress: by namespace and pod selector,
// named port, ipBlock with except, namespace labels changing, and a policy change that leaves an
// established allowed connection alone.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { eventually, startTestMesh } from '../../helpers/mesh.js';
import { makeTestNetns, netnsSkipReason, startNetnsMesh } from '../../helpers/netns.js';
import {
  deploymentYaml,
  OPENSHIFT_EGRESS_POLICIES,
  OPENSHIFT_EGRESS_POLICY_NAMES,
  podOf,
  policyEnforced,
  RESOLVE_VIA,
  TCP_CONNECT,
  UDP_SEND,
} from '../../helpers/pods.js';

const skip = netnsSkipReason();
const NODE = JSON.stringify(process.execPath);

test('OpenShift-style egress policies: the seed passes through the gateway, direct egress from the curl pod does not', { skip }, async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'outpost-netpol-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  const { ext, mesh } = await startNetnsMesh(t, { upArgs: ['--example'] });
  const curl = await podOf(mesh, 'curl', 'curl');
  const gw = await podOf(mesh, 'gw-ns', 'egressgw', 'istio');
  const inCurl = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => mesh.outpost(['exec', curl.name, '-n', 'curl', '--', ...args]);

  // Without policies, as on Kubernetes: the curl pod reaches the outside directly. (By address: the
  // name httpbin.org is a ServiceEntry host, so capture sends it through the sidecar and the gateway;
  // an address no ServiceEntry names passes through the sidecar straight out, from the pod's address.)
  const direct = ['curl', '-sS', '-f', '--max-time', '10', '--noproxy', '*', `http://${ext.address}/get`];
  const before = await inCurl(direct);
  assert.equal(before.code, 0, before.stderr);
  assert.equal((JSON.parse(before.stdout) as { origin: string }).origin, curl.ip);
  assert.match((await inCurl(UDP_SEND(ext.address, 9999))).stdout, /^udp sent$/m);

  const policies = join(tmp, 'policies.yaml');
  writeFileSync(policies, OPENSHIFT_EGRESS_POLICIES);
  const applied = await mesh.ok(['apply', '-f', policies]);
  assert.match(applied.stdout, /^networkpolicy\.networking\.k8s\.io\/default-deny-egress created$/m);
  const listed = (await mesh.ok(['get', 'netpol', '-n', 'curl'])).stdout.split('\n');
  assert.deepEqual(listed[0]!.split(/\s+/), ['NAME', 'POD-SELECTOR', 'AGE']);
  assert.match(listed.join('\n'), /^allow-dns\s+<none>\s+\S+$/m);
  for (const [ns, name] of OPENSHIFT_EGRESS_POLICY_NAMES) await policyEnforced(mesh, ns, name);
  const seen = ext.seen.length;

  // The seed's request: the curl pod's sidecar → the gateway pod → httpbin.org, logged at the gateway.
  const res = await inCurl(['curl', '-sS', '--max-time', '10', 'http://httpbin.org/get']);
  assert.equal(res.code, 0, res.stderr);
  const body = JSON.parse(res.stdout) as { headers: Record<string, string>; origin: string };
  assert.equal(body.headers['Host'], 'httpbin.org');
  assert.equal(body.origin, gw.ip, 'it left through the gateway pod');
  assert.equal(ext.seen.length, seen + 1);
  await eventually('the gateway logged it', async () => {
    const r = await mesh.ok(['logs', 'deployment/egressgw', '-n', 'gw-ns', '--tail', '3']);
    return r.stdout.includes(`${curl.ip}:`) && r.stdout.includes('"GET /get HTTP/') ? true : undefined;
  });

  // Capture alone gives the seed's result too: the name resolves through the sidecar's DNS proxy
  // (its query onwards goes to kube-dns, allowed by allow-dns), and the connection to the VIP is the
  // sidecar's, on to the gateway pod.
  const captured = await inCurl(['curl', '-sS', '--max-time', '10', '--noproxy', '*', 'http://httpbin.org/get']);
  assert.equal(captured.code, 0, captured.stderr);
  assert.equal((JSON.parse(captured.stdout) as { origin: string }).origin, gw.ip, 'captured, it left through the gateway pod');
  const reached = seen + 2;

  // Direct egress from the curl pod: refused at its own eth0 (the sidecar's passthrough connection
  // to an address no ServiceEntry names, and a port capture leaves alone under ALLOW_ANY).
  // The request made before the policies left the sidecar a kept-alive passthrough connection to
  // the stand-in: established, so conntrack keeps it (as Kubernetes keeps established connections).
  // It ends when the stand-in's keep-alive timeout closes it; only then is a request a new connection.
  await eventually(
    "the sidecar's passthrough connection from before the policies closed",
    async () =>
      execFileSync('ip', ['netns', 'exec', curl.netns, 'ss', '-Htn', 'state', 'established', 'dst', `${ext.address}:80`])
        .toString()
        .trim() === ''
        ? true
        : undefined,
    200,
  );
  const noproxy = await inCurl(direct);
  assert.notEqual(noproxy.code, 0, `direct egress got through: ${noproxy.stdout}`);
  assert.match((await inCurl(TCP_CONNECT(ext.address, 4444))).stdout, /^tcp ECONNREFUSED$/m);
  assert.match((await inCurl(UDP_SEND(ext.address, 9999))).stdout, /^udp EPERM$/m);
  // A resolver other than the cluster DNS: capture sends every DNS query to the sidecar, which
  // answers it (httpbin.org: its VIP); nothing goes to the other address.
  assert.match((await inCurl(RESOLVE_VIA(ext.address, 'httpbin.org'))).stdout, /^answer 240\.240\.\d+\.\d+$/m);
  assert.equal(ext.seen.length, reached, 'nothing else reached httpbin.org');
  // Names still resolve (allow-dns): the query is redirected to the sidecar's DNS proxy, which
  // answers a mesh Service itself, and forwards other names to the cluster DNS.
  assert.match((await inCurl(['getent', 'hosts', 'egressgw.gw-ns.svc.cluster.local'])).stdout, /^198\.19\.\d+\.\d+\s/m);

  // The rules are in the pod's own table; describe says what each policy allows.
  const described = (await mesh.ok(['describe', 'netpol', 'allow-dns', '-n', 'curl'])).stdout;
  assert.match(described, /^ {4}To Port: 53\/UDP$/m);
  assert.match(described, /^ {6}NamespaceSelector: kubernetes\.io\/metadata\.name=kube-system$/m);
  assert.match(described, /^ {2}Policy Types: Egress$/m);

  // Deleting the default-deny policies but not the allows: still isolated (any policy selecting the pod isolates it).
  await mesh.ok(['delete', 'netpol', 'default-deny-egress', '-n', 'curl']);
  const still = await inCurl(direct);
  assert.notEqual(still.code, 0);
  // No policy left in curl: the pod allows everything again.
  await mesh.ok(['delete', 'netpol', 'allow-dns', 'allow-istio-system-and-egress-gateway', '-n', 'curl']);
  const open = await eventually('direct egress allowed again', async () => {
    const r = await inCurl(direct);
    return r.code === 0 ? r.stdout : undefined;
  });
  assert.equal((JSON.parse(open) as { origin: string }).origin, curl.ip);
});

function apps(): string {
  const web = JSON.stringify(
    "const h = require('http').createServer((q, s) => s.end('web ' + q.url + '\\n')); h.keepAliveTimeout = 0; h.listen(8080); require('net').createServer((c) => { c.on('error', () => {}); c.end('metrics\\n'); }).listen(9000, () => console.log('up'))",
  );
  return `apiVersion: v1
kind: Namespace
metadata: {name: apps}
---
apiVersion: v1
kind: Namespace
metadata: {name: other}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: apps}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
${deploymentYaml(
  'apps',
  'web',
  `      - name: web
        image: ignored
        command: [${NODE}, "-e", ${web}]
        ports: [{name: http, containerPort: 8080}, {name: metrics, containerPort: 9000}]
        readinessProbe: {tcpSocket: {port: 9000}, periodSeconds: 1}`,
)}${deploymentYaml('apps', 'client', '      - {name: c, image: ignored, command: [sleep, infinity]}')}${deploymentYaml('other', 'client', '      - {name: c, image: ignored, command: [sleep, infinity]}')}`;
}

test('ingress policies: namespace and pod selectors, named ports, ipBlock except, label changes, established connections kept', { skip }, async (t) => {
  const node = makeTestNetns();
  const tmp = mkdtempSync(join(tmpdir(), 'outpost-netpol-'));
  const mesh = await startTestMesh(t, { netns: node.name, noStart: true });
  t.after(() => {
    node.remove();
    rmSync(tmp, { recursive: true, force: true });
  });
  await mesh.up();
  const yaml = join(tmp, 'apps.yaml');
  writeFileSync(yaml, apps());
  await mesh.ok(['apply', '-f', yaml]);
  const web = await podOf(mesh, 'apps', 'web');
  const local = await podOf(mesh, 'apps', 'client');
  const remote = await podOf(mesh, 'other', 'client');
  const from = (pod: { name: string }, ns: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    mesh.outpost(['exec', pod.name, '-n', ns, '--', ...args]);
  const reach = async (pod: { name: string }, ns: string, port: number, host = web.ip): Promise<string> =>
    (await from(pod, ns, TCP_CONNECT(host, port))).stdout.trim();
  assert.equal(await reach(local, 'apps', 8080), 'tcp connected');
  assert.equal(await reach(remote, 'other', 9000), 'tcp connected');
  // The Service's cluster IP (DNATed by the node) and its EndpointSlice.
  const vip = (await mesh.ok(['get', 'svc', 'web', '-n', 'apps', '-o', 'jsonpath={.spec.clusterIP}'])).stdout;
  assert.equal(await reach(local, 'apps', 80, vip), 'tcp connected');
  const slices = await eventually("the web Service's EndpointSlice", async () => {
    const r = await mesh.ok(['get', 'endpointslices', '-n', 'apps', '-l', 'kubernetes.io/service-name=web']);
    return r.stdout.includes(web.ip) ? r.stdout : undefined;
  });
  assert.match(
    slices,
    new RegExp(`^NAME\\s+ADDRESSTYPE\\s+PORTS\\s+ENDPOINTS\\s+AGE\\nweb-\\w{5}\\s+IPv4\\s+8080\\s+${web.ip.replace(/\./g, '\\.')}\\s+\\S+\\n$`),
  );

  // A connection that stays open from `other`'s client to web:8080 (keep-alive; one request per input line).
  const conn = spawn(
    'nsenter',
    [
      `--net=/run/netns/${remote.netns}`,
      process.execPath,
      '-e',
      `
    const s = require('net').connect(8080, ${JSON.stringify(web.ip)});
    s.on('data', (d) => console.log(JSON.stringify(d.toString().split('\\r\\n')[0] + ' ' + d.toString().trim().split('\\n').pop())));
    s.on('close', () => { console.log('"closed"'); process.exit(0); });
    require('readline').createInterface({ input: process.stdin }).on('line', (l) => s.write('GET /' + l + ' HTTP/1.1\\r\\nHost: web\\r\\n\\r\\n'));`,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  t.after(() => {
    if (conn.exitCode === null) conn.kill('SIGKILL');
  });
  // Every line the connection's process prints, in order; a waiter gets the next one (or "exited").
  const lines: string[] = [];
  let wake: (() => void) | undefined;
  createInterface({ input: conn.stdout! }).on('line', (l) => {
    lines.push(JSON.parse(l) as string);
    wake?.();
  });
  conn.on('exit', () => {
    lines.push('exited');
    wake?.();
  });
  const ask = async (path: string): Promise<string> => {
    const seen = lines.length;
    conn.stdin!.write(`${path}\n`);
    while (lines.length === seen) await new Promise<void>((r) => (wake = r));
    return lines[seen]!;
  };
  assert.equal(await ask('one'), 'HTTP/1.1 200 OK web /one');

  const policy = join(tmp, 'policy.yaml');
  writeFileSync(
    policy,
    `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-team-clients, namespace: apps}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: blue}}
      podSelector: {matchExpressions: [{key: app, operator: In, values: [client]}]}
    ports: [{port: http}]
`,
  );
  await mesh.ok(['apply', '-f', policy]);
  await mesh.ok(['label', 'namespace', 'other', 'team=blue']);
  await policyEnforced(mesh, 'apps', 'web-from-team-clients');
  // The policy's change did not cut the established connection (it is allowed: other is team=blue, port http).
  assert.equal(await ask('two'), 'HTTP/1.1 200 OK web /two');
  await eventually('other → web:8080 allowed, web:9000 not', async () =>
    (await reach(remote, 'other', 8080)) === 'tcp connected' && (await reach(remote, 'other', 9000)) === 'tcp ECONNREFUSED' ? true : undefined,
  );
  assert.equal(await reach(local, 'apps', 8080), 'tcp ECONNREFUSED', 'apps is not team=blue');
  // Through the cluster IP too: the node checks the endpoint's ingress rules after DNAT.
  assert.equal(await reach(local, 'apps', 80, vip), 'tcp timeout', 'apps is not team=blue (via the cluster IP: dropped at the node)');
  assert.equal(await reach(remote, 'other', 80, vip), 'tcp connected');

  // The namespace's labels change: recomputed.
  await mesh.ok(['label', 'namespace', 'apps', 'team=blue']);
  await eventually('apps → web:8080 allowed once apps is team=blue', async () => ((await reach(local, 'apps', 8080)) === 'tcp connected' ? true : undefined));

  // ipBlock with except: port 9000 from the pod range except the local client.
  const block = join(tmp, 'block.yaml');
  writeFileSync(
    block,
    `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: metrics-from-pods-but-one, namespace: apps}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress:
  - from: [{ipBlock: {cidr: 198.18.0.0/15, except: [${local.ip}/32]}}]
    ports: [{port: 9000, endPort: 9001, protocol: TCP}]
`,
  );
  await mesh.ok(['apply', '-f', block]);
  await eventually('other → web:9000 allowed by the ipBlock', async () => ((await reach(remote, 'other', 9000)) === 'tcp connected' ? true : undefined));
  assert.equal(await reach(local, 'apps', 9000), 'tcp ECONNREFUSED', 'the except');
  assert.equal(await ask('three'), 'HTTP/1.1 200 OK web /three', 'still the same connection');

  // Invalid policies are refused with the field's path, nothing stored.
  const bad = join(tmp, 'bad.yaml');
  writeFileSync(
    bad,
    `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bad, namespace: apps}
spec:
  podSelector: {}
  ingress:
  - from: [{ipBlock: {cidr: 10.0.0.0/8, except: [192.168.0.0/16]}, podSelector: {}}]
    ports: [{port: http, endPort: 90}, {protocol: ICMP}]
`,
  );
  const refused = await mesh.outpost(['apply', '-f', bad]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /NetworkPolicy apps\/bad: spec\.ingress\[0\]\.from\[0\]: forbidden: may not specify both ipBlock and another peer$/m);
  assert.match(refused.stderr, /spec\.ingress\[0\]\.from\[0\]\.ipBlock\.except\[0\]: invalid value "192\.168\.0\.0\/16": must be a strict subset of `cidr`$/m);
  assert.match(refused.stderr, /spec\.ingress\[0\]\.ports\[0\]\.endPort: invalid value 90: may not be specified when `port` is non-numeric$/m);
  assert.match(refused.stderr, /spec\.ingress\[0\]\.ports\[1\]\.protocol: unsupported value "ICMP": supported values: "SCTP", "TCP", "UDP"$/m);
  assert.equal((await mesh.outpost(['get', 'netpol', 'bad', '-n', 'apps'])).code, 1);

  conn.stdin!.end();
  await mesh.down();
});
