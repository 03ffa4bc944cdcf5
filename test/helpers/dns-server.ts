// A real authoritative DNS server on 127.0.0.1 (UDP and TCP on one port) for tests: A and AAAA
// answers from a record table that tests can change, NXDOMAIN for unknown names.

import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIPv4, isIPv6, type Server, type Socket } from 'node:net';

export type DnsRecords = Record<string, string[] | { addresses: string[]; ttl: number }>;

export interface DnsServer {
  /** `127.0.0.1:PORT`, for Resolver({ server }). */
  readonly address: string;
  readonly port: number;
  /** Sets a name's addresses (IPv4 answer A queries, IPv6 AAAA); ttl in seconds, default 30. */
  set(name: string, addrs: string[], ttl?: number): void;
  /** Removes a name: it answers NXDOMAIN. */
  remove(name: string): void;
  /** Makes a name answer SERVFAIL (true) or normally again (false). */
  fail(name: string, on?: boolean): void;
  /** How many queries (any type) asked for a name. */
  queries(name: string): number;
  close(): Promise<void>;
}

const TYPE_A = 1;
const TYPE_AAAA = 28;
const RCODE_SERVFAIL = 2;
const RCODE_NXDOMAIN = 3;
const RCODE_NOTIMP = 4;

interface Entry {
  addresses: string[];
  ttl: number;
}

function norm(name: string): string {
  const n = name.toLowerCase();
  return n.endsWith('.') ? n.slice(0, -1) : n;
}

interface Question {
  id: number;
  flags: number;
  name: string;
  type: number;
  /** The question section's bytes, echoed in the answer. */
  raw: Buffer;
}

function parseQuery(msg: Buffer): Question | undefined {
  if (msg.length < 12) return undefined;
  const id = msg.readUInt16BE(0);
  const flags = msg.readUInt16BE(2);
  const qd = msg.readUInt16BE(4);
  if (qd < 1 || (flags & 0x8000) !== 0) return undefined;
  let off = 12;
  const labels: string[] = [];
  for (;;) {
    if (off >= msg.length) return undefined;
    const len = msg[off]!;
    if (len === 0) {
      off++;
      break;
    }
    if ((len & 0xc0) !== 0 || off + 1 + len > msg.length) return undefined;
    labels.push(msg.toString('latin1', off + 1, off + 1 + len));
    off += 1 + len;
  }
  if (off + 4 > msg.length) return undefined;
  const type = msg.readUInt16BE(off);
  return { id, flags, name: labels.join('.'), type, raw: msg.subarray(12, off + 4) };
}

