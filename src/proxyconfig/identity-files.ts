// A workload's identity files (cert-chain.pem, key.pem, root-cert.pem in its identity dir), read and
// checked the one way both sides of a proxy process use: the data plane's mesh mTLS and the
// distribution client's mutual TLS to the control plane.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const CERT_CHAIN_FILE = 'cert-chain.pem';
const KEY_FILE = 'key.pem';
const ROOT_CERT_FILE = 'root-cert.pem';

export class IdentityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IdentityError';
  }
}

/** One checked set of identity files. */
export interface IdentityMaterial {
  readonly certChain: string;
  readonly key: string;
  readonly rootCert: string;
  /** `spiffe://<td>/ns/<ns>/sa/<sa>`. */
  readonly spiffeId: string;
  /** Istio's principal: the SPIFFE ID without `spiffe://`. */
  readonly principal: string;
  /** Epoch ms the leaf expires. */
  readonly notAfter: number;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The SPIFFE URI SANs of a certificate (node prints SANs as `URI:…, DNS:…`). */
export function spiffeIdsOf(subjectAltName: string | undefined): string[] {
  if (!subjectAltName) return [];
  const out: string[] = [];
  for (const part of subjectAltName.split(', ')) {
    if (part.startsWith('URI:spiffe://')) out.push(part.slice(4));
  }
  return out;
}

/** Istio's principal for a SPIFFE ID; undefined when it is not `spiffe://td/ns/<ns>/sa/<sa>`. */
export function principalOf(spiffeId: string): string | undefined {
  if (!spiffeId.startsWith('spiffe://')) return undefined;
  const p = spiffeId.slice('spiffe://'.length);
  const parts = p.split('/');
  return parts.length === 5 && parts[0] !== '' && parts[1] === 'ns' && parts[2] !== '' && parts[3] === 'sa' && parts[4] !== '' ? p : undefined;
}

/** Reads and checks the three files of `dir`; errors name the file and the problem. */
export function readIdentity(dir: string): IdentityMaterial {
  const read = (f: string): string => {
    const path = join(dir, f);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new IdentityError(`${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    return text;
  };
  const certChain = read(CERT_CHAIN_FILE);
  const key = read(KEY_FILE);
  const rootCert = read(ROOT_CERT_FILE);
  const keyPath = join(dir, KEY_FILE);
  // The key must be the proxy's own: a key others can read is refused rather than used.
  if ((statSync(keyPath).mode & 0o077) !== 0)
    throw new IdentityError(`${keyPath}: readable by other users (mode ${(statSync(keyPath).mode & 0o777).toString(8)}); must be 0600`);
  const pems = certChain.match(PEM_CERT) ?? [];
  if (pems.length === 0) throw new IdentityError(`${join(dir, CERT_CHAIN_FILE)}: no certificate`);
  let chain: X509Certificate[];
  let roots: X509Certificate[];
  try {
    chain = pems.map((p) => new X509Certificate(p));
    roots = (rootCert.match(PEM_CERT) ?? []).map((p) => new X509Certificate(p));
  } catch (err) {
    throw new IdentityError(`${dir}: bad certificate: ${(err as Error).message}`);
  }
  if (roots.length === 0) throw new IdentityError(`${join(dir, ROOT_CERT_FILE)}: no certificate`);
  const leaf = chain[0]!;
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw new IdentityError(`${keyPath}: bad private key: ${(err as Error).message}`);
  }
  if (!leaf.checkPrivateKey(privateKey)) throw new IdentityError(`${dir}: ${KEY_FILE} does not belong to the leaf of ${CERT_CHAIN_FILE}`);
  const ids = spiffeIdsOf(leaf.subjectAltName);
  if (ids.length !== 1) throw new IdentityError(`${join(dir, CERT_CHAIN_FILE)}: the leaf needs exactly one spiffe:// URI SAN (has ${ids.length})`);
  const principal = principalOf(ids[0]!);
  if (principal === undefined)
    throw new IdentityError(`${join(dir, CERT_CHAIN_FILE)}: ${ids[0]} is not spiffe://<trust domain>/ns/<namespace>/sa/<service account>`);
  const notAfter = Date.parse(leaf.validTo);
  if (!(notAfter > Date.now())) throw new IdentityError(`${join(dir, CERT_CHAIN_FILE)}: the leaf expired at ${leaf.validTo}`);
  // Leaf → intermediates → a root of the bundle: each signed by the next.
  for (let i = 0; i < chain.length; i++) {
    const c = chain[i]!;
    const next = chain[i + 1];
    const ok = next !== undefined ? c.verify(next.publicKey) : roots.some((r) => c.verify(r.publicKey));
    if (!ok)
      throw new IdentityError(
        `${join(dir, CERT_CHAIN_FILE)}: certificate ${i} is not signed by ${next !== undefined ? `certificate ${i + 1}` : `a root of ${ROOT_CERT_FILE}`}`,
      );
  }
  return { certChain, key, rootCert, spiffeId: ids[0]!, principal, notAfter };
}
