// x-request-id values: random (version 4) UUIDs, as Envoy generates them. Written from a pool of
// random bytes into one scratch buffer and read out as one flat string: node's randomUUID builds
// each from ~20 string pieces, garbage the young generation collects for every request.
import { randomFillSync } from 'node:crypto';
import { latin1 } from '../node-internals.js';

const POOL = Buffer.allocUnsafe(16 * 512);
let used = POOL.length;
const OUT = Buffer.allocUnsafe(36);
const HEX = Buffer.from('0123456789abcdef', 'latin1');

/** A new UUID v4 (RFC 9562 §5.4), lower-case, with dashes. */
export function newRequestId(): string {
  if (used === POOL.length) {
    randomFillSync(POOL);
    used = 0;
  }
  const o = used;
  used += 16;
  POOL[o + 6] = (POOL[o + 6]! & 0x0f) | 0x40; // version 4
  POOL[o + 8] = (POOL[o + 8]! & 0x3f) | 0x80; // variant 10
  let j = 0;
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) OUT[j++] = 0x2d;
    const b = POOL[o + i]!;
    OUT[j++] = HEX[b >> 4]!;
    OUT[j++] = HEX[b & 15]!;
  }
  return latin1(OUT, 0, 36);
}
