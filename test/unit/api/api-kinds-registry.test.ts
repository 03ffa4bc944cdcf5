// One registry of kinds: every row of KINDS has its kind module, every module its row.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KINDS, kindKey } from '../../../src/api/kinds.js';
import { kindModule } from '../../../src/api/kinds/index.js';

test('every registered kind has its module, and the module names the same group and kind', () => {
  for (const info of KINDS) {
    const mod = kindModule(info);
    assert.ok(mod, `${kindKey(info)} has a kind module`);
    assert.equal(kindKey(mod), kindKey(info));
  }
  assert.equal(kindModule({ group: 'example.com', kind: 'Widget' }), undefined);
});
