// Robustness and fuzz helpers: raw socket exchanges, a scripted (misbehaving) HTTP upstream, real
// ClientHellos captured from node's TLS client, a seeded PRNG with byte/HTTP/HTTP2/TLS mutators, and
// the proxy as a child process (`outpost proxy --config`) so a crash is seen with its stderr.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { ProxyConfig } from '../../src/proxyconfig/types.js';

// ---------------------------------------------------------------------------------------------
// Raw exchanges

export interface RawResult {
  readonly bytes: Buffer;
  readonly text: string;
  /** The peer closed (or reset) the connection before our cap. */
  readonly closed: boolean;
  /** We gave up waiting and destroyed the socket. */
  readonly capped: boolean;
  readonly error?: string;
  /** The client's own port (to find the proxy's side of this connection). */
  readonly localPort: number;
}

export interface RawOptions {
  /** Half-close after writing (default false: a `closed` result then means the peer closed). */
  readonly end?: boolean;
  /** Upper bound on the wait, ms (default 3000). */
  readonly capMs?: number;
  /** Write the bytes in these pieces (sizes), each on its own turn. */
  readonly pieces?: readonly number[];
  /** Stop waiting as soon as what came back satisfies this (the result is then not `closed`). */
  readonly until?: (received: Buffer) => boolean;
}

/** Connects, writes `data`, collects what comes back until the peer closes or the cap. */
export function rawExchange(host: string, port: number, data: string | Buffer, o: RawOptions = {}): Promise<RawResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const sock = net.connect({ host, port });
    let done = false;
    let error: string | undefined;
    let localPort = 0;
    const finish = (closed: boolean, capped: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      const bytes = Buffer.concat(chunks);
      resolve({ bytes, text: bytes.toString('latin1'), closed, capped, localPort, ...(error !== undefined ? { error } : {}) });
    };
    const timer = setTimeout(() => finish(false, true), o.capMs ?? 3000);
    sock.on('data', (c: Buffer) => {
      chunks.push(c);
      if (o.until?.(Buffer.concat(chunks))) finish(false, false);
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      error = err.code ?? err.message;
    });
    sock.on('end', () => finish(true, false));
    sock.on('close', () => finish(true, false));
    sock.once('connect', () => {
      localPort = sock.localPort ?? 0;
      const buf = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
      const write = async (): Promise<void> => {
        if (o.pieces === undefined || o.pieces.length === 0) {
          if (buf.length > 0) sock.write(buf);
        } else {
          let off = 0;
          for (const n of o.pieces) {
            if (off >= buf.length || sock.destroyed) break;
            sock.write(buf.subarray(off, off + n));
            off += n;
            await new Promise((r) => setImmediate(r));
          }
          if (off < buf.length && !sock.destroyed) sock.write(buf.subarray(off));
        }
        if (o.end && !sock.destroyed) sock.end();
      };
      void write();
    });
  });
}

/**
 * Connections on local port `port` the proxy still holds although the client has closed its side
 * (TCP CLOSE-WAIT), waiting up to `boundMs` for them to go; only the one from `clientPort` if given.
 * Linux `ss`; 0 means none left.
 */
export async function proxyHeldSockets(port: number, boundMs: number, clientPort?: number): Promise<number> {
  const filter = clientPort === undefined ? `( sport = :${port} )` : `( sport = :${port} and dport = :${clientPort} )`;
  const deadline = Date.now() + boundMs;
  for (;;) {
    const out = await new Promise<string>((resolve, reject) => {
      execFile('ss', ['-tanH', 'state', 'close-wait', filter], (err, stdout) => (err ? reject(err) : resolve(stdout)));
    });
    const n = out.split('\n').filter((l) => l.trim() !== '').length;
    if (n === 0 || Date.now() > deadline) return n;
    await new Promise((r) => setTimeout(r, 50));
  }
}

// ---------------------------------------------------------------------------------------------
// A scripted upstream that misbehaves on purpose

