// The few DNS wire-format pieces outpost's DNS servers need (the sidecar's DNS proxy and the
// node's cluster DNS): one question in, A records out (RFC 1035 §4).

export const TYPE_A = 1;
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

/** A response to `query` with `addresses` as A records (none: NOERROR/empty or the given rcode). */
export function dnsAnswer(query: Buffer, q: Question, rcode: number, addresses: readonly string[]): Buffer {
  const header = Buffer.from(query.subarray(0, 12));
  header[2] = 0x80 | (query[2]! & 0x79) | 0x04; // QR, opcode and RD copied, AA
  header[3] = 0x80 | rcode; // RA
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(addresses.length, 6);
  header.writeUInt16BE(0, 8);
  header.writeUInt16BE(0, 10);
  const records = addresses.map((ip) => {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0);
    rr.writeUInt16BE(TYPE_A, 2);
    rr.writeUInt16BE(CLASS_IN, 4);
    rr.writeUInt32BE(MESH_TTL_S, 6);
    rr.writeUInt16BE(4, 10);
    ip.split('.').forEach((o, i) => (rr[12 + i] = Number(o)));
    return rr;
  });
  return Buffer.concat([header, query.subarray(12, q.end), ...records]);
}
