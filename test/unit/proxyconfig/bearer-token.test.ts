// The one bearer-token check every mesh endpoint uses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bearerMatches, secretEquals } from '../../../src/proxyconfig/bearer-token.js';

test('secretEquals: equal only for the same bytes, whatever the lengths', () => {
  assert.equal(secretEquals('s3cret', 's3cret'), true);
  assert.equal(secretEquals('s3cret', 's3creT'), false);
  assert.equal(secretEquals('s3cre', 's3cret'), false);
  assert.equal(secretEquals('', 's3cret'), false);
  assert.equal(secretEquals('tökén', 'tökén'), true);
});

test('bearerMatches: only `Bearer <token>`', () => {
  assert.equal(bearerMatches('Bearer abc', 'abc'), true);
  assert.equal(bearerMatches('Bearer abc ', 'abc'), true, 'trailing space as HTTP parsers leave it');
  assert.equal(bearerMatches('Bearer abd', 'abc'), false);
  assert.equal(bearerMatches('bearer abc', 'abc'), false);
  assert.equal(bearerMatches('Basic abc', 'abc'), false);
  assert.equal(bearerMatches('abc', 'abc'), false);
  assert.equal(bearerMatches(undefined, 'abc'), false);
  assert.equal(bearerMatches('Bearer ', ''), false, 'an empty token matches nothing');
});
