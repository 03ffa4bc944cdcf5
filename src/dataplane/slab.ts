// Small buffers on the request path (message heads, frames to write, body copies out of the
// shared read buffer) cut from 64 KiB slabs. Buffer.allocUnsafe cuts them from node's 8 KiB pool
// and asks C++ for a new pool every ~20 heads; a slab is eight times fewer calls. Like node's
// pool, a slab is never written again once cut: it lives as long as any buffer cut from it.

const SLAB_BYTES = 64 * 1024;
/** Larger requests get a buffer of their own (as from node's pool above half its size). */
const SMALL_MAX = 4096;

let slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
let used = 0;

/** `n` uninitialised bytes: a slice of the current slab when small, else a buffer of their own. */
export function allocSmall(n: number): Buffer {
  if (n > SMALL_MAX) return Buffer.allocUnsafe(n);
  if (used + n > SLAB_BYTES) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    used = 0;
  }
  const b = slab.subarray(used, used + n);
  // 8-byte aligned, as node's pool: typed-array views over a buffer may need it.
  used = (used + n + 7) & ~7;
  return b;
}
