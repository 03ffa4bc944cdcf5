// Label selector syntax and JSON merge patch, as Kubernetes and RFC 7386 define them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { matchesLabels, parseLabelSelector } from '../../../src/store/label-selector.js';
import { canonicalJson, mergePatch } from '../../../src/store/merge-patch.js';
import { StoreError } from '../../../src/store/types.js';

const labels = { app: 'curl', tier: 'web', env: 'prod' };

test('label selector operators', () => {
  const cases: [string, boolean][] = [
    ['', true],
    ['app=curl', true],
    ['app==curl', true],
    ['app=other', false],
    ['app!=curl', false],
    ['missing!=x', true],
    ['env in (prod,staging)', true],
    ['env in (staging)', false],
    ['env notin (staging, dev)', true],
    ['env notin (prod)', false],
    ['missing notin (prod)', true],
    ['tier', true],
    ['missing', false],
    ['!missing', true],
    ['!tier', false],
    ['app=curl,tier=web,!x', true],
    ['app=curl, tier=db', false],
    ['app.kubernetes.io/name', false],
    ['app=', false],
  ];
  for (const [sel, want] of cases) assert.equal(matchesLabels(parseLabelSelector(sel), labels), want, sel);
  assert.equal(matchesLabels(parseLabelSelector('app='), { app: '' }), true);
});

test('label selector syntax errors are BadRequest naming the selector', () => {
  for (const sel of ['app in (a', 'a b', '=x', 'app=bad value!', 'in(']) {
    assert.throws(
      () => parseLabelSelector(sel),
      (e: unknown) => e instanceof StoreError && e.code === 400 && e.message.includes(sel),
      sel,
    );
  }
});

test('merge patch follows RFC 7386 examples', () => {
  const cases: [unknown, unknown, unknown][] = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [
      ['a', 'b'],
      ['c', 'd'],
      ['c', 'd'],
    ],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  for (const [target, patch, want] of cases) assert.deepEqual(mergePatch(target, patch), want, JSON.stringify([target, patch]));
  const t = { a: { b: 1 } };
  mergePatch(t, { a: { b: 2 } });
  assert.deepEqual(t, { a: { b: 1 } }, 'target not mutated');
});

test('canonical JSON ignores key order', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: 2 } }), canonicalJson({ a: { c: 2, d: [1, { y: 2, z: 1 }] }, b: 1 }));
  assert.notEqual(canonicalJson({ a: [1, 2] }), canonicalJson({ a: [2, 1] }));
});
