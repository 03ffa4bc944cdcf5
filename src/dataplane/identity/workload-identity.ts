// The proxy's workload identity: loads cert-chain.pem, key.pem and root-cert.pem from its identity
// directory, checks them, serves TLS contexts for both ends of mesh mTLS, and reloads on rotation.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import { log } from '../log.js';

const CERT_CHAIN_FILE = 'cert-chain.pem';
const KEY_FILE = 'key.pem';
const ROOT_CERT_FILE = 'root-cert.pem';

/** How soon a failed reload (half-written rotation, key and cert not matching yet) is retried. */
const RETRY_MS = 500;

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
function principalOf(spiffeId: string): string | undefined {
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
  if ((statSync(keyPath).mode & 0o077) !== 0) throw new IdentityError(`${keyPath}: readable by other users (mode ${(statSync(keyPath).mode & 0o777).toString(8)}); must be 0600`);
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
  if (principal === undefined) throw new IdentityError(`${join(dir, CERT_CHAIN_FILE)}: ${ids[0]} is not spiffe://<trust domain>/ns/<namespace>/sa/<service account>`);
  const notAfter = Date.parse(leaf.validTo);
  if (!(notAfter > Date.now())) throw new IdentityError(`${join(dir, CERT_CHAIN_FILE)}: the leaf expired at ${leaf.validTo}`);
  // Leaf → intermediates → a root of the bundle: each signed by the next.
  for (let i = 0; i < chain.length; i++) {
    const c = chain[i]!;
    const next = chain[i + 1];
    const ok = next !== undefined ? c.verify(next.publicKey) : roots.some((r) => c.verify(r.publicKey));
    if (!ok) throw new IdentityError(`${join(dir, CERT_CHAIN_FILE)}: certificate ${i} is not signed by ${next !== undefined ? `certificate ${i + 1}` : `a root of ${ROOT_CERT_FILE}`}`);
  }
  return { certChain, key, rootCert, spiffeId: ids[0]!, principal, notAfter };
}

/**
 * The identity in force. Readers take `material` or a context each time they open a connection,
 * so a rotation changes new connections only; open ones keep their session.
 */
export class WorkloadIdentity {
  #material: IdentityMaterial;
  #context: tls.SecureContext;
  #watcher: FSWatcher | undefined;
  #retry: NodeJS.Timeout | undefined;
  #lastChain: string;
  readonly #listeners = new Set<() => void>();

  private constructor(readonly dir: string, m: IdentityMaterial) {
    this.#material = m;
    this.#context = contextOf(m);
    this.#lastChain = m.certChain;
  }

  /** Loads `dir` (throws IdentityError) and watches it for rotation. */
  static load(dir: string, opts: { watch?: boolean } = {}): WorkloadIdentity {
    const id = new WorkloadIdentity(dir, readIdentity(dir));
    if (opts.watch !== false) id.#watch();
    return id;
  }

  get material(): IdentityMaterial {
    return this.#material;
  }

  get principal(): string {
    return this.#material.principal;
  }

  /** Certificate, key and mesh root in one context: for servers (with requestCert) and clients. */
  get secureContext(): tls.SecureContext {
    return this.#context;
  }

  /** Called after each successful reload. */
  onChange(cb: () => void): () => void {
    this.#listeners.add(cb);
    return () => this.#listeners.delete(cb);
  }

  /** Re-reads the files now; false (old pair kept) when they do not check out. */
  reload(): boolean {
    let m: IdentityMaterial;
    try {
      m = readIdentity(this.dir);
    } catch (err) {
      log('warning', `workload identity ${this.dir}: reload failed, keeping ${this.#material.spiffeId}: ${(err as Error).message}`);
      return false;
    }
    this.#lastChain = m.certChain;
    if (m.certChain === this.#material.certChain && m.key === this.#material.key && m.rootCert === this.#material.rootCert) return true;
    this.#material = m;
    this.#context = contextOf(m);
    log('info', `workload identity ${m.spiffeId} reloaded (valid until ${new Date(m.notAfter).toISOString()})`);
    for (const cb of this.#listeners) {
      try { cb(); } catch (err) { log('error', `identity listener: ${(err as Error).message}`); }
    }
    return true;
  }

  close(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
    if (this.#retry !== undefined) clearTimeout(this.#retry);
    this.#retry = undefined;
  }

  /** The writer renames cert-chain.pem last: a change of that file means a complete set (or one to retry). */
  #watch(): void {
    try {
      this.#watcher = watch(this.dir, { persistent: false }, (_event, file) => {
        if (file !== null && file !== CERT_CHAIN_FILE) return;
        this.#check();
      });
      this.#watcher.on('error', () => {});
    } catch (err) {
      log('warning', `workload identity ${this.dir}: cannot watch for rotation: ${(err as Error).message}`);
    }
  }

  #check(): void {
    let chain: string;
    try {
      chain = readFileSync(join(this.dir, CERT_CHAIN_FILE), 'utf8');
    } catch {
      return;
    }
    if (chain === this.#lastChain) return;
    if (this.#retry !== undefined) return;
    if (!this.reload()) {
      this.#retry = setTimeout(() => { this.#retry = undefined; this.#check(); }, RETRY_MS);
      this.#retry.unref();
    }
  }
}

function contextOf(m: IdentityMaterial): tls.SecureContext {
  return tls.createSecureContext({ cert: m.certChain, key: m.key, ca: m.rootCert });
}

/** What the listener learnt of a connection's mTLS peer. */
export interface PeerInfo {
  /** The peer certificate's SPIFFE URI SAN. */
  readonly uriSan: string;
  /** Istio's principal (`td/ns/<ns>/sa/<sa>`). */
  readonly principal: string;
  readonly namespace: string;
  /** The SNI the peer sent. */
  readonly sni: string | undefined;
}

const peers = new WeakMap<object, PeerInfo>();

export function setPeer(socket: object, p: PeerInfo): void {
  peers.set(socket, p);
}

/** The mTLS peer of a connection's socket, if it was authenticated by the mesh's mTLS. */
export function peerOf(socket: object | null | undefined): PeerInfo | undefined {
  return socket == null ? undefined : peers.get(socket);
}

/** The peer of an authorized TLS socket, from its certificate's SPIFFE URI SAN. */
export function peerFromTlsSocket(s: tls.TLSSocket): PeerInfo | undefined {
  if (!s.authorized) return undefined;
  const cert = s.getPeerCertificate();
  const id = spiffeIdsOf(cert?.subjectaltname)[0];
  const principal = id === undefined ? undefined : principalOf(id);
  if (id === undefined || principal === undefined) return undefined;
  const sni = (s as tls.TLSSocket & { servername?: string | false }).servername;
  return { uriSan: id, principal, namespace: principal.split('/')[2]!, sni: typeof sni === 'string' ? sni : undefined };
}
