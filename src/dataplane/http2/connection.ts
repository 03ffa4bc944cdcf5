// One HTTP/2 connection on a socket (RFC 9113), either side: frame reading, connection-level
// frames (SETTINGS, PING, GOAWAY, WINDOW_UPDATE), header blocks (HEADERS + CONTINUATION through
// HPACK), flow control in both directions, and Envoy's defences. What a stream means (a request
// received, a request sent) is the subclass's: ./server.ts and ./client.ts.
//
// Writing: frames go into a per-connection scratch buffer and leave once per event-loop turn
// (socket-writes.ts's batch); large DATA payloads are written as the caller's own buffers, sliced,
// never copied. Reading: frames are parsed in place from the socket's chunks; DATA payloads are
// handed on as slices of them.
import type { Socket } from 'node:net';
import { atBatch, writeDirect } from '../http1/socket-writes.js';
import { log } from '../log.js';
import * as C from './constants.js';
import { H2ConnectionError } from './constants.js';
import { HpackDecoder, HpackEncoder, HpackError } from './hpack.js';
import { H2Stream } from './stream.js';
import { StreamTable } from './stream-table.js';
import { allocSmall } from '../slab.js';

export interface H2Limits {
  /** SETTINGS_MAX_CONCURRENT_STREAMS we announce; streams beyond it are refused. */
  readonly maxConcurrentStreams: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE (RFC 7541 sizes: name + value + 32 per field). */
  readonly maxHeaderListSize: number;
  /** Our SETTINGS_INITIAL_WINDOW_SIZE: how much of a stream's body may wait unread. */
  readonly streamWindow: number;
  /** Our connection receive window. */
  readonly connectionWindow: number;
  /** No stream open for this long: GOAWAY and close. */
  readonly idleTimeoutMs: number;
  /** A stream with no frame either way for this long is reset (Envoy's stream_idle_timeout). */
  readonly streamIdleTimeoutMs: number;
  /** Control frames (SETTINGS/PING acks, RST_STREAM) queued unsent beyond this: a flood (Envoy's max_outbound_control_frames). */
  readonly maxOutboundControlFrames: number;
  /** Frames without payload (and without END_STREAM) in a row beyond this: a flood (max_consecutive_inbound_frames_with_empty_payload). */
  readonly maxConsecutiveEmptyFrames: number;
  /** Resets by the peer of streams it opened less than a second before, per second window: beyond this and half the streams, a rapid-reset attack. */
  readonly maxPrematureResets: number;
  /** CONTINUATION frames in one header block beyond this: a flood. */
  readonly maxContinuationFrames: number;
}

export const DEFAULT_H2_LIMITS: H2Limits = {
  maxConcurrentStreams: 1024,
  maxHeaderListSize: 60 * 1024,
  streamWindow: 256 * 1024,
  connectionWindow: 4 * 1024 * 1024,
  idleTimeoutMs: 60 * 60_000,
  streamIdleTimeoutMs: 5 * 60_000,
  maxOutboundControlFrames: 1000,
  maxConsecutiveEmptyFrames: 1,
  maxPrematureResets: 100,
  maxContinuationFrames: 64,
};

const SCRATCH_MIN = 4096;
/** Payloads at least this large go out as their own buffers (sliced) instead of being copied. */
const COPY_LIMIT = 2048;

export abstract class H2Connection {
  readonly socket: Socket;
  readonly limits: H2Limits;
  readonly streams = new StreamTable<H2Stream>();
  closed = false;

  // ---- peer's settings
  peerMaxFrameSize = C.MIN_MAX_FRAME_SIZE;
  peerInitialWindow = C.DEFAULT_WINDOW;
  peerMaxConcurrent = Infinity;

  // ---- flow control
  sendWindow = C.DEFAULT_WINDOW;
  #recvWindow = C.DEFAULT_WINDOW;
  #recvUnacked = 0;
  /** Streams with DATA waiting for window, in order. */
  readonly #blocked: H2Stream[] = [];

  // ---- HPACK
  readonly #decoder: HpackDecoder;
  readonly encoder = new HpackEncoder();
  #names: string[] = [];
  #values: string[] = [];
  #listSize = 0;
  #oversize = false;

  // ---- reading state
  #pending: Buffer | undefined = undefined;
  #prefaceLeft: number;
  #settingsSeen = false;
  /** A header block in progress (HEADERS without END_HEADERS): its stream, flags and fragments. */
  #hbStream = 0;
  #hbFlags = 0;
  #hbParts: Buffer[] = [];
  #hbLen = 0;
  #hbCount = 0;
  #emptyRun = 0;

  // ---- stream bookkeeping
  /** Highest stream id the peer opened (server) / we opened (client). */
  lastPeerStream = 0;
  /** Recently closed stream ids: frames on them are STREAM_CLOSED errors, not PROTOCOL_ERRORs. */
  readonly #recentlyClosed: number[] = [];
  goawaySent = false;
  goawayReceived = false;
  /** The connection error we closed the connection with (the peer broke the protocol), 0 if none. */
  failedWith = 0;
  #windowStart = 0;
  #windowStreams = 0;
  #windowResets = 0;

