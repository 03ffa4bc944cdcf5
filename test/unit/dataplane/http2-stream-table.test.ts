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
  // With 16 slots, ids 1, 33, 65, 97 share a home slot (id >>> 1 & 15 = 0); 31 sits at the last slot and wraps.
  for (const id of [31, 1, 33, 65, 97, 63]) t.set(s(id));
  assert.equal(t.delete(33), true);
  assert.deepEqual(
    [1, 65, 97, 31, 63].map((id) => t.get(id)?.id),
    [1, 65, 97, 31, 63],
  );
  assert.equal(t.delete(31), true);
  assert.equal(t.delete(1), true);
  assert.deepEqual(
    [65, 97, 63].map((id) => t.get(id)?.id),
    [65, 97, 63],
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
