// The reconnect/restart backoff: doubles per failure up to its cap, jittered within [ceiling/2, ceiling], reset after a success.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Backoff } from '../../../src/proxyconfig/distribution/backoff.js';

test('delays double up to the cap, each jittered within half to all of its ceiling', () => {
  const b = new Backoff({ minMs: 100, maxMs: 1000 });
  const ceilings = [100, 200, 400, 800, 1000, 1000, 1000];
  for (let round = 0; round < 50; round++) {
    b.reset();
    for (const ceiling of ceilings) {
      const d = b.next();
      assert.ok(d >= ceiling / 2 && d <= ceiling, `delay ${d} within [${ceiling / 2}, ${ceiling}]`);
    }
  }
});

test('the delays are jittered (not all equal), so proxies do not reconnect in lockstep', () => {
  const seen = new Set<number>();
  for (let i = 0; i < 20; i++) seen.add(new Backoff({ minMs: 1000, maxMs: 1000 }).next());
  assert.ok(seen.size > 1);
});

test('reset starts again from the shortest delay', () => {
  const b = new Backoff({ minMs: 100, maxMs: 10_000 });
  for (let i = 0; i < 10; i++) b.next();
  assert.ok(b.next() > 100);
  b.reset();
  assert.ok(b.next() <= 100);
});