  // ---- writing state
  #scratch = Buffer.allocUnsafe(SCRATCH_MIN);
  #outLen = 0;
  readonly #outList: Buffer[] = [];
  #flushScheduled = false;
  #congested = false;
  #controlQueued = 0;
  /** Streams whose response head waits to leave (to merge END_STREAM into it when possible). */
  #heads: H2Stream[] = [];

  // ---- timers
  #timer: NodeJS.Timeout | undefined;
  #active = true;
  #lastActive = Date.now();

  constructor(socket: Socket, limits: H2Limits, expectPreface: boolean) {
    this.socket = socket;
    this.limits = limits;
    this.#prefaceLeft = expectPreface ? C.PREFACE.length : 0;
    this.#decoder = new HpackDecoder(4096);
    socket.on('data', this.#onData);
    socket.on('drain', this.#onDrain);
    socket.on('close', this.#onClose);
    socket.on('error', noop);
    socket.on('end', this.#onEnd);
    const tick = Math.max(500, Math.min(limits.idleTimeoutMs, limits.streamIdleTimeoutMs) / 2);
    this.#timer = setInterval(this.#onTick, tick);
    this.#timer.unref();
  }

  /** Our SETTINGS and the connection window, first thing on the connection. */
  protected sendPreamble(clientPreface: boolean): void {
    const l = this.limits;
    let off = this.#reserve(24 + 9 + 6 * 5 + 13);
    const out = this.#scratch;
    if (clientPreface) {
      C.PREFACE.copy(out, off);
      off += 24;
    }
    const settings: Array<[number, number]> = [
      [C.S_MAX_CONCURRENT_STREAMS, l.maxConcurrentStreams],
      [C.S_INITIAL_WINDOW_SIZE, l.streamWindow],
      [C.S_MAX_HEADER_LIST_SIZE, l.maxHeaderListSize],
      [C.S_ENABLE_PUSH, 0],
    ];
    off = frameHeader(out, off, settings.length * 6, C.T_SETTINGS, 0, 0);
    for (const [id, v] of settings) {
      out.writeUInt16BE(id, off);
      out.writeUInt32BE(v, off + 2);
      off += 6;
    }
    const inc = l.connectionWindow - C.DEFAULT_WINDOW;
    if (inc > 0) {
      off = frameHeader(out, off, 4, C.T_WINDOW_UPDATE, 0, 0);
      out.writeUInt32BE(inc, off);
      off += 4;
      this.#recvWindow += inc;
    }
    this.#outLen = off;
    this.#schedule();
  }

  // ---------------------------------------------------------------------------------------------
  // subclass hooks

  /** A complete header block for `id` (fields in names/values, pseudo-headers included). */
  protected abstract onHeaderBlock(id: number, endStream: boolean, names: string[], values: string[], oversize: boolean, malformed: boolean): void;
  /** Whether `id` is a stream the peer could not have opened or referred to yet (idle). */
  protected abstract isIdle(id: number): boolean;
  /** The connection closed: every stream is gone. */
  protected abstract onClosed(): void;
  /** The peer sent GOAWAY. */
  protected onGoaway(_lastStream: number, _code: number): void {}

  // ---------------------------------------------------------------------------------------------
  // reading

  #onData = (chunk: Buffer): void => {
    if (this.closed) return;
    this.#active = true;
    let buf = chunk;
    if (this.#pending !== undefined) {
      buf = Buffer.concat([this.#pending, chunk]);
      this.#pending = undefined;
    }
    try {
      this.#parse(buf);
    } catch (err) {
      if (err instanceof H2ConnectionError) this.fail(err.code, err.message);
      else if (err instanceof HpackError) this.fail(C.E_COMPRESSION_ERROR, err.message);
      else {
        // A bug of ours: the connection goes, the proxy stays.
        log('error', `http2: internal error: ${(err as Error)?.stack ?? String(err)}`);
        this.fail(C.E_INTERNAL_ERROR, 'internal error');
      }
    }
  };

  #parse(buf: Buffer): void {
    let p = 0;
    const end = buf.length;
    if (this.#prefaceLeft > 0) {
      const start = C.PREFACE.length - this.#prefaceLeft;
      const n = Math.min(this.#prefaceLeft, end);
      if (buf.compare(C.PREFACE, start, start + n, 0, n) !== 0) throw new H2ConnectionError(C.E_PROTOCOL_ERROR, 'invalid connection preface');
      this.#prefaceLeft -= n;
      p = n;
    }
    while (end - p >= C.FRAME_HEADER && !this.closed) {
      const len = (buf[p]! << 16) | (buf[p + 1]! << 8) | buf[p + 2]!;
      if (len > C.MIN_MAX_FRAME_SIZE) throw new H2ConnectionError(C.E_FRAME_SIZE_ERROR, `frame of ${len} bytes above SETTINGS_MAX_FRAME_SIZE`);
      if (end - p - C.FRAME_HEADER < len) break;
      const type = buf[p + 3]!;
      const flags = buf[p + 4]!;
      const id = buf.readUInt32BE(p + 5) & 0x7fffffff;
      const s = p + C.FRAME_HEADER;
      p = s + len;
      this.#frame(type, flags, id, buf, s, p);
    }
    if (p < end && !this.closed) this.#pending = buf.subarray(p);
  }

  #frame(type: number, flags: number, id: number, buf: Buffer, s: number, e: number): void {
    if (!this.#settingsSeen) {
      if (type !== C.T_SETTINGS || (flags & C.F_ACK) !== 0) throw new H2ConnectionError(C.E_PROTOCOL_ERROR, 'the first frame is not SETTINGS');
      this.#settingsSeen = true;
    }
    if (this.#hbStream !== 0 && (type !== C.T_CONTINUATION || id !== this.#hbStream)) {
      throw new H2ConnectionError(C.E_PROTOCOL_ERROR, 'frame inside a header block');
    }
    // Envoy's empty-frame flood check: frames that carry nothing and end nothing.
    if (e === s && (type === C.T_DATA || type === C.T_HEADERS || type === C.T_CONTINUATION) && (flags & (C.F_END_STREAM | C.F_END_HEADERS)) === 0) {
      if (++this.#emptyRun > this.limits.maxConsecutiveEmptyFrames) throw new H2ConnectionError(C.E_ENHANCE_YOUR_CALM, 'too many empty frames');
    } else this.#emptyRun = 0;
    switch (type) {
      case C.T_DATA:
        this.#onDataFrame(flags, id, buf, s, e);
        break;
      case C.T_HEADERS:
        this.#onHeaders(flags, id, buf, s, e);
        break;
      case C.T_PRIORITY:
        this.#onPriority(id, buf, s, e);
        break;
      case C.T_RST_STREAM:
        this.#onRst(id, buf, s, e);
        break;
      case C.T_SETTINGS:
        this.#onSettings(flags, id, buf, s, e);
        break;
      case C.T_PUSH_PROMISE:
        throw new H2ConnectionError(C.E_PROTOCOL_ERROR, 'PUSH_PROMISE (push is disabled)');
      case C.T_PING:
        this.#onPing(flags, id, buf, s, e);
        break;
      case C.T_GOAWAY:
        this.#onGoawayFrame(id, buf, s, e);
        break;
      case C.T_WINDOW_UPDATE:
        this.#onWindowUpdate(id, buf, s, e);
        break;
      case C.T_CONTINUATION:
        this.#onContinuation(flags, id, buf, s, e);
        break;
      default:
        break; // unknown frame types are ignored (§5.5)
    }
  }

  /** Strips padding; returns the payload end, or throws. */
  static #unpad(flags: number, buf: Buffer, s: number, e: number): number {
    if ((flags & C.F_PADDED) === 0) return e;
    if (e - s < 1) throw new H2ConnectionError(C.E_FRAME_SIZE_ERROR, 'padded frame without pad length');
    const pad = buf[s]!;
    if (pad >= e - s) throw new H2ConnectionError(C.E_PROTOCOL_ERROR, 'padding longer than the payload');
    return e - pad;
  }

  #onDataFrame(flags: number, id: number, buf: Buffer, s: number, e: number): void {
    if (id === 0) throw new H2ConnectionError(C.E_PROTOCOL_ERROR, 'DATA on stream 0');
    const len = e - s;
    const de = H2Connection.#unpad(flags, buf, s, e);
    const ds = (flags & C.F_PADDED) !== 0 ? s + 1 : s;
    this.#recvWindow -= len;
    if (this.#recvWindow < 0) throw new H2ConnectionError(C.E_FLOW_CONTROL_ERROR, 'DATA beyond the connection window');
    // The connection window is credited on receipt: stream windows bound what waits unread.
    this.#credit(len);
    const st = this.streams.get(id);
    if (st === undefined) {
      if (this.isIdle(id)) throw new H2ConnectionError(C.E_PROTOCOL_ERROR, `DATA on idle stream ${id}`);
      this.sendRst(id, C.E_STREAM_CLOSED);
      return;
    }
    if (st.remoteEnded) {
      this.resetStream(st, C.E_STREAM_CLOSED);
      return;
    }
    st.recvWindow -= len;
    if (st.recvWindow < 0) {
      this.resetStream(st, C.E_FLOW_CONTROL_ERROR);
      return;
    }
    st.active = true;
    // Padding never reaches the consumer: credited to the stream now.
    const padding = len - (de - ds);
    if (padding > 0) st.consumed(padding);
    const end = (flags & C.F_END_STREAM) !== 0;
    if (de > ds) {
      st.received += de - ds;
      if (st.expectedLength >= 0 && st.received > st.expectedLength) {
        this.resetStream(st, C.E_PROTOCOL_ERROR);
        return;
      }
      st.dataIn(buf.subarray(ds, de));
    }
    if (end) {
      if (st.expectedLength >= 0 && st.received !== st.expectedLength) {
        this.resetStream(st, C.E_PROTOCOL_ERROR);
        return;
      }
      st.remoteEnd(undefined);
    }
  }

  #credit(n: number): void {
    this.#recvUnacked += n;
    if (this.#recvUnacked >= this.limits.connectionWindow >> 1) {
      this.#recvWindow += this.#recvUnacked;
      this.windowUpdate(0, this.#recvUnacked);
      this.#recvUnacked = 0;
    }
  }

  #onHeaders(flags: number, id: number, buf: Buffer, s: number, e: number): void {
    if (id === 0) throw new H2ConnectionError(C.E_PROTOCOL_ERROR, 'HEADERS on stream 0');
    let bs = (flags & C.F_PADDED) !== 0 ? s + 1 : s;
    const be = H2Connection.#unpad(flags, buf, s, e);
    let selfDependent = false;
    if ((flags & C.F_PRIORITY) !== 0) {
      if (be - bs < 5) throw new H2ConnectionError(C.E_FRAME_SIZE_ERROR, 'HEADERS too short for its priority');
      selfDependent = (buf.readUInt32BE(bs) & 0x7fffffff) === id;
      bs += 5;
    }
    if ((flags & C.F_END_HEADERS) !== 0) {
      this.#block(id, flags, buf, bs, be, selfDependent);
      return;
    }
    this.#hbStream = id;
    this.#hbFlags = flags | (selfDependent ? 0x100 : 0);
    this.#hbParts = [buf.subarray(bs, be)];
    this.#hbLen = be - bs;
    this.#hbCount = 0;
  }

  #onContinuation(flags: number, id: number, buf: Buffer, s: number, e: number): void {
    if (this.#hbStream === 0 || id !== this.#hbStream) throw new H2ConnectionError(C.E_PROTOCOL_ERROR, 'CONTINUATION without a header block');
    this.#hbLen += e - s;
    // CONTINUATION flood: a block far beyond the header list limit, or too many pieces.
    if (++this.#hbCount > this.limits.maxContinuationFrames || this.#hbLen > this.limits.maxHeaderListSize * 2) {
      throw new H2ConnectionError(C.E_ENHANCE_YOUR_CALM, 'header block too large (CONTINUATION flood)');
    }
    this.#hbParts.push(buf.subarray(s, e));
    if ((flags & C.F_END_HEADERS) === 0) return;
    const block = Buffer.concat(this.#hbParts, this.#hbLen);
    const f = this.#hbFlags;
    this.#hbStream = 0;
    this.#hbParts = [];
    this.#block(id, f, block, 0, block.length, (f & 0x100) !== 0);
  }

  #sink = (name: string, value: string): void => {
    this.#listSize += name.length + value.length + 32;
    if (this.#listSize > this.limits.maxHeaderListSize) {
      this.#oversize = true;
      return;
    }
    this.#names.push(name);
    this.#values.push(value);
  };

  #block(id: number, flags: number, buf: Buffer, s: number, e: number, selfDependent: boolean): void {
    // Fresh arrays per block: emptying the last ones (length = 0) is a call into the runtime.
    const names: string[] = (this.#names = []);
    const values: string[] = (this.#values = []);
    this.#listSize = 0;
    this.#oversize = false;
    // Always decoded, even for a stream about to be refused: the table must stay in step.
    const wellFormed = this.#decoder.decode(buf, s, e, this.#sink);
    if (selfDependent) {
      if (this.isIdle(id)) this.lastPeerStream = Math.max(this.lastPeerStream, id);
      this.sendRst(id, C.E_PROTOCOL_ERROR);
      return;
    }
    this.onHeaderBlock(id, (flags & C.F_END_STREAM) !== 0, names, values, this.#oversize, !wellFormed);
  }

  #onPriority(id: number, buf: Buffer, s: number, e: number): void {
    if (id === 0) throw new H2ConnectionError(C.E_PROTOCOL_ERROR, 'PRIORITY on stream 0');
    if (e - s !== 5) {
      this.sendRst(id, C.E_FRAME_SIZE_ERROR);
      return;
    }
    if ((buf.readUInt32BE(s) & 0x7fffffff) === id) {
      const st = this.streams.get(id);
      if (st !== undefined) this.resetStream(st, C.E_PROTOCOL_ERROR);
      else this.sendRst(id, C.E_PROTOCOL_ERROR);
    }
    // Otherwise ignored: RFC 9113 deprecates the priority scheme.
  }

  #onRst(id: number, buf: Buffer, s: number, e: number): void {
    if (id === 0) throw new H2ConnectionError(C.E_PROTOCOL_ERROR, 'RST_STREAM on stream 0');
    if (e - s !== 4) throw new H2ConnectionError(C.E_FRAME_SIZE_ERROR, 'RST_STREAM of the wrong size');
    if (this.isIdle(id)) throw new H2ConnectionError(C.E_PROTOCOL_ERROR, `RST_STREAM on idle stream ${id}`);
    const st = this.streams.get(id);
    if (st === undefined) return;
    const code = buf.readUInt32BE(s);
    // Rapid reset (CVE-2023-44487): streams the peer opens and resets before they could be served.
    if (st.peerOpened && !st.localEnded && this.#windowCheck(true)) {
      throw new H2ConnectionError(C.E_ENHANCE_YOUR_CALM, 'too many streams reset by the client (rapid reset)');
    }
    this.closeStream(st, code, true);
  }

  /** Counts a stream opened (reset=false) or reset early (true) in the current one-second window; true: over the limit. */
  protected windowCheck(reset: boolean): boolean {
    return this.#windowCheck(reset);
  }

  #windowCheck(reset: boolean): boolean {
    const now = Date.now();
    if (now - this.#windowStart >= 1000) {
      this.#windowStart = now;
      this.#windowStreams = 0;
      this.#windowResets = 0;
    }
    if (!reset) {
      this.#windowStreams++;
      return false;
    }
    this.#windowResets++;
    return this.#windowResets > this.limits.maxPrematureResets && this.#windowResets * 2 >= this.#windowStreams;
  }

  #onSettings(flags: number, id: number, buf: Buffer, s: number, e: number): void {
    if (id !== 0) throw new H2ConnectionError(C.E_PROTOCOL_ERROR, 'SETTINGS on a stream');
    if ((flags & C.F_ACK) !== 0) {
      if (e !== s) throw new H2ConnectionError(C.E_FRAME_SIZE_ERROR, 'SETTINGS ack with a payload');
      return;
    }
    if ((e - s) % 6 !== 0) throw new H2ConnectionError(C.E_FRAME_SIZE_ERROR, 'SETTINGS of the wrong size');
    for (let p = s; p < e; p += 6) {
      const k = buf.readUInt16BE(p);
      const v = buf.readUInt32BE(p + 2);
      switch (k) {
        case C.S_HEADER_TABLE_SIZE:
          this.encoder.setPeerMaxSize(v);
          break;
        case C.S_ENABLE_PUSH:
          if (v > 1) throw new H2ConnectionError(C.E_PROTOCOL_ERROR, 'SETTINGS_ENABLE_PUSH above 1');
          break;
        case C.S_MAX_CONCURRENT_STREAMS:
          this.peerMaxConcurrent = v;
          break;
        case C.S_INITIAL_WINDOW_SIZE: {
          if (v > C.MAX_WINDOW) throw new H2ConnectionError(C.E_FLOW_CONTROL_ERROR, 'SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1');
          const delta = v - this.peerInitialWindow;
          this.peerInitialWindow = v;
          for (const st of this.streams.values()) {
            st.sendWindow += delta;
            if (st.sendWindow > C.MAX_WINDOW) throw new H2ConnectionError(C.E_FLOW_CONTROL_ERROR, 'stream window above 2^31-1');
          }
          if (delta > 0) this.#unblock();
          break;
        }
        case C.S_MAX_FRAME_SIZE:
          if (v < C.MIN_MAX_FRAME_SIZE || v > C.MAX_MAX_FRAME_SIZE) throw new H2ConnectionError(C.E_PROTOCOL_ERROR, 'SETTINGS_MAX_FRAME_SIZE out of range');
          this.peerMaxFrameSize = v;
          break;
        default:
          break; // unknown settings are ignored; MAX_HEADER_LIST_SIZE is advisory
      }
    }
    const off = this.#reserve(9);
    this.#outLen = frameHeader(this.#scratch, off, 0, C.T_SETTINGS, C.F_ACK, 0);
    this.#control();
  }

  #onPing(flags: number, id: number, buf: Buffer, s: number, e: number): void {
    if (e - s !== 8) throw new H2ConnectionError(C.E_FRAME_SIZE_ERROR, 'PING of the wrong size');
    if (id !== 0) throw new H2ConnectionError(C.E_PROTOCOL_ERROR, 'PING on a stream');
    if ((flags & C.F_ACK) !== 0) return;
    const off = frameHeader(this.#scratch, this.#reserve(17), 8, C.T_PING, C.F_ACK, 0);
    buf.copy(this.#scratch, off, s, e);
    this.#outLen = off + 8;
    this.#control();
  }

  #onGoawayFrame(id: number, buf: Buffer, s: number, e: number): void {
    if (id !== 0) throw new H2ConnectionError(C.E_PROTOCOL_ERROR, 'GOAWAY on a stream');
    if (e - s < 8) throw new H2ConnectionError(C.E_FRAME_SIZE_ERROR, 'GOAWAY too short');
    this.goawayReceived = true;
    this.onGoaway(buf.readUInt32BE(s) & 0x7fffffff, buf.readUInt32BE(s + 4));
    this.maybeFinish();
  }

  #onWindowUpdate(id: number, buf: Buffer, s: number, e: number): void {
    if (e - s !== 4) throw new H2ConnectionError(C.E_FRAME_SIZE_ERROR, 'WINDOW_UPDATE of the wrong size');
    const inc = buf.readUInt32BE(s) & 0x7fffffff;
    if (id === 0) {
      if (inc === 0) throw new H2ConnectionError(C.E_PROTOCOL_ERROR, 'WINDOW_UPDATE of 0');
      this.sendWindow += inc;
      if (this.sendWindow > C.MAX_WINDOW) throw new H2ConnectionError(C.E_FLOW_CONTROL_ERROR, 'connection window above 2^31-1');
      this.#unblock();
      return;
    }
    if (this.isIdle(id)) throw new H2ConnectionError(C.E_PROTOCOL_ERROR, `WINDOW_UPDATE on idle stream ${id}`);
    const st = this.streams.get(id);
    if (st === undefined) return;
    if (inc === 0) {
      this.resetStream(st, C.E_PROTOCOL_ERROR);
      return;
    }
    st.sendWindow += inc;
    if (st.sendWindow > C.MAX_WINDOW) {
      this.resetStream(st, C.E_FLOW_CONTROL_ERROR);
      return;
    }
    st.active = true;
    if (st.queuedBytes > 0) this.#unblock();
  }

