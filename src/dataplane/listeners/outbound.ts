// The sidecar's virtualOutbound entry point used as an explicit (forward) proxy: absolute-form and
// Host-routed HTTP requests go to the bindToPort:false HTTP listener of their destination port, and
// CONNECT tunnels to the TLS, TCP or HTTP listener of theirs; else the fallback (Passthrough/BlackHole).
import type { Socket } from 'node:net';
import type { CompiledConfig, CompiledOutboundListener } from '../config/compile.js';
import { Exchange } from '../http/exchange.js';
import { splitHostPort } from '../../proxyconfig/authority.js';
import type { Downstream } from '../http/downstream.js';
import type { ProxyRuntime } from '../runtime.js';
import { CONNECT_OK, proxyTcp, refuseConnection } from '../l4/tcp-proxy.js';
import { ResponseFlag } from '../telemetry/flags.js';
import { readSni } from '../l4/tls-passthrough.js';
import { absoluteForm } from '../http1/framing.js';

/** Hands a CONNECT tunnel's bytes to an HTTP listener (parsed as HTTP). */
export type HttpTunnelSink = (listenerName: string, socket: Socket) => void;

/** Routes one HTTP request received on the outbound listener `name`. */
export function handleOutboundRequest(rt: ProxyRuntime, name: string, ds: Downstream): void {
  const cfg = rt.current;
  const ol = cfg.byName.get(name);
  const url = ds.url;
  let authority: string;
  let path: string;
  let defaultPort = 80;
  // Absolute form (`GET http://host:port/path`), as an explicit proxy receives it.
  const abs = absoluteForm(url);
  if (abs !== undefined) {
    if (abs.https) defaultPort = 443;
    authority = abs.authority;
    path = abs.path;
  } else {
    authority = ds.authority;
    path = url;
  }
  const { port } = splitHostPort(authority, defaultPort);
  const vl = cfg.virtualByPort.get(port);
  const table = vl?.kind === 'HTTP' ? vl.routes : ol?.kind === 'OUTBOUND' ? ol.fallbackRoutes : undefined;
  if (table === undefined) {
    // The outbound listener itself was removed by a swap: nothing routes this any more.
    notFound(ds);
    return;
  }
  new Exchange(rt, ds, port, { authority, path }).run(table);
}

/** A bare 404 for a request whose listener is gone (not logged: no listener to log it). */
export function notFound(ds: Downstream): void {
  try {
    ds.writeHead(404, { 'content-length': '0' });
    ds.end();
  } catch {
    ds.reset();
  }
  if (!ds.requestComplete) ds.discardBody();
}

/** A CONNECT request on the outbound listener: route the tunnel by host:port, answered 200 once it is up. */
export function handleConnect(rt: ProxyRuntime, name: string, target: string, socket: Socket, head: Buffer, toHttp: HttpTunnelSink): void {
  const startTime = Date.now();
  const cfg: CompiledConfig = rt.current;
  const { host, port } = splitHostPort(target, 443);
  if (host === '' || !(port > 0 && port < 65536)) {
    socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    return;
  }
  const readBaseline = socket.bytesRead - head.length;
  if (head.length > 0) socket.unshift(head);
  const vl = cfg.virtualByPort.get(port);
  const ol = cfg.byName.get(name) as CompiledOutboundListener | undefined;
  const sni = host.toLowerCase();

  // A tunnel proxied to a cluster is answered once its upstream connection is up (403 from the SSRF
  // guard, 503 when it cannot be made), as Envoy answers a CONNECT; every other case gets its 200 now.
  const info = { sni, originalHost: host, originalPort: port, readBaseline, writtenBaseline: 0, startTime, connectReplyPending: true };
  const okNow = (): void => {
    socket.write(CONNECT_OK);
    // bytesWritten counts queued bytes too, so the 200 line is already in it.
    info.writtenBaseline = socket.bytesWritten;
    info.connectReplyPending = false;
  };

  if (vl?.kind === 'TLS') {
    // The CONNECT host stands in for the SNI: the same chains and policy as transparent TLS.
    const route = vl.sni.route(sni);
    if (route === undefined) {
      okNow();
      refuseConnection(rt, socket, info, ResponseFlag.NR, 'filter_chain_not_found');
      return;
    }
    proxyTcp(rt, socket, route, info);
    return;
  }
  if (vl?.kind === 'TCP') {
    proxyTcp(rt, socket, vl.listener.route, info);
    return;
  }
  if (vl?.kind === 'HTTP') {
    okNow();
    toHttp(vl.listener.name, socket);
    return;
  }
  if (ol?.kind !== 'OUTBOUND') {
    okNow();
    refuseConnection(rt, socket, info, ResponseFlag.NR, 'filter_chain_not_found');
    return;
  }
  proxyTcp(rt, socket, ol.listener.fallback, info);
}

/** TLS bytes straight to the outbound listener (no CONNECT): route by SNI on port 443's listener. */
export function handleOutboundTls(rt: ProxyRuntime, name: string, socket: Socket): void {
  const startTime = Date.now();
  readSni(socket, rt.helloTimeoutMs).then(
    (sni) => {
      if (socket.destroyed) return;
      const cfg = rt.current;
      const vl = cfg.virtualByPort.get(443);
      const info = { sni, originalHost: sni, originalPort: 443, startTime };
      if (vl?.kind === 'TLS') {
        const route = vl.sni.route(sni);
        if (route !== undefined) {
          proxyTcp(rt, socket, route, info);
          return;
        }
      }
      const ol = cfg.byName.get(name);
      if (ol?.kind === 'OUTBOUND' && sni !== undefined) {
        proxyTcp(rt, socket, ol.listener.fallback, info);
        return;
      }
      refuseConnection(rt, socket, info, ResponseFlag.NR, 'filter_chain_not_found');
    },
    (err: { code?: string }) => {
      if (socket.destroyed) return;
      refuseConnection(rt, socket, { startTime }, ResponseFlag.NR, err?.code === 'HELLO_TIMEOUT' ? 'tls_inspector_timeout' : 'filter_chain_not_found');
    },
  );
}
