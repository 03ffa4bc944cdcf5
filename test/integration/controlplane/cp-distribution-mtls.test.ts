// Config distribution over mutual TLS: each proxy proves who it is with its workload certificate and
// gets only its own config; another proxy's certificate, the admin token alone or a foreign CA get nothing,
// and cannot push the real proxy off its stream. Certificates rotate at half-life and keep working.
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { MeshCa } from '../../../src/controlplane/ca/mesh-ca.js';
import { ConfigClient } from '../../../src/proxyconfig/distribution/client.js';
import { DISCOVERY_PATH, NDJSON } from '../../../src/proxyconfig/distribution/protocol.js';
import { DistributionServer } from '../../../src/controlplane/distribution/server.js';
import { snapshotFromObjects, type MeshSnapshot } from '../../../src/controlplane/snapshot.js';
import { translate } from '../../../src/controlplane/translate/index.js';
import type { ProxyConfig, ProxyIdentity } from '../../../src/proxyconfig/types.js';
import { WorkloadIdentities } from '../../../src/runtime/workload-identities.js';
import { loadObjects } from '../../fixtures/cp/load.js';
import { testCerts } from '../../helpers/certs.js';

const TOKEN = 'admin-token';
const TD = 'cluster.local';
const curl: ProxyIdentity = { id: 'curl-1.curl', role: 'sidecar', namespace: 'curl', workload: 'curl', ip: '127.0.1.2', labels: { app: 'curl' } };
const gateway: ProxyIdentity = {
  id: 'egressgw-1.gw-ns',
  role: 'router',
  namespace: 'gw-ns',
  workload: 'egressgw',
  ip: '127.0.1.3',
  labels: { istio: 'egressgw' },
};

const state = mkdtempSync(join(tmpdir(), 'outpost-dist-mtls-'));
after(() => rmSync(state, { recursive: true, force: true }));
const logs: string[] = [];
const ca = MeshCa.selfSigned(state);

async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function setup(t: { after(fn: () => unknown): void }, ttlMs?: number) {
  const identities = new WorkloadIdentities({
    ca,
    dir: join(state, `identity-${Math.random().toString(36).slice(2)}`),
    ...(ttlMs ? { ttlMs } : {}),
    log: (l) => logs.push(l),
  });
  t.after(() => identities.stop());
  const own = identities.ensure('istio-system/istiod', { namespace: 'istio-system', serviceAccount: 'istiod', trustDomain: TD });
  const curlId = identities.ensure('curl/sidecar', { namespace: 'curl', serviceAccount: 'curl', trustDomain: TD, proxyId: curl.id });
  const gwId = identities.ensure('gw-ns/gateway/egressgw', { namespace: 'gw-ns', serviceAccount: 'egressgw', trustDomain: TD, proxyId: gateway.id });
  const snap = { snapshot: snapshotFromObjects(loadObjects('mesh-base')) as MeshSnapshot };
  const serverLog: string[] = [];
  const server = new DistributionServer({
    token: TOKEN,
    configFor: (id) => translate(snap.snapshot, id),
    tls: { cert: own.current.certChainPem, key: own.current.keyPem, ca: ca.rootCertPem, authorize: (peer, id) => identities.authorizeSubscription(peer, id) },
    log: (l) => serverLog.push(l),
  });
  await server.start();
  t.after(() => server.stop());
  return { identities, server, serverLog, curlDir: curlId.dir, gwDir: gwId.dir };
}

function subscribe(t: { after(fn: () => unknown): void }, url: string, identityDir: string, identity: ProxyIdentity) {
  const got: ProxyConfig[] = [];
  const states: string[] = [];
  const clientLog: string[] = [];
  const client = new ConfigClient({
    url,
    identityDir,
    identity,
    onConfig: async (c) => {
      got.push(c);
    },
    onState: (s) => states.push(s),
    log: (l) => clientLog.push(l),
    minBackoffMs: 20,
    maxBackoffMs: 100,
  });
  client.start();
  t.after(() => client.stop());
  return { client, got, states, clientLog };
}

/** One raw subscription over HTTP/2 with the given TLS options: the status (or the error) and the body. */
async function rawSubscribe(
  url: string,
  tlsOpts: http2.SecureClientSessionOptions,
  identity: ProxyIdentity,
  headers: http2.OutgoingHttpHeaders = {},
): Promise<{ status?: number; body: string; error?: string }> {
  return new Promise((resolve) => {
    const session = http2.connect(url, { ...tlsOpts, checkServerIdentity: () => undefined });
    let done = false;
    const finish = (r: { status?: number; body: string; error?: string }): void => {
      if (done) return;
      done = true;
      session.destroy();
      resolve(r);
    };
    session.on('error', (err) => finish({ body: '', error: err.message }));
    const stream = session.request({ ':method': 'POST', ':path': DISCOVERY_PATH, 'content-type': NDJSON, ...headers }, { endStream: false });
    let status: number | undefined;
    let body = '';
    stream.on('response', (h) => {
      status = Number(h[':status']);
    });
    stream.on('data', (c: Buffer) => {
      body += c.toString();
      // A config line means we were served: stop reading.
      if (status === 200 && body.includes('\n')) finish({ status, body });
    });
    stream.on('end', () => finish({ ...(status !== undefined ? { status } : {}), body }));
    stream.on('error', (err) => finish({ ...(status !== undefined ? { status } : {}), body, error: err.message }));
    stream.write(`${JSON.stringify({ type: 'subscribe', identity })}\n`);
  });
}

