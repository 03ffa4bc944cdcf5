// A raw HTTP/2 client for conformance tests: writes hand-made frames, parses what comes back into
// frames, and waits (bounded) for a frame or for the connection to close.
import net from 'node:net';
import { H2_PREFACE, h2Frame } from './fuzz.js';

export interface Frame {
  readonly type: number;
  readonly flags: number;
  readonly stream: number;
  readonly payload: Buffer;
}

export const T = {
  DATA: 0,
  HEADERS: 1,
  PRIORITY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PUSH_PROMISE: 5,
  PING: 6,
  GOAWAY: 7,
  WINDOW_UPDATE: 8,
  CONTINUATION: 9,
} as const;
export const E = {
  NO_ERROR: 0,
  PROTOCOL_ERROR: 1,
  INTERNAL_ERROR: 2,
  FLOW_CONTROL_ERROR: 3,
  STREAM_CLOSED: 5,
  FRAME_SIZE_ERROR: 6,
  REFUSED_STREAM: 7,
  CANCEL: 8,
  COMPRESSION_ERROR: 9,
  ENHANCE_YOUR_CALM: 11,
} as const;

export function settings(pairs: Array<[number, number]> = []): Buffer {
  const b = Buffer.alloc(pairs.length * 6);
  pairs.forEach(([id, v], i) => {
    b.writeUInt16BE(id, i * 6);
    b.writeUInt32BE(v >>> 0, i * 6 + 2);
  });
  return h2Frame(T.SETTINGS, 0, 0, b);
}

export function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
}

/** HPACK literal without indexing, new name: for fields the static table lacks. */
export function literal(name: string, value: string): Buffer {
  const n = Buffer.from(name, 'latin1');
  const v = Buffer.from(value, 'latin1');
  if (n.length > 126 || v.length > 126) throw new Error('short literals only');
  return Buffer.concat([Buffer.from([0x00, n.length]), n, Buffer.from([v.length]), v]);
}

/** A GET (or another method) request block: :method, :scheme http, :path, :authority, then extras. */
export function requestBlock(o: { method?: string; path?: string; authority?: string; extra?: Buffer[] } = {}): Buffer {
  const parts: Buffer[] = [];
  const m = o.method ?? 'GET';
  parts.push(m === 'GET' ? Buffer.from([0x82]) : m === 'POST' ? Buffer.from([0x83]) : literalIdx(2, m));
  parts.push(Buffer.from([0x86]));
  parts.push(o.path === undefined || o.path === '/' ? Buffer.from([0x84]) : literalIdx(4, o.path));
  parts.push(literalIdx(1, o.authority ?? 'svc.example'));
  parts.push(...(o.extra ?? []));
  return Buffer.concat(parts);
}

/** Literal without indexing, name from static index `idx`. */
export function literalIdx(idx: number, value: string): Buffer {
  const v = Buffer.from(value, 'latin1');
  return Buffer.concat([Buffer.from([idx, v.length]), v]);
}

export class RawH2 {
  readonly socket: net.Socket;
  readonly frames: Frame[] = [];
  closed = false;
  #buf = Buffer.alloc(0);
  #waiters: Array<() => void> = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, d]);
      while (this.#buf.length >= 9) {
        const len = this.#buf.readUIntBE(0, 3);
        if (this.#buf.length < 9 + len) break;
        this.frames.push({
          type: this.#buf[3]!,
          flags: this.#buf[4]!,
          stream: this.#buf.readUInt32BE(5) & 0x7fffffff,
          payload: this.#buf.subarray(9, 9 + len),
        });
        this.#buf = this.#buf.subarray(9 + len);
      }
      this.#wake();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  /** Connects and (unless `preface` is false) sends the preface and an empty SETTINGS. */
  static async connect(port: number, o: { preface?: boolean; settings?: Array<[number, number]>; host?: string } = {}): Promise<RawH2> {
    const s = net.connect({ port, host: o.host ?? '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      s.once('connect', resolve);
      s.once('error', reject);
    });
    const c = new RawH2(s);
    if (o.preface !== false) c.send(H2_PREFACE, settings(o.settings ?? []));
    return c;
  }

  send(...parts: Buffer[]): void {
    if (!this.socket.destroyed) this.socket.write(Buffer.concat(parts));
  }

  frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): void {
    this.send(h2Frame(type, flags, stream, payload));
  }

  /** Waits (bounded) until `pred` holds over the frames; false on timeout. Also returns when the connection closes. */
  async until(pred: () => boolean, ms = 3000): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!pred()) {
      if (this.closed || Date.now() > deadline) return pred();
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return true;
  }

  find(type: number, stream?: number): Frame | undefined {
    return this.frames.find((f) => f.type === type && (stream === undefined || f.stream === stream));
  }

  /** The GOAWAY's error code once one arrives (or the connection closes: -1), undefined on timeout. */
  async goaway(ms = 3000): Promise<number | undefined> {
    await this.until(() => this.find(T.GOAWAY) !== undefined, ms);
    const g = this.find(T.GOAWAY);
    if (g !== undefined) return g.payload.readUInt32BE(4);
    return this.closed ? -1 : undefined;
  }

  /** The RST_STREAM code on `stream` once one arrives, undefined on timeout or close without one. */
  async rst(stream: number, ms = 3000): Promise<number | undefined> {
    await this.until(() => this.find(T.RST_STREAM, stream) !== undefined || this.find(T.GOAWAY) !== undefined, ms);
    return this.find(T.RST_STREAM, stream)?.payload.readUInt32BE(0);
  }

  /** Whether a PING round trip still works (the connection is alive and in step). */
  async alive(ms = 3000): Promise<boolean> {
    const data = Buffer.from('alive-ok');
    this.frame(T.PING, 0, 0, data);
    return this.until(() => this.frames.some((f) => f.type === T.PING && (f.flags & 1) === 1 && f.payload.equals(data)), ms);
  }

  close(): void {
    this.socket.destroy();
  }
}
