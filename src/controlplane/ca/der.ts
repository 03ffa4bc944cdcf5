// The few ASN.1 DER shapes an X.509 certificate needs, encoded by hand (node:crypto signs, but builds no certificates).
//
// Only what the mesh CA writes is here: SEQUENCE/SET, INTEGER, OID, strings, times, BIT/OCTET
// STRING, BOOLEAN and context tags; and a reader that walks one level of TLVs, to take the subject
// Name out of a CA certificate we did not make.

export type Der = Buffer;

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, content: Buffer): Der {
  return Buffer.concat([Buffer.from([tag]), length(content.length), content]);
}

export const sequence = (...items: Der[]): Der => tlv(0x30, Buffer.concat(items));
export const set = (...items: Der[]): Der => tlv(0x31, Buffer.concat(items));
export const nullValue = (): Der => Buffer.from([0x05, 0x00]);
export const boolean = (v: boolean): Der => Buffer.from([0x01, 0x01, v ? 0xff : 0x00]);
export const octetString = (b: Buffer): Der => tlv(0x04, b);
export const utf8String = (s: string): Der => tlv(0x0c, Buffer.from(s, 'utf8'));
export const ia5String = (s: string, tag = 0x16): Der => tlv(tag, Buffer.from(s, 'ascii'));
/** Context-specific constructed tag [n] (EXPLICIT wrapping). */
export const explicit = (n: number, inner: Der): Der => tlv(0xa0 | n, inner);

/** A non-negative INTEGER from big-endian bytes (a leading 0 is added when the top bit is set). */
export function integer(bytes: Buffer | number): Der {
  let b = typeof bytes === 'number' ? Buffer.from([bytes]) : bytes;
  let i = 0;
  while (i < b.length - 1 && b[i] === 0 && (b[i + 1]! & 0x80) === 0) i++;
  b = b.subarray(i);
  if (b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(0x02, b);
}

export function oid(dotted: string): Der {
  const parts = dotted.split('.').map(Number);
  const out = [40 * parts[0]! + parts[1]!];
  for (const p of parts.slice(2)) {
    const stack = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) stack.unshift((v & 0x7f) | 0x80);
    out.push(...stack);
  }
  return tlv(0x06, Buffer.from(out));
}

/** BIT STRING with the unused-bit count in front. */
export function bitString(bytes: Buffer, unusedBits = 0): Der {
  return tlv(0x03, Buffer.concat([Buffer.from([unusedBits]), bytes]));
}

/** UTCTime before 2050, GeneralizedTime from then on (RFC 5280 4.1.2.5); whole seconds. */
export function time(d: Date): Der {
  const iso = d.toISOString();
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '');
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(`${digits.slice(2)}Z`, 'ascii')) : tlv(0x18, Buffer.from(`${digits}Z`, 'ascii'));
}

export interface Tlv {
  readonly tag: number;
  /** The whole element, header included. */
  readonly raw: Buffer;
  readonly content: Buffer;
}

/** The elements directly inside `content` (one level). Throws on a truncated or malformed encoding. */
export function children(content: Buffer): Tlv[] {
  const out: Tlv[] = [];
  let at = 0;
  while (at < content.length) {
    const tag = content[at]!;
    let len = content[at + 1];
    if (len === undefined) throw new Error('truncated DER');
    let header = 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n === 0 || n > 4 || at + 2 + n > content.length) throw new Error('bad DER length');
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + content[at + 2 + i]!;
      header += n;
    }
    const end = at + header + len;
    if (end > content.length) throw new Error('truncated DER');
    out.push({ tag, raw: content.subarray(at, end), content: content.subarray(at + header, end) });
    at = end;
  }
  return out;
}

/** The DER of a certificate's subject Name (as an issuer Name for what it signs). */
export function subjectNameOf(certDer: Buffer): Der {
  const [cert] = children(certDer);
  const [tbs] = cert ? children(cert.content) : [];
  if (!tbs) throw new Error('not a certificate');
  const fields = children(tbs.content);
  const offset = fields[0]?.tag === 0xa0 ? 1 : 0; // [0] version is optional
  const subject = fields[offset + 4];
  if (!subject || subject.tag !== 0x30) throw new Error('certificate has no subject');
  return subject.raw;
}
