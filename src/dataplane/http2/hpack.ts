// HPACK (RFC 7541): the static table, a dynamic table per direction, integer and string
// primitives, a decoder that hands out (name, value) pairs and an encoder that indexes repeated
// fields. Strings are latin1, as node's HTTP header values are.
import { huffmanDecode, huffmanEncode, huffmanLength } from './huffman.js';
import { fieldOk } from './fields.js';
import { latin1 } from '../node-internals.js';

export const STATIC_TABLE: ReadonlyArray<readonly [string, string]> = [
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];

/** Whether each static entry is well formed as a received field (transfer-encoding is not). */
const STATIC_OK = STATIC_TABLE.map(([n, v]) => fieldOk(n, v));

export class HpackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HpackError';
  }
}

/**
 * A dynamic table: a ring of entries, newest at index 0 (RFC 7541 §2.3.2). A decoder's entries
 * carry whether the field is well formed (fieldOk), judged once when it entered.
 */
class DynamicTable {
  names: string[] = [];
  values: string[] = [];
  oks: boolean[] = [];
  /** Index of the newest entry in the ring; entries run backwards from it. */
  #head = 0;
  length = 0;
  size = 0;
  maxSize: number;

  constructor(maxSize: number) {
    this.maxSize = maxSize;
  }

  #slot(i: number): number {
    return (this.#head - i + this.names.length) % this.names.length;
  }

