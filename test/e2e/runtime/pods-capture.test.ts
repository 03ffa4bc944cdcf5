// Traffic capture in injected pods (netns model), inside a network namespace the test makes: an
// app with no proxy settings reaches ServiceEntry hosts through its sidecar by HTTP (Host), TLS
// (SNI) and a TCP port (the auto-allocated VIP), its DNS answered by the sidecar; under REGISTRY_ONLY
// an unregistered host is blocked whether the app bypasses http_proxy or not; the seed's request
// still leaves through the egress gateway with capture alone; inbound traffic to a Deployment's app
// passes its sidecar (inbound log line), and STRICT PeerAuthentication refuses plaintext from an
// uninjected pod while the injected client keeps working over auto mTLS.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EXAMPLE_DIR } from '../../../src/runtime/example.js';
import { testCerts } from '../../helpers/certs.js';
import { istioResource, outboundPolicy } from '../../helpers/istio-resource.js';
import { eventually, startTestMesh } from '../../helpers/mesh.js';
import { makeTestNetns, netnsSkipReason, startNetnsExternal, startNetnsScript, type TestNetns } from '../../helpers/netns.js';
import { deploymentYaml } from '../../helpers/pods.js';

const skip = netnsSkipReason();
const NODE = process.execPath;
const OTHER = '203.0.113.20';

/** TLS on 443 (a *.example.com certificate), a TCP echo on 5432 and plain HTTP on 7777, on a second address of the stand-in's veth. */
async function startOtherExternals(ns: TestNetns, certDir: string): Promise<() => Promise<void>> {
  execFileSync('ip', ['-n', ns.name, 'addr', 'add', `${OTHER}/24`, 'dev', 'ext0']);
  const script = `
    const fs = require('fs'); const tls = require('tls'); const net = require('net'); const http = require('http');
    const d = ${JSON.stringify(certDir)};
    let n = 0; const up = () => { if (++n === 3) console.log('ready'); };
    tls.createServer({ cert: fs.readFileSync(d + '/server.pem'), key: fs.readFileSync(d + '/server.key') }, (s) => {
      s.once('data', () => s.end('HTTP/1.1 200 OK\\r\\ncontent-length: 7\\r\\nconnection: close\\r\\n\\r\\ntls ok\\n'));
    }).listen(443, '${OTHER}', up);
    net.createServer((s) => s.on('data', (b) => s.end('tcp-echo:' + b))).listen(5432, '${OTHER}', up);
    http.createServer((q, r) => { console.log('unregistered ' + q.headers.host); r.end('reached\\n'); }).listen(7777, '${OTHER}', up);
`;
  const proc = await startNetnsScript(ns, script, (l) => console.log(l), 'the other stand-ins');
  return () => proc.close();
}

const extra = (policy: 'ALLOW_ANY' | 'REGISTRY_ONLY'): string => `${istioResource(outboundPolicy(policy))}---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: tls-se, namespace: curl}
spec:
  hosts: [tls.example.com]
  ports: [{number: 443, name: tls, protocol: TLS}]
  resolution: DNS
  location: MESH_EXTERNAL
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: tcp-se, namespace: curl}
spec:
  hosts: [tcp.example.com]
  ports: [{number: 5432, name: tcp, protocol: TCP}]
  resolution: DNS
  location: MESH_EXTERNAL
---
apiVersion: v1
kind: Namespace
metadata: {name: apps, labels: {istio-injection: enabled}}
---
${deploymentYaml(
  'apps',
  'web',
  `      - name: web
        image: ignored
        command: [${JSON.stringify(NODE)}, "-e", "require('http').createServer((q, s) => s.end('web ok\\\\n')).listen(8080)"]
        ports: [{name: http, containerPort: 8080}]
        readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 1}`,
)}apiVersion: v1
kind: Service
metadata: {name: web, namespace: apps}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Namespace
metadata: {name: plain}
---
${deploymentYaml('plain', 'plain', '      - {name: main, image: ignored, command: [sleep, infinity]}')}`;

