// Writes to a connected TCP socket's libuv handle directly while the socket's stream has nothing
// queued. net.Socket's Writable costs a WriteWrap, its state bookkeeping and a nextTick per
// write (~5 % of the proxy's CPU under load); a write the kernel takes whole needs none of it.
// The handle API is node's internal one (`stream_wrap`, `tcp_wrap`), as node:net itself uses it;
// if it is not there, every write goes through socket.write().
//
// Order: libuv queues writes per handle, so a later socket.write() (or end()) always follows a
// direct write the kernel has not finished; while one is unfinished we write through the stream.

import type { Socket } from 'node:net';
import { getSystemErrorName } from 'node:util';

interface WriteReq {
  handle: unknown;
  oncomplete: (this: WriteReq, status: number) => void;
  /** Keeps the bytes alive while libuv still writes them. */
  buffer: Buffer | string | null;
  socket: Socket | null;
}

interface StreamHandle {
  writeBuffer(req: WriteReq, data: Uint8Array): number;
  writeLatin1String(req: WriteReq, data: string): number;
}

interface Bindings {
  WriteWrap: new () => WriteReq;
  streamBaseState: Int32Array;
  kLastWriteWasAsync: number;
  TCP: abstract new (...args: never[]) => object;
}

function loadBindings(): Bindings | undefined {
  try {
    const binding = (process as unknown as { binding(name: string): Record<string, unknown> }).binding;
    const sw = binding('stream_wrap');
    const tcp = binding('tcp_wrap');
    if (typeof sw.WriteWrap !== 'function' || !(sw.streamBaseState instanceof Int32Array) ||
        typeof sw.kLastWriteWasAsync !== 'number' || typeof tcp.TCP !== 'function') return undefined;
    return { WriteWrap: sw.WriteWrap, streamBaseState: sw.streamBaseState, kLastWriteWasAsync: sw.kLastWriteWasAsync, TCP: tcp.TCP } as Bindings;
  } catch {
    return undefined;
  }
}

const B = loadBindings();

/** Direct writes the kernel has not finished, per socket. */
const kPending = Symbol('outpost.directWritesPending');
type Tracked = Socket & { [kPending]?: number; _handle?: StreamHandle | null };

/**
 * A request object that libuv never took (the write finished at once) carries no native state:
 * the next write reuses it instead of allocating one per write.
 */
let spare: WriteReq | null = null;

function onComplete(this: WriteReq, status: number): void {
  const socket = this.socket as Tracked | null;
  this.socket = null;
  this.buffer = null;
  if (socket === null) return;
  socket[kPending] = (socket[kPending] ?? 1) - 1;
  if (status < 0) {
    // Cancelled by a close (ours) or failed (EPIPE, ECONNRESET): the socket's own read or close
    // path reports the peer's side; a write error is reported here.
    if (!socket.destroyed) socket.destroy(writeError(status));
    return;
  }
  // Writers waiting for room listen to 'drain' (as for the stream's own writes).
  if (socket[kPending] === 0 && socket.writableLength === 0 && !socket.destroyed) socket.emit('drain');
}

function writeError(status: number): NodeJS.ErrnoException {
  let name = 'EIO';
  try {
    name = getSystemErrorName(status);
  } catch {
    // Not a system error number: keep EIO.
  }
  const err = new Error(`write ${name}`) as NodeJS.ErrnoException;
  err.code = name;
  err.errno = status;
  err.syscall = 'write';
  return err;
}

/**
 * Writes `data` (a string is latin1) to `socket`. Returns false when the caller should wait for
 * 'drain' before writing more (the kernel's buffer is full), as socket.write() does.
 */
export function writeDirect(socket: Socket, data: Buffer | string): boolean {
  const s = socket as Tracked;
  const h = s._handle;
  if (B === undefined || h == null || !(h instanceof B.TCP) || (s[kPending] ?? 0) !== 0 ||
      s.writableLength !== 0 || s.writableEnded || s.destroyed || s.connecting) {
    return typeof data === 'string' ? socket.write(data, 'latin1') : socket.write(data);
  }
  const req = spare ?? new B.WriteWrap();
  spare = null;
  req.handle = h;
  req.oncomplete = onComplete;
  const err = typeof data === 'string' ? h.writeLatin1String(req, data) : h.writeBuffer(req, data);
  if (err !== 0) {
    socket.destroy(writeError(err));
    return false;
  }
  if (B.streamBaseState[B.kLastWriteWasAsync] === 0) {
    spare = req;
    return true;
  }
  // The kernel took part of it: libuv writes the rest when there is room, from the bytes this
  // request keeps alive.
  req.buffer = data;
  req.socket = socket;
  s[kPending] = (s[kPending] ?? 0) + 1;
  return false;
}

/** Whether direct writes are available on this node (for tests). */
export const directWritesAvailable = B !== undefined;