test('a proxy with its own certificate gets its own config and ACKs it', async (t) => {
  const { server, curlDir } = await setup(t);
  assert.match(server.url, /^https:/);
  const c = subscribe(t, server.url, curlDir, curl);
  await until('config', () => c.got.length > 0);
  assert.equal(c.got[0]!.proxy.id, curl.id);
  await until('ack', () => server.status()[0]?.synced === true);
  assert.deepEqual(
    server.status().map((r) => r.id),
    [curl.id],
  );
});

test("another proxy's certificate cannot get curl's config nor push curl off its stream", async (t) => {
  const { server, serverLog, curlDir, gwDir } = await setup(t);
  const real = subscribe(t, server.url, curlDir, curl);
  await until('real proxy synced', () => server.status()[0]?.synced === true);
  const connectedAt = server.status()[0]!.connectedAt;
  const read = (f: string) => readFileSync(join(gwDir, f), 'utf8');
  const r = await rawSubscribe(server.url, { cert: read('cert-chain.pem'), key: read('key.pem'), ca: read('root-cert.pem') }, curl);
  assert.equal(r.status, 403);
  assert.match(r.body, /the certificate of egressgw-1\.gw-ns may not subscribe as proxy curl-1\.curl/);
  assert.doesNotMatch(r.body, /"config"/);
  assert.ok(
    serverLog.some((l) => l.includes('refused a subscription as curl-1.curl')),
    serverLog.join('\n'),
  );
  // The real proxy is still the one subscribed, on the same stream.
  assert.deepEqual(
    server.status().map((s) => [s.id, s.connectedAt]),
    [[curl.id, connectedAt]],
  );
  assert.deepEqual(real.states, ['connected']);
  // The gateway's own certificate still gets the gateway's config.
  const own = await rawSubscribe(server.url, { cert: read('cert-chain.pem'), key: read('key.pem'), ca: read('root-cert.pem') }, gateway);
  assert.equal(own.status, 200);
  assert.equal((JSON.parse(own.body.split('\n')[0]!) as { config: ProxyConfig }).config.proxy.id, gateway.id);
});

test('the admin token alone, no certificate, or a certificate of another CA gets no config', async (t) => {
  const { server, curlDir } = await setup(t);
  const root = readFileSync(join(curlDir, 'root-cert.pem'), 'utf8');
  const noCert = await rawSubscribe(server.url, { ca: root }, curl, { authorization: `Bearer ${TOKEN}` });
  assert.notEqual(noCert.status, 200, JSON.stringify(noCert));
  assert.doesNotMatch(noCert.body, /config/);
  const foreign = testCerts();
  const other = await rawSubscribe(server.url, { ca: root, cert: foreign.clientCertPem, key: foreign.clientKeyPem }, curl);
  assert.notEqual(other.status, 200, JSON.stringify(other));
  assert.doesNotMatch(other.body, /config/);
  assert.deepEqual(server.status(), []);
});

test('certificates rotate at half-life; the new one is valid and accepted; the open stream is not dropped', async (t) => {
  const { server, identities, curlDir } = await setup(t, 4000);
  const c = subscribe(t, server.url, curlDir, curl);
  await until('synced', () => server.status()[0]?.synced === true);
  const before = new X509Certificate(readFileSync(join(curlDir, 'cert-chain.pem')));
  await until('rotation of curl/sidecar', () => new X509Certificate(readFileSync(join(curlDir, 'cert-chain.pem'))).fingerprint256 !== before.fingerprint256);
  const after = new X509Certificate(readFileSync(join(curlDir, 'cert-chain.pem')));
  assert.equal(after.subjectAltName, 'URI:spiffe://cluster.local/ns/curl/sa/curl');
  assert.equal(after.verify(new X509Certificate(ca.rootCertPem).publicKey), true);
  assert.equal(after.checkPrivateKey(createPrivateKey(readFileSync(join(curlDir, 'key.pem')))), true);
  assert.ok(Date.parse(after.validTo) > Date.parse(before.validTo));
  assert.equal(identities.get('curl/sidecar')!.current.fingerprint256, after.fingerprint256);
  // The stream opened with the old certificate is still up.
  assert.deepEqual(c.states, ['connected']);
  // A new connection presents the new certificate and is served.
  const read = (f: string) => readFileSync(join(curlDir, f), 'utf8');
  const fresh = await rawSubscribe(server.url, { cert: read('cert-chain.pem'), key: read('key.pem'), ca: read('root-cert.pem') }, curl);
  assert.equal(fresh.status, 200);
  assert.ok(logs.some((l) => l.startsWith('identity: rotated spiffe://cluster.local/ns/curl/sa/curl')));
});

test('the distribution client reads its credentials with the proxy identity loader: a key others can read is refused with the file named', async () => {
  const { readClientCredentials } = await import('../../../src/proxyconfig/distribution/client-identity.js');
  const { readIdentity } = await import('../../../src/dataplane/identity/workload-identity.js');
  const { chmodSync, cpSync } = await import('node:fs');
  const identities = new WorkloadIdentities({ ca, dir: join(state, 'identity-loader'), log: (l) => logs.push(l) });
  try {
    const id = identities.ensure('curl/loader', { namespace: 'curl', serviceAccount: 'curl', trustDomain: TD });
    const m = readIdentity(id.dir);
    assert.deepEqual(readClientCredentials(id.dir), { cert: m.certChain, key: m.key, ca: m.rootCert });
    const copy = join(state, 'identity-loader-copy');
    cpSync(id.dir, copy, { recursive: true });
    chmodSync(join(copy, 'key.pem'), 0o644);
    assert.throws(
      () => readClientCredentials(copy),
      (err: Error) => err.name === 'IdentityError' && err.message === `${join(copy, 'key.pem')}: readable by other users (mode 644); must be 0600`,
    );
  } finally {
    identities.stop();
  }
});
