// The one duration parser: Go's grammar, as Istio, the Gateway API and kubelet's flags write durations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { durationMs, isDuration, parseDuration } from '../../../src/api/duration.js';

test('parseDuration reads Go durations to milliseconds and refuses anything else', () => {
  const table: Array<[string, number | undefined]> = [
    ['10s', 10_000],
    ['250ms', 250],
    ['1.5s', 1500],
    ['1m', 60_000],
    ['1h2m3s', 3_723_000],
    ['1h30m', 5_400_000],
    ['2h', 7_200_000],
    ['0s', 0],
    ['1500us', 2],
    ['1500µs', 2],
    ['3000000ns', 3],
    ['', undefined],
    ['10', undefined],
    ['-1s', undefined],
    ['1d', undefined],
    ['10 s', undefined],
    [' 10s', undefined],
    ['s', undefined],
    ['1.s', undefined],
    ['10s5', undefined],
  ];
  for (const [text, want] of table) assert.equal(parseDuration(text), want, JSON.stringify(text));
  assert.equal(isDuration('1h2m3.5s'), true);
  assert.equal(isDuration('3 s'), false);
});

test('durationMs reads a spec field: a duration string or a number of seconds', () => {
  assert.equal(durationMs('3s'), 3000);
  assert.equal(durationMs(2), 2000);
  assert.equal(durationMs(undefined), undefined);
  assert.equal(durationMs({}), undefined);
  assert.equal(durationMs('later'), undefined);
});
