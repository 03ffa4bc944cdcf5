// Every Node internal the request path uses, in one place: what is loaded, checked once when the
// proxy starts, and which fallback runs when a Node release lacks it. node:http and node:net use
// the same internals themselves; they are stable across Node 20's releases but not public API.
//
// - `_http_common`'s llhttp parser (HTTPParser, methods): outpost's HTTP/1 codec. No fallback: a
//   Node without it cannot run the codec, and the proxy says so at start (requireHttpParser).
// - `process.binding('stream_wrap' | 'tcp_wrap')` (WriteWrap, streamBaseState, TCP): direct writes
//   to the libuv handle (http1/socket-writes.ts). Fallback: socket.write().
// - a socket's `_handle` (readStart/readStop, reading, isStreamBase, writeQueueSize): llhttp's
//   consume mode (http1/server-connection.ts) and the HTTP/2 read sweep (listeners/http-servers.ts).
//   Checked per socket; fallback: 'data' events (consume), no sweep (HTTP/2).
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';

const requireCjs = createRequire(import.meta.url);

/** `_http_common` as the HTTP/1 codec uses it (the parser class is typed in http1/llhttp.ts). */
export interface HttpCommon {
  HTTPParser: unknown;
  methods: string[];
}

function loadHttpCommon(): HttpCommon | undefined {
  try {
    const common = requireCjs('_http_common') as Partial<HttpCommon>;
    return typeof common.HTTPParser === 'function' && Array.isArray(common.methods) ? (common as HttpCommon) : undefined;
  } catch {
    return undefined;
  }
}

/** What a direct write needs of the stream bindings. */
export interface WriteReq {
  handle: unknown;
  oncomplete: (this: WriteReq, status: number) => void;
  /** Keeps the bytes alive while libuv still writes them. */
  buffer: Buffer | string | null;
  socket: Socket | null;
}

export interface StreamBindings {
  WriteWrap: new () => WriteReq;
  streamBaseState: Int32Array;
  kLastWriteWasAsync: number;
  TCP: abstract new (...args: never[]) => object;
}

function loadStreamBindings(): StreamBindings | undefined {
  try {
    const binding = (name: string) => (process as unknown as { binding(name: string): Record<string, unknown> }).binding(name);
    const sw = binding('stream_wrap');
    const tcp = binding('tcp_wrap');
    if (
      typeof sw.WriteWrap !== 'function' ||
      !(sw.streamBaseState instanceof Int32Array) ||
      typeof sw.kLastWriteWasAsync !== 'number' ||
      typeof tcp.TCP !== 'function'
    ) {
      return undefined;
    }
    return { WriteWrap: sw.WriteWrap, streamBaseState: sw.streamBaseState, kLastWriteWasAsync: sw.kLastWriteWasAsync, TCP: tcp.TCP } as StreamBindings;
  } catch {
    return undefined;
  }
}

/** `_http_common`, or undefined on a Node without it. */
export const HTTP_COMMON: HttpCommon | undefined = loadHttpCommon();

/** The stream bindings direct writes use, or undefined (then writes go through socket.write()). */
export const STREAM_BINDINGS: StreamBindings | undefined = loadStreamBindings();

/** `_http_common`, or a clear error: the HTTP/1 codec has no way round it. */
export function requireHttpParser(): HttpCommon {
  if (HTTP_COMMON === undefined) {
    throw new Error(`Node ${process.version} has no llhttp parser in _http_common, which outpost's HTTP/1 codec needs (Node 20 and later have it)`);
  }
  return HTTP_COMMON;
}

/** A socket's libuv handle (TCP or TLS wrap) as the caller's shape; null or undefined when closed or absent. */
export function socketHandle<H extends object>(socket: Socket | object | null | undefined): H | null | undefined {
  return (socket as { _handle?: H | null } | null | undefined)?._handle;
}

/** The socket a TLS socket wraps (its `_parent`), whose handle holds the encrypted bytes. */
export function tlsParentSocket(socket: object | null | undefined): object | null | undefined {
  return (socket as { _parent?: object | null } | null | undefined)?._parent;
}

/** One line for the proxy's start-up log: what runs on this Node, and the fallbacks. */
export function nodeInternalsReport(): string {
  const tcpReads = STREAM_BINDINGS !== undefined && typeof (STREAM_BINDINGS.TCP.prototype as { readStart?: unknown }).readStart === 'function';
  const parts = [
    HTTP_COMMON ? 'HTTP/1 parser _http_common ok' : 'HTTP/1 parser _http_common MISSING (the HTTP/1 codec cannot run)',
    STREAM_BINDINGS ? 'direct writes (stream_wrap, tcp_wrap) ok' : 'direct writes unavailable: writes go through socket.write()',
    tcpReads ? 'consume mode (socket._handle) ok' : "consume mode checked per socket; 'data' events where a handle lacks it",
  ];
  return `node internals (${process.version}): ${parts.join('; ')}`;
}
