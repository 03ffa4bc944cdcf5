// RFC 9113 conformance of outpost's HTTP/2 server codec, case by case in h2spec's sections
// (h2spec itself is not packaged by Debian), on real sockets: each case sends hand-made frames
// and expects a connection error (GOAWAY with the code), a stream error (RST_STREAM with the
// code), or a working exchange. Then Envoy's defences: floods, rapid reset, window abuse, timeouts.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http2 from 'node:http2';
import { H2ServerConnection } from '../../../src/dataplane/http2/server.js';
import { DEFAULT_H2_LIMITS, type H2Limits } from '../../../src/dataplane/http2/connection.js';
import type { Downstream } from '../../../src/dataplane/http/downstream.js';
import { H2_PREFACE, h2Frame } from '../../helpers/fuzz.js';
import { RawH2, T, E, settings, u32, literal, literalIdx, requestBlock } from '../../helpers/h2raw.js';

const LIMITS: H2Limits = { ...DEFAULT_H2_LIMITS, maxConcurrentStreams: 8, streamIdleTimeoutMs: 1000, idleTimeoutMs: 1000, maxHeaderListSize: 4096 };

/** A server on outpost's codec: answers every request 200 with `ok <bytes of body>` once the body is in. */
async function server(t: TestContext, limits: H2Limits = LIMITS): Promise<{ port: number; requests: Downstream[] }> {
  const requests: Downstream[] = [];
  const conns = new Set<H2ServerConnection>();
  const srv = net.createServer((s) => {
    const c = new H2ServerConnection(
      s,
      limits,
      (ds) => {
        requests.push(ds);
        let n = 0;
        const reply = (): void => {
          if (ds.headersSent) return;
          const body = Buffer.from(`ok ${n}`);
          if (ds.url === '/big') {
            ds.writeHead(200, { 'content-type': 'text/plain' });
            ds.end(Buffer.alloc(100_000, 0x62));
            return;
          }
          if (ds.url === '/never') return;
          ds.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(body.length) });
          ds.end(body, undefined);
        };
        if (ds.url !== '/noread')
          ds.readBody({
            onData: (b) => {
              n += b.length;
            },
            onEnd: reply,
            onError: () => {},
          });
      },
      (x) => conns.delete(x),
    );
    conns.add(c);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(
    () =>
      new Promise<void>((r) => {
        for (const c of conns) c.destroy();
        srv.close(() => r());
      }),
  );
  return { port: (srv.address() as net.AddressInfo).port, requests };
}

type Expect = { conn: number } | { stream: number; code: number | number[] } | 'ok' | 'alive';

interface Case {
  readonly section: string;
  readonly name: string;
  readonly send: (c: RawH2) => void;
  readonly expect: Expect;
  readonly settings?: Array<[number, number]>;
}

const GET = (id: number, flags = 0x5, extra?: Buffer[]): Buffer => h2Frame(T.HEADERS, flags, id, requestBlock(extra ? { extra } : {}));
/** HPACK literal with incremental indexing, new name: the field enters the dynamic table (index 62). */
const indexedLiteral = (name: string, value: string): Buffer =>
  Buffer.concat([Buffer.from([0x40, name.length]), Buffer.from(name, 'latin1'), Buffer.from([value.length]), Buffer.from(value, 'latin1')]);

