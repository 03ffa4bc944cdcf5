// The few DNS wire-format pieces outpost's DNS servers need (the sidecar's DNS proxy and the
// node's cluster DNS): one question in, A and AAAA records out (RFC 1035 §4, RFC 3596).
import net from 'node:net';

export const TYPE_A = 1;
export const TYPE_AAAA = 28;
export const CLASS_IN = 1;
export const RCODE_SERVFAIL = 2;
export const RCODE_NXDOMAIN = 3;
/** Istio's DNS proxy answers mesh names with TTL 30 s. */
export const MESH_TTL_S = 30;

export interface Question {
  name: string;
  type: number;
  /** Offset just past the question. */
  end: number;
}

export function parseQuestion(msg: Buffer): Question | undefined {
  if (msg.length < 12 || msg.readUInt16BE(4) !== 1) return undefined;
  const labels: string[] = [];
  let off = 12;
  while (off < msg.length) {
    const len = msg[off]!;
    if (len === 0) break;
    if (len > 63 || off + 1 + len > msg.length) return undefined;
    labels.push(msg.subarray(off + 1, off + 1 + len).toString('latin1'));
    off += 1 + len;
  }
  if (off + 5 > msg.length) return undefined;
  return { name: labels.join('.').toLowerCase(), type: msg.readUInt16BE(off + 1), end: off + 5 };
}

/** The addresses of `list` that answer a question of `type`: IPv4 for A, IPv6 for AAAA, none for other types. */
export function addressesFor(type: number, list: readonly string[]): string[] {
  if (type === TYPE_A) return list.filter((a) => net.isIPv4(a));
  if (type === TYPE_AAAA) return list.filter((a) => net.isIPv6(a));
  return [];
}

/** The 16 bytes of an IPv6 address (`::` expanded, an embedded IPv4 tail read as two groups). */
function ipv6Bytes(ip: string): Buffer {
  let text = ip;
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) text = text.slice(0, v4.index) + `${((+v4[1]! << 8) | +v4[2]!).toString(16)}:${((+v4[3]! << 8) | +v4[4]!).toString(16)}`;
  const [head, tail] = text.split('::') as [string, string | undefined];
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** A response to `query` with `addresses` as A (IPv4) and AAAA (IPv6) records (none: NOERROR/empty or the given rcode). */
export function dnsAnswer(query: Buffer, q: Question, rcode: number, addresses: readonly string[]): Buffer {
  const header = Buffer.from(query.subarray(0, 12));
  header[2] = 0x80 | (query[2]! & 0x79) | 0x04; // QR, opcode and RD copied, AA
  header[3] = 0x80 | rcode; // RA
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(addresses.length, 6);
  header.writeUInt16BE(0, 8);
  header.writeUInt16BE(0, 10);
  const records = addresses.map((ip) => {
    const data = net.isIPv6(ip) ? ipv6Bytes(ip) : Buffer.from(ip.split('.').map(Number));
    const rr = Buffer.alloc(12 + data.length);
    rr.writeUInt16BE(0xc00c, 0);
    rr.writeUInt16BE(data.length === 16 ? TYPE_AAAA : TYPE_A, 2);
    rr.writeUInt16BE(CLASS_IN, 4);
    rr.writeUInt32BE(MESH_TTL_S, 6);
    rr.writeUInt16BE(data.length, 10);
    data.copy(rr, 12);
    return rr;
  });
  return Buffer.concat([header, query.subarray(12, q.end), ...records]);
}
