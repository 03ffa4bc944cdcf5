// How the HTTP/1 codecs write to sockets: messages batched to the end of the event-loop turn,
// and straight to the TCP handle.
//
// Batching: a request head or a small response written while the loop is handling reads waits
// until every ready socket has been read (setImmediate), then all go out back to back, as Envoy
// activates a connection's write event rather than writing inside the read callback. Peers are
// woken once per burst instead of once per message: 9 % less CPU per request and 10 % more
// requests/s through the gateway under load (bench/README.md). Whoever writes a socket in any
// other way (a stream write, end, a hand-over) first calls flushWrites(socket), so order holds.
//
// Direct: while the socket's stream has nothing queued, bytes go to the libuv handle without
// net.Socket's Writable (a WriteWrap, its bookkeeping and a nextTick per write); a write the
// kernel takes whole needs none of it. The handle API is node's internal one (`stream_wrap`,
// `tcp_wrap`, loaded in ../node-internals.ts), as node:net itself uses it; without it, writes go
// through socket.write(). libuv
// queues writes per handle, so a later socket.write() or end() always follows a direct write the
// kernel has not finished; while one is unfinished we write through the stream.

import type { Socket } from 'node:net';
import { getSystemErrorName } from 'node:util';
import { socketHandle, STREAM_BINDINGS as B, type WriteReq } from '../node-internals.js';

interface StreamHandle {
  writeBuffer(req: WriteReq, data: Uint8Array): number;
  writeLatin1String(req: WriteReq, data: string): number;
}

/** Direct writes the kernel has not finished, per socket. */
const kPending = Symbol('outpost.directWritesPending');
/** What writeSoon holds for the socket until the batch goes out. */
const kQueued = Symbol('outpost.queuedWrite');
type Tracked = Socket & { [kPending]?: number; [kQueued]?: Buffer | string | undefined };

/** Sockets with a queued write, in the order they were queued. */
const batch: Tracked[] = [];
let batchScheduled = false;

/** atBatch's calls for the coming batch, as (fn, a, b) triples. */
const hooks: unknown[] = [];

function schedule(): void {
  if (!batchScheduled) {
    batchScheduled = true;
    setImmediate(writeBatch);
  }
}

/**
 * Runs fn(a, b) when this turn's batch goes out, before its writes: for work that must follow
 * the current call stack but precede the bytes (a response head that no body write took along, a
 * handler to be told of its connection). Cheaper than process.nextTick on the request path: a
 * turn with ticks queued also runs node's promise-rejection bookkeeping, which allocates.
 */
export function atBatch<A, B>(fn: (a: A, b: B) => void, a: A, b: B): void {
  hooks.push(fn, a, b);
  schedule();
}

function writeBatch(): void {
  batchScheduled = false;
  if (hooks.length > 0) {
    const h = hooks.splice(0);
    for (let i = 0; i < h.length; i += 3) {
      try {
        (h[i] as (a: unknown, b: unknown) => void)(h[i + 1], h[i + 2]);
      } catch {
        // Our own callbacks; one failing must not keep the others' bytes from going out.
      }
    }
  }
  // Sockets queued while this runs (a write's callback) wait for the next turn.
  const n = batch.length;
  for (let i = 0; i < n; i++) {
    const s = batch[i]!;
    try {
      flushWrites(s);
    } catch (err) {
      // A socket in a state node refuses writes in: it goes, the rest of the batch still leaves.
      s.destroy(err as Error);
    }
  }
  batch.splice(0, n);
}

/**
 * Queues `data` (a string is latin1) for `socket` until the end of this event-loop turn. For whole
 * small messages (heads, small bodies): no backpressure is reported; large or streamed bodies use
 * writeDirect.
 */
export function writeSoon(socket: Socket, data: Buffer | string): void {
  const s = socket as Tracked;
  const queued = s[kQueued];
  if (queued !== undefined) {
    // Rare (two messages to one socket in one turn): keep it simple, the first goes now.
    flushWrites(s);
  }
  s[kQueued] = data;
  batch.push(s);
  schedule();
}

/** Writes what writeSoon queued for `socket`, now. Call before writing to or ending it any other way. */
export function flushWrites(socket: Socket): void {
  const s = socket as Tracked;
  const data = s[kQueued];
  if (data === undefined) return;
  s[kQueued] = undefined;
  if (!s.destroyed && !s.writableEnded) writeNow(s, data);
}

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
 * Writes `data` (a string is latin1) to `socket` now, after anything queued for it. Returns false
 * when the caller should wait for 'drain' before writing more (the kernel's buffer is full), as
 * socket.write() does.
 */
export function writeDirect(socket: Socket, data: Buffer | string): boolean {
  if ((socket as Tracked)[kQueued] !== undefined) flushWrites(socket);
  return writeNow(socket as Tracked, data);
}

function writeNow(s: Tracked, data: Buffer | string): boolean {
  const socket: Socket = s;
  const h = socketHandle<StreamHandle>(s);
  if (
    B === undefined ||
    h == null ||
    !(h instanceof B.TCP) ||
    (s[kPending] ?? 0) !== 0 ||
    s.writableLength !== 0 ||
    s.writableEnded ||
    s.destroyed ||
    s.connecting
  ) {
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
