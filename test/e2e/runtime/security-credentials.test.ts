// Issue 14's credential leaks, each a regression test through `outpost up`: state-dir modes (checked
// and tried as `nobody`), no token in bootstrap files, workload certificates per proxy (rotated),
// a foreign subscription refused, no mesh credentials in an exec'd environment, no key bytes in
// config_dump, and admin changes only with the proxy's own token.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { testCerts } from '../../helpers/certs.js';
import { eventually, startTestMesh } from '../../helpers/mesh.js';

const WORLD = `apiVersion: v1
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
    matchLabels: {istio: egressgw}
  template:
    metadata:
      annotations: {inject.istio.io/templates: gateway}
      labels: {istio: egressgw}
    spec:
      serviceAccountName: egressgw
      containers:
      - {name: istio-proxy, image: auto}
---
apiVersion: v1
kind: Namespace
metadata:
  name: apps
  labels: {istio-injection: enabled}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: curl
  namespace: apps
spec:
  selector:
    matchLabels: {app: curl}
  template:
    metadata:
      labels: {app: curl}
    spec:
      serviceAccountName: curl
      containers:
      - {name: curl, image: curlimages/curl, command: [sleep, infinity]}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: upstream
  namespace: gw-ns
spec:
  hosts: [upstream.test]
  ports:
  - {number: 443, name: tls, protocol: TLS}
  location: MESH_EXTERNAL
  resolution: DNS
`;

