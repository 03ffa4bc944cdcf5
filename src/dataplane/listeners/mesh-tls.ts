// Inbound mesh mTLS: terminates TLS with the proxy's workload identity, requires a client certificate
// from the mesh root with a SPIFFE URI SAN, and hands the decrypted socket on (STRICT / PERMISSIVE).
import type { Socket } from 'node:net';
import tls from 'node:tls';
import type { MeshTlsMode } from '../config/compile.js';
import { peerFromTlsSocket, setPeer, type WorkloadIdentity } from '../identity/workload-identity.js';
import { log } from '../log.js';
import { giveBack, takeFirst } from './first-bytes.js';

/** Time a peer gets to complete the handshake (Envoy's transport_socket_connect_timeout is 15 s at gateways). */
const HANDSHAKE_MS = 15_000;

function noop(): void {}

export class MeshTlsTerminator {
  readonly #server: tls.Server;
  readonly #pending = new WeakMap<Socket, { readonly next: (s: tls.TLSSocket) => void; readonly timer: NodeJS.Timeout }>();
  readonly #unsubscribe: () => void;

  constructor(private readonly identity: WorkloadIdentity) {
    this.#server = tls.createServer({ ...this.#options(), requestCert: true, rejectUnauthorized: true, ALPNProtocols: ['h2', 'http/1.1'] });
    this.#server.on('secureConnection', (t: tls.TLSSocket) => {
      const raw = (t as unknown as { _parent?: Socket })._parent;
      const p = raw === undefined ? undefined : this.#pending.get(raw);
      if (p === undefined) {
        t.destroy();
        return;
      }
      this.#pending.delete(raw!);
      clearTimeout(p.timer);
      t.on('error', noop);
      const peer = peerFromTlsSocket(t);
      if (peer === undefined) {
        t.destroy();
        return;
      }
      setPeer(t, peer);
      p.next(t);
    });
    this.#server.on('tlsClientError', noop);
    // Rotation: new handshakes use the new certificate; established sessions are untouched.
    this.#unsubscribe = identity.onChange(() => this.#server.setSecureContext(this.#options()));
  }

  #options(): tls.SecureContextOptions {
    const m = this.identity.material;
    return { cert: m.certChain, key: m.key, ca: m.rootCert };
  }

  /** Terminates mTLS on `socket` (its first bytes may be unshifted into it); `next` gets the decrypted socket. */
  terminate(socket: Socket, next: (s: tls.TLSSocket) => void): void {
    const timer = setTimeout(() => socket.destroy(), HANDSHAKE_MS);
    timer.unref();
    this.#pending.set(socket, { next, timer });
    socket.once('close', () => clearTimeout(timer));
    this.#server.emit('connection', socket);
  }

  close(): void {
    this.#unsubscribe();
  }
}

/**
 * Applies a listener's mesh mTLS mode to a new connection: a TLS handshake is terminated with the
 * workload identity; plaintext passes under PERMISSIVE and is closed under STRICT. Without a
 * workload identity nothing can be terminated: PERMISSIVE serves plaintext, STRICT closes.
 * `next` gets the plaintext connection's first bytes when they were taken off it to decide
 * (./first-bytes.ts): it parses them or gives them back.
 */
export function acceptMesh(
  mode: MeshTlsMode,
  terminator: MeshTlsTerminator | undefined,
  socket: Socket,
  next: (s: Socket, first: Buffer | undefined) => void,
  where: string,
): void {
  if (mode === undefined) {
    next(socket, undefined);
    return;
  }
  takeFirst(socket, (first) => {
    if (first === null) {
      socket.destroy();
      return;
    }
    // 0x16: a TLS handshake record.
    if (first[0] === 0x16) {
      if (terminator === undefined) {
        log('warning', `${where}: mTLS connection from ${socket.remoteAddress ?? '?'} refused: this proxy has no workload identity`);
        socket.destroy();
        return;
      }
      giveBack(socket, first);
      terminator.terminate(socket, (t) => next(t, undefined));
      return;
    }
    if (mode === 'STRICT') {
      socket.destroy();
      return;
    }
    next(socket, first);
  });
}