  /** Entry i (0 = newest). */
  name(i: number): string {
    return this.names[this.#slot(i)]!;
  }
  value(i: number): string {
    return this.values[this.#slot(i)]!;
  }
  ok(i: number): boolean {
    return this.oks[this.#slot(i)]!;
  }

  add(name: string, value: string, ok = true): void {
    const sz = name.length + value.length + 32;
    if (sz > this.maxSize) {
      this.clear();
      return;
    }
    while (this.size + sz > this.maxSize) this.evict();
    const cap = this.names.length;
    if (this.length === cap) {
      // Grow: unroll the ring into order (oldest first) with room to spare.
      const n: string[] = [];
      const v: string[] = [];
      const k: boolean[] = [];
      for (let i = this.length - 1; i >= 0; i--) {
        n.push(this.name(i));
        v.push(this.value(i));
        k.push(this.ok(i));
      }
      const grown = Math.max(16, cap * 2);
      n.length = grown;
      v.length = grown;
      k.length = grown;
      this.names = n;
      this.values = v;
      this.oks = k;
      this.#head = this.length - 1;
    }
    this.#head = (this.#head + 1) % this.names.length;
    this.names[this.#head] = name;
    this.values[this.#head] = value;
    this.oks[this.#head] = ok;
    this.length++;
    this.size += sz;
  }

  /** Drops the oldest entry; returns its sequence position from the newest (for encoders). */
  evict(): void {
    const i = this.length - 1;
    this.size -= this.name(i).length + this.value(i).length + 32;
    this.length--;
  }

  setMaxSize(max: number): void {
    this.maxSize = max;
    while (this.size > max) this.evict();
  }

  clear(): void {
    this.length = 0;
    this.size = 0;
  }
}

/** Receives each decoded field. */
export type FieldSink = (name: string, value: string) => void;

export class HpackDecoder {
  readonly #table: DynamicTable;
  /** The most the peer may set the table to (our SETTINGS_HEADER_TABLE_SIZE). */
  #limit: number;
  #scratch = Buffer.allocUnsafe(256);

  constructor(maxTableSize = 4096) {
    this.#table = new DynamicTable(maxTableSize);
    this.#limit = maxTableSize;
  }

  get tableSize(): number {
    return this.#table.size;
  }

  /**
   * Decodes one complete header block, calling `sink` per field; returns whether every field is
   * well formed (fields.ts fieldOk: judged for each literal as it is read, remembered for the
   * entries it adds). Throws HpackError on a malformed block (a COMPRESSION_ERROR: the connection
   * cannot continue).
   */
  decode(buf: Buffer, start: number, end: number, sink: FieldSink): boolean {
    let p = start;
    let fieldSeen = false;
    let wellFormed = true;
    const t = this.#table;
    while (p < end) {
      const b = buf[p]!;
      if ((b & 0x80) !== 0) {
        // Indexed field: whether it is well formed was judged when its entry was made.
        const idx = readInt(buf, p, end, 7);
        p = intEnd;
        if (idx === 0) throw new HpackError('index 0');
        const name = this.#name(idx);
        if (!(idx <= 61 ? STATIC_OK[idx - 1]! : t.ok(idx - 62))) wellFormed = false;
        sink(name, this.#value(idx));
        fieldSeen = true;
      } else if ((b & 0xe0) === 0x20) {
        // Dynamic table size update: only before the first field of a block.
        if (fieldSeen) throw new HpackError('table size update after a field');
        const size = readInt(buf, p, end, 5);
        p = intEnd;
        if (size > this.#limit) throw new HpackError(`table size update ${size} above ${this.#limit}`);
        t.setMaxSize(size);
      } else {
        // Literal: with incremental indexing (01), without (0000) or never indexed (0001).
        const incremental = (b & 0xc0) === 0x40;
        const idx = readInt(buf, p, end, incremental ? 6 : 4);
        p = intEnd;
        let name: string;
        if (idx === 0) {
          const r = this.#string(buf, p, end);
          name = r.s;
          p = r.p;
        } else name = this.#name(idx);
        const r = this.#string(buf, p, end);
        p = r.p;
        const ok = fieldOk(name, r.s);
        if (!ok) wellFormed = false;
        if (incremental) t.add(name, r.s, ok);
        sink(name, r.s);
        fieldSeen = true;
      }
    }
    return wellFormed;
  }

  #name(idx: number): string {
    if (idx <= 61) return STATIC_TABLE[idx - 1]![0];
    const i = idx - 62;
    if (i >= this.#table.length) throw new HpackError(`index ${idx} beyond the table`);
    return this.#table.name(i);
  }

  #value(idx: number): string {
    if (idx <= 61) return STATIC_TABLE[idx - 1]![1];
    return this.#table.value(idx - 62);
  }

  #last = { s: '', p: 0 };

  #string(buf: Buffer, p: number, end: number): { s: string; p: number } {
    if (p >= end) throw new HpackError('truncated string');
    const huff = (buf[p]! & 0x80) !== 0;
    const len = readInt(buf, p, end, 7);
    const np = intEnd;
    const e = np + len;
    if (e > end) throw new HpackError('truncated string');
    let s: string;
    if (huff) {
      if (this.#scratch.length < len * 2) this.#scratch = Buffer.allocUnsafe(len * 2);
      const d = huffmanDecode(buf, np, e, this.#scratch);
      if (d === undefined) throw new HpackError('invalid Huffman code');
      s = d;
    } else if (len <= 3) {
      // A length or a service time: built without a call into C++ (several times cheaper for so few bytes).
      s =
        len === 0
          ? ''
          : len === 1
            ? String.fromCharCode(buf[np]!)
            : len === 2
              ? String.fromCharCode(buf[np]!, buf[np + 1]!)
              : String.fromCharCode(buf[np]!, buf[np + 1]!, buf[np + 2]!);
    } else s = latin1(buf, np, e);
    const r = this.#last;
    r.s = s;
    r.p = e;
    return r;
  }
}

/** Where the last readInt ended (a module variable, not a [value, offset] pair allocated per call). */
let intEnd = 0;

/** Reads an N-bit-prefix integer at `p`; returns its value and leaves the next offset in intEnd. */
function readInt(buf: Buffer, p: number, end: number, prefix: number): number {
  const max = (1 << prefix) - 1;
  let v = buf[p++]! & max;
  if (v < max) {
    intEnd = p;
    return v;
  }
  let m = 0;
  for (;;) {
    if (p >= end) throw new HpackError('truncated integer');
    const b = buf[p++]!;
    v += (b & 0x7f) * 2 ** m;
    m += 7;
    if ((b & 0x80) === 0) break;
    // Nothing legitimate is above 2^28 (window sizes, string lengths): stop overlong encodings.
    if (m > 28) throw new HpackError('integer overflow');
  }
  intEnd = p;
  return v;
}

/** Writes an N-bit-prefix integer with `flags` in the first byte's high bits; returns the end offset. */
export function writeInt(out: Buffer, off: number, prefix: number, flags: number, v: number): number {
  const max = (1 << prefix) - 1;
  if (v < max) {
    out[off++] = flags | v;
    return off;
  }
  out[off++] = flags | max;
  v -= max;
  while (v >= 128) {
    out[off++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  out[off++] = v;
  return off;
}

/**
 * Header names whose values change with every message: indexing them only churns the table.
 * (`date` is indexed: it changes once a second, and under load thousands of responses share it.)
 */
const NO_INDEX = new Set([
  ':path',
  'content-length',
  'etag',
  'last-modified',
  'if-modified-since',
  'if-none-match',
  'location',
  'age',
  'x-request-id',
  'x-b3-traceid',
  'x-b3-spanid',
  'x-b3-parentspanid',
  'traceparent',
  'tracestate',
  'x-envoy-expected-rq-timeout-ms',
  'x-envoy-upstream-service-time',
  'grpc-timeout',
  'set-cookie',
]);
/** Never indexed (RFC 7541 §7.1.3): credentials stay out of every table on the path. */
const NEVER_INDEX = new Set(['authorization', 'proxy-authorization', 'cookie']);

/** How the encoder treats a name: its static index, the static table's full fields for it, indexing. */
interface NameRule {
  /** The name's first static index (1-based), 0 when the static table lacks it. */
  readonly staticIndex: number;
  /** value → static index of the full field, for the few names the static table has values for. */
  readonly staticFields: Map<string, number> | undefined;
  readonly never: boolean;
  readonly noIndex: boolean;
}
const PLAIN_NAME: NameRule = { staticIndex: 0, staticFields: undefined, never: false, noIndex: false };
/** The rules of the names the static table or the indexing sets know (one lookup per field sent). */
const NAME_RULES = new Map<string, NameRule>();
for (const name of new Set([...STATIC_TABLE.map(([n]) => n), ...NO_INDEX, ...NEVER_INDEX])) {
  const staticIndex = STATIC_TABLE.findIndex(([n]) => n === name) + 1;
  const withValues = STATIC_TABLE.flatMap(([n, v], i) => (n === name && v !== '' ? [[v, i + 1] as const] : []));
  NAME_RULES.set(name, {
    staticIndex,
    staticFields: withValues.length > 0 ? new Map(withValues) : undefined,
    never: NEVER_INDEX.has(name),
    noIndex: NO_INDEX.has(name),
  });
}

export class HpackEncoder {
  readonly #table: DynamicTable;
  /**
   * name → value → insertion number of the entry in the dynamic table. Two levels, not one
   * "name\0value" key: a key string built per field sent cost a concatenation and its hashing.
   */
  readonly #fields = new Map<string, Map<string, number>>();
  /** Entries in #fields (some may have left the table). */
  #mapped = 0;
  /** Insertions so far; entry with insertion number k has index 62 + (#inserted − 1 − k). */
  #inserted = 0;
  /** A table size update owed at the start of the next block (the peer lowered the limit). */
  #pendingSize = -1;

  constructor(maxTableSize = 4096) {
    this.#table = new DynamicTable(maxTableSize);
  }

  /** The peer's SETTINGS_HEADER_TABLE_SIZE: used up to 4096 (more buys little for a proxy). */
  setPeerMaxSize(size: number): void {
    const s = Math.min(size, 4096);
    if (s === this.#table.maxSize) return;
    this.#resize(s);
    this.#pendingSize = s;
  }

  #resize(max: number): void {
    this.#table.setMaxSize(max);
    this.#dropEvicted();
  }

  /** Forgets map entries the table no longer holds. */
  #dropEvicted(): void {
    const oldest = this.#inserted - this.#table.length;
    if (this.#mapped <= this.#table.length) return;
    for (const [name, byValue] of this.#fields) {
      for (const [v, n] of byValue) {
        if (n < oldest) {
          byValue.delete(v);
          this.#mapped--;
        }
      }
      if (byValue.size === 0) this.#fields.delete(name);
    }
  }

  /** Starts a block at `off` (a pending size update); returns the offset after it. */
  begin(out: Buffer, off: number): number {
    if (this.#pendingSize < 0) return off;
    const s = this.#pendingSize;
    this.#pendingSize = -1;
    return writeInt(out, off, 5, 0x20, s);
  }

  /** Most bytes `field(name, value)` can write. */
  static bound(name: string, value: string): number {
    return name.length + value.length + 12;
  }

  /** Encodes one field at `off` (room: bound(name, value)); returns the end offset. */
  field(out: Buffer, off: number, name: string, value: string): number {
    const rule = NAME_RULES.get(name) ?? PLAIN_NAME;
    if (rule.staticFields !== undefined) {
      const full = rule.staticFields.get(value);
      if (full !== undefined) return writeInt(out, off, 7, 0x80, full);
    }
    const t = this.#table;
    let byValue = this.#fields.get(name);
    const k = byValue?.get(value);
    if (k !== undefined && k >= this.#inserted - t.length) return writeInt(out, off, 7, 0x80, 62 + (this.#inserted - 1 - k));
    const index = !rule.never && !rule.noIndex && name.length + value.length + 32 <= t.maxSize >> 2;
    const sIdx = rule.staticIndex;
    if (index) off = writeInt(out, off, 6, 0x40, sIdx);
    else off = writeInt(out, off, 4, rule.never ? 0x10 : 0x00, sIdx);
    // Huffman-coded only what enters the table (sent once, then referenced): a value sent
    // literally every time (a request id, a length) costs a Huffman pass per message to save a
    // few bytes (RFC 7541 §5.2 leaves the choice to the encoder).
    if (sIdx === 0) off = writeString(out, off, name, index);
    off = writeString(out, off, value, index);
    if (index) {
      t.add(name, value);
      if (byValue === undefined) this.#fields.set(name, (byValue = new Map()));
      if (k === undefined) this.#mapped++;
      byValue.set(value, this.#inserted++);
      if (this.#mapped > t.length + 64) this.#dropEvicted();
    }
    return off;
  }
}

/** A string literal, Huffman-coded when `huffman` and that is shorter. */
function writeString(out: Buffer, off: number, s: string, huffman: boolean): number {
  const h = huffman && s.length > 4 ? huffmanLength(s) : s.length;
  if (h < s.length) {
    off = writeInt(out, off, 7, 0x80, h);
    return huffmanEncode(s, out, off);
  }
  off = writeInt(out, off, 7, 0, s.length);
  const n = s.length;
  // A request id or a length: a loop costs less than Buffer#write's call into C++ for a few dozen bytes.
  if (n > SHORT_LITERAL) return off + out.write(s, off, 'latin1');
  for (let i = 0; i < n; i++) out[off + i] = s.charCodeAt(i);
  return off + n;
}

/** Literals up to this long are copied by a loop (fields are Latin-1: the decoder and the senders check them). */
const SHORT_LITERAL = 64;