const CASES: Case[] = [
  // 3.4/3.5 connection preface
  {
    section: '3.4',
    name: 'invalid connection preface',
    send: (c) => c.send(Buffer.from('PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n')),
    expect: { conn: E.PROTOCOL_ERROR },
  },
  {
    section: '3.4',
    name: 'the first frame is not SETTINGS',
    send: (c) => c.send(H2_PREFACE, h2Frame(T.PING, 0, 0, Buffer.alloc(8))),
    expect: { conn: E.PROTOCOL_ERROR },
  },
  // 4.1 frame format
  { section: '4.1', name: 'unknown frame type is ignored', send: (c) => c.frame(0x20, 0, 0, Buffer.from('xyz')), expect: 'alive' },
  { section: '4.1', name: 'undefined flags are ignored', send: (c) => c.frame(T.PING, 0x16, 0, Buffer.alloc(8)), expect: 'alive' },
  {
    section: '4.1',
    name: 'the reserved bit of the stream id is ignored',
    send: (c) => c.send(h2Frame(T.HEADERS, 0x5, 0x80000001, requestBlock())),
    expect: 'ok',
  },
  // 4.2 frame size
  {
    section: '4.2',
    name: 'DATA above SETTINGS_MAX_FRAME_SIZE',
    send: (c) => {
      c.send(GET(1, 0x4));
      c.frame(T.DATA, 0, 1, Buffer.alloc(16_385));
    },
    expect: { conn: E.FRAME_SIZE_ERROR },
  },
  {
    section: '4.2',
    name: 'HEADERS above SETTINGS_MAX_FRAME_SIZE',
    send: (c) => c.frame(T.HEADERS, 0x5, 1, Buffer.concat([requestBlock(), Buffer.alloc(16_385)])),
    expect: { conn: E.FRAME_SIZE_ERROR },
  },
  // 4.3 header compression
  {
    section: '4.3',
    name: 'invalid header block fragment',
    send: (c) => c.frame(T.HEADERS, 0x5, 1, Buffer.from([0x82, 0x86, 0x84, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])),
    expect: { conn: E.COMPRESSION_ERROR },
  },
  {
    section: '4.3',
    name: 'PRIORITY inside a header block',
    send: (c) => {
      c.frame(T.HEADERS, 0x1, 1, requestBlock());
      c.frame(T.PRIORITY, 0, 1, Buffer.from([0, 0, 0, 0, 16]));
    },
    expect: { conn: E.PROTOCOL_ERROR },
  },
  // 5.1 stream states
  { section: '5.1', name: 'idle: DATA', send: (c) => c.frame(T.DATA, 0x1, 1, Buffer.from('x')), expect: { conn: E.PROTOCOL_ERROR } },
  { section: '5.1', name: 'idle: RST_STREAM', send: (c) => c.frame(T.RST_STREAM, 0, 1, u32(E.CANCEL)), expect: { conn: E.PROTOCOL_ERROR } },
  { section: '5.1', name: 'idle: WINDOW_UPDATE', send: (c) => c.frame(T.WINDOW_UPDATE, 0, 1, u32(100)), expect: { conn: E.PROTOCOL_ERROR } },
  { section: '5.1', name: 'idle: CONTINUATION', send: (c) => c.frame(T.CONTINUATION, 0x4, 1, requestBlock()), expect: { conn: E.PROTOCOL_ERROR } },
  {
    section: '5.1',
    name: 'half-closed (remote): DATA',
    send: (c) => {
      c.send(GET(1, 0x5 - 0, []));
      c.frame(T.DATA, 0x1, 1, Buffer.from('x'));
    },
    expect: { stream: 1, code: E.STREAM_CLOSED },
  },
  {
    section: '5.1',
    name: 'half-closed (remote): HEADERS',
    send: (c) => {
      c.frame(T.HEADERS, 0x5, 1, requestBlock({ path: '/never' }));
      c.frame(T.HEADERS, 0x5, 1, literal('x-trailer', '1'));
    },
    expect: { stream: 1, code: E.STREAM_CLOSED },
  },
  {
    section: '5.1',
    name: 'closed: DATA after RST_STREAM',
    send: (c) => {
      c.send(GET(1, 0x4));
      c.frame(T.RST_STREAM, 0, 1, u32(E.CANCEL));
      c.frame(T.DATA, 0x1, 1, Buffer.from('x'));
    },
    expect: { stream: 1, code: E.STREAM_CLOSED },
  },
  { section: '5.1.1', name: 'an even stream id from the client', send: (c) => c.send(GET(2)), expect: { conn: E.PROTOCOL_ERROR } },
  {
    section: '5.1.1',
    name: 'a stream id below one already used',
    send: (c) => {
      c.send(GET(5));
      c.send(GET(3));
    },
    expect: { conn: E.PROTOCOL_ERROR },
  },
  // 5.3 priority (deprecated, parsed)
  {
    section: '5.3.1',
    name: 'HEADERS depending on itself',
    send: (c) => c.frame(T.HEADERS, 0x25, 1, Buffer.concat([Buffer.from([0, 0, 0, 1, 16]), requestBlock()])),
    expect: { stream: 1, code: E.PROTOCOL_ERROR },
  },
  {
    section: '5.3.1',
    name: 'PRIORITY depending on itself',
    send: (c) => c.frame(T.PRIORITY, 0, 1, Buffer.from([0, 0, 0, 1, 16])),
    expect: { stream: 1, code: E.PROTOCOL_ERROR },
  },
  {
    section: '5.3',
    name: 'PRIORITY on an idle stream is accepted and ignored',
    send: (c) => c.frame(T.PRIORITY, 0, 9, Buffer.from([0, 0, 0, 3, 16])),
    expect: 'alive',
  },
  // 5.5 extensions
  {
    section: '5.5',
    name: 'an unknown frame inside a header block',
    send: (c) => {
      c.frame(T.HEADERS, 0x1, 1, requestBlock());
      c.frame(0x20, 0, 1, Buffer.from('x'));
    },
    expect: { conn: E.PROTOCOL_ERROR },
  },
  // 6.1 DATA
  { section: '6.1', name: 'DATA on stream 0', send: (c) => c.frame(T.DATA, 0x1, 0, Buffer.from('x')), expect: { conn: E.PROTOCOL_ERROR } },
  {
    section: '6.1',
    name: 'DATA with padding longer than the payload',
    send: (c) => {
      c.send(GET(1, 0x4));
      c.frame(T.DATA, 0x9, 1, Buffer.from([5, 0x61]));
    },
    expect: { conn: E.PROTOCOL_ERROR },
  },
  {
    section: '6.1',
    name: 'padded DATA: padding is not body',
    send: (c) => {
      c.send(h2Frame(T.HEADERS, 0x4, 1, requestBlock({ method: 'POST' })));
      c.frame(T.DATA, 0x9, 1, Buffer.concat([Buffer.from([3]), Buffer.from('abcd'), Buffer.alloc(3)]));
    },
    expect: 'ok',
  },
  // 6.2 HEADERS
  { section: '6.2', name: 'HEADERS on stream 0', send: (c) => c.frame(T.HEADERS, 0x5, 0, requestBlock()), expect: { conn: E.PROTOCOL_ERROR } },
  {
    section: '6.2',
    name: 'HEADERS with padding longer than the payload',
    send: (c) => c.frame(T.HEADERS, 0xd, 1, Buffer.concat([Buffer.from([200]), requestBlock()])),
    expect: { conn: E.PROTOCOL_ERROR },
  },
  {
    section: '6.2',
    name: 'HEADERS without END_HEADERS then DATA',
    send: (c) => {
      c.frame(T.HEADERS, 0x0, 1, requestBlock());
      c.frame(T.DATA, 0x1, 1, Buffer.from('x'));
    },
    expect: { conn: E.PROTOCOL_ERROR },
  },
  // 6.3 PRIORITY
  { section: '6.3', name: 'PRIORITY on stream 0', send: (c) => c.frame(T.PRIORITY, 0, 0, Buffer.from([0, 0, 0, 1, 16])), expect: { conn: E.PROTOCOL_ERROR } },
  {
    section: '6.3',
    name: 'PRIORITY of 4 bytes',
    send: (c) => c.frame(T.PRIORITY, 0, 1, Buffer.from([0, 0, 0, 3])),
    expect: { stream: 1, code: E.FRAME_SIZE_ERROR },
  },
  // 6.4 RST_STREAM
  { section: '6.4', name: 'RST_STREAM on stream 0', send: (c) => c.frame(T.RST_STREAM, 0, 0, u32(E.CANCEL)), expect: { conn: E.PROTOCOL_ERROR } },
  {
    section: '6.4',
    name: 'RST_STREAM of 3 bytes',
    send: (c) => {
      c.send(GET(1, 0x4));
      c.frame(T.RST_STREAM, 0, 1, Buffer.from([0, 0, 8]));
    },
    expect: { conn: E.FRAME_SIZE_ERROR },
  },
  // 6.5 SETTINGS
  { section: '6.5', name: 'SETTINGS ack with a payload', send: (c) => c.frame(T.SETTINGS, 0x1, 0, Buffer.alloc(6)), expect: { conn: E.FRAME_SIZE_ERROR } },
  { section: '6.5', name: 'SETTINGS on a stream', send: (c) => c.frame(T.SETTINGS, 0, 1, Buffer.alloc(0)), expect: { conn: E.PROTOCOL_ERROR } },
  { section: '6.5', name: 'SETTINGS of 3 bytes', send: (c) => c.frame(T.SETTINGS, 0, 0, Buffer.alloc(3)), expect: { conn: E.FRAME_SIZE_ERROR } },
  { section: '6.5.2', name: 'SETTINGS_ENABLE_PUSH = 2', send: (c) => c.send(settings([[2, 2]])), expect: { conn: E.PROTOCOL_ERROR } },
  {
    section: '6.5.2',
    name: 'SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1',
    send: (c) => c.send(settings([[4, 2 ** 31]])),
    expect: { conn: E.FLOW_CONTROL_ERROR },
  },
  { section: '6.5.2', name: 'SETTINGS_MAX_FRAME_SIZE below 16384', send: (c) => c.send(settings([[5, 16_383]])), expect: { conn: E.PROTOCOL_ERROR } },
  { section: '6.5.2', name: 'SETTINGS_MAX_FRAME_SIZE above 2^24-1', send: (c) => c.send(settings([[5, 2 ** 24]])), expect: { conn: E.PROTOCOL_ERROR } },
  { section: '6.5.2', name: 'an unknown setting is ignored', send: (c) => c.send(settings([[0xff, 1]])), expect: 'alive' },
  // 6.7 PING
  { section: '6.7', name: 'PING on a stream', send: (c) => c.frame(T.PING, 0, 1, Buffer.alloc(8)), expect: { conn: E.PROTOCOL_ERROR } },
  { section: '6.7', name: 'PING of 7 bytes', send: (c) => c.frame(T.PING, 0, 0, Buffer.alloc(7)), expect: { conn: E.FRAME_SIZE_ERROR } },
  // 6.8 GOAWAY
  { section: '6.8', name: 'GOAWAY on a stream', send: (c) => c.frame(T.GOAWAY, 0, 1, Buffer.alloc(8)), expect: { conn: E.PROTOCOL_ERROR } },
  // 6.9 WINDOW_UPDATE
  { section: '6.9', name: 'WINDOW_UPDATE of 0 on the connection', send: (c) => c.frame(T.WINDOW_UPDATE, 0, 0, u32(0)), expect: { conn: E.PROTOCOL_ERROR } },
  {
    section: '6.9',
    name: 'WINDOW_UPDATE of 0 on a stream',
    send: (c) => {
      c.frame(T.HEADERS, 0x4, 1, requestBlock({ method: 'POST' }));
      c.frame(T.WINDOW_UPDATE, 0, 1, u32(0));
    },
    expect: { stream: 1, code: E.PROTOCOL_ERROR },
  },
  {
    section: '6.9',
    name: 'WINDOW_UPDATE of 3 bytes',
    send: (c) => c.frame(T.WINDOW_UPDATE, 0, 0, Buffer.from([0, 0, 1])),
    expect: { conn: E.FRAME_SIZE_ERROR },
  },
  {
    section: '6.9.1',
    name: 'connection window above 2^31-1',
    send: (c) => {
      c.frame(T.WINDOW_UPDATE, 0, 0, u32(2 ** 31 - 1));
      c.frame(T.WINDOW_UPDATE, 0, 0, u32(2 ** 31 - 1));
    },
    expect: { conn: E.FLOW_CONTROL_ERROR },
  },
  {
    section: '6.9.1',
    name: 'stream window above 2^31-1',
    send: (c) => {
      c.frame(T.HEADERS, 0x4, 1, requestBlock({ method: 'POST' }));
      c.frame(T.WINDOW_UPDATE, 0, 1, u32(2 ** 31 - 1));
    },
    expect: { stream: 1, code: E.FLOW_CONTROL_ERROR },
  },
  {
    section: '6.9.1',
    name: 'DATA beyond the stream window we gave',
    send: (c) => {
      c.frame(T.HEADERS, 0x4, 1, requestBlock({ method: 'POST', path: '/noread' }));
      for (let i = 0; i < 17; i++) c.frame(T.DATA, 0, 1, Buffer.alloc(16_384));
    },
    expect: { stream: 1, code: E.FLOW_CONTROL_ERROR },
  },
  // 6.10 CONTINUATION
  {
    section: '6.10',
    name: 'HEADERS + CONTINUATION frames make one request',
    send: (c) => {
      const b = requestBlock();
      c.frame(T.HEADERS, 0x1, 1, b.subarray(0, 3));
      c.frame(T.CONTINUATION, 0, 1, b.subarray(3, 6));
      c.frame(T.CONTINUATION, 0x4, 1, b.subarray(6));
    },
    expect: 'ok',
  },
  {
    section: '6.10',
    name: 'CONTINUATION after END_HEADERS',
    send: (c) => {
      c.frame(T.HEADERS, 0x4, 1, requestBlock({ method: 'POST' }));
      c.frame(T.CONTINUATION, 0x4, 1, literal('x-a', 'b'));
    },
    expect: { conn: E.PROTOCOL_ERROR },
  },
  {
    section: '6.10',
    name: 'CONTINUATION on another stream',
    send: (c) => {
      c.frame(T.HEADERS, 0x1, 1, requestBlock());
      c.frame(T.CONTINUATION, 0x4, 3, literal('x-a', 'b'));
    },
    expect: { conn: E.PROTOCOL_ERROR },
  },
  {
    section: '6.10',
    name: 'CONTINUATION on stream 0',
    send: (c) => {
      c.frame(T.HEADERS, 0x1, 1, requestBlock());
      c.frame(T.CONTINUATION, 0x4, 0, literal('x-a', 'b'));
    },
    expect: { conn: E.PROTOCOL_ERROR },
  },
  // 8.1 HTTP message framing
  {
    section: '8.1',
    name: 'trailers without END_STREAM',
    send: (c) => {
      c.frame(T.HEADERS, 0x4, 1, requestBlock({ method: 'POST' }));
      c.frame(T.DATA, 0, 1, Buffer.from('x'));
      c.frame(T.HEADERS, 0x4, 1, literal('x-t', '1'));
    },
    expect: { stream: 1, code: E.PROTOCOL_ERROR },
  },
  {
    section: '8.1',
    name: 'trailers end the request',
    send: (c) => {
      c.frame(T.HEADERS, 0x4, 1, requestBlock({ method: 'POST' }));
      c.frame(T.DATA, 0, 1, Buffer.from('xy'));
      c.frame(T.HEADERS, 0x5, 1, literal('x-t', '1'));
    },
    expect: 'ok',
  },
  {
    section: '8.1.1',
    name: 'content-length above the DATA sent',
    send: (c) => {
      c.frame(T.HEADERS, 0x4, 1, requestBlock({ method: 'POST', extra: [literalIdx(28, '10')] }));
      c.frame(T.DATA, 0x1, 1, Buffer.from('abc'));
    },
    expect: { stream: 1, code: E.PROTOCOL_ERROR },
  },
  {
    section: '8.1.1',
    name: 'content-length below the DATA sent',
    send: (c) => {
      c.frame(T.HEADERS, 0x4, 1, requestBlock({ method: 'POST', extra: [literalIdx(28, '1')] }));
      c.frame(T.DATA, 0x1, 1, Buffer.from('abc'));
    },
    expect: { stream: 1, code: E.PROTOCOL_ERROR },
  },
  // 8.2 / 8.3 fields
  {
    section: '8.2',
    name: 'an upper-case field name',
    send: (c) => c.send(GET(1, 0x5, [literal('X-Upper', 'a')])),
    expect: { stream: 1, code: E.PROTOCOL_ERROR },
  },
  {
    section: '8.2.2',
    name: 'a connection-specific field',
    send: (c) => c.send(GET(1, 0x5, [literal('connection', 'keep-alive')])),
    expect: { stream: 1, code: E.PROTOCOL_ERROR },
  },
  {
    section: '8.2.2',
    name: 'a connection-specific field by its static index (transfer-encoding)',
    send: (c) => c.send(GET(1, 0x5, [Buffer.from([0x80 | 57])])),
    expect: { stream: 1, code: E.PROTOCOL_ERROR },
  },
  {
    section: '8.2.1',
    name: 'a malformed field entered in the dynamic table, then sent by its index',
    send: (c) => {
      c.send(GET(1, 0x5, [indexedLiteral('X-Upper', 'a')]));
      c.send(GET(3, 0x5, [Buffer.from([0x80 | 62])]));
    },
    expect: { stream: 3, code: E.PROTOCOL_ERROR },
  },
  {
    section: '8.2.1',
    name: 'a well-formed field entered in the dynamic table is taken by its index',
    send: (c) => c.send(GET(1, 0x5, [indexedLiteral('x-fine', 'a'), Buffer.from([0x80 | 62])])),
    expect: 'ok',
  },
  {
    section: '8.2.1',
    name: 'a :path with a carriage return',
    send: (c) => c.frame(T.HEADERS, 0x5, 1, requestBlock({ path: '/a\r\nx: y' })),
    expect: { stream: 1, code: E.PROTOCOL_ERROR },
  },
  {
    section: '8.2.2',
    name: 'TE other than trailers',
    send: (c) => c.send(GET(1, 0x5, [literal('te', 'gzip')])),
    expect: { stream: 1, code: E.PROTOCOL_ERROR },
  },
  {
    section: '8.2.1',
    name: 'a field value with a line feed',
    send: (c) => c.send(GET(1, 0x5, [literal('x-a', 'b\nc')])),
    expect: { stream: 1, code: E.PROTOCOL_ERROR },
  },
  {
    section: '8.3',
    name: 'an unknown pseudo-header',
    send: (c) => c.frame(T.HEADERS, 0x5, 1, Buffer.concat([literal(':foo', 'x'), requestBlock()])),
    expect: { stream: 1, code: E.PROTOCOL_ERROR },
  },
  {
    section: '8.3',
    name: 'a pseudo-header after a regular field',
    send: (c) => c.frame(T.HEADERS, 0x5, 1, Buffer.concat([Buffer.from([0x82, 0x86]), literal('x-a', 'b'), Buffer.from([0x84]), literalIdx(1, 'a')])),
    expect: { stream: 1, code: E.PROTOCOL_ERROR },
  },
  {
    section: '8.3',
    name: 'a pseudo-header in trailers',
    send: (c) => {
      c.frame(T.HEADERS, 0x4, 1, requestBlock({ method: 'POST' }));
      c.frame(T.HEADERS, 0x5, 1, Buffer.from([0x84]));
    },
    expect: { stream: 1, code: E.PROTOCOL_ERROR },
  },
  {
    section: '8.3.1',
    name: 'a duplicated :method',
    send: (c) => c.frame(T.HEADERS, 0x5, 1, Buffer.concat([Buffer.from([0x82]), requestBlock()])),
    expect: { stream: 1, code: E.PROTOCOL_ERROR },
  },
  {
    section: '8.3.1',
    name: 'no :path',
    send: (c) => c.frame(T.HEADERS, 0x5, 1, Buffer.concat([Buffer.from([0x82, 0x86]), literalIdx(1, 'a')])),
    expect: { stream: 1, code: E.PROTOCOL_ERROR },
  },
  {
    section: '8.3.1',
    name: 'an empty :path',
    send: (c) => c.frame(T.HEADERS, 0x5, 1, requestBlock({ path: '' })),
    expect: { stream: 1, code: E.PROTOCOL_ERROR },
  },
  {
    section: '8.3.1',
    name: 'no :method',
    send: (c) => c.frame(T.HEADERS, 0x5, 1, Buffer.concat([Buffer.from([0x86, 0x84]), literalIdx(1, 'a')])),
    expect: { stream: 1, code: E.PROTOCOL_ERROR },
  },
  {
    section: '8.4',
    name: 'PUSH_PROMISE from a client',
    send: (c) => c.frame(T.PUSH_PROMISE, 0x4, 1, Buffer.concat([u32(2), requestBlock()])),
    expect: { conn: E.PROTOCOL_ERROR },
  },
];

