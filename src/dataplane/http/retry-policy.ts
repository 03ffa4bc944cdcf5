// Retry policy, pure: which failed attempt a route's retryOn retries, which statuses, how long to
// wait (Envoy's x-envoy-retry-on semantics). No I/O and no state: table-tested in
// test/unit/dp-retry-policy.test.ts; the Exchange asks and acts.
import type { RetryPolicy } from '../../proxyconfig/types.js';
import type { HeaderMap } from '../routing/index.js';
import type { UpstreamErrorKind } from '../upstream/call.js';
import { headerValue } from './headers.js';

/** How an attempt failed: a codec's typed failure, or the attempt's own per-try timeout. */
export type FailureKind = UpstreamErrorKind | 'per-try-timeout';

/**
 * The retryOn terms that retry each failure kind. A kind with no terms is never retried: an
 * overflow (Envoy does not retry its own circuit breaker), a reset after the response head (the
 * response is already on its way downstream), a request body the client cut, a bug.
 */
const RETRIED_BY: Readonly<Record<FailureKind, readonly string[]>> = {
  'connect-refused': ['connect-failure', '5xx', 'gateway-error', 'reset'],
  'connect-timeout': ['connect-failure', '5xx', 'gateway-error', 'reset'],
  tls: ['connect-failure', '5xx', 'gateway-error', 'reset'],
  'reset-before-headers': ['reset', '5xx'],
  'refused-stream': ['refused-stream', '5xx', 'reset'],
  protocol: ['reset', '5xx'],
  'per-try-timeout': ['5xx', 'gateway-error', 'reset'],
  'reset-after-headers': [],
  overflow: [],
  'body-aborted': [],
  internal: [],
};

/** Whether one of `retryOn`'s terms retries a failure of this kind. */
export function retriesFailure(retryOn: readonly string[], kind: FailureKind): boolean {
  const terms = RETRIED_BY[kind];
  for (const t of retryOn) if (terms.includes(t)) return true;
  return false;
}

/** gRPC status names retryOn accepts, and the grpc-status each stands for. */
const GRPC_RETRY_ON: Readonly<Record<string, string>> = {
  cancelled: '1',
  'deadline-exceeded': '4',
  'resource-exhausted': '8',
  internal: '13',
  unavailable: '14',
};

/** What a retryOn list asks of a response, worked out once per list. */
interface StatusTerms {
  readonly x5xx: boolean;
  readonly gatewayError: boolean;
  readonly retriable4xx: boolean;
  /** Statuses named as three-digit terms. */
  readonly statuses: readonly number[];
  /** grpc-status values named by gRPC terms. */
  readonly grpc: readonly string[];
}

/** Per retryOn list (config objects live as long as their config): every response of a retrying route asks. */
const compiled = new WeakMap<readonly string[], StatusTerms>();

function statusTerms(retryOn: readonly string[]): StatusTerms {
  let t = compiled.get(retryOn);
  if (t !== undefined) return t;
  const statuses: number[] = [];
  const grpc: string[] = [];
  for (const term of retryOn) {
    if (term.length === 3 && Number.isInteger(Number(term))) statuses.push(Number(term));
    const g = GRPC_RETRY_ON[term];
    if (g !== undefined) grpc.push(g);
  }
  t = { x5xx: retryOn.includes('5xx'), gatewayError: retryOn.includes('gateway-error'), retriable4xx: retryOn.includes('retriable-4xx'), statuses, grpc };
  compiled.set(retryOn, t);
  return t;
}

/** Whether a response status (or its gRPC status) is one `retryOn` asks to retry. */
export function retriesStatus(retryOn: readonly string[], status: number, headers: HeaderMap): boolean {
  const t = statusTerms(retryOn);
  if (t.x5xx && status >= 500) return true;
  if (t.gatewayError && (status === 502 || status === 503 || status === 504)) return true;
  if (t.retriable4xx && status === 409) return true;
  if (t.statuses.length > 0 && t.statuses.includes(status)) return true;
  if (t.grpc.length > 0) {
    const g = headers['grpc-status'];
    if (g !== undefined && t.grpc.includes(headerValue(g)!)) return true;
  }
  return false;
}

/** retriesStatus for a route's policy. */
export function retriableStatus(p: RetryPolicy, status: number, headers: HeaderMap): boolean {
  return retriesStatus(p.retryOn, status, headers);
}

/**
 * The wait before retry number `n` (from 1). Without a configured backoff, Envoy's default: fully
 * jittered, 25 ms base doubling per retry, capped at 10 × the base. A configured base (Istio's
 * `retries.backoff`, Gateway API's `retry.backoff`) is a floor: retry n waits between the base and
 * base × 2^(n−1), capped at 10 × the base. `random` in [0, 1) (Math.random, or fixed in tests).
 */
export function retryDelayMs(p: RetryPolicy, n: number, random: number = Math.random()): number {
  const base = p.backoffBaseMs;
  if (base === undefined || base <= 0) return random * Math.min(25 * 2 ** (n - 1), 250);
  const upper = Math.min(base * 2 ** (n - 1), 10 * base);
  return base + random * (upper - base);
}
