// allocSmall (src/dataplane/slab.ts): buffers cut from shared slabs never overlap, across slabs too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allocSmall } from '../../../src/dataplane/slab.js';

test('allocSmall: the size asked for, never overlapping an earlier buffer, across slab boundaries; large ones on their own', () => {
  const bufs: Buffer[] = [];
  // ~300 KiB in sizes 1..1000: several slabs.
  for (let i = 0; i < 600; i++) {
    const n = 1 + ((i * 389) % 1000);
    const b = allocSmall(n);
    assert.equal(b.length, n);
    b.fill(i & 0xff);
    bufs.push(b);
  }
  // Each still holds its own fill: nothing cut later wrote over it.
  bufs.forEach((b, i) =>
    assert.ok(
      b.every((x) => x === (i & 0xff)),
      `buffer ${i} overwritten`,
    ),
  );
  const big = allocSmall(100_000);
  assert.equal(big.length, 100_000);
  assert.equal(big.buffer.byteLength, 100_000, 'a large buffer is not cut from a slab');
  assert.equal(allocSmall(0).length, 0);
});
