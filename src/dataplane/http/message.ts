// What requests and responses are made of, whichever side of the proxy holds them: headers and
// bodies that stream. The downstream codecs, the Exchange and the upstream pools all speak these;
// this module imports nothing, so upstream code need not reach into the downstream contract.

/** Headers as node:http gives them: lower-case names, repeated headers as arrays. */
export type HeaderMap = Record<string, string | string[] | undefined>;

/** Adds `value` under `name` (lower-case): a repeated name becomes an array in arrival order. */
export function addHeader(h: HeaderMap, name: string, value: string): void {
  const cur = h[name];
  if (cur === undefined) h[name] = value;
  else if (typeof cur === 'string') h[name] = [cur, value];
  else cur.push(value);
}

/** Where a body goes. Chunks flow until the source is paused. */
export interface BodySink {
  onData(chunk: Buffer): void;
  /** The whole body arrived (trailers of a chunked/h2 body, if any). */
  onEnd(trailers: HeaderMap | undefined): void;
  /** The sending side went away (or sent garbage) before the body ended. */
  onError(err: Error): void;
}

/** A body read as it arrives: a Downstream itself, or a wrapper of one (counting, buffering). */
export interface BodySource {
  readBody(sink: BodySink): void;
  pauseBody(): void;
  resumeBody(): void;
}
