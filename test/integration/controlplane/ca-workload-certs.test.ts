// The mesh CA: its root on disk (modes), plug-in CAs, and workload certificates that real TLS accepts in both directions.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { after, describe, it } from 'node:test';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { CaError, MeshCa } from '../../../src/controlplane/ca/mesh-ca.js';
import { CERT_CHAIN_FILE, KEY_FILE, ROOT_CERT_FILE, writeIdentityDir } from '../../../src/controlplane/ca/identity-dir.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'outpost-ca-'));
  // Open to others, as a state dir's parent usually is: only our own modes may keep them out.
  chmodSync(d, 0o755);
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function mode(file: string): number {
  return statSync(file).mode & 0o777;
}

/** `runuser -u nobody -- cat FILE` succeeds? (we run as root: this is how another user would fare) */
function nobodyCanRead(file: string): boolean {
  return spawnSync('runuser', ['-u', 'nobody', '--', 'cat', file], { stdio: 'ignore' }).status === 0;
}

/** Mutual TLS over loopback: server presents `server`, client presents `client`; both trust `rootPem`. Resolves to the peer URIs each side saw. */
async function mutualTls(
  rootPem: string,
  server: { cert: string; key: string },
  client: { cert: string; key: string },
): Promise<{ serverSaw: string; clientSaw: string }> {
  let serverSaw = '';
  const srv = tls.createServer({ cert: server.cert, key: server.key, ca: rootPem, requestCert: true, rejectUnauthorized: true }, (s) => {
    serverSaw = s.getPeerCertificate().subjectaltname ?? '';
    s.end('ok');
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    const port = (srv.address() as AddressInfo).port;
    const clientSaw = await new Promise<string>((resolve, reject) => {
      const c = tls.connect({
        host: '127.0.0.1',
        port,
        cert: client.cert,
        key: client.key,
        ca: rootPem,
        // SPIFFE certificates carry no DNS name: check the URI SAN instead of the hostname.
        checkServerIdentity: () => undefined,
      });
      c.on('secureConnect', () => {
        const san = c.getPeerCertificate().subjectaltname ?? '';
        c.on('data', () => undefined);
        c.on('end', () => resolve(san));
      });
      c.on('error', reject);
    });
    return { serverSaw, clientSaw };
  } finally {
    await new Promise<void>((r) => srv.close(() => r()));
  }
}

describe('self-signed mesh root', () => {
  it('is made at first use with a 0600 key in a 0700 dir, and reused after', () => {
    const state = tempDir();
    const ca = MeshCa.selfSigned(state);
    const keyFile = join(state, 'ca', 'ca-key.pem');
    assert.equal(mode(join(state, 'ca')), 0o700);
    assert.equal(mode(keyFile), 0o600);
    assert.equal(mode(join(state, 'ca', 'ca-cert.pem')), 0o600);
    assert.equal(nobodyCanRead(keyFile), false, 'nobody must not read the CA key');
    const root = new X509Certificate(ca.rootCertPem);
    assert.equal(root.ca, true);
    assert.match(root.subject, /O=cluster.local/);
    assert.equal(MeshCa.selfSigned(state).rootCertPem, ca.rootCertPem, 'the second start keeps the root');
  });

  it('issues a P-256 leaf for the SPIFFE id, signed by the root, short-lived, usable for mutual TLS', async () => {
    const ca = MeshCa.selfSigned(tempDir());
    const now = Date.now();
    const a = ca.issue('spiffe://cluster.local/ns/curl/sa/curl', 24 * 3600_000, now);
    const b = ca.issue('spiffe://cluster.local/ns/istio-system/sa/egressgw');
    const leaf = new X509Certificate(a.certChainPem);
    assert.equal(leaf.subjectAltName, 'URI:spiffe://cluster.local/ns/curl/sa/curl');
    assert.equal(leaf.ca, false);
    assert.equal(leaf.verify(new X509Certificate(ca.rootCertPem).publicKey), true);
    assert.equal(leaf.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.equal(leaf.checkPrivateKey(createPrivateKey(a.keyPem)), true);
    assert.equal(Date.parse(leaf.validTo) - Date.parse(leaf.validFrom), 24 * 3600_000);
    assert.equal(a.notAfter.getTime() - a.notBefore.getTime(), 24 * 3600_000);
    assert.equal(leaf.fingerprint256, a.fingerprint256);
    // Only the leaf: the root signs directly.
    assert.equal(a.certChainPem.match(/BEGIN CERTIFICATE/g)?.length, 1);
    const seen = await mutualTls(ca.rootCertPem, { cert: b.certChainPem, key: b.keyPem }, { cert: a.certChainPem, key: a.keyPem });
    assert.equal(seen.serverSaw, 'URI:spiffe://cluster.local/ns/curl/sa/curl');
    assert.equal(seen.clientSaw, 'URI:spiffe://cluster.local/ns/istio-system/sa/egressgw');
    // openssl agrees: a client and server certificate of this root.
    const d = tempDir();
    writeFileSync(join(d, 'root.pem'), ca.rootCertPem);
    writeFileSync(join(d, 'leaf.pem'), a.certChainPem);
    for (const purpose of ['sslclient', 'sslserver']) {
      assert.match(execFileSync('openssl', ['verify', '-purpose', purpose, '-CAfile', join(d, 'root.pem'), join(d, 'leaf.pem')], { encoding: 'utf8' }), /OK/);
    }
  });

  it('refuses what is not a workload id or lifetime', () => {
    const ca = MeshCa.selfSigned(tempDir());
    assert.throws(() => ca.issue('spiffe://cluster.local/ns/a'), /not a workload SPIFFE id/);
    assert.throws(() => ca.issue('spiffe://cluster.local/ns/a/sa/b', 0), /at least 1 s/);
  });
});

describe('plug-in CA (--ca-cert, --ca-key)', () => {
  const d = tempDir();
  const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: d, stdio: ['ignore', 'ignore', 'pipe'] });
  openssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    'root.key',
    '-out',
    'root.pem',
    '-days',
    '30',
    '-subj',
    '/O=Example Root',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'int.key', '-out', 'int.csr', '-subj', '/O=Example Intermediate/CN=mesh']);
  writeFileSync(join(d, 'int.ext'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n');
  openssl([
    'x509',
    '-req',
    '-in',
    'int.csr',
    '-CA',
    'root.pem',
    '-CAkey',
    'root.key',
    '-CAcreateserial',
    '-out',
    'int.pem',
    '-days',
    '30',
    '-extfile',
    'int.ext',
  ]);
  const read = (f: string) => readFileSync(join(d, f), 'utf8');
  writeFileSync(join(d, 'chain.pem'), read('int.pem') + read('root.pem'));

  it('signs with an RSA intermediate; cert-chain.pem carries the intermediate; the root is the trust bundle', async () => {
    const ca = MeshCa.plugIn(join(d, 'chain.pem'), join(d, 'int.key'));
    assert.equal(ca.rootCertPem.trim(), read('root.pem').trim());
    const a = ca.issue('spiffe://example.org/ns/curl/sa/curl');
    const b = ca.issue('spiffe://example.org/ns/gw/sa/gw');
    const blocks = a.certChainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)!;
    assert.equal(blocks.length, 2);
    assert.equal(blocks[1]!.trim(), read('int.pem').trim());
    const seen = await mutualTls(ca.rootCertPem, { cert: b.certChainPem, key: b.keyPem }, { cert: a.certChainPem, key: a.keyPem });
    assert.equal(seen.serverSaw, 'URI:spiffe://example.org/ns/curl/sa/curl');
  });

  it('says what is wrong with a bad pair, naming the flag and the file', () => {
    writeFileSync(join(d, 'int-only.pem'), read('int.pem'));
    const cases: [string, string, RegExp][] = [
      [join(d, 'missing.pem'), join(d, 'int.key'), /--ca-cert .*missing\.pem: cannot read: ENOENT/],
      [join(d, 'int.key'), join(d, 'int.key'), /--ca-cert .*: no PEM certificate/],
      [join(d, 'chain.pem'), join(d, 'root.key'), /--ca-key .*root\.key does not match the first certificate/],
      [join(d, 'int-only.pem'), join(d, 'int.key'), /must end with the self-signed root/],
      [join(d, 'chain.pem'), join(d, 'chain.pem'), /--ca-key .*: not a private key/],
    ];
    for (const [cert, key, want] of cases) {
      assert.throws(
        () => MeshCa.plugIn(cert, key),
        (err: unknown) => err instanceof CaError && want.test(err.message),
        `${cert} ${key}`,
      );
    }
  });
});

describe('identity directory', () => {
  it("holds Istio's three files, 0600 in a 0700 dir, that nobody else can read", () => {
    const ca = MeshCa.selfSigned(tempDir());
    const dir = join(tempDir(), 'identity', 'curl_sidecar');
    const id = ca.issue('spiffe://cluster.local/ns/curl/sa/default');
    writeIdentityDir(dir, id);
    assert.equal(mode(dir), 0o700);
    for (const f of [CERT_CHAIN_FILE, KEY_FILE, ROOT_CERT_FILE]) {
      assert.equal(mode(join(dir, f)), 0o600, f);
      assert.equal(nobodyCanRead(join(dir, f)), false, f);
    }
    assert.equal(readFileSync(join(dir, KEY_FILE), 'utf8'), id.keyPem);
    const next = ca.issue('spiffe://cluster.local/ns/curl/sa/default');
    writeIdentityDir(dir, next);
    const leaf = new X509Certificate(readFileSync(join(dir, CERT_CHAIN_FILE)));
    assert.equal(leaf.fingerprint256, next.fingerprint256);
    assert.equal(leaf.checkPrivateKey(createPrivateKey(readFileSync(join(dir, KEY_FILE)))), true);
  });
});
