// The mesh CA: a self-signed root made at first start (key 0600 in the state dir), or a user's own
// root or intermediate plugged in (Istio's plug-in CA); it signs short-lived SPIFFE workload certificates.
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as der from './der.js';
import { ensurePrivateDir, writePrivateFile } from './private-files.js';

/** Istio's SECRET_TTL. */
export const DEFAULT_WORKLOAD_CERT_TTL_MS = 24 * 3600_000;
const ROOT_TTL_MS = 10 * 365 * 24 * 3600_000;

export class CaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CaError';
  }
}

/** What a workload gets: Istio's three files' contents and when they expire. */
export interface IssuedIdentity {
  readonly spiffeId: string;
  /** Leaf first, then the intermediates (no root). */
  readonly certChainPem: string;
  readonly keyPem: string;
  /** The mesh's trust bundle. */
  readonly rootCertPem: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** SHA-256 of the leaf's DER, colon-separated hex as node's X509Certificate.fingerprint256. */
  readonly fingerprint256: string;
}

const OID = {
  organization: '2.5.4.10',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyId: '2.5.29.14',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
};

interface Signer {
  readonly algorithm: der.Der;
  readonly hash: string | null;
}

/** The signature algorithm a CA key signs with (EC P-256/384/521, RSA, Ed25519). */
function signerFor(key: KeyObject): Signer {
  const type = key.asymmetricKeyType;
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const byCurve: Record<string, [string, string]> = {
      prime256v1: ['sha256', '1.2.840.10045.4.3.2'],
      secp384r1: ['sha384', '1.2.840.10045.4.3.3'],
      secp521r1: ['sha512', '1.2.840.10045.4.3.4'],
    };
    const pick = curve ? byCurve[curve] : undefined;
    if (!pick) throw new CaError(`the CA key's curve ${curve ?? '?'} is not supported (use P-256, P-384 or P-521)`);
    return { hash: pick[0], algorithm: der.sequence(der.oid(pick[1])) };
  }
  if (type === 'rsa') return { hash: 'sha256', algorithm: der.sequence(der.oid('1.2.840.113549.1.1.11'), der.nullValue()) };
  if (type === 'ed25519') return { hash: null, algorithm: der.sequence(der.oid('1.3.101.112')) };
  throw new CaError(`the CA key type ${type ?? '?'} is not supported (use EC, RSA or Ed25519)`);
}

function extension(id: string, critical: boolean, value: der.Der): der.Der {
  return der.sequence(der.oid(id), ...(critical ? [der.boolean(true)] : []), der.octetString(value));
}

function serialNumber(): Buffer {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01; // positive and 16 bytes long
  return b;
}

