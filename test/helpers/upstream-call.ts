// One call through an UpstreamPool (src/dataplane/upstream/call.ts), recorded: the handler's events in
// order, the response, and checks of the lifecycle every codec keeps (nothing called synchronously
// from dispatch, nothing after onEnd/onError).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { UpstreamBody, UpstreamCall, UpstreamError, UpstreamPool, UpstreamRequestHead } from '../../src/dataplane/upstream/call.js';
import type { HeaderMap } from '../../src/dataplane/routing/index.js';
import type { BodySink, BodySource } from '../../src/dataplane/http/message.js';

export interface CallOutcome {
  /** `connected`, `head`, `data` (with `dataEvents`), then `end` or `error`. */
  readonly events: string[];
  status: number;
  headers: HeaderMap;
  body: Buffer;
  trailers: HeaderMap | undefined;
  error: UpstreamError | undefined;
  local: string;
}

export interface CallHooks {
  /** The handler's answer to onHead (true: go on). */
  onHead?(call: UpstreamCall, status: number): boolean;
  onData?(call: UpstreamCall, chunk: Buffer, o: CallOutcome): void;
  /** Record each onData as a `data` event. */
  dataEvents?: boolean;
}

/** Dispatches one request; `done` settles on onEnd/onError. */
export function sendCall(
  pool: UpstreamPool,
  head: Partial<UpstreamRequestHead>,
  body: UpstreamBody = null,
  hooks: CallHooks = {},
): { call: UpstreamCall; done: Promise<CallOutcome> } {
  const o: CallOutcome = { events: [], status: 0, headers: {}, body: Buffer.alloc(0), trailers: undefined, error: undefined, local: '' };
  const chunks: Buffer[] = [];
  let inDispatch = true;
  let settled = false;
  let settle!: (o: CallOutcome) => void;
  const done = new Promise<CallOutcome>((r) => {
    settle = r;
  });
  /** onEnd or onError: exactly once, and last. */
  const finish = (event: 'end' | 'error'): void => {
    assert.ok(!settled, `on${event === 'end' ? 'End' : 'Error'} after the end`);
    settled = true;
    o.events.push(event);
    o.body = Buffer.concat(chunks);
    settle(o);
  };
  const h: UpstreamRequestHead = { method: 'GET', path: '/', authority: 'upstream.test', headers: {}, ...head };
  const call: UpstreamCall = pool.dispatch(h, body, {
    onConnected(local) {
      assert.ok(!inDispatch, 'onConnected called synchronously');
      o.events.push('connected');
      o.local = local;
    },
    onHead(status, headers) {
      assert.ok(!settled, 'onHead after the end');
      o.events.push('head');
      o.status = status;
      o.headers = headers;
      return hooks.onHead ? hooks.onHead(call, status) : true;
    },
    onData(chunk) {
      assert.ok(!settled, 'onData after the end');
      if (hooks.dataEvents) o.events.push('data');
      chunks.push(chunk);
      hooks.onData?.(call, chunk, o);
    },
    onEnd(trailers) {
      o.trailers = trailers;
      finish('end');
    },
    onError(err) {
      assert.ok(!inDispatch, 'onError called synchronously');
      o.error = err;
      finish('error');
    },
  });
  inDispatch = false;
  return { call, done };
}

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Reads a request body to its end; `done` gets its length and sha256 (what echo servers answer with). */
export function digestBody(req: Readable, done: (d: { len: number; sha: string }) => void): void {
  const hash = createHash('sha256');
  let len = 0;
  req.on('data', (c: Buffer) => {
    hash.update(c);
    len += c.length;
  });
  req.on('end', () => done({ len, sha: hash.digest('hex') }));
}

export interface ChunkedBodyOptions {
  readonly trailers?: HeaderMap;
  /** Fail (onError, "client went away") instead of delivering chunk number `failAt`. */
  readonly failAt?: number;
  /** Deliver chunks until paused in one turn; by default one chunk per turn, so body and socket events interleave as with a real client. */
  readonly burst?: boolean;
}

/** A request body arriving in pieces, as a Downstream would deliver it; honours pauseBody. */
export class ChunkedBody implements BodySource {
  sink: BodySink | null = null;
  i = 0;
  paused = false;
  pauses = 0;
  ended = false;
  onPause: (() => void) | undefined = undefined;
  constructor(
    readonly chunks: Buffer[],
    readonly opts: ChunkedBodyOptions = {},
  ) {}
  readBody(sink: BodySink): void {
    assert.equal(this.sink, null, 'readBody called twice');
    this.sink = sink;
    setImmediate(() => this.pump());
  }
  pauseBody(): void {
    if (!this.paused) {
      this.pauses++;
      this.onPause?.();
    }
    this.paused = true;
  }
  resumeBody(): void {
    if (!this.paused) return;
    this.paused = false;
    setImmediate(() => this.pump());
  }
  pump(): void {
    while (!this.paused && !this.ended) {
      if (this.opts.failAt === this.i) {
        this.ended = true;
        this.sink!.onError(new Error('client went away'));
        return;
      }
      if (this.i >= this.chunks.length) {
        this.ended = true;
        this.sink!.onEnd(this.opts.trailers);
        return;
      }
      this.sink!.onData(this.chunks[this.i++]!);
      if (!this.opts.burst) {
        setImmediate(() => this.pump());
        return;
      }
    }
  }
}