test('RFC 9113 conformance table (h2spec sections) against the server codec', async (t) => {
  const { port } = await server(t);
  const failures: string[] = [];
  for (const k of CASES) {
    const c = await RawH2.connect(port, k.settings ? { settings: k.settings } : k.section === '3.4' ? { preface: false } : {});
    try {
      k.send(c);
      const e = k.expect;
      if (e === 'alive') {
        if (!(await c.alive())) failures.push(`${k.section} ${k.name}: connection not alive`);
      } else if (e === 'ok') {
        const ok = await c.until(() => c.frames.some((f) => f.type === T.HEADERS && f.stream === 1));
        if (!ok) failures.push(`${k.section} ${k.name}: no response; frames ${c.frames.map((f) => f.type).join(',')}`);
        const g = c.find(T.GOAWAY);
        if (g !== undefined) failures.push(`${k.section} ${k.name}: unexpected GOAWAY ${g.payload.readUInt32BE(4)}`);
      } else if ('conn' in e) {
        const code = await c.goaway();
        if (code !== e.conn) failures.push(`${k.section} ${k.name}: GOAWAY ${code}, expected ${e.conn}`);
        else if (!(await c.until(() => c.closed))) failures.push(`${k.section} ${k.name}: connection left open after GOAWAY`);
      } else {
        const code = await c.rst(e.stream);
        const want = Array.isArray(e.code) ? e.code : [e.code];
        if (code === undefined || !want.includes(code))
          failures.push(`${k.section} ${k.name}: RST_STREAM ${code}, expected ${want.join('|')}; GOAWAY ${c.find(T.GOAWAY)?.payload.readUInt32BE(4)}`);
        else if (!(await c.alive())) failures.push(`${k.section} ${k.name}: connection unusable after the stream error`);
      }
    } finally {
      c.close();
    }
  }
  assert.deepEqual(failures, [], `${failures.length} of ${CASES.length} cases failed`);
});

