// x-request-id generation (src/dataplane/http/request-id.ts): RFC 9562 version-4 UUIDs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newRequestId } from '../../../src/dataplane/http/request-id.js';

const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('request ids are lower-case version-4 UUIDs, unique across pool refills', () => {
  const seen = new Set<string>();
  // 20 000 ids: several refills of the random pool (512 ids each).
  for (let i = 0; i < 20_000; i++) {
    const id = newRequestId();
    assert.match(id, V4);
    seen.add(id);
  }
  assert.equal(seen.size, 20_000);
});

test('every hex digit position varies (the random bits are really used)', () => {
  const ids = Array.from({ length: 2000 }, () => newRequestId());
  for (let pos = 0; pos < 36; pos++) {
    if ([8, 13, 18, 23].includes(pos)) continue;
    const chars = new Set(ids.map((id) => id[pos]));
    if (pos === 14) assert.deepEqual([...chars], ['4'], 'version digit');
    else if (pos === 19) assert.ok([...chars].every((c) => '89ab'.includes(c!)) && chars.size === 4, 'variant digit');
    else assert.equal(chars.size, 16, `position ${pos}`);
  }
});
