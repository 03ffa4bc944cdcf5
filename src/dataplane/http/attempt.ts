// One upstream attempt of an Exchange, on any codec: the handler side of the upstream-call
// lifecycle (../upstream/call.ts). It keeps the per-try timeout, holds a retriable answer (head
// and body) in case it turns out to be the last try, and otherwise relays the response downstream
// with backpressure. What happens next (retry, local reply) is the Exchange's: it hears exactly
// one outcome per attempt.
import type { RetryPolicy } from '../../proxyconfig/types.js';
import type { HeaderMap } from '../routing/index.js';
import { ResponseFlag, RESPONSE_CODE_DETAILS as D } from '../telemetry/flags.js';
import type { UpstreamTarget } from '../upstream/endpoints.js';
import type { UpstreamBody, UpstreamCall, UpstreamCallHandler, UpstreamError, UpstreamPool, UpstreamRequestHead } from '../upstream/call.js';
import type { Downstream } from './downstream.js';
import { retriableStatus, type FailureKind } from './retry-policy.js';

/** A closed upstream connection after the response head: Envoy pairs UC with connection_termination. */
const RESET_AFTER_START_TERMINATION = 'upstream_reset_after_response_started{connection_termination}';

/** How an attempt ended, as the Exchange hears it (once). */
export type AttemptOutcome =
  /** The response went downstream (or the attempt was aborted): nothing left to decide. */
  | { readonly kind: 'committed' }
  /** A retriable status, held: retried, or relayed as is when no retry is left. */
  | { readonly kind: 'status'; readonly status: number; readonly headers: HeaderMap; body: Buffer | undefined }
  /** Failed before anything went downstream. */
  | { readonly kind: 'failure'; readonly failure: FailureKind; readonly error: UpstreamError | undefined };

const COMMITTED: AttemptOutcome = { kind: 'committed' };
const PER_TRY_TIMEOUT: AttemptOutcome = { kind: 'failure', failure: 'per-try-timeout', error: undefined };

/** What an attempt needs from its Exchange (the routing level). */
export interface AttemptOwner {
  readonly finished: boolean;
  readonly downstream: Downstream;
  upstreamLocalAddress: string | undefined;
  flag(f: string): void;
  /** Writes the response head downstream; false when it could not (the attempt then aborts). */
  upstreamHeaders(status: number, headers: HeaderMap): boolean;
  writeBody(chunk: Buffer): boolean;
  endResponse(trailers: HeaderMap | undefined): void;
  /** The upstream failed after the response head was written: cut the downstream response. */
  resetAfterStart(flag: string, details: string): void;
  attemptDone(attempt: Attempt, outcome: AttemptOutcome): void;
  internalError(err: unknown): void;
}

export class Attempt implements UpstreamCallHandler {
  readonly #ex: AttemptOwner;
  readonly #up: UpstreamPool;
  readonly target: UpstreamTarget;
  readonly #perTryMs: number | undefined;
  #settled = false;
  #started = false;
  #aborted = false;
  #call: UpstreamCall | undefined = undefined;
  #timer: NodeJS.Timeout | undefined = undefined;
  /** A retriable status: its head and body are kept in case this was the last try. */
  #held: (AttemptOutcome & { kind: 'status' }) | undefined = undefined;
  #heldChunks: Buffer[] | undefined = undefined;
  /** Set when a retry is still possible: a status its policy retries is held, not relayed. */
  retryOn: RetryPolicy | undefined = undefined;
  /** The retry policy when this is the last allowed try: a retriable status then gets URX. */
  lastTry: RetryPolicy | undefined = undefined;

  constructor(ex: AttemptOwner, up: UpstreamPool, target: UpstreamTarget, perTryMs: number | undefined) {
    this.#ex = ex;
    this.#up = up;
    this.target = target;
    this.#perTryMs = perTryMs;
  }

  /** Dispatches the request; the outcome arrives through AttemptOwner.attemptDone. */
  start(head: UpstreamRequestHead, body: UpstreamBody): void {
    if (this.#perTryMs !== undefined && this.#perTryMs > 0) {
      // A closure only for a route with a per-try timeout: the common request allocates none.
      this.#timer = setTimeout(() => this.#onPerTryTimeout(), this.#perTryMs);
    }
    this.#call = this.#up.dispatch(head, body, this);
  }

  abort(): void {
    if (this.#aborted) return;
    this.#aborted = true;
    // Settled first: whatever the abort raises in the codec's callbacks is then ignored.
    this.#settle(COMMITTED);
    this.#call?.abort();
  }

  #settle(o: AttemptOutcome): void {
    if (this.#settled) return;
    this.#settled = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    try {
      this.#ex.attemptDone(this, o);
    } catch (err) {
      // Never into the codec's callbacks: the exchange logs it (with its stack) and answers 500.
      this.#ex.internalError(err);
    }
  }

  #onPerTryTimeout(): void {
    this.#timer = undefined;
    // Once the response is flowing the per-try timeout is over: it only guards the wait for headers.
    if (this.#settled || this.#started) return;
    this.#aborted = true;
    this.#settle(PER_TRY_TIMEOUT);
    this.#call?.abort();
  }

  #resume = (): void => {
    this.#call?.resume();
  };

  // ---- UpstreamCallHandler

  onConnected(localAddress: string): void {
    if (localAddress !== '') this.#ex.upstreamLocalAddress = localAddress;
  }

  onHead(status: number, headers: HeaderMap): boolean {
    if (this.#settled) return false;
    if (this.retryOn !== undefined && retriableStatus(this.retryOn, status, headers)) {
      // Keep reading: the body goes with the answer if this is relayed after all.
      this.#held = { kind: 'status', status, headers, body: undefined };
      this.#heldChunks = [];
      return true;
    }
    this.#started = true;
    const ex = this.#ex;
    if (this.lastTry !== undefined && retriableStatus(this.lastTry, status, headers)) ex.flag(ResponseFlag.URX);
    if (!ex.upstreamHeaders(status, headers)) {
      this.abort();
      return false;
    }
    return true;
  }

  onData(chunk: Buffer): void {
    if (this.#held !== undefined) {
      this.#heldChunks!.push(chunk);
      return;
    }
    const ex = this.#ex;
    if (this.#settled || ex.finished) return;
    if (!ex.writeBody(chunk)) {
      // Backpressure: only a slow client costs a listener.
      this.#call!.pause();
      ex.downstream.onDrain(this.#resume);
    }
  }

  onEnd(trailers: HeaderMap | undefined): void {
    const held = this.#held;
    if (held !== undefined) {
      held.body = Buffer.concat(this.#heldChunks!);
      this.#settle(held);
      return;
    }
    if (this.#settled) return;
    this.#ex.endResponse(trailers);
    this.#settle(COMMITTED);
  }

  onError(err: UpstreamError): void {
    if (this.#settled) return;
    if (this.#started) {
      // Headers already went downstream: all we can do is cut the response.
      if (err.kind === 'internal') this.#ex.internalError(err);
      else
        this.#ex.resetAfterStart(
          ResponseFlag.UC,
          err.kind === 'protocol' ? D.UPSTREAM_RESET_AFTER_RESPONSE_STARTED_PROTOCOL_ERROR : RESET_AFTER_START_TERMINATION,
        );
      this.#settle(COMMITTED);
      return;
    }
    if (this.#held !== undefined) {
      // The held answer's head is all there will be (its body was cut): relayed as the last try's.
      this.#settle(this.#held);
      return;
    }
    this.#settle({ kind: 'failure', failure: err.kind, error: err });
  }
}