test('SETTINGS and PING are acknowledged; PING ACKs are not answered', async (t) => {
  const { port } = await server(t);
  const c = await RawH2.connect(port);
  t.after(() => c.close());
  assert.ok(await c.until(() => c.frames.some((f) => f.type === T.SETTINGS && f.flags === 1)), 'SETTINGS ack');
  const s = c.frames.find((f) => f.type === T.SETTINGS && f.flags === 0);
  assert.ok(s !== undefined && s.payload.length % 6 === 0, 'the server sends its SETTINGS');
  c.frame(T.PING, 1, 0, Buffer.from('ackackac'));
  assert.ok(await c.alive());
  assert.equal(c.frames.filter((f) => f.type === T.PING).length, 1, 'only our own PING was answered');
});

test('flow control: a 1-byte stream window gets the response one byte per WINDOW_UPDATE; the connection window too', async (t) => {
  const { port } = await server(t);
  const c = await RawH2.connect(port, { settings: [[4, 1]] });
  t.after(() => c.close());
  c.frame(T.HEADERS, 0x5, 1, requestBlock({ path: '/small' }));
  const dataBytes = (): number => c.frames.filter((f) => f.type === T.DATA && f.stream === 1).reduce((n, f) => n + f.payload.length, 0);
  assert.ok(await c.until(() => dataBytes() === 1), 'one byte within the window');
  assert.ok(!(await c.until(() => dataBytes() > 1, 200)), 'nothing beyond the window');
  c.frame(T.WINDOW_UPDATE, 0, 1, u32(3));
  assert.ok(
    await c.until(() => dataBytes() === 4 && c.frames.some((f) => f.type === T.DATA && (f.flags & 1) === 1)),
    'the rest after WINDOW_UPDATE, with END_STREAM',
  );
  // A larger body against the connection window (65,535): stops there until the connection is credited.
  const c2 = await RawH2.connect(port);
  t.after(() => c2.close());
  c2.frame(T.SETTINGS, 0, 0, Buffer.from([0, 4, 0, 0x10, 0, 0]));
  c2.frame(T.HEADERS, 0x5, 1, requestBlock({ path: '/big' }));
  const got = (): number => c2.frames.filter((f) => f.type === T.DATA).reduce((n, f) => n + f.payload.length, 0);
  assert.ok(await c2.until(() => got() === 65_535), `the connection window's worth (${got()})`);
  c2.frame(T.WINDOW_UPDATE, 0, 0, u32(100_000));
  assert.ok(await c2.until(() => got() === 100_000), `all of it once credited (${got()})`);
});

