// Istio's DNS proxy (the agent's 15053, UDP and TCP): a captured pod's queries land here. Names in
// the table the control plane sends (ServiceEntry hosts with their VIPs, Services with their cluster
// IPs) are answered authoritatively with TTL 30 s, records shuffled (A with the IPv4 addresses, AAAA
// with the IPv6 ones); a known name asked for another type or family gets NOERROR with no records (not NXDOMAIN, so the client does not give up on the name). Every
// other query is forwarded as is to the proxy's resolver (the node's DNS); no answer in 5 s, SERVFAIL.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import net from 'node:net';
import type { DnsName } from '../../proxyconfig/types.js';
import { log } from '../log.js';
import { RCODE_SERVFAIL, addressesFor, dnsAnswer, parseQuestion } from './dns-message.js';

export { dnsAnswer, parseQuestion } from './dns-message.js';

const FORWARD_TIMEOUT_MS = 5000;
/** A TCP client gets this long to send its query. */
const TCP_IDLE_MS = 10_000;

function shuffled<T>(list: readonly T[]): T[] {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export interface DnsProxyOptions {
  readonly address: string;
  readonly port: number;
  /** `IP:PORT` unknown names are forwarded to; absent: they get SERVFAIL. */
  readonly upstream?: string;
}

export class DnsProxy {
  #table = new Map<string, readonly string[]>();
  #udp: UdpSocket | undefined;
  #tcp: net.Server | undefined;
  readonly #upstream: { host: string; port: number } | undefined;

  constructor(private readonly opts: DnsProxyOptions) {
    const u = opts.upstream;
    if (u !== undefined) {
      const i = u.lastIndexOf(':');
      this.#upstream = i > 0 ? { host: u.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(u.slice(i + 1)) } : { host: u, port: 53 };
    }
  }

  setTable(names: readonly DnsName[]): void {
    this.#table = new Map(names.map((n) => [n.name.toLowerCase(), n.addresses]));
  }

  get udpPort(): number | undefined {
    return this.#udp?.address().port;
  }

  get tcpPort(): number | undefined {
    return (this.#tcp?.address() as net.AddressInfo | null)?.port;
  }

  async start(): Promise<void> {
    const udp = createSocket(net.isIPv6(this.opts.address) ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(this.opts.port, this.opts.address, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    udp.on('error', (err) => log('warning', `dns proxy: ${err.message}`));
    udp.on('message', (msg, rinfo) => {
      void this.#answer(msg).then((out) => {
        if (out) udp.send(out, rinfo.port, rinfo.address);
      });
    });
    this.#udp = udp;
    const tcp = net.createServer((sock) => this.#serveTcp(sock));
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(this.opts.port, this.opts.address, () => {
        tcp.off('error', reject);
        resolve();
      });
    });
    tcp.on('error', (err) => log('warning', `dns proxy: ${err.message}`));
    this.#tcp = tcp;
    const at = this.opts.address.includes(':') ? `[${this.opts.address}]` : this.opts.address;
    log('info', `dns proxy listening on ${at}:${this.opts.port} (udp, tcp)`);
  }

  close(): void {
    this.#udp?.close();
    this.#tcp?.close();
  }

  /** DNS over TCP: 2-byte length-prefixed messages, several per connection. */
  #serveTcp(sock: net.Socket): void {
    sock.on('error', () => {});
    sock.setTimeout(TCP_IDLE_MS, () => sock.destroy());
    let buf = Buffer.alloc(0);
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        void this.#answer(Buffer.from(msg)).then((out) => {
          if (!out || sock.destroyed) return;
          const len = Buffer.alloc(2);
          len.writeUInt16BE(out.length);
          sock.write(Buffer.concat([len, out]));
        });
      }
      if (buf.length > 65537) sock.destroy();
    });
  }

  async #answer(msg: Buffer): Promise<Buffer | undefined> {
    const q = parseQuestion(msg);
    if (q === undefined) return undefined;
    const known = this.#table.get(q.name);
    if (known !== undefined) return dnsAnswer(msg, q, 0, shuffled(addressesFor(q.type, known)));
    if (this.#upstream === undefined) return dnsAnswer(msg, q, RCODE_SERVFAIL, []);
    return (await this.#forward(msg)) ?? dnsAnswer(msg, q, RCODE_SERVFAIL, []);
  }

  #forward(msg: Buffer): Promise<Buffer | undefined> {
    const up = this.#upstream!;
    return new Promise((resolve) => {
      const s = createSocket(net.isIPv6(up.host) ? 'udp6' : 'udp4');
      const done = (out: Buffer | undefined): void => {
        clearTimeout(timer);
        s.close();
        resolve(out);
      };
      const timer = setTimeout(() => done(undefined), FORWARD_TIMEOUT_MS);
      s.on('error', () => done(undefined));
      s.on('message', (reply) => {
        // Only the answer to this query (same id).
        if (reply.length >= 12 && reply.readUInt16BE(0) === msg.readUInt16BE(0)) done(reply);
      });
      s.send(msg, up.port, up.host);
    });
  }
}
