// The proxy's workload identity: loads cert-chain.pem, key.pem and root-cert.pem from its identity
// directory, checks them, serves TLS contexts for both ends of mesh mTLS, and reloads on rotation.
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import { log } from '../log.js';
import { CERT_CHAIN_FILE, principalOf, readIdentity, spiffeIdsOf, type IdentityMaterial } from '../../proxyconfig/identity-files.js';

export { IdentityError, readIdentity, spiffeIdsOf, type IdentityMaterial } from '../../proxyconfig/identity-files.js';

/** How soon a failed reload (half-written rotation, key and cert not matching yet) is retried. */
const RETRY_MS = 500;

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

  private constructor(
    readonly dir: string,
    m: IdentityMaterial,
  ) {
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
      try {
        cb();
      } catch (err) {
        log('error', `identity listener: ${(err as Error).message}`);
      }
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
      this.#retry = setTimeout(() => {
        this.#retry = undefined;
        this.#check();
      }, RETRY_MS);
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
