// The retry policy as a table: every failure kind × every retryOn term, every status rule, the backoff bounds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RetryPolicy } from '../../../src/proxyconfig/types.js';
import { retriesFailure, retriesStatus, retryDelayMs, type FailureKind } from '../../../src/dataplane/http/retry-policy.js';

const TERMS = ['5xx', 'gateway-error', 'reset', 'connect-failure', 'refused-stream', 'retriable-4xx', 'unavailable', '503'] as const;
type Term = (typeof TERMS)[number];

/** kind → the terms that retry it (Envoy's retry_on for resets and connect failures); all others do not. */
const EXPECTED: Record<FailureKind, readonly Term[]> = {
  'connect-refused': ['5xx', 'gateway-error', 'reset', 'connect-failure'],
  'connect-timeout': ['5xx', 'gateway-error', 'reset', 'connect-failure'],
  tls: ['5xx', 'gateway-error', 'reset', 'connect-failure'],
  'reset-before-headers': ['5xx', 'reset'],
  'refused-stream': ['5xx', 'reset', 'refused-stream'],
  protocol: ['5xx', 'reset'],
  'per-try-timeout': ['5xx', 'gateway-error', 'reset'],
  'reset-after-headers': [],
  overflow: [],
  'body-aborted': [],
  internal: [],
};

for (const kind of Object.keys(EXPECTED) as FailureKind[]) {
  test(`failure ${kind}: retried by exactly ${EXPECTED[kind].join(', ') || 'no term'}`, () => {
    for (const term of TERMS) {
      assert.equal(retriesFailure([term], kind), EXPECTED[kind].includes(term), `${kind} × ${term}`);
    }
    // A list retries when any of its terms does.
    assert.equal(retriesFailure(['retriable-4xx', ...TERMS], kind), EXPECTED[kind].length > 0);
    assert.equal(retriesFailure([], kind), false);
  });
}

test('statuses: 5xx, gateway-error, retriable-4xx, a status code, gRPC status names', () => {
  const cases: Array<[string, number, Record<string, string>, boolean]> = [
    ['5xx', 500, {}, true],
    ['5xx', 503, {}, true],
    ['5xx', 499, {}, false],
    ['gateway-error', 502, {}, true],
    ['gateway-error', 504, {}, true],
    ['gateway-error', 500, {}, false],
    ['retriable-4xx', 409, {}, true],
    ['retriable-4xx', 404, {}, false],
    ['503', 503, {}, true],
    ['503', 502, {}, false],
    ['reset', 503, {}, false],
    ['connect-failure', 503, {}, false],
    ['unavailable', 200, { 'grpc-status': '14' }, true],
    ['unavailable', 200, { 'grpc-status': '13' }, false],
    ['internal', 200, { 'grpc-status': '13' }, true],
    ['cancelled', 200, { 'grpc-status': '1' }, true],
    ['deadline-exceeded', 200, { 'grpc-status': '4' }, true],
    ['resource-exhausted', 200, { 'grpc-status': '8' }, true],
    ['resource-exhausted', 200, {}, false],
  ];
  for (const [term, status, headers, want] of cases) {
    assert.equal(retriesStatus([term], status, headers), want, `${term} × ${status} ${JSON.stringify(headers)}`);
  }
});

test('backoff: Envoy default fully jittered 25 ms × 2^(n−1) capped at 250 ms; a configured base is a floor, capped at 10 × base', () => {
  const none: RetryPolicy = { attempts: 3, retryOn: ['5xx'] };
  assert.equal(retryDelayMs(none, 1, 0), 0);
  assert.equal(retryDelayMs(none, 1, 0.5), 12.5);
  assert.equal(retryDelayMs(none, 3, 0.5), 50);
  assert.equal(retryDelayMs(none, 10, 0.5), 125);
  const based: RetryPolicy = { attempts: 3, retryOn: ['5xx'], backoffBaseMs: 100 };
  assert.equal(retryDelayMs(based, 1, 0.9), 100);
  assert.equal(retryDelayMs(based, 2, 0), 100);
  assert.equal(retryDelayMs(based, 2, 0.5), 150);
  assert.equal(retryDelayMs(based, 8, 0.5), 550);
});