test('max concurrent streams: the one beyond SETTINGS_MAX_CONCURRENT_STREAMS is refused, the others served', async (t) => {
  const { port } = await server(t);
  const c = await RawH2.connect(port);
  t.after(() => c.close());
  for (let i = 0; i < 9; i++) c.frame(T.HEADERS, 0x4, 1 + 2 * i, requestBlock({ method: 'POST' }));
  assert.equal(await c.rst(17), E.REFUSED_STREAM);
  for (let i = 0; i < 8; i++) c.frame(T.DATA, 0x1, 1 + 2 * i, Buffer.from('z'));
  assert.ok(await c.until(() => c.frames.filter((f) => f.type === T.HEADERS).length === 8), 'eight responses');
});

test('header list over SETTINGS_MAX_HEADER_LIST_SIZE: 431, the connection stays', async (t) => {
  const { port } = await server(t);
  const c = await RawH2.connect(port);
  t.after(() => c.close());
  const extra = Array.from({ length: 40 }, (_, i) => literal(`x-h${i}`, 'v'.repeat(100)));
  c.frame(T.HEADERS, 0x5, 1, requestBlock({ extra }));
  assert.ok(await c.until(() => c.find(T.HEADERS, 1) !== undefined));
  assert.ok(await c.alive());
  c.frame(T.HEADERS, 0x5, 3, requestBlock());
  assert.ok(await c.until(() => c.find(T.HEADERS, 3) !== undefined), 'the next request is served (HPACK still in step)');
});

