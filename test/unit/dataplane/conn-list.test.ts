import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConnList, ListedSocket, type Listed } from '../../../src/dataplane/conn-list.js';

class C implements Listed {
  listIndex = -1;
  constructor(readonly n: number) {}
}

test('conn list: add, delete, size, index bookkeeping', () => {
  const l = new ConnList<C>();
  const a = new C(1);
  const b = new C(2);
  const c = new C(3);
  l.add(a);
  l.add(b);
  l.add(c);
  l.add(b);
  assert.equal(l.size, 3, 'adding a member twice lists it once');
  assert.equal(l.delete(a), true);
  assert.equal(a.listIndex, -1);
  assert.equal(l.delete(a), false);
  assert.equal(l.size, 2);
  // The last member took the freed slot.
  assert.equal(c.listIndex, 0);
  assert.deepEqual(
    l.values().map((x) => x.n),
    [3, 2],
  );
  const other = new ConnList<C>();
  assert.equal(other.delete(b), false, 'a member of another list is not removed');
  assert.equal(l.size, 2);
});

test('conn list: agrees with a Set over a long random run of opens and closes, through growth and shrinking', () => {
  const l = new ConnList<C>();
  const m = new Set<C>();
  let seed = 11;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (let step = 0; step < 20000; step++) {
    // Grows to a few hundred, then drains, then grows again.
    const target = step % 5000 < 2500 ? 400 : 5;
    const open = [...m];
    if (open.length === 0 || (open.length < target && rnd(3) > 0)) {
      const x = new C(step);
      l.add(x);
      m.add(x);
    } else {
      const x = open[rnd(open.length)]!;
      assert.equal(l.delete(x), true);
      m.delete(x);
    }
    assert.equal(l.size, m.size);
    if (step % 97 === 0) {
      const vs = l.values();
      assert.deepEqual(new Set(vs), m);
      vs.forEach((x, i) => assert.equal(x.listIndex, i));
    }
  }
});

test('conn list: members can be closed while going through values() or forEachLastFirst', () => {
  const l = new ConnList<C>();
  for (let i = 0; i < 40; i++) l.add(new C(i));
  const seen: number[] = [];
  l.forEachLastFirst((x) => {
    seen.push(x.n);
    if (x.n % 2 === 0) l.delete(x);
  });
  assert.equal(seen.length, 40, 'every member visited once');
  assert.equal(new Set(seen).size, 40);
  assert.equal(l.size, 20);
  for (const x of l.values()) l.delete(x);
  assert.equal(l.size, 0);
  assert.deepEqual(l.values(), []);
});

test('conn list: a socket wrapper carries the index for an object that is not ours', () => {
  const l = new ConnList<ListedSocket<object>>();
  const members = Array.from({ length: 100 }, () => new ListedSocket({}));
  for (const x of members) l.add(x);
  assert.equal(l.size, 100);
  for (const x of members) assert.equal(l.delete(x), true);
  assert.equal(l.size, 0);
  assert.ok(members.every((x) => x.listIndex === -1));
});
