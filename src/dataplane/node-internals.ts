// Every Node internal the request path uses, in one place: what is loaded, checked once when the
// proxy starts, and which fallback runs when a Node release lacks it. node:http and node:net use
// the same internals themselves; they are stable across Node 20's releases but not public API.
//
// - `_http_common`'s llhttp parser (HTTPParser, methods): outpost's HTTP/1 codec. No fallback: a
//   Node without it cannot run the codec, and the proxy says so at start (requireHttpParser).
// - `process.binding('stream_wrap' | 'tcp_wrap')` (WriteWrap, streamBaseState, TCP): direct writes
//   to the libuv handle (http1/socket-writes.ts). Fallback: socket.write().
// - net.Socket's `onread` machinery (the kBuffer, kBufferCb, kBufferGen symbols, found on a socket
//   made with the public `onread` option, and the handle's useUserBuffer): accepted sockets read
//   into one shared buffer (http1/server-connection.ts). Checked per socket; fallback: 'data' events.
// - a socket's `_handle` (readStart/readStop, reading, isStreamBase, writeQueueSize): the HTTP/2
//   read sweep (listeners/http-servers.ts). Checked per socket; fallback: no sweep.
// - Buffer's `latin1Slice` (what toString('latin1') calls, without its argument handling):
//   http1/simple-message.ts. Fallback: toString.
import { createRequire } from 'node:module';
import { Socket } from 'node:net';

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

/** The symbols under which net.Socket keeps its `onread` option (a buffer and a callback). */
interface UserBufferSymbols {
  kBuffer: symbol;
  kBufferCb: symbol;
  kBufferGen: symbol;
}

function loadUserBufferSymbols(): UserBufferSymbols | undefined {
  try {
    // The constructor takes `onread` as net.connect does (its types list it for connect only).
    const opts = { onread: { buffer: Buffer.alloc(1), callback: () => true } } as unknown as ConstructorParameters<typeof Socket>[0];
    const probe = new Socket(opts);
    const syms = Object.getOwnPropertySymbols(probe);
    const find = (d: string) => syms.find((s) => s.description === d);
    const kBuffer = find('kBuffer');
    const kBufferCb = find('kBufferCb');
    const kBufferGen = find('kBufferGen');
    const rec = probe as unknown as Record<symbol, unknown>;
    const ok =
      kBuffer !== undefined && kBufferCb !== undefined && kBufferGen !== undefined && Buffer.isBuffer(rec[kBuffer]) && typeof rec[kBufferCb] === 'function';
    probe.destroy();
    return ok ? { kBuffer, kBufferCb, kBufferGen } : undefined;
  } catch {
    return undefined;
  }
}

const USER_BUFFER = loadUserBufferSymbols();

/** Reads of a socket into a buffer of the caller's: `onRead(nread, buffer)`, as net.connect's `onread` option calls it. */
export type OnRead = (nread: number, buf: Buffer) => boolean;

/**
 * Switches an open plain-TCP socket to reading into `buf`, as if made with net.connect's `onread`
 * option: no Buffer per read, `onRead` instead of 'data' (pause, resume, 'end' and errors stay the
 * socket's). False, with nothing changed, where the socket's handle cannot.
 */
export function readIntoBuffer(socket: Socket, buf: Buffer, onRead: OnRead): boolean {
  const handle = socketHandle<{ useUserBuffer?: (b: Uint8Array) => void }>(socket);
  if (USER_BUFFER === undefined || handle === null || handle === undefined || typeof handle.useUserBuffer !== 'function') return false;
  const rec = socket as unknown as Record<symbol, unknown>;
  rec[USER_BUFFER.kBuffer] = buf;
  rec[USER_BUFFER.kBufferCb] = onRead;
  rec[USER_BUFFER.kBufferGen] = null;
  handle.useUserBuffer(buf);
  return true;
}

/**
 * Gives a socket that reads into a buffer (readIntoBuffer) to an owner that wants 'data' events:
 * each read from now on is copied and pushed to the stream, under the stream's flow control.
 */
export function pushReadsAsData(socket: Socket): void {
  if (USER_BUFFER === undefined) return;
  const rec = socket as unknown as Record<symbol, unknown>;
  if (rec[USER_BUFFER.kBuffer] === null || rec[USER_BUFFER.kBuffer] === undefined) return;
  rec[USER_BUFFER.kBufferCb] = (n: number, b: Buffer) => socket.push(Buffer.from(b.subarray(0, n)));
}

type Latin1Slice = (this: Buffer, start: number, end: number) => string;
const LATIN1_SLICE = (Buffer.prototype as unknown as { latin1Slice?: Latin1Slice }).latin1Slice;

/** `buf`'s bytes from `start` to `end` as a latin1 string. */
export const latin1: (buf: Buffer, start: number, end: number) => string =
  typeof LATIN1_SLICE === 'function' ? (buf, start, end) => LATIN1_SLICE.call(buf, start, end) : (buf, start, end) => buf.toString('latin1', start, end);

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
  const tcpReads = STREAM_BINDINGS !== undefined && typeof (STREAM_BINDINGS.TCP.prototype as { useUserBuffer?: unknown }).useUserBuffer === 'function';
  const parts = [
    HTTP_COMMON ? 'HTTP/1 parser _http_common ok' : 'HTTP/1 parser _http_common MISSING (the HTTP/1 codec cannot run)',
    STREAM_BINDINGS ? 'direct writes (stream_wrap, tcp_wrap) ok' : 'direct writes unavailable: writes go through socket.write()',
    USER_BUFFER && tcpReads ? 'reads into a shared buffer (onread symbols, useUserBuffer) ok' : "reads into a shared buffer unavailable: 'data' events",
  ];
  return `node internals (${process.version}): ${parts.join('; ')}`;
}