  #onEnd = (): void => {
    // The peer half-closed: nothing more will arrive; streams still open cannot complete.
    this.destroy();
  };

  #onClose = (): void => {
    if (this.closed && this.#timer === undefined) return;
    this.closed = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    for (const st of this.streams.values()) this.closeStream(st, C.E_CANCEL, false, true);
    this.onClosed();
  };

  #onTick = (): void => {
    if (this.closed) return;
    const now = Date.now();
    if (this.streams.size === 0) {
      // Idle: no stream open and nothing read since the last tick, for idleTimeoutMs.
      if (this.#active) this.#lastActive = now;
      else if (now - this.#lastActive >= this.limits.idleTimeoutMs) {
        this.goaway(C.E_NO_ERROR);
        this.#endSoon();
        return;
      }
    } else {
      this.#lastActive = now;
      for (const st of this.streams.values()) {
        if (!st.active && now - st.lastCheck >= this.limits.streamIdleTimeoutMs) {
          st.idleTimeout();
          continue;
        }
        if (st.active) {
          st.active = false;
          st.lastCheck = now;
        }
      }
    }
    this.#active = false;
  };

  // ---------------------------------------------------------------------------------------------
  // stream bookkeeping

  /** Registers a new stream (after its HEADERS). */
  addStream(st: H2Stream): void {
    st.sendWindow = this.peerInitialWindow;
    st.recvWindow = this.limits.streamWindow;
    // No clock read: a new stream is `active`, so the next tick starts its idle time (lastCheck).
    this.streams.set(st);
  }

  /** Removes `st`; `code` is sent as RST_STREAM unless `byPeer` (it came from the peer) or the connection is gone. */
  closeStream(st: H2Stream, code: number, byPeer: boolean, connGone = false): void {
    if (st.closed) return;
    st.closed = true;
    this.streams.delete(st.id);
    const rc = this.#recentlyClosed;
    rc.push(st.id);
    if (rc.length > 64) rc.shift();
    if (!byPeer && !connGone && code >= 0) this.sendRst(st.id, code);
    st.onStreamClosed(code, byPeer, connGone);
    this.maybeFinish();
  }

  /** A stream error (§5.4.2): RST_STREAM(code) and the stream is gone. */
  resetStream(st: H2Stream, code: number): void {
    this.closeStream(st, code, false);
  }

  wasRecentlyClosed(id: number): boolean {
    return this.#recentlyClosed.includes(id);
  }

  /** After GOAWAY either way: the connection ends once its last stream has. */
  protected maybeFinish(): void {
    if ((this.goawaySent || this.goawayReceived) && this.streams.size === 0 && !this.closed) this.#endSoon();
  }

  // ---------------------------------------------------------------------------------------------
  // writing

  /** Offset in the scratch buffer with `n` bytes of room after the frames already queued. */
  #reserve(n: number): number {
    if (this.#outLen + n > this.#scratch.length) {
      if (this.#outLen > 0) this.#seal();
      if (n > this.#scratch.length) this.#scratch = Buffer.allocUnsafe(Math.max(n, this.#scratch.length * 2));
    }
    this.#schedule();
    return this.#outLen;
  }

  /** Moves the scratch bytes into a buffer of their own (pooled when small) on the out list. */
  #seal(): void {
    if (this.#outLen === 0) return;
    const b = allocSmall(this.#outLen);
    this.#scratch.copy(b, 0, 0, this.#outLen);
    this.#outList.push(b);
    this.#outLen = 0;
  }

  #schedule(): void {
    if (this.#flushScheduled || this.closed) return;
    this.#flushScheduled = true;
    atBatch(flushConnection, this, undefined);
  }

  #control(): void {
    if (++this.#controlQueued > this.limits.maxOutboundControlFrames) {
      throw new H2ConnectionError(C.E_ENHANCE_YOUR_CALM, 'outbound control frames not read by the peer (SETTINGS/PING/RST flood)');
    }
    this.#schedule();
  }

  /** Writes what is queued: one write per turn. */
  flush(): void {
    this.#flushScheduled = false;
    if (this.closed) return;
    const heads = this.#heads;
    if (heads.length > 0) {
      this.#heads = [];
      for (let i = 0; i < heads.length; i++) heads[i]!.emitHead(false);
    }
    this.#flushScheduled = false;
    const list = this.#outList;
    let data: Buffer | undefined;
    if (list.length === 0) {
      if (this.#outLen === 0) return;
      data = this.#scratch.subarray(0, this.#outLen);
      // Only the kernel reads the scratch bytes: copied for a write that may not finish now.
      const b = allocSmall(this.#outLen);
      data.copy(b);
      data = b;
      this.#outLen = 0;
    } else {
      this.#seal();
    }
    let ok = true;
    if (data !== undefined) ok = writeDirect(this.socket, data);
    else {
      let total = 0;
      for (let i = 0; i < list.length; i++) total += list[i]!.length;
      if (total <= 65536 && list.length > 1) ok = writeDirect(this.socket, Buffer.concat(list, total));
      else for (let i = 0; i < list.length; i++) ok = writeDirect(this.socket, list[i]!);
      list.length = 0;
    }
    if (ok) this.#controlQueued = 0;
    else this.#congested = true;
  }

  #onDrain = (): void => {
    this.#congested = false;
    this.#controlQueued = 0;
    for (const st of this.streams.values()) if (st.queuedBytes === 0) st.drained();
  };

  /** The socket's buffer is full: writers wait for drain. */
  get congested(): boolean {
    return this.#congested;
  }

  /** Queues a head to leave at the end of the turn (or with the stream's first DATA). */
  queueHead(st: H2Stream): void {
    this.#heads.push(st);
    this.#schedule();
  }

  /** Drops `st` from the pending heads (it emitted its head itself). */
  unqueueHead(st: H2Stream): void {
    const i = this.#heads.indexOf(st);
    if (i >= 0) this.#heads.splice(i, 1);
  }

  /**
   * Writes a header block for stream `id`: HEADERS then CONTINUATION frames as needed.
   * `fields` is name, value pairs flattened; encoded now (HPACK state follows emission order).
   */
  writeHeaders(id: number, fields: string[], endStream: boolean): void {
    let bound = 8;
    for (let i = 0; i < fields.length; i += 2) bound += HpackEncoder.bound(fields[i]!, fields[i + 1]!);
    const max = this.peerMaxFrameSize;
    const frames = Math.ceil(bound / max) + 1;
    // Encoded into the scratch after room for the first frame header, then split in place.
    let off = this.#reserve(bound + frames * C.FRAME_HEADER);
    const out = this.#scratch;
    const start = off + C.FRAME_HEADER;
    let p = this.encoder.begin(out, start);
    for (let i = 0; i < fields.length; i += 2) p = this.encoder.field(out, p, fields[i]!, fields[i + 1]!);
    const len = p - start;
    if (len <= max) {
      frameHeader(out, off, len, C.T_HEADERS, C.F_END_HEADERS | (endStream ? C.F_END_STREAM : 0), id);
      this.#outLen = p;
      return;
    }
    // Rare: a block larger than one frame. Moved out and framed piece by piece.
    const block = Buffer.from(out.subarray(start, p));
    off = frameHeader(out, off, max, C.T_HEADERS, endStream ? C.F_END_STREAM : 0, id);
    block.copy(out, off, 0, max);
    off += max;
    for (let q = max; q < len; q += max) {
      const n = Math.min(max, len - q);
      off = frameHeader(out, off, n, C.T_CONTINUATION, q + n >= len ? C.F_END_HEADERS : 0, id);
      block.copy(out, off, q, q + n);
      off += n;
    }
    this.#outLen = off;
  }

  /** Sends as much of `st`'s queued DATA as the windows allow; returns whether all went. */
  pumpStream(st: H2Stream): boolean {
    const q = st.outQueue;
    const max = this.peerMaxFrameSize;
    while (q.length > 0) {
      const room = Math.min(this.sendWindow, st.sendWindow);
      const chunk = q[0]!;
      if (chunk.length > 0 && room <= 0) {
        if (!this.#blocked.includes(st)) this.#blocked.push(st);
        return false;
      }
      const n = Math.min(chunk.length, room, max);
      const last = n === chunk.length && q.length === 1;
      const end = last && st.endAfterQueue && st.trailersAfterQueue === undefined;
      this.#dataFrame(st.id, chunk, n, end);
      this.sendWindow -= n;
      st.sendWindow -= n;
      st.queuedBytes -= n;
      if (n === chunk.length) q.shift();
      else q[0] = chunk.subarray(n);
    }
    if (st.endAfterQueue) {
      st.endAfterQueue = false;
      const t = st.trailersAfterQueue;
      st.trailersAfterQueue = undefined;
      if (t !== undefined) this.writeHeaders(st.id, t, true);
      st.localEnd();
    }
    return true;
  }

  #dataFrame(id: number, chunk: Buffer, n: number, end: boolean): void {
    const flags = end ? C.F_END_STREAM : 0;
    if (n < COPY_LIMIT) {
      const off = frameHeader(this.#scratch, this.#reserve(C.FRAME_HEADER + n), n, C.T_DATA, flags, id);
      chunk.copy(this.#scratch, off, 0, n);
      this.#outLen = off + n;
    } else {
      this.#outLen = frameHeader(this.#scratch, this.#reserve(C.FRAME_HEADER), n, C.T_DATA, flags, id);
      this.#seal();
      this.#outList.push(n === chunk.length ? chunk : chunk.subarray(0, n));
    }
  }

  /** An empty DATA frame with END_STREAM. */
  writeEnd(id: number): void {
    this.#outLen = frameHeader(this.#scratch, this.#reserve(C.FRAME_HEADER), 0, C.T_DATA, C.F_END_STREAM, id);
  }

  #unblock(): void {
    const b = this.#blocked;
    while (b.length > 0 && this.sendWindow > 0) {
      const st = b[0]!;
      if (st.closed) {
        b.shift();
        continue;
      }
      b.shift();
      if (!this.pumpStream(st)) break;
      if (!this.#congested) st.drained();
    }
  }

  /** Forgets a closed stream's place in the window queue. */
  unblockRemove(st: H2Stream): void {
    const i = this.#blocked.indexOf(st);
    if (i >= 0) this.#blocked.splice(i, 1);
  }

  sendRst(id: number, code: number): void {
    const off = frameHeader(this.#scratch, this.#reserve(13), 4, C.T_RST_STREAM, 0, id);
    this.#scratch.writeUInt32BE(code, off);
    this.#outLen = off + 4;
    this.#control();
  }

  windowUpdate(id: number, inc: number): void {
    const off = frameHeader(this.#scratch, this.#reserve(13), 4, C.T_WINDOW_UPDATE, 0, id);
    this.#scratch.writeUInt32BE(inc, off);
    this.#outLen = off + 4;
  }

  ping(): void {
    const off = frameHeader(this.#scratch, this.#reserve(17), 8, C.T_PING, 0, 0);
    this.#scratch.fill(0, off, off + 8);
    this.#outLen = off + 8;
  }

  /** Sends GOAWAY (once); new streams from the peer are refused from now on. */
  goaway(code: number, debug?: string): void {
    if (this.goawaySent || this.closed) return;
    this.goawaySent = true;
    const d = debug !== undefined ? Buffer.from(debug, 'latin1') : undefined;
    const dl = d?.length ?? 0;
    const off = frameHeader(this.#scratch, this.#reserve(17 + dl), 8 + dl, C.T_GOAWAY, 0, 0);
    this.#scratch.writeUInt32BE(this.lastPeerStream, off);
    this.#scratch.writeUInt32BE(code, off + 4);
    if (d !== undefined) d.copy(this.#scratch, off + 8);
    this.#outLen = off + 8 + dl;
  }

  /** A connection error: GOAWAY(code), then the connection closes once that is written. */
  fail(code: number, message: string): void {
    if (this.closed) return;
    this.failedWith = code;
    this.goaway(code, message);
    log('debug', `http2: connection error ${C.errorName(code)}: ${message}`);
    this.#endSoon();
  }

  /** Graceful close: GOAWAY(NO_ERROR); open streams finish first. */
  shutdown(): void {
    this.goaway(C.E_NO_ERROR);
    this.maybeFinish();
  }

  #endSoon(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.#pending = undefined;
    // Closed once the GOAWAY is out; a peer that does not read gets no more than a second.
    this.socket.end();
    const t = setTimeout(() => this.socket.destroy(), 1000);
    t.unref();
    this.socket.once('close', () => clearTimeout(t));
    this.#onClose();
  }

  destroy(): void {
    if (this.socket.destroyed) {
      this.#onClose();
      return;
    }
    this.socket.destroy();
    this.#onClose();
  }

  #localAddress: string | undefined = undefined;

  /** `ip:port` of our end (made once: every request on the connection reports it). */
  get localAddress(): string {
    let a = this.#localAddress;
    if (a === undefined) {
      const s = this.socket;
      a = `${s.localAddress}:${s.localPort}`;
      // Known once connected (before, node has no address yet).
      if (s.localAddress !== undefined) this.#localAddress = a;
    }
    return a;
  }
}

function flushConnection(c: H2Connection): void {
  c.flush();
}

function noop(): void {}

/** Writes a frame header at `off`; returns the payload offset. */
export function frameHeader(out: Buffer, off: number, len: number, type: number, flags: number, id: number): number {
  out[off] = len >>> 16;
  out[off + 1] = (len >>> 8) & 0xff;
  out[off + 2] = len & 0xff;
  out[off + 3] = type;
  out[off + 4] = flags;
  out.writeUInt32BE(id, off + 5);
  return off + 9;
}
