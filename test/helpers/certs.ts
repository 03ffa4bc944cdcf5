// Test PKI: a CA plus server and client certificates made with the openssl CLI, once per process.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCerts {
  readonly dir: string;
  readonly caPem: string;
  /** Valid for SERVER_NAMES (SANs). */
  readonly serverCertPem: string;
  readonly serverKeyPem: string;
  readonly clientCertPem: string;
  readonly clientKeyPem: string;
  /** A second, unrelated CA: a client trusting only it must fail verification. */
  readonly otherCaPem: string;
}

/** Names the test server certificate is valid for. */
export const SERVER_NAMES = [
  'localhost',
  'docs.redhat.com',
  'httpbin.org',
  'nginx.example.com',
  'edition.cnn.com',
  '*.wikipedia.org',
  '*.example.com',
  'upstream.test',
];

let cached: TestCerts | undefined;

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): void {
  openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.pem`,
    '-days',
    '30',
    '-subj',
    `/CN=${name}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
}

function makeLeaf(dir: string, name: string, cn: string, ext: string): void {
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(dir, [
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    `/CN=${cn}`,
  ]);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    `${name}.pem`,
    '-days',
    '30',
    '-extfile',
    `${name}.ext`,
  ]);
}

export function testCerts(): TestCerts {
  if (cached) return cached;
  const dir = mkdtempSync(join(tmpdir(), 'outpost-certs-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  const sans = [...SERVER_NAMES.map((n) => `DNS:${n}`), 'IP:127.0.0.1'].join(',');
  makeLeaf(dir, 'server', 'upstream.test', `subjectAltName=${sans}\nextendedKeyUsage=serverAuth\n`);
  makeLeaf(dir, 'client', 'client.test', 'subjectAltName=DNS:client.test\nextendedKeyUsage=clientAuth\n');
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  cached = {
    dir,
    caPem: read('ca.pem'),
    serverCertPem: read('server.pem'),
    serverKeyPem: read('server.key'),
    clientCertPem: read('client.pem'),
    clientKeyPem: read('client.key'),
    otherCaPem: read('other-ca.pem'),
  };
  return cached;
}

export interface WorkloadIdentityOptions {
  readonly namespace: string;
  readonly serviceAccount: string;
  /** Default cluster.local. */
  readonly trustDomain?: string;
  /** Sign with another, unrelated root (the mesh does not trust it). */
  readonly foreignRoot?: boolean;
  /** Leaf lifetime in days (default 1). */
  readonly days?: number;
}

let meshCounter = 0;

/** The mesh's test root (one per process), made on first use in the testCerts directory. */
function meshRoots(): { dir: string; mesh: string; foreign: string } {
  const dir = testCerts().dir;
  try {
    readFileSync(join(dir, 'mesh-root.pem'));
  } catch {
    makeCa(dir, 'mesh-root');
    makeCa(dir, 'foreign-root');
  }
  return { dir, mesh: join(dir, 'mesh-root.pem'), foreign: join(dir, 'foreign-root.pem') };
}

/**
 * A workload identity directory as the mesh CA writes it (Istio's file names, 0700 / 0600): a leaf
 * with the URI SAN spiffe://<td>/ns/<ns>/sa/<sa> (EC P-256) signed by the test mesh root.
 * Returns the directory's absolute path.
 */
export function makeWorkloadIdentity(o: WorkloadIdentityOptions): string {
  const roots = meshRoots();
  const td = o.trustDomain ?? 'cluster.local';
  const name = `wl${++meshCounter}`;
  const caName = o.foreignRoot ? 'foreign-root' : 'mesh-root';
  const ext = `subjectAltName=URI:spiffe://${td}/ns/${o.namespace}/sa/${o.serviceAccount}\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n`;
  writeFileSync(join(roots.dir, `${name}.ext`), ext);
  openssl(roots.dir, [
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    `/O=${td}`,
  ]);
  openssl(roots.dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${caName}.pem`,
    '-CAkey',
    `${caName}.key`,
    '-CAcreateserial',
    '-out',
    `${name}.pem`,
    '-days',
    String(o.days ?? 1),
    '-extfile',
    `${name}.ext`,
  ]);
  const out = join(roots.dir, `identity-${name}`);
  mkdirSync(out, { mode: 0o700 });
  const put = (f: string, text: string): void => {
    writeFileSync(join(out, f), text, { mode: 0o600 });
    chmodSync(join(out, f), 0o600);
  };
  put('key.pem', readFileSync(join(roots.dir, `${name}.key`), 'utf8'));
  put('root-cert.pem', readFileSync(roots.mesh, 'utf8'));
  put('cert-chain.pem', readFileSync(join(roots.dir, `${name}.pem`), 'utf8'));
  return out;
}
