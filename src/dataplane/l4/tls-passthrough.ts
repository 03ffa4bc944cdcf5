// TLS passthrough: peek at the ClientHello's SNI (without terminating TLS) and proxy the bytes by it.
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import type * as TlsHello from 'read-tls-client-hello';
import type { CompiledTlsListener } from '../config/compile.js';
import type { ProxyRuntime } from '../runtime.js';
import { ResponseFlag } from '../telemetry/flags.js';
import { proxyTcp, refuseConnection, type TcpSessionInfo } from './tcp-proxy.js';
import { authorizeConnection } from '../authz/connection.js';

const TIMED_OUT = Symbol('timeout');

/**
 * The ClientHello reader, loaded when the first TLS connection needs it: a proxy with no TLS
 * listener (a plain HTTP gateway) does not carry its ~3 MB of resident memory.
 */
let helloReader: typeof TlsHello | undefined;
function hello(): typeof TlsHello {
  helloReader ??= createRequire(import.meta.url)('read-tls-client-hello') as typeof TlsHello;
  return helloReader;
}

/** Reads the SNI (undefined: a hello without one). Rejects on non-TLS bytes, a closed socket or the timeout. */
export function readSni(socket: Socket, timeoutMs: number): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  let onGone: (() => void) | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), timeoutMs);
  });
  // A client that leaves mid-hello (FIN on a half-open socket, or a reset) is noticed at once,
  // not at the hello timeout.
  const gone = new Promise<never>((_, reject) => {
    onGone = () => reject(Object.assign(new Error('client closed during the ClientHello'), { code: 'CLIENT_GONE' }));
    socket.once('end', onGone);
    socket.once('close', onGone);
  });
  const cleanup = (): void => {
    clearTimeout(timer);
    socket.off('end', onGone!);
    socket.off('close', onGone!);
  };
  const { readTlsClientHello, getExtensionData } = hello();
  return Promise.race([readTlsClientHello(socket), timeout, gone]).then(
    (hello) => {
      cleanup();
      if (hello === TIMED_OUT) throw Object.assign(new Error('no ClientHello in time'), { code: 'HELLO_TIMEOUT' });
      const sn = getExtensionData(hello, 0x0000) as { serverName?: string } | null | undefined;
      return sn?.serverName || undefined;
    },
    (err: unknown) => {
      cleanup();
      throw err;
    },
  );
}

export function handleTlsPassthrough(rt: ProxyRuntime, l: CompiledTlsListener, socket: Socket): void {
  const startTime = Date.now();
  readSni(socket, rt.helloTimeoutMs).then(
    (sni) => {
      if (socket.destroyed) return;
      // Route with the listener as it is now: a swap during the hello is taken into account.
      const cur = rt.current.byName.get(l.listener.name);
      const router = cur?.kind === 'TLS' ? cur.sni : l.sni;
      const route = router.route(sni);
      if (route === undefined) {
        refuseConnection(rt, socket, { sni, startTime }, ResponseFlag.NR, 'filter_chain_not_found');
        return;
      }
      let dynamicMetadata: TcpSessionInfo['dynamicMetadata'];
      if (
        l.listener.capture !== 'outbound' &&
        !authorizeConnection(rt, socket, l.listener.port, sni, startTime, (m) => {
          dynamicMetadata = m;
        })
      )
        return;
      // A captured connection to an explicit address: ORIGINAL_DST goes where the app dialled.
      const od = l.listener.originalDestination;
      proxyTcp(rt, socket, route, {
        sni,
        startTime,
        ...(od !== undefined ? { originalHost: od.address, originalPort: od.port } : {}),
        ...(dynamicMetadata !== undefined ? { dynamicMetadata } : {}),
      });
    },
    (err: { code?: string }) => {
      if (err?.code === 'CLIENT_GONE') {
        socket.destroy();
        return;
      }
      if (socket.destroyed) return;
      const timedOut = err?.code === 'HELLO_TIMEOUT';
      refuseConnection(rt, socket, { startTime }, ResponseFlag.NR, timedOut ? 'tls_inspector_timeout' : 'filter_chain_not_found');
    },
  );
}