const FLOODS: Array<{ name: string; send: (c: RawH2) => void; code: number }> = [
  {
    name: 'CONTINUATION flood',
    code: E.ENHANCE_YOUR_CALM,
    send: (c) => {
      c.frame(T.HEADERS, 0x1, 1, requestBlock());
      for (let i = 0; i < 200; i++) c.frame(T.CONTINUATION, 0, 1, literal('x-a', 'b'));
    },
  },
  {
    name: 'empty DATA frames',
    code: E.ENHANCE_YOUR_CALM,
    send: (c) => {
      c.frame(T.HEADERS, 0x4, 1, requestBlock({ method: 'POST' }));
      for (let i = 0; i < 10; i++) c.frame(T.DATA, 0, 1);
    },
  },
  {
    name: 'PING flood',
    code: E.ENHANCE_YOUR_CALM,
    send: (c) => c.send(Buffer.concat(Array.from({ length: 5000 }, () => h2Frame(T.PING, 0, 0, Buffer.alloc(8))))),
  },
  {
    name: 'SETTINGS flood',
    code: E.ENHANCE_YOUR_CALM,
    send: (c) => c.send(Buffer.concat(Array.from({ length: 5000 }, () => h2Frame(T.SETTINGS, 0, 0, Buffer.alloc(0))))),
  },
  {
    name: 'rapid reset (CVE-2023-44487)',
    code: E.ENHANCE_YOUR_CALM,
    send: (c) => {
      const parts: Buffer[] = [];
      for (let i = 0; i < 400; i++) {
        const id = 1 + 2 * i;
        parts.push(h2Frame(T.HEADERS, 0x5, id, requestBlock({ path: '/never' })), h2Frame(T.RST_STREAM, 0, id, u32(E.CANCEL)));
      }
      c.send(Buffer.concat(parts));
    },
  },
];

