import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StreamTable } from '../../../src/dataplane/http2/stream-table.js';

interface S {
  readonly id: number;
  readonly tag: string;
}
const s = (id: number, tag = `s${id}`): S => ({ id, tag });

test('stream table: set, get, replace, delete, size', () => {
  const t = new StreamTable<S>();
  assert.equal(t.size, 0);
  assert.equal(t.get(1), undefined);
  t.set(s(1));
  t.set(s(3));
  assert.equal(t.size, 2);
  assert.equal(t.get(1)?.tag, 's1');
  assert.equal(t.get(3)?.tag, 's3');
  t.set(s(3, 'again'));
  assert.equal(t.size, 2, 'same id replaces');
  assert.equal(t.get(3)?.tag, 'again');
  assert.equal(t.delete(5), false);
  assert.equal(t.delete(1), true);
  assert.equal(t.delete(1), false);
  assert.equal(t.get(1), undefined);
  assert.equal(t.size, 1);
});

test('stream table: colliding ids stay reachable after deletions in their probe run (backward shift)', () => {
  const t = new StreamTable<S>();
  // With 16 slots, ids 1, 27, 69, 95 share home slot 0 (the top 4 bits of (id >>> 1) × 0x9e3779b1);
  // 17 and 43 are homed on the last slot, so the run wraps around into slot 0's.
  for (const id of [17, 1, 27, 69, 95, 43]) t.set(s(id));
  assert.equal(t.delete(27), true);
  assert.deepEqual(
    [1, 69, 95, 17, 43].map((id) => t.get(id)?.id),
    [1, 69, 95, 17, 43],
  );
  assert.equal(t.delete(17), true);
  assert.equal(t.delete(1), true);
  assert.deepEqual(
    [69, 95, 43].map((id) => t.get(id)?.id),
    [69, 95, 43],
  );
  assert.equal(t.size, 3);
});

test('stream table: agrees with a Map over a long random run of opens and closes, through growth', () => {
  const t = new StreamTable<S>();
  const m = new Map<number, S>();
  let seed = 7;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  let next = 1;
  for (let step = 0; step < 20000; step++) {
    const open = [...m.keys()];
    if (open.length === 0 || (open.length < 300 && rnd(3) > 0)) {
      const st = s(next);
      next += 2;
      t.set(st);
      m.set(st.id, st);
    } else {
      const id = open[rnd(open.length)]!;
      assert.equal(t.delete(id), true);
      m.delete(id);
    }
    assert.equal(t.size, m.size);
    if (step % 97 === 0) {
      for (const [id, st] of m) assert.equal(t.get(id), st);
      assert.deepEqual(
        t
          .values()
          .map((x) => x.id)
          .sort((a, b) => a - b),
        [...m.keys()].sort((a, b) => a - b),
      );
    }
  }
});

test('stream table: values() is a copy, so streams can be closed while going through it', () => {
  const t = new StreamTable<S>();
  for (let id = 1; id < 40; id += 2) t.set(s(id));
  for (const st of t.values()) t.delete(st.id);
  assert.equal(t.size, 0);
  assert.deepEqual(t.values(), []);
});