function toPem(label: string, body: Buffer): string {
  const b64 = body
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

function signCertificate(tbs: der.Der, signer: Signer, key: KeyObject): Buffer {
  const signature = sign(signer.hash, tbs, key);
  return der.sequence(tbs, signer.algorithm, der.bitString(signature));
}

function tbsCertificate(o: {
  serial: Buffer;
  signer: Signer;
  issuer: der.Der;
  subject: der.Der;
  notBefore: Date;
  notAfter: Date;
  spki: Buffer;
  extensions: der.Der[];
}): der.Der {
  return der.sequence(
    der.explicit(0, der.integer(2)),
    der.integer(o.serial),
    o.signer.algorithm,
    o.issuer,
    der.sequence(der.time(o.notBefore), der.time(o.notAfter)),
    o.subject,
    o.spki,
    der.explicit(3, der.sequence(...o.extensions)),
  );
}

/** RFC 5280 method 1: SHA-1 of the subjectPublicKey bits. */
function keyIdOf(spki: Buffer): Buffer {
  const [seq] = der.children(spki);
  const bits = seq ? der.children(seq.content)[1] : undefined;
  if (!bits) throw new CaError('malformed public key');
  return createHash('sha1').update(bits.content.subarray(1)).digest();
}

/** Whole seconds: certificate times have no finer grain, and notBefore must not lie in the future. */
function wholeSeconds(ms: number): Date {
  return new Date(Math.floor(ms / 1000) * 1000);
}

/** A self-signed CA certificate for the mesh (O=<trust domain>), 10 years. */
export function makeRootCa(trustDomain: string, now = Date.now()): { certPem: string; keyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const name = der.sequence(der.set(der.sequence(der.oid(OID.organization), der.utf8String(trustDomain))));
  const signer = signerFor(privateKey);
  const tbs = tbsCertificate({
    serial: serialNumber(),
    signer,
    issuer: name,
    subject: name,
    notBefore: wholeSeconds(now),
    notAfter: wholeSeconds(now + ROOT_TTL_MS),
    spki,
    extensions: [
      extension(OID.basicConstraints, true, der.sequence(der.boolean(true))),
      // digitalSignature, keyCertSign, cRLSign
      extension(OID.keyUsage, true, der.bitString(Buffer.from([0x86]), 1)),
      extension(OID.subjectKeyId, false, der.octetString(keyIdOf(spki))),
    ],
  });
  return { certPem: toPem('CERTIFICATE', signCertificate(tbs, signer, privateKey)), keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

function pemCertificates(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)?.map((b) => `${b}\n`) ?? [];
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new CaError(`${what} ${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function isSelfSigned(c: X509Certificate): boolean {
  return c.checkIssued(c) && c.verify(c.publicKey);
}

export class MeshCa {
  private readonly signer: Signer;
  private readonly issuerName: der.Der;
  private readonly signingCert: X509Certificate;

  private constructor(
    private readonly key: KeyObject,
    /** Signing certificate first, then intermediates up to (not including) the root. */
    private readonly chain: readonly string[],
    /** The mesh's trust bundle. */
    readonly rootCertPem: string,
    /** Where it came from, for the log. */
    readonly source: string,
  ) {
    this.signer = signerFor(key);
    this.signingCert = new X509Certificate(chain[0] ?? rootCertPem);
    this.issuerName = der.subjectNameOf(this.signingCert.raw);
  }

  /** The state dir's root (`ca/ca-cert.pem`, `ca/ca-key.pem`), made on first use. */
  static selfSigned(stateDir: string, trustDomain = 'cluster.local'): MeshCa {
    const dir = join(stateDir, 'ca');
    const certFile = join(dir, 'ca-cert.pem');
    const keyFile = join(dir, 'ca-key.pem');
    if (!existsSync(certFile) || !existsSync(keyFile)) {
      ensurePrivateDir(dir);
      const root = makeRootCa(trustDomain);
      // The key first: a cert without its key would be unusable at the next start.
      writePrivateFile(keyFile, root.keyPem);
      writePrivateFile(certFile, root.certPem);
      return MeshCa.fromFiles(certFile, keyFile, `self-signed root ${certFile} (created)`);
    }
    return MeshCa.fromFiles(certFile, keyFile, `self-signed root ${certFile}`);
  }

  /**
   * A user's CA (`--ca-cert`, `--ca-key`): the cert file holds the signing certificate first, then
   * any intermediates, and ends with the self-signed root; the key is the signing certificate's.
   */
  static plugIn(certFile: string, keyFile: string): MeshCa {
    return MeshCa.fromFiles(certFile, keyFile, `plug-in CA ${certFile}`, '--ca-cert', '--ca-key');
  }

  private static fromFiles(certFile: string, keyFile: string, source: string, certFlag = 'CA certificate', keyFlag = 'CA key'): MeshCa {
    const pems = pemCertificates(readText(certFile, certFlag));
    if (pems.length === 0) throw new CaError(`${certFlag} ${certFile}: no PEM certificate in it`);
    let certs: X509Certificate[];
    try {
      certs = pems.map((p) => new X509Certificate(p));
    } catch (err) {
      throw new CaError(`${certFlag} ${certFile}: not a valid certificate: ${(err as Error).message}`);
    }
    let key: KeyObject;
    try {
      key = createPrivateKey(readText(keyFile, keyFlag));
    } catch (err) {
      if (err instanceof CaError) throw err;
      throw new CaError(`${keyFlag} ${keyFile}: not a private key: ${(err as Error).message}`);
    }
    const first = certs[0]!;
    if (!first.ca)
      throw new CaError(`${certFlag} ${certFile}: the first certificate (${first.subject.replace(/\n/g, ', ')}) is not a CA (basicConstraints CA:TRUE)`);
    if (!first.checkPrivateKey(key)) throw new CaError(`${keyFlag} ${keyFile} does not match the first certificate in ${certFile}`);
    if (Date.parse(first.validTo) <= Date.now()) throw new CaError(`${certFlag} ${certFile}: the CA certificate expired on ${first.validTo}`);
    for (let i = 0; i + 1 < certs.length; i++) {
      if (!certs[i]!.checkIssued(certs[i + 1]!) || !certs[i]!.verify(certs[i + 1]!.publicKey)) {
        throw new CaError(
          `${certFlag} ${certFile}: certificate ${i + 1} is not signed by certificate ${i + 2} (order: signing certificate, intermediates, root)`,
        );
      }
    }
    const root = certs[certs.length - 1]!;
    if (!isSelfSigned(root))
      throw new CaError(
        `${certFlag} ${certFile}: must end with the self-signed root certificate (the last one is issued by ${root.issuer.replace(/\n/g, ', ')})`,
      );
    // A lone self-signed certificate is its own root: leaves then carry no intermediates.
    return new MeshCa(key, certs.length > 1 ? pems.slice(0, -1) : [], pems[pems.length - 1]!, source);
  }

  /** A fresh P-256 key and a certificate for one SPIFFE id, valid from now for ttlMs (cut at the CA's own expiry). */
  issue(spiffeId: string, ttlMs = DEFAULT_WORKLOAD_CERT_TTL_MS, now = Date.now()): IssuedIdentity {
    if (!/^spiffe:\/\/[^/]+\/ns\/[^/]+\/sa\/[^/]+$/.test(spiffeId)) throw new CaError(`not a workload SPIFFE id: ${spiffeId}`);
    if (!(ttlMs >= 1000)) throw new CaError(`certificate lifetime must be at least 1 s (got ${ttlMs} ms)`);
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const notBefore = wholeSeconds(now);
    const notAfter = wholeSeconds(Math.min(now + ttlMs, Date.parse(this.signingCert.validTo)));
    const tbs = tbsCertificate({
      serial: serialNumber(),
      signer: this.signer,
      issuer: this.issuerName,
      subject: der.sequence(),
      notBefore,
      notAfter,
      spki: publicKey.export({ type: 'spki', format: 'der' }),
      extensions: [
        // digitalSignature, keyEncipherment
        extension(OID.keyUsage, true, der.bitString(Buffer.from([0xa0]), 5)),
        extension(OID.extKeyUsage, false, der.sequence(der.oid(OID.serverAuth), der.oid(OID.clientAuth))),
        extension(OID.basicConstraints, true, der.sequence()),
        // The subject is empty, so the SAN is critical (RFC 5280 4.2.1.6).
        extension(OID.subjectAltName, true, der.sequence(der.ia5String(spiffeId, 0x86))),
      ],
    });
    const leafDer = signCertificate(tbs, this.signer, this.key);
    const leafPem = toPem('CERTIFICATE', leafDer);
    return {
      spiffeId,
      certChainPem: [leafPem, ...this.chain].join(''),
      keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      rootCertPem: this.rootCertPem,
      notBefore,
      notAfter,
      fingerprint256: new X509Certificate(leafDer).fingerprint256,
    };
  }
}
