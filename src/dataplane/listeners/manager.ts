// Listener sockets: one net.Server per bound address:port, kept across config swaps while the
// address stays; each new connection is dispatched by the listener the config in force has there.
import net from 'node:net';
import type { Socket } from 'node:net';
import type { CompiledConfig, CompiledListener } from '../config/compile.js';
import { listenerKey, listenerKeyAddress } from '../config/compile.js';
import { Exchange } from '../http/exchange.js';
import { handleTlsPassthrough } from '../l4/tls-passthrough.js';
import { proxyTcp, type TcpSessionInfo } from '../l4/tcp-proxy.js';
import type { ProxyRuntime } from '../runtime.js';
import { log } from '../log.js';
import { HttpServers, type HttpLimits } from './http-servers.js';
import { giveBack, takeFirst } from './first-bytes.js';
import { handleConnect, handleOutboundRequest, handleOutboundTls, notFound } from './outbound.js';
import { acceptMesh, MeshTlsTerminator } from './mesh-tls.js';
import { authorizeConnection } from '../authz/connection.js';
import { ConnList, ListedSocket } from '../conn-list.js';

interface BoundSocket {
  readonly key: string;
  readonly server: net.Server;
  readonly sockets: ConnList<ListedSocket<Socket>>;
  /** The port actually bound (differs from the config's when it asks for 0). */
  readonly port: number;
}

function noop(): void {}

export class ListenerManager {
  readonly #rt: ProxyRuntime;
  readonly #limits: HttpLimits;
  readonly #drainMs: number;
  readonly #bound = new Map<string, BoundSocket>();
  readonly #servers = new Map<string, HttpServers>();
  /** The last compiled version of each listener name, for requests on a connection whose listener was removed. */
  readonly #last = new Map<string, CompiledListener>();
  #terminator: MeshTlsTerminator | undefined;
  /** A config's sockets are being bound (bindNew … commit): connections on them wait for it to be in force. */
  #applying = false;
  /**
   * Connections accepted on a socket bound for the config being applied, before it is in force: a
   * worker of `--concurrency N` gets them as soon as its listen returns, and the config before
   * (if any) has no listener for them. Served at commit, closed if the config is rejected.
   */
  #early: Array<{ key: string; socket: Socket }> = [];

  constructor(rt: ProxyRuntime, limits: HttpLimits, drainMs: number) {
    this.#rt = rt;
    this.#limits = limits;
    this.#drainMs = drainMs;
  }

  /** Connections waiting for the config being applied to be in force. */
  get earlyConnections(): number {
    return this.#early.length;
  }

  /** The port bound for a listener key (`address:port` as configured). */
  boundPort(key: string): number | undefined {
    return this.#bound.get(key)?.port;
  }

