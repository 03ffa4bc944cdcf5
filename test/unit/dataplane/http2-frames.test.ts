// The HTTP/2 connection's frame reader and flow control on an in-memory duplex (no sockets):
// frames split at every byte boundary, several frames in one read, the connection and stream
// windows credited back in batches as the consumer takes the body, and held while it is paused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { H2ServerConnection } from '../../../src/dataplane/http2/server.js';
import { DEFAULT_H2_LIMITS } from '../../../src/dataplane/http2/connection.js';
import type { Downstream } from '../../../src/dataplane/http/downstream.js';
import { H2_PREFACE, h2Frame } from '../../helpers/fuzz.js';
import { T, settings, requestBlock, literal } from '../../helpers/h2raw.js';

interface Frame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
}

/** A socket stand-in: what the connection writes is parsed into frames. */
function fakeSocket(): { socket: Socket; frames: Frame[]; feed(b: Buffer): void } {
  const frames: Frame[] = [];
  let buf = Buffer.alloc(0);
  const d = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 9 && buf.length >= 9 + buf.readUIntBE(0, 3)) {
        const len = buf.readUIntBE(0, 3);
        frames.push({ type: buf[3]!, flags: buf[4]!, stream: buf.readUInt32BE(5) & 0x7fffffff, payload: buf.subarray(9, 9 + len) });
        buf = buf.subarray(9 + len);
      }
      cb();
    },
  });
  Object.assign(d, { remoteAddress: '127.0.0.1', remotePort: 1, localAddress: '127.0.0.1', localPort: 2, setNoDelay() {} });
  return { socket: d as unknown as Socket, frames, feed: (b) => d.emit('data', b) };
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(() => setImmediate(r)));

test('frames split at every byte boundary, and many in one read, parse the same', async () => {
  const wire = Buffer.concat([
    H2_PREFACE,
    settings([[4, 100_000]]),
    h2Frame(T.HEADERS, 0x4, 1, requestBlock({ method: 'POST', path: '/a', extra: [literal('x-one', '1')] })),
    h2Frame(T.DATA, 0x8, 1, Buffer.concat([Buffer.from([2]), Buffer.from('hello'), Buffer.alloc(2)])),
    h2Frame(T.DATA, 0x1, 1, Buffer.from(' world')),
    h2Frame(T.HEADERS, 0x5, 3, requestBlock({ path: '/b' })),
  ]);
  for (const step of [1, 7, wire.length]) {
    const s = fakeSocket();
    const seen: Array<{ url: string; body: string; header: unknown }> = [];
    const c = new H2ServerConnection(s.socket, DEFAULT_H2_LIMITS, (ds: Downstream) => {
      const r = { url: ds.url, body: '', header: ds.headers['x-one'] };
      seen.push(r);
      ds.readBody({
        onData: (b) => {
          r.body += b.toString();
        },
        onEnd: () => {},
        onError: () => {},
      });
    });
    for (let i = 0; i < wire.length; i += step) s.feed(wire.subarray(i, i + step));
    assert.deepEqual(
      seen,
      [
        { url: '/a', body: 'hello world', header: '1' },
        { url: '/b', body: '', header: undefined },
      ],
      `step ${step}`,
    );
    assert.equal(c.closed, false);
    c.destroy();
  }
});

test('flow control: WINDOW_UPDATE for the stream only as the consumer takes the body; none while paused', async () => {
  const s = fakeSocket();
  let ds: Downstream | undefined;
  let got = 0;
  const c = new H2ServerConnection(s.socket, DEFAULT_H2_LIMITS, (d) => {
    ds = d;
    d.readBody({
      onData: (b) => {
        got += b.length;
      },
      onEnd: () => {},
      onError: () => {},
    });
  });
  s.feed(Buffer.concat([H2_PREFACE, settings(), h2Frame(T.HEADERS, 0x4, 1, requestBlock({ method: 'POST' }))]));
  await turn();
  const half = DEFAULT_H2_LIMITS.streamWindow / 2;
  const chunk = Buffer.alloc(16_384, 1);
  ds!.pauseBody();
  for (let n = 0; n < half; n += chunk.length) s.feed(h2Frame(T.DATA, 0, 1, chunk));
  await turn();
  const streamUpdates = (): Frame[] => s.frames.filter((f) => f.type === T.WINDOW_UPDATE && f.stream === 1);
  assert.equal(got, 0, 'paused: nothing delivered');
  assert.equal(streamUpdates().length, 0, 'paused: the stream window is not credited');
  ds!.resumeBody();
  await turn();
  assert.equal(got, half);
  assert.equal(streamUpdates().length, 1, 'one WINDOW_UPDATE once half the window was taken');
  assert.equal(streamUpdates()[0]!.payload.readUInt32BE(0), half);
  c.destroy();
});
