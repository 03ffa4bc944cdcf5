// HPACK's Huffman code (RFC 7541 §5.2, Appendix B): encoding bit by bit into a buffer, decoding
// four bits at a time through a state table built once from the code table.
import { HUFFMAN_CODES, HUFFMAN_LENGTHS } from './huffman-table.js';

/** Encoded length in bytes of the latin1 string `s`. */
export function huffmanLength(s: string): number {
  let bits = 0;
  for (let i = 0; i < s.length; i++) bits += HUFFMAN_LENGTHS[s.charCodeAt(i) & 0xff]!;
  return (bits + 7) >>> 3;
}

/** Writes the code of latin1 `s` at `off` (huffmanLength(s) bytes), padded with ones; returns the end offset. */
export function huffmanEncode(s: string, out: Buffer, off: number): number {
  // Small-integer arithmetic only (it runs for every literal header value sent): fewer than 8
  // bits are pending between symbols, so a code of up to 24 bits fits beside them in 31.
  let acc = 0;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) & 0xff;
    const len = HUFFMAN_LENGTHS[c]!;
    const code = HUFFMAN_CODES[c]!;
    if (len <= 24) {
      acc = (acc << len) | code;
      n += len;
    } else {
      // 25–30 bits (rare octets): the high part first.
      acc = (acc << (len - 16)) | (code >>> 16);
      n += len - 16;
      while (n >= 8) {
        n -= 8;
        out[off++] = acc >>> n;
      }
      acc &= (1 << n) - 1;
      acc = (acc << 16) | (code & 0xffff);
      n += 16;
    }
    while (n >= 8) {
      n -= 8;
      out[off++] = acc >>> n;
    }
    acc &= (1 << n) - 1;
  }
  if (n > 0) out[off++] = (acc << (8 - n)) | ((1 << (8 - n)) - 1);
  return off;
}

// Decoding table: for each internal node of the code tree (256 of them, root = 0) and each
// nibble, one entry: next node (bits 0–8), emit flag (bit 9), fail (bit 10), symbol (bits 16–23).
const EMIT = 1 << 9;
const FAIL = 1 << 10;
const table = new Uint32Array(256 * 16);
/** Nodes where decoding may stop: reached from the last symbol by at most 7 one-bits. */
const accepting = new Uint8Array(256);

(function build(): void {
  // Tree as arrays: child[node*2 + bit] = node id (>= 0) or ~symbol (leaf), -1 unset.
  const child = new Int32Array(512 * 2).fill(-1);
  let nodes = 1;
  const add = (code: number, len: number, sym: number): void => {
    let node = 0;
    for (let i = len - 1; i >= 0; i--) {
      const bit = Math.floor(code / 2 ** i) & 1;
      const slot = node * 2 + bit;
      if (i === 0) {
        child[slot] = ~sym;
        return;
      }
      if (child[slot]! < 0) child[slot] = nodes++;
      node = child[slot]!;
    }
  };
  for (let s = 0; s < 256; s++) add(HUFFMAN_CODES[s]!, HUFFMAN_LENGTHS[s]!, s);
  add(0x3fffffff, 30, 256);
  // accepting: the all-ones path from the root, depth 0..7.
  let node = 0;
  accepting[0] = 1;
  for (let d = 1; d <= 7; d++) {
    node = child[node * 2 + 1]!;
    accepting[node] = 1;
  }
  for (let n = 0; n < nodes; n++) {
    for (let nib = 0; nib < 16; nib++) {
      let cur = n;
      let out = 0;
      let fail = false;
      for (let b = 3; b >= 0; b--) {
        const next = child[cur * 2 + ((nib >> b) & 1)]!;
        if (next < 0) {
          const sym = ~next;
          if (sym === 256) {
            fail = true;
            break;
          }
          out = EMIT | (sym << 16);
          cur = 0;
        } else cur = next;
      }
      table[n * 16 + nib] = fail ? FAIL : out | cur;
    }
  }
})();

/**
 * Decodes `buf[start, end)` into a latin1 string; undefined when the code is invalid (EOS in the
 * data, or padding longer than 7 bits or not all ones).
 */
export function huffmanDecode(buf: Buffer, start: number, end: number, scratch: Buffer): string | undefined {
  let state = 0;
  let o = 0;
  const out = scratch.length >= (end - start) * 2 ? scratch : Buffer.allocUnsafe((end - start) * 2);
  for (let i = start; i < end; i++) {
    const byte = buf[i]!;
    let e = table[state * 16 + (byte >> 4)]!;
    if ((e & FAIL) !== 0) return undefined;
    if ((e & EMIT) !== 0) out[o++] = e >>> 16;
    state = e & 0x1ff;
    e = table[state * 16 + (byte & 0xf)]!;
    if ((e & FAIL) !== 0) return undefined;
    if ((e & EMIT) !== 0) out[o++] = e >>> 16;
    state = e & 0x1ff;
  }
  if (accepting[state] !== 1) return undefined;
  return out.toString('latin1', 0, o);
}
