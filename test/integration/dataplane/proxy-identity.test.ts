// The proxy's workload identity directory: what the loader refuses, and rotation under steady mTLS
// traffic (files replaced as the contract says: all three written, cert-chain.pem renamed last).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { makeWorkloadIdentity } from '../../helpers/certs.js';
import { readIdentity, WorkloadIdentity, IdentityError } from '../../../src/dataplane/identity/workload-identity.js';
import { startHttpUpstream } from '../../helpers/upstreams.js';
import { startProxy, freePort, curl, tempDir } from '../../helpers/proxy-harness.js';
import { proxyConfig, httpListener, routeTable, vhost, forward, staticCluster } from '../../helpers/proxyconfig.js';

test('readIdentity: the SPIFFE principal of a good directory; clear errors for each bad one', () => {
  const dir = makeWorkloadIdentity({ namespace: 'curl', serviceAccount: 'curl' });
  const m = readIdentity(dir);
  assert.equal(m.spiffeId, 'spiffe://cluster.local/ns/curl/sa/curl');
  assert.equal(m.principal, 'cluster.local/ns/curl/sa/curl');
  const td = readIdentity(makeWorkloadIdentity({ namespace: 'a', serviceAccount: 'b', trustDomain: 'example.org' }));
  assert.equal(td.principal, 'example.org/ns/a/sa/b');

  const bad = (mutate: (d: string) => void, re: RegExp) => {
    const d = makeWorkloadIdentity({ namespace: 'curl', serviceAccount: 'curl' });
    mutate(d);
    assert.throws(
      () => readIdentity(d),
      (e: Error) => e instanceof IdentityError && re.test(e.message),
      re.source,
    );
  };
  bad((d) => rmSync(join(d, 'root-cert.pem')), /root-cert\.pem: cannot read: ENOENT/);
  bad((d) => chmodSync(join(d, 'key.pem'), 0o644), /key\.pem: readable by other users \(mode 644\); must be 0600/);
  const other = makeWorkloadIdentity({ namespace: 'x', serviceAccount: 'y' });
  bad(
    (d) => writeFileSync(join(d, 'key.pem'), readFileSync(join(other, 'key.pem')), { mode: 0o600 }),
    /key\.pem does not belong to the leaf of cert-chain\.pem/,
  );
  const foreign = makeWorkloadIdentity({ namespace: 'curl', serviceAccount: 'curl', foreignRoot: true });
  bad((d) => {
    copyFileSync(join(foreign, 'cert-chain.pem'), join(d, 'cert-chain.pem'));
    copyFileSync(join(foreign, 'key.pem'), join(d, 'key.pem'));
  }, /certificate 0 is not signed by a root of root-cert\.pem/);
  bad((d) => writeFileSync(join(d, 'cert-chain.pem'), 'not a certificate'), /cert-chain\.pem: no certificate/);
});

/** Replaces `dir`'s files with `from`'s the way the CA's writer does: temp files, renames, cert-chain.pem last. */
function rotate(dir: string, from: string): void {
  for (const f of ['key.pem', 'root-cert.pem', 'cert-chain.pem']) {
    const tmp = join(dir, `.${f}.tmp`);
    writeFileSync(tmp, readFileSync(join(from, f)), { mode: 0o600 });
    renameSync(tmp, join(dir, f));
  }
}

function peerSerial(port: number): Promise<string> {
  const client = makeWorkloadIdentity({ namespace: 'probe', serviceAccount: 'probe' });
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      host: '127.0.0.1',
      port,
      servername: 'probe',
      ca: readFileSync(join(client, 'root-cert.pem')),
      cert: readFileSync(join(client, 'cert-chain.pem')),
      key: readFileSync(join(client, 'key.pem')),
      checkServerIdentity: () => undefined,
    });
    s.once('secureConnect', () => {
      resolve(new X509Certificate(s.getPeerX509Certificate()!.raw).serialNumber);
      s.destroy();
    });
    s.once('error', reject);
  });
}

test('rotation under steady mTLS traffic: zero failed requests, new handshakes get the new certificate', async (t) => {
  const upstream = await startHttpUpstream({ name: 'httpbin' });
  t.after(() => upstream.close());
  const gwDir = makeWorkloadIdentity({ namespace: 'istio-system', serviceAccount: 'egressgw' });
  const gwPort = await freePort();
  const gw = await startProxy(
    t,
    proxyConfig({
      role: 'router',
      listeners: [{ ...httpListener('gw', gwPort, 'http.8080'), mtls: 'STRICT' }],
      routeTables: [routeTable('http.8080', [vhost('any', ['*'], [forward('up')])])],
      clusters: [staticCluster('up', [{ address: upstream.address, port: upstream.port }])],
    }),
    { identityDir: gwDir },
  );
  const scPort = await freePort();
  await startProxy(
    t,
    proxyConfig({
      role: 'sidecar',
      listeners: [httpListener('sc', scPort, '80')],
      routeTables: [routeTable('80', [vhost('any', ['*'], [forward('gw')])])],
      clusters: [
        staticCluster('gw', [{ address: '127.0.0.1', port: gwPort }], {
          protocol: 'HTTP2',
          tls: { mode: 'ISTIO_MUTUAL', sni: 'httpbin.org', subjectAltNames: ['spiffe://cluster.local/ns/istio-system/sa/egressgw'] },
        }),
      ],
    }),
    { identityDir: makeWorkloadIdentity({ namespace: 'curl', serviceAccount: 'curl' }) },
  );

  const before = await peerSerial(gwPort);
  const next = makeWorkloadIdentity({ namespace: 'istio-system', serviceAccount: 'egressgw' });
  const reloaded = new Promise<void>((resolve) => gw.proxy.identity!.onChange(resolve));
  const statuses: string[] = [];
  let rotated = false;
  // Bounded: at most 400 requests or 20 s, rotating after the 20th.
  const deadline = Date.now() + 20_000;
  for (let i = 0; i < 400 && Date.now() < deadline; i++) {
    if (i === 20) rotate(gwDir, next);
    const r = await curl(['-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${scPort}/get`]);
    statuses.push(r.stdout);
    if (!rotated && i > 20) rotated = await Promise.race([reloaded.then(() => true), new Promise<boolean>((r2) => setImmediate(() => r2(false)))]);
    if (rotated && i > 40) break;
  }
  assert.ok(rotated, 'the gateway reloaded its identity');
  assert.deepEqual(
    statuses.filter((s) => s !== '200'),
    [],
    'no request failed',
  );
  const after = await peerSerial(gwPort);
  assert.notEqual(after, before);
  assert.equal(after, new X509Certificate(readFileSync(join(next, 'cert-chain.pem'))).serialNumber);
});

test('a half-written rotation (key changed, certificate not yet) keeps the old pair; the complete one is taken', async (t) => {
  const dir = makeWorkloadIdentity({ namespace: 'curl', serviceAccount: 'curl' });
  const id = WorkloadIdentity.load(dir, { watch: false });
  t.after(() => id.close());
  const first = id.material.certChain;
  const next = makeWorkloadIdentity({ namespace: 'curl', serviceAccount: 'curl' });
  writeFileSync(join(dir, 'key.pem'), readFileSync(join(next, 'key.pem')), { mode: 0o600 });
  assert.equal(id.reload(), false);
  assert.equal(id.material.certChain, first);
  rotate(dir, next);
  assert.equal(id.reload(), true);
  assert.notEqual(id.material.certChain, first);
  void tempDir;
});
