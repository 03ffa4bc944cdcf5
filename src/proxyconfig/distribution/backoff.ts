// Jittered, capped exponential backoff: the delays a proxy waits before reconnecting to
// distribution, and a supervisor before restarting the control plane.

export interface BackoffOptions {
  /** First delay's ceiling, ms. */
  readonly minMs: number;
  /** Largest ceiling, ms. */
  readonly maxMs: number;
}

export class Backoff {
  private attempt = 0;

  constructor(private readonly opts: BackoffOptions) {}

  /**
   * The next delay: the ceiling doubles per failure up to maxMs, and the delay is half the ceiling
   * plus a random half, so that many proxies losing one control plane do not return in lockstep.
   */
  next(): number {
    const ceiling = Math.min(this.opts.maxMs, this.opts.minMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  /** After a success: the next failure starts again from minMs. */
  reset(): void {
    this.attempt = 0;
  }
}
