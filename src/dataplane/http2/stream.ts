// What both sides' streams share: states (RFC 9113 §5.1), the receive side's pausing and window
// credit, the send side's queue for DATA waiting for window.
import type { H2Connection } from './connection.js';
import * as C from './constants.js';

export abstract class H2Stream {
  readonly id: number;
  readonly conn: H2Connection;
  /** The peer opened this stream (server side). */
  readonly peerOpened: boolean;
  closed = false;
  /** END_STREAM received. */
  remoteEnded = false;
  /** END_STREAM sent. */
  localEnded = false;

  // ---- flow control
  sendWindow = 0;
  recvWindow = 0;
  #unacked = 0;
  /** DATA waiting for window (or for the head to go first). */
  readonly outQueue: Buffer[] = [];
  queuedBytes = 0;
  endAfterQueue = false;
  trailersAfterQueue: string[] | undefined = undefined;

  // ---- inbound
  /** Body bytes received; checked against content-length. */
  received = 0;
  /** content-length of the received message, -1 when absent. */
  expectedLength = -1;
  #paused = false;
  #inQueue: Buffer[] | undefined = undefined;
  #endPending = false;
  #trailersPending: Record<string, string | string[] | undefined> | undefined = undefined;

  // ---- timers (connection's tick)
  active = true;
  lastCheck = 0;

  #drainCbs: Array<() => void> | undefined = undefined;

  constructor(conn: H2Connection, id: number, peerOpened: boolean) {
    this.conn = conn;
    this.id = id;
    this.peerOpened = peerOpened;
  }

  /** Whether a consumer is there to take body bytes now. */
  protected abstract get consuming(): boolean;
  protected abstract deliver(chunk: Buffer): void;
  protected abstract deliverEnd(trailers: Record<string, string | string[] | undefined> | undefined): void;
  /** The stream is gone: `code` is the reset code (-1: completed normally); `byPeer` when the peer reset it. */
  protected abstract closedWith(code: number, byPeer: boolean, connGone: boolean): void;
  /** A response head waiting to leave does so now. */
  emitHead(_endStream: boolean): void {}

  // ---- receiving

  dataIn(chunk: Buffer): void {
    if (this.#paused || !this.consuming || this.#inQueue !== undefined) {
      (this.#inQueue ??= []).push(chunk);
      return;
    }
    this.consumed(chunk.length);
    this.deliver(chunk);
  }

  /** `n` bytes left the stream's buffer: credited back to the peer in batches of half a window. */
  consumed(n: number): void {
    if (this.remoteEnded) return;
    this.#unacked += n;
    if (this.#unacked >= this.conn.limits.streamWindow >> 1) {
      this.recvWindow += this.#unacked;
      this.conn.windowUpdate(this.id, this.#unacked);
      this.#unacked = 0;
    }
  }

  remoteEnd(trailers: Record<string, string | string[] | undefined> | undefined): void {
    this.remoteEnded = true;
    if (this.#inQueue !== undefined || !this.consuming) {
      this.#endPending = true;
      this.#trailersPending = trailers;
    } else {
      this.deliverEnd(trailers);
    }
    if (this.localEnded) this.conn.closeStream(this, -1, false);
  }

  protected get paused(): boolean {
    return this.#paused;
  }

  pause(): void {
    this.#paused = true;
  }

  /** Resumes delivery: what was held goes first. */
  resume(): void {
    this.#paused = false;
    this.flushIn();
  }

  protected flushIn(): void {
    const q = this.#inQueue;
    if (q !== undefined) {
      while (q.length > 0 && !this.#paused && this.consuming) {
        const c = q.shift()!;
        this.consumed(c.length);
        this.deliver(c);
      }
      if (q.length > 0) return;
      this.#inQueue = undefined;
    }
    if (this.#endPending && !this.#paused && this.consuming) {
      this.#endPending = false;
      const t = this.#trailersPending;
      this.#trailersPending = undefined;
      this.deliverEnd(t);
    }
  }

  // ---- sending

  /** Queues body bytes; false when the caller should wait for onDrain. */
  writeData(chunk: Buffer): boolean {
    if (this.closed || this.localEnded) return true;
    this.active = true;
    if (chunk.length === 0) return !this.conn.congested;
    this.outQueue.push(chunk);
    this.queuedBytes += chunk.length;
    this.conn.pumpStream(this);
    return this.queuedBytes === 0 && !this.conn.congested;
  }

  /** Ends the sending side, with trailers (flattened name, value pairs) when given. */
  writeEnd(trailers: string[] | undefined): void {
    if (this.closed || this.localEnded) return;
    if (this.queuedBytes > 0) {
      this.endAfterQueue = true;
      this.trailersAfterQueue = trailers;
      return;
    }
    if (trailers !== undefined) this.conn.writeHeaders(this.id, trailers, true);
    else this.conn.writeEnd(this.id);
    this.localEnd();
  }

  /** END_STREAM has been queued. */
  localEnd(): void {
    this.localEnded = true;
    if (this.remoteEnded) this.conn.closeStream(this, -1, false);
    else if (this.peerOpened) {
      // The response is complete before the request (RFC 9113 §8.1): the client may stop sending.
      this.conn.closeStream(this, C.E_NO_ERROR, false);
    }
  }

  onDrain(cb: () => void): void {
    if (this.closed) {
      cb();
      return;
    }
    (this.#drainCbs ??= []).push(cb);
  }

  drained(): void {
    const cbs = this.#drainCbs;
    if (cbs === undefined || this.queuedBytes > 0 || this.conn.congested) return;
    this.#drainCbs = undefined;
    for (const cb of cbs) cb();
  }

  /** Called by the connection once the stream is gone. */
  onStreamClosed(code: number, byPeer: boolean, connGone: boolean): void {
    this.conn.unblockRemove(this);
    // Mostly empty by now; emptying a non-empty array through length is a call into the runtime.
    if (this.outQueue.length > 0) this.outQueue.length = 0;
    this.queuedBytes = 0;
    // A stream that completed keeps what the consumer has not taken yet (it was paused).
    if (code !== -1) {
      this.#inQueue = undefined;
      this.#endPending = false;
    }
    const cbs = this.#drainCbs;
    this.#drainCbs = undefined;
    this.closedWith(code, byPeer, connGone);
    if (cbs !== undefined) for (const cb of cbs) cb();
  }

  /** No frame either way for the stream idle timeout. */
  idleTimeout(): void {
    this.conn.resetStream(this, C.E_CANCEL);
  }
}