test('floods get GOAWAY ENHANCE_YOUR_CALM while a concurrent well-behaved node:http2 client is served', async (t) => {
  const { port } = await server(t, { ...LIMITS, maxConcurrentStreams: 100 });
  const good = http2.connect(`http://127.0.0.1:${port}`);
  good.on('error', () => {});
  t.after(() => good.destroy());
  let served = 0;
  let failed = 0;
  let stop = false;
  const loop = (async () => {
    for (let i = 0; i < 2000 && !stop; i++) {
      await new Promise<void>((resolve) => {
        const r = good.request({ ':path': '/good', ':method': 'GET' });
        r.on('response', (h) => {
          if (h[':status'] === 200) served++;
          else failed++;
        });
        r.resume();
        r.on('close', resolve);
        r.on('error', () => {
          failed++;
        });
      });
    }
  })();
  for (const f of FLOODS) {
    const c = await RawH2.connect(port);
    f.send(c);
    const code = await c.goaway(5000);
    c.close();
    assert.equal(code, f.code, f.name);
  }
  const before = served;
  await new Promise<void>((resolve) => {
    const r = good.request({ ':path': '/after' });
    r.resume();
    r.on('close', resolve);
  });
  stop = true;
  await loop;
  assert.equal(failed, 0, 'the good client never failed');
  assert.ok(before > 0, 'the good client was served during the floods');
});

test('timeouts: a stream left at a zero window is reset; an idle connection gets GOAWAY and is closed', async (t) => {
  const { port } = await server(t);
  const c = await RawH2.connect(port, { settings: [[4, 0]] });
  t.after(() => c.close());
  c.frame(T.HEADERS, 0x5, 1, requestBlock({ path: '/small' }));
  // The response cannot move (window 0): the stream idle timeout resets it.
  assert.equal(await c.rst(1, 5000), E.CANCEL);
  assert.equal(await c.goaway(5000), E.NO_ERROR, 'idle connection: GOAWAY NO_ERROR');
  assert.ok(await c.until(() => c.closed, 3000), 'and closed');
});