interface PodRow {
  ns: string;
  name: string;
  ready: string;
  ip: string;
}

test('capture: apps without proxy settings go through their sidecar; inbound passes it too', { skip, timeout: 480_000 }, async (t) => {
  const node = makeTestNetns();
  const httpbin = await startNetnsExternal(node);
  const certs = testCerts();
  const stopOthers = await startOtherExternals(node, certs.dir);
  const tmp = mkdtempSync(join(tmpdir(), 'outpost-capture-'));
  const hostsFile = join(tmp, 'hosts');
  writeFileSync(hostsFile, `${httpbin.address} httpbin.org\n${OTHER} tls.example.com tcp.example.com other.example.net late.example.com\n`);
  const caFile = join(tmp, 'ca.pem');
  writeFileSync(caFile, certs.caPem);
  const yaml = join(tmp, 'extra.yaml');
  writeFileSync(yaml, extra('REGISTRY_ONLY'));

  // After hooks run in order: the mesh goes down (its hook is registered first), then the stand-ins, then the namespace.
  const mesh = await startTestMesh(t, { netns: node.name, hostsFile, noStart: true });
  t.after(async () => {
    await httpbin.close();
    await stopOthers();
    node.remove();
    rmSync(tmp, { recursive: true, force: true });
  });
  await mesh.up();
  await mesh.ok(['apply', '-f', EXAMPLE_DIR]);
  await mesh.ok(['apply', '-f', yaml]);
  const pods = await eventually(
    'curl, web, plain and the gateway running',
    async () => {
      const rows: PodRow[] = (await mesh.ok(['get', 'pods', '-A', '-o', 'wide'])).stdout
        .trimEnd()
        .split('\n')
        .slice(1)
        .map((l) => {
          const c = l.split(/\s+/);
          return { ns: c[0]!, name: c[1]!, ready: c[2]!, ip: c[6]! };
        });
      const want = { curl: '2/2', apps: '2/2', plain: '1/1', 'gw-ns': '1/1' } as Record<string, string>;
      return Object.entries(want).every(([ns, r]) => rows.some((p) => p.ns === ns && p.ready === r)) ? rows : undefined;
    },
    300,
  );
  const curl = pods.find((p) => p.ns === 'curl')!;
  const web = pods.find((p) => p.ns === 'apps')!;
  const plain = pods.find((p) => p.ns === 'plain')!;
  const gw = pods.find((p) => p.ns === 'gw-ns')!;
  const inPod = (pod: PodRow, cmd: string) => mesh.outpost(['exec', pod.name, '-n', pod.ns, '--', 'sh', '-c', cmd]);
  const NOPROXY = 'env -u http_proxy -u HTTP_PROXY -u https_proxy -u HTTPS_PROXY';
  const sidecarLog = async (pod: PodRow, needle: string): Promise<string> =>
    eventually(
      `${pod.name}'s sidecar logged ${needle}`,
      async () => {
        const r = await mesh.ok(['logs', `pod/${pod.name}`, '-n', pod.ns, '-c', 'istio-proxy']);
        return r.stdout.includes(needle) ? r.stdout : undefined;
      },
      30,
    );

  // DNS from the sidecar: ServiceEntry hosts get addresses from 240.240.0.0/16; other names come from the node's resolver.
  const dns = await inPod(curl, 'getent hosts tls.example.com; getent hosts tcp.example.com; getent hosts other.example.net');
  assert.equal(dns.code, 0, dns.stderr);
  assert.match(dns.stdout, /^240\.240\.\d+\.\d+\s+tls\.example\.com$/m);
  assert.match(dns.stdout, /^240\.240\.\d+\.\d+\s+tcp\.example\.com$/m);
  assert.match(dns.stdout, new RegExp(`^${OTHER.replace(/\./g, '\\.')}\\s+other\\.example\\.net$`, 'm'));
  const viaTcp = await inPod(curl, 'dig +tcp +short @127.0.0.53 tls.example.com 2>/dev/null || true');
  if (viaTcp.stdout.trim() !== '') assert.match(viaTcp.stdout, /^240\.240\./m);

  // The seed's request with capture alone (no proxy settings) and with http_proxy: out through the gateway pod.
  for (const cmd of [`${NOPROXY} curl -sS --max-time 10 http://httpbin.org/get`, 'curl -sS --max-time 10 http://httpbin.org/get']) {
    const r = await inPod(curl, cmd);
    assert.equal(r.code, 0, `${cmd}: ${r.stderr}`);
    assert.equal((JSON.parse(r.stdout) as { origin: string }).origin, gw.ip, `${cmd}: left through the gateway`);
  }
  await sidecarLog(curl, '|egressgw.gw-ns.svc.cluster.local');

  // TLS by SNI and TCP by the VIP, without proxy settings. The sidecar answered the names above, so
  // it has the ServiceEntries' config, and a pod's capture rules are written before its sidecar gets
  // a config: the first connection is captured. Connection: close, so the connection (logged when it
  // ends) ends with the response; the log line itself is written after curl exits, hence the wait.
  const tlsRes = await inPod(curl, `${NOPROXY} curl -sS --max-time 10 -H 'Connection: close' --cacert ${caFile} https://tls.example.com/`);
  assert.equal(tlsRes.code, 0, tlsRes.stderr);
  assert.equal(tlsRes.stdout, 'tls ok\n');
  await sidecarLog(curl, 'outbound|443||tls.example.com');
  const tcpRes = await inPod(
    curl,
    `${NOPROXY} ${JSON.stringify(NODE)} -e "const s = require('net').connect(5432, 'tcp.example.com', () => s.write('hi')); s.on('data', (b) => { process.stdout.write(String(b)); s.destroy(); })"`,
  );
  assert.equal(tcpRes.code, 0, tcpRes.stderr);
  assert.equal(tcpRes.stdout, 'tcp-echo:hi');
  await sidecarLog(curl, 'outbound|5432||tcp.example.com');

  // REGISTRY_ONLY: an unregistered host is blocked with or without the proxy settings, by HTTP and by raw TCP.
  const blocked = await inPod(
    curl,
    [
      `curl -s -o /dev/null -w '%{http_code}\\n' --max-time 10 --noproxy '*' http://other.example.net/`,
      `${NOPROXY} curl -s -o /dev/null -w '%{http_code}\\n' --max-time 10 http://other.example.net/`,
      `${NOPROXY} curl -s -o /dev/null -w '%{http_code}\\n' --max-time 10 http://other.example.net:7777/ || true`,
    ].join('; '),
  );
  const codes = blocked.stdout.trim().split('\n');
  assert.deepEqual(codes.slice(0, 2), ['502', '502'], blocked.stdout);
  assert.notEqual(codes[2], '200', 'a raw connection to an unregistered port reached it');
  await sidecarLog(curl, 'block_all');

  // A ServiceEntry applied while the pod runs: the first connection made as soon as the sidecar
  // answers the name with its VIP (it has the new config) is captured, because the pod's rules
  // are written before its sidecar is sent that config. One process in the pod asks until the VIP
  // comes, then connects at once.
  writeFileSync(
    yaml,
    `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: late-se, namespace: curl}
spec:
  hosts: [late.example.com]
  ports: [{number: 7777, name: tcp, protocol: TCP}]
  resolution: DNS
  location: MESH_EXTERNAL
`,
  );
  await mesh.ok(['apply', '-f', yaml]);
  const late = await inPod(
    curl,
    `${NOPROXY} ${JSON.stringify(NODE)} -e ${JSON.stringify(
      `const dns = require('dns'); const net = require('net'); const deadline = Date.now() + 20000;
      const ask = () => dns.lookup('late.example.com', { family: 4 }, (err, addr) => {
        if (!err && addr.startsWith('240.240.')) {
          const s = net.connect(7777, addr, () => s.write('GET / HTTP/1.1\\r\\nHost: late.example.com\\r\\nConnection: close\\r\\n\\r\\n'));
          let got = ''; s.on('data', (b) => (got += b)); s.on('end', () => console.log(got.split('\\r\\n')[0]));
          s.on('error', (e) => console.log('connect ' + e.code));
        } else if (Date.now() < deadline) setTimeout(ask, 10);
        else console.log('no VIP for late.example.com');
      });
      ask();`.replace(/\n\s*/g, ' '),
    )}`,
  );
  assert.equal(late.stdout, 'HTTP/1.1 200 OK\n', late.stderr);
  await sidecarLog(curl, 'outbound|7777||late.example.com');

  // Inbound, PERMISSIVE: plaintext from the uninjected pod reaches the app through web's sidecar.
  const fromPlain = await inPod(plain, `curl -sS --max-time 10 http://${web.ip}:8080/`);
  assert.equal(fromPlain.stdout, 'web ok\n', `PERMISSIVE takes plaintext: ${fromPlain.stderr}`);

  // An ingress NetworkPolicy on the captured web pod names the app's port: it is checked on the port
  // the client dialled (8080), not on the sidecar's inbound listener capture redirects it to. (Before
  // the client's first request to web: its sidecar keeps connections open, and an established one passes.)
  writeFileSync(
    yaml,
    `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-curl, namespace: apps}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: curl}}}]
    ports: [{port: http}]
`,
  );
  await mesh.ok(['apply', '-f', yaml]);
  await eventually('web-from-curl enforced', async () =>
    /^Enforcement:\s+enforced with nftables/m.test((await mesh.ok(['describe', 'netpol', 'web-from-curl', '-n', 'apps'])).stdout) ? true : undefined,
  );
  // The client's request to the web Service passes web's sidecar (its inbound listener logs the curl pod's address).
  const toWeb = await inPod(curl, `${NOPROXY} curl -sS --max-time 10 http://web.apps.svc.cluster.local/`);
  assert.equal(toWeb.code, 0, toWeb.stderr);
  assert.equal(toWeb.stdout, 'web ok\n');
  await sidecarLog(web, `:15006 ${curl.ip}:`);
  // From another namespace: refused by the policy at once (a TCP reset: curl's "couldn't connect", 7).
  const denied = await inPod(plain, `curl -sS --max-time 10 http://${web.ip}:8080/; echo "exit $?"`);
  assert.match(denied.stdout, /^exit 7$/m, denied.stderr);
  await mesh.ok(['delete', 'netpol', 'web-from-curl', '-n', 'apps']);
  await eventually('plaintext from plain reaches web again', async () =>
    (await inPod(plain, `curl -sS --max-time 5 http://${web.ip}:8080/`)).stdout === 'web ok\n' ? true : undefined,
  );

  // STRICT: plaintext from the uninjected pod is refused (pod IP and cluster IP); the injected client still gets through (auto mTLS).
  writeFileSync(
    yaml,
    `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: strict, namespace: apps}
spec: {mtls: {mode: STRICT}}
`,
  );
  await mesh.ok(['apply', '-f', yaml]);
  await eventually('plaintext refused', async () => {
    const r = await inPod(plain, `curl -sS --max-time 5 http://${web.ip}:8080/; curl -sS --max-time 5 http://web.apps.svc.cluster.local/`);
    return r.stdout.includes('web ok') ? undefined : r;
  });
  const mtls = await inPod(curl, `${NOPROXY} curl -sS --max-time 10 http://web.apps.svc.cluster.local/`);
  assert.equal(mtls.stdout, 'web ok\n', mtls.stderr);
  assert.equal(httpbin.seen.filter((s) => s.host.startsWith('other.')).length, 0);
});