export interface ScriptedUpstream {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * An HTTP/1.1 upstream written on raw sockets, answering by path:
 *   …/midreset   200 chunked, one chunk, then the connection is destroyed
 *   …/close      closes (FIN) without answering
 *   …/rst        resets (RST) without answering
 *   …/garbage    bytes that are not HTTP
 *   …/badstatus  a status line with a non-numeric code
 *   …/badheader  a header name with a space in it
 *   anything else: 200 with a small body
 */
export async function startScriptedUpstream(): Promise<ScriptedUpstream> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const path = buf.split(' ')[1] ?? '/';
      buf = '';
      if (path.endsWith('/midreset')) {
        s.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n', () => setTimeout(() => s.destroy(), 20));
      } else if (path.endsWith('/close')) {
        s.end();
      } else if (path.endsWith('/rst')) {
        s.resetAndDestroy();
      } else if (path.endsWith('/garbage')) {
        s.end('\x00\x01\x02 this is not http at all\r\n\r\n');
      } else if (path.endsWith('/badstatus')) {
        s.end('HTTP/1.1 2x0 OK\r\ncontent-length: 0\r\n\r\n');
      } else if (path.endsWith('/badheader')) {
        s.end('HTTP/1.1 200 OK\r\nbad header: x\r\ncontent-length: 0\r\n\r\n');
      } else {
        s.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// Real ClientHellos

/** The first TLS record (the ClientHello) node's client sends for each set of options. */
export async function captureClientHellos(variants: ReadonlyArray<tls.ConnectionOptions>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (const v of variants) {
    const hello = await new Promise<Buffer>((resolve, reject) => {
      let buf = Buffer.alloc(0);
      const server = net.createServer((s) => {
        s.on('error', () => {});
        s.on('data', (d: Buffer) => {
          buf = Buffer.concat([buf, d]);
          if (buf.length >= 5 && buf.length >= 5 + buf.readUInt16BE(3)) {
            s.destroy();
            server.close();
            resolve(buf.subarray(0, 5 + buf.readUInt16BE(3)));
          }
        });
      });
      server.listen(0, '127.0.0.1', () => {
        const c = tls.connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, rejectUnauthorized: false, ...v });
        c.on('error', () => {});
        c.on('close', () => {
          if (buf.length === 0) {
            server.close();
            reject(new Error('no ClientHello captured'));
          }
        });
      });
    });
    out.push(hello);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Seeded PRNG and mutators

import { Rng } from './rng.js';
export { Rng };

/** A per-case generator: the case can be replayed from (seed, index) alone. */
export function caseRng(seed: number, index: number): Rng {
  return new Rng((Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(index + 1, 0xc2b2ae35)) >>> 0);
}

/** Generic byte-level mutations: flips, inserts, deletes, truncation, duplication. */
export function mutateBytes(r: Rng, input: Buffer, rounds = r.range(1, 4)): Buffer {
  let b: Buffer = Buffer.from(input);
  for (let i = 0; i < rounds; i++) {
    if (b.length === 0) {
      b = r.bytes(r.range(1, 16));
      continue;
    }
    switch (r.int(7)) {
      case 0: {
        const j = r.int(b.length);
        b[j] = b[j]! ^ (1 << r.int(8));
        break;
      }
      case 1: {
        const j = r.int(b.length);
        b[j] = r.int(256);
        break;
      }
      case 2: {
        const j = r.int(b.length + 1);
        b = Buffer.concat([b.subarray(0, j), r.bytes(r.range(1, 8)), b.subarray(j)]);
        break;
      }
      case 3: {
        const j = r.int(b.length);
        b = Buffer.concat([b.subarray(0, j), b.subarray(j + r.range(1, 16))]);
        break;
      }
      case 4:
        b = b.subarray(0, r.int(b.length));
        break;
      case 5: {
        const j = r.int(b.length);
        const n = r.range(1, 32);
        b = Buffer.concat([b.subarray(0, j + n), b.subarray(j, j + n), b.subarray(j + n)]);
        break;
      }
      default: {
        const j = r.int(b.length);
        b[j] = r.pick([0x00, 0x0a, 0x0d, 0x20, 0x3a, 0x7f, 0xff, 0x22, 0x25]);
      }
    }
  }
  return b;
}

// ---- HTTP/1.1

/** Valid requests the HTTP mutators start from. `host` goes in Host; absolute-form uses it too. */
export function httpSeeds(host: string): string[] {
  return [
    `GET / HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: fuzz\r\n\r\n`,
    `GET /get?a=1&b=%20x HTTP/1.1\r\nHost: ${host}\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\n`,
    `POST /post HTTP/1.1\r\nHost: ${host}\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world`,
    `POST /post HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n`,
    `GET http://${host}/abs HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
    `HEAD /head HTTP/1.0\r\nHost: ${host}\r\n\r\n`,
    `GET /one HTTP/1.1\r\nHost: ${host}\r\n\r\nGET /two HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
    `GET /up HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n`,
    `OPTIONS * HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
    `CONNECT ${host}:443 HTTP/1.1\r\nHost: ${host}:443\r\n\r\n`,
  ];
}

/** Structure-aware HTTP/1.1 mutations (framing, duplicates, huge lengths), then maybe byte noise. */
export function mutateHttp(r: Rng, seed: string): Buffer {
  let s = seed;
  const headEnd = s.indexOf('\r\n\r\n');
  const lines = s.slice(0, headEnd).split('\r\n');
  let body = s.slice(headEnd + 4);
  switch (r.int(14)) {
    case 0:
      lines.splice(r.range(1, lines.length), 0, lines[r.range(1, lines.length - 1)] ?? 'Host: x');
      break; // duplicate a header
    case 1:
      lines.push(`Content-Length: ${r.pick(['99999999999999999999', '-1', '1e3', '12, 13', '0x10', ' 5', '18446744073709551616', '4294967296'])}`);
      break;
    case 2:
      lines.push('Transfer-Encoding: chunked');
      body = r.pick([
        'ffffffffffffffff\r\nab\r\n',
        'zz\r\nhello\r\n0\r\n\r\n',
        '-5\r\nhello\r\n0\r\n\r\n',
        '5;ext="\x00"\r\nhello\r\n0\r\n\r\n',
        '5\r\nhello0\r\n\r\n',
        '3\nabc\n0\n\n',
        '0\r\nTrailer: \x7f\r\n\r\n',
      ]);
      break;
    case 3:
      lines.push('Transfer-Encoding: chunked', 'Content-Length: 5');
      body = '0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n';
      break;
    case 4:
      lines.push(r.pick(['Transfer-Encoding: chunked, chunked', 'Transfer-Encoding: gzip', 'Transfer-Encoding: \x0bchunked', 'Transfer-Encoding : chunked']));
      break;
    case 5:
      lines.push(`X-Long-${'n'.repeat(r.range(100, 9000))}: v`);
      break;
    case 6:
      lines.push(`X-Fold: a\r\n ${'b'.repeat(r.range(1, 50))}`);
      break;
    case 7:
      lines[0] = r.pick(['GET', 'get', 'G\x00T', 'PRI', 'CONNECT', '\x16\x03\x01', 'M'.repeat(r.range(1, 300))]) + lines[0]!.slice(lines[0]!.indexOf(' '));
      break;
    case 8:
      lines[0] = lines[0]!.replace(/HTTP\/1\.[01]$/, r.pick(['HTTP/9.9', 'HTTP/1.1x', 'HTTP/2.0', 'HTTP/1', 'http/1.1', '']));
      break;
    case 9:
      s = lines.join(r.pick(['\n', '\r', '\r\r\n'])) + '\r\n\r\n' + body;
      return r.chance(0.5) ? mutateBytes(r, Buffer.from(s, 'latin1')) : Buffer.from(s, 'latin1');
    case 10:
      lines.splice(1, 0, `Host: ${r.pick(['', ' ', '[::1', '[::1]:99999', 'a:b:c', 'x'.repeat(300), '\u00e9.example', 'h:-1', ':80', '@', '127.0.0.1:0'])}`);
      break;
    case 11:
      for (let i = r.range(50, 400); i > 0; i--) lines.push(`X-H${i}: ${i}`);
      break;
    case 12:
      lines[0] = lines[0]!.replace(
        / \S+ /,
        ` ${r.pick(['/%', '/%zz', '/\x00', '/../../etc', '//', 'http://[::1', 'http://', '*', '/' + 'p'.repeat(r.range(100, 20000))])} `,
      );
      break;
    default:
      break;
  }
  s = lines.join('\r\n') + '\r\n\r\n' + body;
  const b = Buffer.from(s, 'latin1');
  return r.chance(0.4) ? mutateBytes(r, b) : b;
}

// ---- HTTP/2

export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export function h2Frame(type: number, flags: number, stream: number, payload: Buffer, lengthOverride?: number): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(lengthOverride ?? payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream >>> 0, 5);
  return Buffer.concat([h, payload]);
}

/** An HPACK block for GET / with an authority (static-table indices, literal authority). */
export function hpackGet(authority: string, path = '/'): Buffer {
  const a = Buffer.from(authority, 'latin1');
  const parts = [Buffer.from([0x82, 0x86])];
  if (path === '/') parts.push(Buffer.from([0x84]));
  else {
    const p = Buffer.from(path, 'latin1');
    parts.push(Buffer.from([0x04, p.length]), p);
  }
  parts.push(Buffer.from([0x01, a.length]), a);
  return Buffer.concat(parts);
}

function settingsPayload(pairs: Array<[number, number]>): Buffer {
  const b = Buffer.alloc(pairs.length * 6);
  pairs.forEach(([id, v], i) => {
    b.writeUInt16BE(id, i * 6);
    b.writeUInt32BE(v >>> 0, i * 6 + 2);
  });
  return b;
}

/** A preface, a SETTINGS frame, then a sequence of valid-looking and mutated frames. */
export function h2Case(r: Rng, authority: string): Buffer {
  const frames: Buffer[] = [H2_PREFACE];
  if (r.chance(0.9))
    frames.push(h2Frame(0x4, 0, 0, settingsPayload(r.chance(0.3) ? [[r.range(1, 8), r.pick([0, 1, 2, 16383, 16777216, 0x7fffffff, 0xffffffff])]] : [])));
  const n = r.range(1, 6);
  let stream = 1;
  for (let i = 0; i < n; i++) {
    const block = hpackGet(authority, r.chance(0.2) ? '/h2/' + 'x'.repeat(r.range(1, 200)) : '/');
    switch (r.int(16)) {
      case 0:
        frames.push(h2Frame(0x1, 0x5, stream, block));
        stream += 2;
        break; // valid HEADERS, END_STREAM
      case 1:
        frames.push(h2Frame(0x1, 0x4, stream, block), h2Frame(0x0, 0x1, stream, r.bytes(r.range(0, 64))));
        stream += 2;
        break; // HEADERS + DATA
      case 2:
        frames.push(h2Frame(0x1, 0x5, r.pick([0, 2, 4, 0x7fffffff, 0xffffffff]), block));
        break; // bad stream ids
      case 3:
        frames.push(h2Frame(0x1, 0x1, stream, block));
        for (let k = r.range(1, 40); k > 0; k--) frames.push(h2Frame(0x9, 0, stream, r.bytes(r.range(0, 32))));
        break; // CONTINUATION run, never ended
      case 4:
        frames.push(h2Frame(0x1, 0x5, stream, mutateBytes(r, block)));
        stream += 2;
        break; // HPACK noise
      case 5:
        frames.push(h2Frame(0x0, 0x1, r.pick([0, stream, 99]), r.bytes(r.range(0, 100))));
        break; // DATA on idle/0
      case 6:
        frames.push(h2Frame(0x8, 0, r.pick([0, stream]), Buffer.from([0, 0, 0, 0])));
        break; // WINDOW_UPDATE 0
      case 7:
        frames.push(h2Frame(0x8, 0, 0, Buffer.from([0x7f, 0xff, 0xff, 0xff])));
        frames.push(h2Frame(0x8, 0, 0, Buffer.from([0x7f, 0xff, 0xff, 0xff])));
        break; // window overflow
      case 8:
        frames.push(h2Frame(0x2, 0, stream, Buffer.from([0, 0, 0, stream, 16])));
        break; // PRIORITY on itself
      case 9:
        frames.push(h2Frame(0x3, 0, r.pick([0, stream, stream + 2]), Buffer.from([0, 0, 0, 8])));
        break; // RST_STREAM idle
      case 10:
        frames.push(h2Frame(0x6, 0, r.pick([0, 1]), r.bytes(r.pick([0, 7, 8, 9]))));
        break; // PING
      case 11:
        frames.push(h2Frame(0x7, 0, 0, Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 0, 0, r.int(14)]), r.bytes(r.range(0, 20))])));
        break; // GOAWAY
      case 12:
        frames.push(h2Frame(0x1, 0x5, stream, block, block.length + r.range(1, 1_000_000)));
        break; // length lies (too long)
      case 13:
        frames.push(h2Frame(0x1, 0x0d, stream, Buffer.concat([Buffer.from([r.int(256)]), block])));
        stream += 2;
        break; // PADDED, pad length may exceed
      case 14:
        frames.push(h2Frame(r.range(10, 255), r.int(256), r.int(8), r.bytes(r.range(0, 40))));
        break; // unknown frame type
      default:
        frames.push(h2Frame(0x4, r.pick([0, 1]), r.pick([0, 1]), r.bytes(r.pick([0, 5, 6, 7, 12]))));
        break; // SETTINGS odd sizes / ack with payload
    }
  }
  const b = Buffer.concat(frames);
  return r.chance(0.25) ? Buffer.concat([H2_PREFACE, mutateBytes(r, b.subarray(H2_PREFACE.length))]) : b;
}

// ---- TLS ClientHello

/** Offsets of the SNI extension's host name in a ClientHello record, if any. */
function sniSpan(h: Buffer): { start: number; end: number } | undefined {
  const needle = Buffer.from([0x00, 0x00]);
  // Walk the hello properly: record(5) + handshake(4) + version(2) + random(32) + session id + ciphers + compression + extensions.
  try {
    let o = 5 + 4 + 2 + 32;
    o += 1 + h[o]!;
    o += 2 + h.readUInt16BE(o);
    o += 1 + h[o]!;
    const extEnd = o + 2 + h.readUInt16BE(o);
    o += 2;
    while (o + 4 <= extEnd) {
      const type = h.readUInt16BE(o);
      const len = h.readUInt16BE(o + 2);
      if (type === 0 && h.subarray(o, o + 2).equals(needle)) {
        // list len(2) + name type(1) + name len(2) + name
        const nameLen = h.readUInt16BE(o + 4 + 3);
        return { start: o + 4 + 5, end: o + 4 + 5 + nameLen };
      }
      o += 4 + len;
    }
  } catch {
    /* a hello too short to walk */
  }
  return undefined;
}

/** Mutations of a real ClientHello: lengths, SNI, fragmentation, SSLv2, truncation, byte noise. */
export function mutateHello(r: Rng, hello: Buffer): Buffer {
  const h = Buffer.from(hello);
  switch (r.int(10)) {
    case 0:
      h.writeUInt16BE(r.pick([0, 1, 0x4000, 0xffff]), 3);
      return h; // record length lies
    case 1:
      h.writeUIntBE(r.pick([0, 1, 0xffffff, h.length]), 6, 3);
      return h; // handshake length lies
    case 2: {
      const s = sniSpan(h);
      if (s) for (let i = s.start; i < s.end; i++) h[i] = r.pick([0x00, 0x2e, 0xff, 0x2a, 0x20, 0x41 + r.int(26)]);
      return h;
    } // SNI bytes
    case 3: {
      // split the hello over several records (legal TLS)
      const body = h.subarray(5);
      const recs: Buffer[] = [];
      for (let o = 0; o < body.length;) {
        const n = Math.min(body.length - o, r.range(1, 60));
        const hd = Buffer.from([0x16, 0x03, 0x01, 0, 0]);
        hd.writeUInt16BE(n, 3);
        recs.push(hd, body.subarray(o, o + n));
        o += n;
      }
      return Buffer.concat(recs);
    }
    case 4:
      return Buffer.concat([Buffer.from([0x80, 0x2e, 0x01, 0x00, 0x02]), r.bytes(r.range(0, 60))]); // SSLv2-style hello
    case 5:
      return h.subarray(0, r.int(h.length)); // truncated
    case 6: {
      h[0] = r.pick([0x14, 0x15, 0x17, 0x18, 0x16]);
      h[1] = r.pick([0x00, 0x02, 0x03, 0xff]);
      return mutateBytes(r, h, 1);
    }
    case 7:
      return Buffer.concat([h, r.bytes(r.range(1, 200))]); // trailing junk
    case 8: {
      const s = sniSpan(h);
      if (s) h.writeUInt16BE(r.pick([0, 0xffff, s.end - s.start + 7]), s.start - 2);
      return h;
    } // SNI length lies
    default:
      return mutateBytes(r, h, r.range(1, 6));
  }
}

// ---------------------------------------------------------------------------------------------
// The proxy as a child process

export interface ChildProxy {
  readonly child: ChildProcess;
  /** Bound port by listener name, from the proxy's `listener … bound on` log lines. */
  readonly ports: ReadonlyMap<string, number>;
  readonly adminPort: number;
  /** Everything the proxy wrote on stderr (bounded to its last 256 KiB). */
  stderr(): string;
  /** Undefined while running. */
  exit(): { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** SIGTERM, then waits (bounded) for the exit; resolves to the exit status. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const REPO = new URL('../../', import.meta.url);

/** Starts `outpost proxy --config <file> --admin 127.0.0.1:0` (sources run through tsx). */
export async function spawnProxy(cfg: ProxyConfig, dir: string, extraArgs: string[] = []): Promise<ChildProxy> {
  const file = join(dir, 'proxyconfig.json');
  writeFileSync(file, JSON.stringify(cfg));
  const main = new URL('src/cli/main.ts', REPO).href;
  const code = `const { run } = await import(${JSON.stringify(main)}); process.exitCode = await run(process.argv.slice(1));`;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', code, 'proxy', '--config', file, '--admin', '127.0.0.1:0', ...extraArgs],
    {
      cwd: new URL('.', REPO).pathname,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, OUTPOST_LOG_LEVEL: 'info' },
    },
  );
  let err = '';
  let exitState: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      exitState = { code, signal };
      resolve(exitState);
    });
  });
  const ports = new Map<string, number>();
  let adminPort = 0;
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`proxy child not ready in 30 s; stderr:\n${err}`)), 30_000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.length > 256 * 1024) err = err.slice(-256 * 1024);
      for (const m of err.matchAll(/listener (\S+) \(\w+\) bound on [^\s]+:(\d+)/g)) ports.set(m[1]!, Number(m[2]));
      const a = /admin endpoint on [^\s]+:(\d+)/.exec(err);
      if (a) adminPort = Number(a[1]);
      if (/config \S+ applied/.test(err)) {
        clearTimeout(timer);
        resolve();
      }
      if (/rejected|config .*: /.test(err) && !/applied/.test(err)) {
        clearTimeout(timer);
        reject(new Error(`proxy child rejected its config:\n${err}`));
      }
    });
    void exited.then((s) => {
      clearTimeout(timer);
      reject(new Error(`proxy child exited (${s.code ?? s.signal}) before ready; stderr:\n${err}`));
    });
  });
  try {
    await ready;
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return {
    child,
    ports,
    adminPort,
    stderr: () => err,
    exit: () => exitState,
    stop: async () => {
      if (exitState !== undefined) return exitState;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const s = await exited;
      clearTimeout(t);
      return s;
    },
  };
}