function ipv6Bytes(a: string): Buffer {
  const [head, tail] = a.includes('::') ? a.split('::') : [a, undefined];
  const parse = (s: string | undefined): number[] => {
    if (!s) return [];
    const out: number[] = [];
    for (const part of s.split(':')) {
      if (part.includes('.')) {
        const b = part.split('.').map(Number);
        out.push((b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!);
      } else out.push(parseInt(part, 16));
    }
    return out;
  };
  const h = parse(head);
  const t = parse(tail);
  const groups = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  const buf = Buffer.alloc(16);
  groups.forEach((g, i) => buf.writeUInt16BE(g, i * 2));
  return buf;
}

function buildResponse(q: Question, rcode: number, answers: string[], ttl: number): Buffer {
  const rd = q.flags & 0x0100;
  const opcode = q.flags & 0x7800;
  // QR, AA, RA set; RD echoed.
  const flags = 0x8000 | opcode | 0x0400 | rd | 0x0080 | rcode;
  const header = Buffer.alloc(12);
  header.writeUInt16BE(q.id, 0);
  header.writeUInt16BE(flags, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  const parts: Buffer[] = [header, q.raw];
  for (const a of answers) {
    const rdata = q.type === TYPE_A ? Buffer.from(a.split('.').map(Number)) : ipv6Bytes(a);
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); // pointer to the question's name
    rr.writeUInt16BE(q.type, 2);
    rr.writeUInt16BE(1, 4); // class IN
    rr.writeUInt32BE(ttl, 6);
    rr.writeUInt16BE(rdata.length, 10);
    parts.push(rr, rdata);
  }
  return Buffer.concat(parts);
}

export async function startDnsServer(records: DnsRecords = {}): Promise<DnsServer> {
  const table = new Map<string, Entry>();
  const failing = new Set<string>();
  const counts = new Map<string, number>();
  const set = (name: string, addrs: string[], ttl = 30): void => {
    table.set(norm(name), { addresses: [...addrs], ttl });
  };
  for (const [name, v] of Object.entries(records)) {
    if (Array.isArray(v)) set(name, v);
    else set(name, v.addresses, v.ttl);
  }

  const answer = (msg: Buffer): Buffer | undefined => {
    const q = parseQuery(msg);
    if (q === undefined) return undefined;
    const name = norm(q.name);
    counts.set(name, (counts.get(name) ?? 0) + 1);
    if ((q.flags & 0x7800) !== 0) return buildResponse(q, RCODE_NOTIMP, [], 0);
    if (failing.has(name)) return buildResponse(q, RCODE_SERVFAIL, [], 0);
    const e = table.get(name);
    if (e === undefined) return buildResponse(q, RCODE_NXDOMAIN, [], 0);
    let addrs: string[] = [];
    if (q.type === TYPE_A) addrs = e.addresses.filter((a) => isIPv4(a));
    else if (q.type === TYPE_AAAA) addrs = e.addresses.filter((a) => isIPv6(a));
    // A known name with no record of the asked type: NOERROR with no answers (NODATA).
    return buildResponse(q, 0, addrs, e.ttl);
  };

  const udp: UdpSocket = createSocket('udp4');
  udp.on('message', (msg, rinfo) => {
    const res = answer(msg);
    if (res !== undefined) udp.send(res, rinfo.port, rinfo.address);
  });
  udp.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(0, '127.0.0.1', () => resolve());
  });
  const port = udp.address().port;

  // TCP on the same port, for clients that retry over TCP; failing to get the port is not fatal.
  const sockets = new Set<Socket>();
  const tcp: Server = createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    let buf = Buffer.alloc(0);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const res = answer(buf.subarray(2, 2 + len));
        buf = buf.subarray(2 + len);
        if (res !== undefined) {
          const lenBuf = Buffer.alloc(2);
          lenBuf.writeUInt16BE(res.length, 0);
          sock.write(Buffer.concat([lenBuf, res]));
        }
      }
    });
  });
  let tcpListening = false;
  await new Promise<void>((resolve) => {
    tcp.once('error', () => resolve());
    tcp.listen(port, '127.0.0.1', () => {
      tcpListening = true;
      resolve();
    });
  });

  return {
    address: `127.0.0.1:${port}`,
    port,
    set,
    remove: (name) => {
      table.delete(norm(name));
    },
    fail: (name, on = true) => {
      if (on) failing.add(norm(name));
      else failing.delete(norm(name));
    },
    queries: (name) => counts.get(norm(name)) ?? 0,
    close: async () => {
      for (const s of sockets) s.destroy();
      await Promise.all([
        new Promise<void>((resolve) => udp.close(() => resolve())),
        tcpListening ? new Promise<void>((resolve) => tcp.close(() => resolve())) : Promise.resolve(),
      ]);
    },
  };
}

/** A DNS server that never answers: a UDP socket on loopback that reads every query and drops it. */
export interface SilentDnsServer {
  /** `127.0.0.1:PORT`, for Resolver({ server }). */
  readonly address: string;
  /** Queries received (and dropped). */
  readonly received: number;
  close(): Promise<void>;
}

export async function startSilentDnsServer(): Promise<SilentDnsServer> {
  const udp = createSocket('udp4');
  let received = 0;
  udp.on('message', () => {
    received++;
  });
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(0, '127.0.0.1', () => resolve());
  });
  const port = udp.address().port;
  return {
    address: `127.0.0.1:${port}`,
    get received() {
      return received;
    },
    close: () => new Promise<void>((r) => udp.close(() => r())),
  };
}