function destinationRule(certs: { client: string; key: string; ca: string }): string {
  return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: upstream-mtls
  namespace: gw-ns
spec:
  host: upstream.test
  trafficPolicy:
    tls:
      mode: MUTUAL
      clientCertificate: ${certs.client}
      privateKey: ${certs.key}
      caCertificates: ${certs.ca}
`;
}

/** Every entry under dir: [path, mode, isDir]. */
function walk(dir: string): [string, number, boolean][] {
  const out: [string, number, boolean][] = [[dir, statSync(dir).mode & 0o777, true]];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else if (e.isFile()) out.push([p, statSync(p).mode & 0o777, false]);
  }
  return out;
}

function nobodyCat(file: string): number | null {
  return spawnSync('runuser', ['-u', 'nobody', '--', 'cat', file], { stdio: 'ignore' }).status;
}

interface Bootstrap {
  identity: { id: string };
  admin: { address: string; port: number; tokenFile?: string };
  controlPlane: { url: string; token?: string };
  identityDir?: string;
}

test('credentials are held tightly: modes, bootstrap, certificates, distribution, exec, admin', async (t) => {
  const certs = testCerts();
  const mesh = await startTestMesh(t, { noStart: true, hostsFile: '/dev/null' });
  // A state dir left open by an older outpost: `up` must close it.
  chmodSync(mesh.stateDir, 0o755);
  mkdirSync(join(mesh.stateDir, 'logs'), { mode: 0o755 });
  writeFileSync(join(mesh.stateDir, 'logs', 'old.log'), 'old\n', { mode: 0o644 });
  chmodSync(join(mesh.stateDir, 'logs', 'old.log'), 0o644);
  await mesh.up(['--workload-cert-ttl', '8s']);
  const dir = mkdtempSync(join(tmpdir(), 'outpost-sec-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'world.yaml'), WORLD);
  await mesh.ok(['apply', '-f', join(dir, 'world.yaml')]);
  await eventually('gateway and sidecar bootstraps', async () => {
    const files = readdirSync(join(mesh.stateDir, 'run')).filter((f) => f.endsWith('.bootstrap.json'));
    return files.length === 2 ? true : undefined;
  });
  await eventually('the gateway is ready', async () =>
    /^egressgw\s+1\/1\s/m.test((await mesh.ok(['get', 'deployment', 'egressgw', '-n', 'gw-ns'])).stdout) ? true : undefined,
  );

  const token = readFileSync(join(mesh.stateDir, 'token'), 'utf8').trim();
  const run = join(mesh.stateDir, 'run');
  const boot = (name: string) => JSON.parse(readFileSync(join(run, `${name}.bootstrap.json`), 'utf8')) as Bootstrap;
  const gw = boot('gw-ns_gateway_egressgw');
  const sidecar = boot('apps_sidecar');

  // Bootstrap files: no admin token; a workload identity and an https distribution URL instead.
  for (const b of [gw, sidecar]) {
    const text = JSON.stringify(b);
    assert.ok(!text.includes(token), 'the Kubernetes API token is not in a bootstrap file');
    assert.equal(b.controlPlane.token, undefined);
    assert.match(b.controlPlane.url, /^https:\/\//);
    assert.ok(b.identityDir?.startsWith(join(mesh.stateDir, 'identity')));
  }

  // Workload certificates: per proxy, SPIFFE ids from namespace and service account, signed by the mesh root.
  const root = new X509Certificate(readFileSync(join(mesh.stateDir, 'ca', 'ca-cert.pem')));
  const leafOf = (b: Bootstrap) => new X509Certificate(readFileSync(join(b.identityDir!, 'cert-chain.pem')));
  assert.equal(leafOf(gw).subjectAltName, 'URI:spiffe://cluster.local/ns/gw-ns/sa/egressgw');
  assert.equal(leafOf(sidecar).subjectAltName, 'URI:spiffe://cluster.local/ns/apps/sa/curl');
  assert.equal(leafOf(gw).verify(root.publicKey), true);

  // Rotation (8 s lifetime: at 4 s): new files, still valid, and the gateway stays ready and in sync.
  const first = leafOf(gw).fingerprint256;
  await eventually('the gateway certificate rotates', async () => (leafOf(gw).fingerprint256 !== first ? true : undefined), 150);
  assert.equal(leafOf(gw).verify(root.publicKey), true);
  assert.match((await mesh.ok(['get', 'deployment', 'egressgw', '-n', 'gw-ns'])).stdout, /^egressgw\s+1\/1\s/m);

  // A DestinationRule naming key files: the config_dump shows no key bytes.
  writeFileSync(
    join(dir, 'dr.yaml'),
    destinationRule({ client: join(certs.dir, 'client.pem'), key: join(certs.dir, 'client.key'), ca: join(certs.dir, 'ca.pem') }),
  );
  await mesh.ok(['apply', '-f', join(dir, 'dr.yaml')]);
  const adminUrl = `http://${gw.admin.address}:${gw.admin.port}`;
  const dump = await eventually('the gateway has the DestinationRule', async () => {
    const text = await (await fetch(`${adminUrl}/config_dump`)).text();
    return text.includes('upstream.test') && text.includes('MUTUAL') ? text : undefined;
  });
  assert.ok(!dump.includes('PRIVATE KEY'), 'no private key in config_dump');
  assert.ok(!dump.includes(certs.clientKeyPem.split('\n')[1]!), 'no key bytes in config_dump');
  assert.match(dump, /"privateKey": "\[redacted\]"/);
  const pc = await mesh.ok(['proxy-config', 'clusters', 'deployment/egressgw', '-n', 'gw-ns', '-o', 'json']);
  assert.ok(!pc.stdout.includes('PRIVATE KEY'), 'no private key in proxy-config output');

  // Admin changes need the proxy's own admin token.
  const anonymous = await fetch(`${adminUrl}/logging?level=debug`, { method: 'POST' });
  assert.equal(anonymous.status, 401);
  await anonymous.body?.cancel();
  const withAdminToken = await fetch(`${adminUrl}/logging?level=info`, {
    method: 'POST',
    headers: { authorization: `Bearer ${readFileSync(gw.admin.tokenFile!, 'utf8').trim()}` },
  });
  assert.equal(withAdminToken.status, 200);
  await withAdminToken.body?.cancel();
  const withApiToken = await fetch(`${adminUrl}/logging?level=debug`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  assert.equal(withApiToken.status, 401, 'the API token is not an admin credential');
  await withApiToken.body?.cancel();

  // Distribution: the gateway's certificate cannot subscribe as the sidecar; the token alone opens nothing.
  const read = (f: string) => readFileSync(join(gw.identityDir!, f), 'utf8');
  const foreign = await new Promise<{ status?: number; body: string }>((resolve) => {
    const s = http2.connect(gw.controlPlane.url, {
      cert: read('cert-chain.pem'),
      key: read('key.pem'),
      ca: read('root-cert.pem'),
      checkServerIdentity: () => undefined,
    });
    s.on('error', () => resolve({ body: '' }));
    // Bounded: a server that never answers fails the test instead of hanging it.
    setTimeout(() => {
      s.destroy();
      resolve({ body: 'no answer in 10 s' });
    }, 10_000).unref();
    const req = s.request(
      { ':method': 'POST', ':path': '/v1/discovery', 'content-type': 'application/x-ndjson', authorization: `Bearer ${token}` },
      { endStream: false },
    );
    let status: number | undefined;
    let body = '';
    req.on('response', (h) => (status = Number(h[':status'])));
    req.on('data', (c: Buffer) => (body += c));
    // The server ends its side after a refusal; ours stays open (a subscription never ends it).
    req.on('end', () => {
      s.destroy();
      resolve({ ...(status !== undefined ? { status } : {}), body });
    });
    req.write(`${JSON.stringify({ type: 'subscribe', identity: { ...sidecar.identity, labels: {} } })}\n`);
  });
  assert.equal(foreign.status, 403, foreign.body);
  assert.match(foreign.body, /may not subscribe as proxy/);

  // An exec'd workload's environment: no OUTPOST_*, nothing naming the state dir, no token.
  const env = await mesh.ok(['exec', '-n', 'apps', '--', 'env'], {
    env: { OUTPOST_STATE_DIR: mesh.stateDir, KUBECONFIG: join(mesh.stateDir, 'kubeconfig'), OUTPOST_TOKEN: token },
  });
  assert.match(env.stdout, /^http_proxy=/m, 'the command ran as a workload of apps');
  assert.doesNotMatch(env.stdout, /^OUTPOST_/m);
  assert.ok(!env.stdout.includes(mesh.stateDir), 'nothing in the environment names the state dir');
  assert.ok(!env.stdout.includes(token), 'no token in the environment');

  // Modes: every dir 0700 and every file 0600, including the ones that were open before `up`.
  const entries = walk(mesh.stateDir);
  for (const [p, mode, isDir] of entries) {
    assert.equal(mode & 0o077, 0, `${p} is ${mode.toString(8)}: no group or other bits`);
    if (isDir) assert.equal(mode, 0o700, p);
  }
  const names = entries.map(([p]) => p.slice(mesh.stateDir.length + 1));
  for (const must of [
    'store.db',
    'store.db-wal',
    'token',
    'kubeconfig',
    'ca/ca-key.pem',
    'run/gw-ns_gateway_egressgw.bootstrap.json',
    'logs/gw-ns/egressgw.log',
    'logs/old.log',
  ]) {
    assert.ok(names.includes(must), `${must} exists`);
  }
  // Tried as another user: with every directory opened for traversal, the files' own modes still keep `nobody` out.
  const dirs = entries.filter(([, , isDir]) => isDir).map(([p]) => p);
  for (const d of dirs) chmodSync(d, 0o711);
  try {
    for (const [p, , isDir] of entries) if (!isDir) assert.notEqual(nobodyCat(p), 0, `nobody could read ${p}`);
    // The check itself works: a file that is readable is read.
    writeFileSync(join(mesh.stateDir, 'probe'), 'x', { mode: 0o644 });
    chmodSync(join(mesh.stateDir, 'probe'), 0o644);
    assert.equal(nobodyCat(join(mesh.stateDir, 'probe')), 0);
  } finally {
    rmSync(join(mesh.stateDir, 'probe'), { force: true });
    for (const d of dirs) chmodSync(d, 0o700);
  }
});