  /** Binds what `next` adds. On failure, unbinds what this call bound and rejects: a NACK. */
  async bindNew(next: CompiledConfig): Promise<void> {
    const added: BoundSocket[] = [];
    this.#applying = true;
    try {
      for (const [key, cl] of next.bound) {
        if (this.#bound.has(key)) continue;
        added.push(await this.#bind(key, cl));
      }
    } catch (err) {
      for (const b of added) b.server.close();
      this.#applying = false;
      for (const e of this.#early.splice(0)) e.socket.destroy();
      throw err;
    }
    for (const b of added) this.#bound.set(b.key, b);
  }

  /** After the swap: drops listeners `next` no longer has, refreshes TLS material, serves the connections that came early. */
  commit(next: CompiledConfig): void {
    for (const [name, cl] of next.byName) {
      this.#last.set(name, cl);
      const s = this.#servers.get(name);
      if (s !== undefined && cl.kind === 'HTTP') s.setTls(cl.tls, cl.tlsKey);
    }
    for (const [key, b] of this.#bound) {
      if (next.bound.has(key)) continue;
      this.#bound.delete(key);
      this.#drain(b);
      log('info', `listener ${key} removed`);
    }
    for (const [name, s] of this.#servers) {
      if (next.byName.has(name)) continue;
      this.#servers.delete(name);
      this.#last.delete(name);
      s.closeIdle();
      setTimeout(() => s.destroyAll(), this.#drainMs).unref();
    }
    this.#applying = false;
    for (const e of this.#early.splice(0)) if (!e.socket.destroyed) this.#accept(e.key, e.socket);
  }

  /** Stops accepting; open connections get `graceMs` to finish, then are closed. */
  async close(graceMs: number): Promise<void> {
    const closing: Array<Promise<void>> = [];
    for (const b of this.#bound.values()) closing.push(new Promise<void>((r) => b.server.close(() => r())));
    for (const s of this.#servers.values()) s.closeIdle();
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && [...this.#bound.values()].some((b) => b.sockets.size > 0)) {
      await new Promise((r) => setTimeout(r, 20));
      for (const s of this.#servers.values()) s.closeIdle();
    }
    for (const s of this.#servers.values()) s.destroyAll();
    for (const b of this.#bound.values()) for (const e of b.sockets.values()) e.socket.destroy();
    for (const e of this.#early.splice(0)) e.socket.destroy();
    this.#terminator?.close();
    this.#bound.clear();
    this.#servers.clear();
    await Promise.all(closing);
  }

  #bind(key: string, cl: CompiledListener): Promise<BoundSocket> {
    const sockets = new ConnList<ListedSocket<Socket>>();
    // Half-open: a client's FIN must not close our side before the upstream's answer is relayed.
    const server = net.createServer({ noDelay: true, allowHalfOpen: true });
    return new Promise<BoundSocket>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        reject(new Error(`listener ${cl.listener.name}: cannot bind ${key}: ${err.code ?? err.message}`));
      });
      const address = listenerKeyAddress(key);
      // `::` takes IPv6 alone, so a listener can have 0.0.0.0 and :: on one port (a dual-stack pod's inbound).
      server.listen({ host: address, port: cl.listener.port, ...(address === '::' ? { ipv6Only: true } : {}) }, () => {
        server.removeAllListeners('error');
        server.on('error', (err) => log('error', `listener ${key}: ${err.message}`));
        const port = (server.address() as net.AddressInfo).port;
        const b: BoundSocket = { key, server, sockets, port };
        server.on('connection', (socket: Socket) => {
          socket.on('error', noop);
          const e = new ListedSocket(socket);
          sockets.add(e);
          socket.once('close', () => sockets.delete(e));
          this.#accept(key, socket);
        });
        log('info', `listener ${cl.listener.name} (${cl.kind}) bound on ${address.includes(':') ? `[${address}]` : address}:${port}`);
        resolve(b);
      });
    });
  }

  #drain(b: BoundSocket): void {
    // Only this socket's connections drain; other listeners' keep-alive connections are untouched.
    b.server.close();
    if (b.sockets.size === 0) return;
    setTimeout(() => {
      for (const e of b.sockets.values()) e.socket.destroy();
    }, this.#drainMs).unref();
  }

  /** A new connection: served by the config in force; an internal error closes it, never the proxy. */
  #accept(key: string, socket: Socket): void {
    try {
      this.#dispatch(key, socket);
    } catch (err) {
      log('error', `listener ${key}: connection dropped: ${(err as Error)?.stack ?? String(err)}`);
      socket.destroy();
    }
  }

  #dispatch(key: string, socket: Socket): void {
    // Undefined until the first config is in force (ProxyRuntime.current is read by requests, which only run after).
    const cl = (this.#rt.current as CompiledConfig | undefined)?.bound.get(key);
    if (cl === undefined) {
      if (this.#applying) this.#early.push({ key, socket });
      else socket.destroy();
      return;
    }
    const name = cl.listener.name;
    switch (cl.kind) {
      case 'HTTP': {
        const s = this.#serversFor(cl);
        if (cl.tls !== undefined) s.acceptTls(socket);
        else acceptMesh(cl.mesh, this.#meshTerminator(), socket, (sock, first) => s.acceptPlain(sock, first), `listener ${name}`);
        return;
      }
      case 'TLS':
        handleTlsPassthrough(this.#rt, cl, socket);
        return;
      case 'TCP': {
        const start = Date.now();
        acceptMesh(
          cl.mesh,
          this.#meshTerminator(),
          socket,
          (sock, first) => {
            // The TCP proxy reads the connection from its first byte.
            if (first !== undefined) giveBack(sock, first);
            let dynamicMetadata: TcpSessionInfo['dynamicMetadata'];
            // A captured outbound connection is the app's own egress: AuthorizationPolicy guards what the pod accepts.
            if (
              cl.listener.capture !== 'outbound' &&
              !authorizeConnection(this.#rt, sock, cl.listener.port, undefined, start, (m) => {
                dynamicMetadata = m;
              })
            )
              return;
            const od = cl.listener.originalDestination;
            proxyTcp(this.#rt, sock, cl.listener.route, {
              startTime: start,
              ...(od !== undefined ? { originalHost: od.address, originalPort: od.port } : {}),
              ...(dynamicMetadata !== undefined ? { dynamicMetadata } : {}),
            });
          },
          `listener ${name}`,
        );
        return;
      }
      case 'OUTBOUND':
        takeFirst(socket, (first) => {
          if (first === null) {
            socket.destroy();
            return;
          }
          // 0x16: a TLS handshake record — captured TLS without CONNECT.
          if (first[0] === 0x16) {
            giveBack(socket, first);
            handleOutboundTls(this.#rt, name, socket);
          } else this.#serversFor(cl).acceptPlain(socket, first);
        });
        return;
    }
  }

  /** The mTLS terminator of this proxy's workload identity; undefined when the proxy has none. */
  #meshTerminator(): MeshTlsTerminator | undefined {
    const id = this.#rt.identity;
    if (id === undefined) return undefined;
    this.#terminator ??= new MeshTlsTerminator(id);
    return this.#terminator;
  }

  #serversFor(cl: CompiledListener): HttpServers {
    const name = cl.listener.name;
    let s = this.#servers.get(name);
    if (s !== undefined) return s;
    const rt = this.#rt;
    if (cl.kind === 'OUTBOUND') {
      s = new HttpServers(
        rt,
        (ds) => handleOutboundRequest(rt, name, ds),
        this.#limits,
        (target, socket, head) => {
          socket.on('error', noop);
          handleConnect(rt, name, target, socket, head, (listenerName, tunnel) => {
            const l = this.#rt.current.byName.get(listenerName);
            if (l === undefined || l.kind !== 'HTTP') {
              tunnel.destroy();
              return;
            }
            const ts = this.#serversFor(l);
            if (l.tls !== undefined) ts.acceptTls(tunnel);
            else ts.acceptPlain(tunnel, undefined);
          });
        },
      );
    } else {
      const last = this.#last;
      s = new HttpServers(
        rt,
        (ds) => {
          const cur = rt.current.byName.get(name) ?? last.get(name);
          if (cur === undefined || cur.kind !== 'HTTP') {
            notFound(ds);
            return;
          }
          // AuthorizationPolicy guards what a listener accepts itself, not a sidecar's outbound traffic handed over to it.
          new Exchange(rt, ds, cur.listener.port, undefined, undefined, cur.listener.bindToPort && cur.listener.capture !== 'outbound').run(cur.routes);
        },
        this.#limits,
      );
      if (cl.kind === 'HTTP') s.setTls(cl.tls, cl.tlsKey);
    }
    this.#last.set(name, cl);
    this.#servers.set(name, s);
    return s;
  }
}

export { listenerKey };
