// The JS fast path for whole, simply framed HTTP/1.1 messages (src/dataplane/http1/simple-message.ts)
// against node's llhttp in strict mode: what the fast path takes, llhttp must take too and read
// the same way (status, method, target, header map, keep-alive, body length); what it leaves
// (null) goes to llhttp, which then decides.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { simpleRequest, simpleResponse, type SimpleHead } from '../../../src/dataplane/http1/simple-message.js';
import { endToEndHeaderMap, headerMapFromRaw } from '../../../src/dataplane/http1/head.js';
import { HTTPParser, METHODS, kOnBody, kOnHeaders, kOnHeadersComplete, kOnMessageComplete, newParser } from '../../../src/dataplane/http1/llhttp.js';
import { seededRandom } from '../../helpers/rng.js';

const MAX_HEAD = 8192;

interface LlhttpRead {
  error?: string;
  consumed: number;
  heads: { status: number; method: string; url: string | undefined; raw: string[]; keepAlive: boolean; upgrade: boolean }[];
  body: number;
  completed: number;
}

function llhttp(type: number, buf: Buffer): LlhttpRead {
  const p = newParser(type, MAX_HEAD);
  const r: LlhttpRead = { consumed: 0, heads: [], body: 0, completed: 0 };
  let pre: string[] = [];
  p[kOnHeaders] = (raw: string[]) => {
    pre = pre.concat(raw);
  };
  p[kOnHeadersComplete] = (
    _maj: number,
    _min: number,
    raw: string[] | undefined,
    method: number,
    url: string | undefined,
    status: number,
    _msg: unknown,
    upgrade: boolean,
    keepAlive: boolean,
  ) => {
    r.heads.push({ status, method: METHODS[method] ?? '', url, raw: pre.concat(raw ?? []), keepAlive, upgrade });
  };
  p[kOnBody] = (b: Buffer) => {
    r.body += b.length;
  };
  p[kOnMessageComplete] = () => {
    r.completed++;
  };
  const res = p.execute(buf);
  if (typeof res === 'number') r.consumed = res;
  else r.error = res.code;
  return r;
}

const copy = (h: SimpleHead | null) => (h === null ? null : { ...h });
/** Bytes after a message in a read buffer: a blank line, another message, garbage. */
const JUNK = Buffer.from('\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc GARBAGE \x00', 'latin1');

/** The fast path's reading, checked against llhttp's. */
function agree(kind: 'request' | 'response', buf: Buffer): SimpleHead | null {
  const mine = copy(kind === 'request' ? simpleRequest(buf, MAX_HEAD) : simpleResponse(buf, MAX_HEAD));
  // The same bytes as the first n of a larger (shared read) buffer, with bytes after them that would
  // change the reading if they were looked at: the same result.
  const shared = Buffer.concat([buf, JUNK]);
  const inPlace = copy(kind === 'request' ? simpleRequest(shared, MAX_HEAD, buf.length) : simpleResponse(shared, MAX_HEAD, buf.length));
  assert.deepEqual(inPlace, mine, `first ${buf.length} bytes of a larger buffer: ${JSON.stringify(buf.toString('latin1'))}`);
  if (mine === null) return null;
  const theirs = llhttp(kind === 'request' ? HTTPParser.REQUEST : HTTPParser.RESPONSE, buf);
  const what = JSON.stringify(buf.toString('latin1'));
  assert.equal(theirs.error, undefined, `llhttp rejects what the fast path took: ${what}`);
  assert.equal(theirs.consumed, buf.length, what);
  assert.equal(theirs.heads.length, 1, what);
  assert.equal(theirs.completed, 1, what);
  const h = theirs.heads[0]!;
  assert.equal(h.upgrade, false, what);
  // The map the codec builds from llhttp's raw headers: every header for a request, the end-to-end ones for a response.
  assert.deepEqual(mine.headers, kind === 'request' ? headerMapFromRaw(h.raw) : endToEndHeaderMap(h.raw), what);
  assert.equal(mine.keepAlive, h.keepAlive, what);
  assert.equal(mine.bodyLength, theirs.body, what);
  assert.equal(mine.headEnd + mine.bodyLength, buf.length, what);
  if (kind === 'response') assert.equal(mine.status, h.status, what);
  else {
    assert.equal(mine.method, h.method, what);
    assert.equal(mine.url, h.url, what);
  }
  return mine;
}

const b = (s: string) => Buffer.from(s, 'latin1');

test('simple messages: the common response and request are taken, as llhttp reads them', () => {
  const r = agree('response', b('HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n{}'));
  assert.deepEqual(r && [r.status, r.headers, r.keepAlive, r.bodyLength], [
    200,
    { server: 'nginx', 'content-type': 'application/json', 'content-length': '2' },
    true,
    2,
  ]);
  const closing = agree('response', b('HTTP/1.1 503 Service Unavailable\r\nconnection: Close\r\ncontent-length: 0\r\n\r\n'));
  assert.deepEqual(closing && [closing.status, closing.keepAlive, closing.bodyLength], [503, false, 0]);
  const q = agree('request', b('GET /get?a=1&b=%20 HTTP/1.1\r\nHost: httpbin.org\r\nUser-Agent: curl/8\r\nAccept: */*\r\n\r\n'));
  assert.deepEqual(q && [q.method, q.url, q.headers, q.keepAlive], [
    'GET',
    '/get?a=1&b=%20',
    { host: 'httpbin.org', 'user-agent': 'curl/8', accept: '*/*' },
    true,
  ]);
  const node = agree(
    'response',
    b('HTTP/1.1 200 OK\r\nSet-Cookie: a\r\nset-cookie: b\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 0\r\n\r\n'),
  );
  assert.deepEqual(node?.headers, { 'set-cookie': ['a', 'b'], 'content-length': '0' });
  const abs = agree('request', b('GET http://httpbin.org:80/headers HTTP/1.1\r\nHost: httpbin.org\r\n\r\n'));
  assert.equal(abs?.url, 'http://httpbin.org:80/headers');
  const ows = agree('response', b('HTTP/1.1 200 OK\r\nX:\t a \t\r\nY: \xa0b\xa0 \r\nZ:\r\nContent-Length: 0\r\n\r\n'));
  assert.deepEqual(ows?.headers, { x: 'a', y: '\xa0b\xa0', z: '', 'content-length': '0' });
});

test('simple messages: what llhttp frames or reads otherwise is left to it', () => {
  const left = (kind: 'request' | 'response', s: string) => assert.equal(agree(kind, b(s)), null, JSON.stringify(s));
  // Framing the fast path does not follow.
  left('response', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
  left('response', 'HTTP/1.1 200 OK\r\nServer: x\r\n\r\n'); // close-delimited
  left('response', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab');
  left('response', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\na'); // body split over reads
  left('response', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nab'); // bytes after the message
  left('response', 'HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\na');
  left('response', 'HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n');
  left('response', 'HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n');
  left('response', 'HTTP/1.1 100 Continue\r\n\r\n');
  left('response', 'HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n');
  left('response', 'HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n');
  left('response', 'HTTP/1.1 200 OK\r\nConnection: close\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  left('response', 'HTTP/1.1 200 OK\r\nProxy-Connection: close\r\nContent-Length: 0\r\n\r\n');
  left('response', 'HTTP/1.1 200 OK\r\nUpgrade: h2c\r\nContent-Length: 0\r\n\r\n');
  // Bytes llhttp rejects, or a grammar this path does not take.
  left('response', 'HTTP/1.1 200 OK\r\nX : a\r\nContent-Length: 0\r\n\r\n');
  left('response', 'HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n'); // obs-fold
  left('response', 'HTTP/1.1 200 OK\r\nX: a\x7f\r\nContent-Length: 0\r\n\r\n');
  left('response', 'HTTP/1.1 200 OK\r\nX: a\rb\r\nContent-Length: 0\r\n\r\n');
  left('response', 'HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n');
  left('response', 'HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n');
  left('request', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx'); // a body: llhttp's
  left('request', 'GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\n'); // pipelined
  left('request', 'GET / HTTP/1.0\r\nHost: a\r\n\r\n');
  left('request', 'CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n');
  left('request', 'GET http://user@host/ HTTP/1.1\r\nHost: host\r\n\r\n');
  left('request', 'GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n');
  left('request', 'GET /\x80 HTTP/1.1\r\nHost: a\r\n\r\n');
  left('request', 'get / HTTP/1.1\r\nHost: a\r\n\r\n');
  left('request', `GET /${'a'.repeat(MAX_HEAD)} HTTP/1.1\r\nHost: a\r\n\r\n`); // over the head limit
});

const STATUS_LINES = [
  'HTTP/1.1 200 OK',
  'HTTP/1.1 404 Not Found',
  'HTTP/1.1 599 x\t y',
  'HTTP/1.1 200 ',
  'HTTP/1.0 200 OK',
  'HTTP/1.1 099 x',
  'HTTP/1.1 2000 OK',
  'HTTP/1.1  200 OK',
  'HTTP/1.1 204 No',
  'HTTP/1.1 101 Up',
  'HTTP/1.1 200 O\x80K',
  'HTTP/1.1 200 O\x7fK',
  'HTTP/2 200 OK',
];
const REQUEST_LINES = [
  'GET / HTTP/1.1',
  'GET /a/b?c=d&e=%41 HTTP/1.1',
  'HEAD /x HTTP/1.1',
  'DELETE /x HTTP/1.1',
  'POST /p HTTP/1.1',
  'GET http://h.example:8080/p HTTP/1.1',
  'GET http://127.0.0.1/ HTTP/1.1',
  'GET http://h.example HTTP/1.1',
  'GET HTTP://h/ HTTP/1.1',
  'GET * HTTP/1.1',
  'OPTIONS * HTTP/1.1',
  'GET /a b HTTP/1.1',
  'GET /%zz HTTP/1.1',
  "GET /!$&'()*+,;=:@ HTTP/1.1",
  'GET /\x7f HTTP/1.1',
  'GET / HTTP/1.10',
  'FOO / HTTP/1.1',
  'GET  / HTTP/1.1',
  'GET /[] HTTP/1.1',
  'GET /{} HTTP/1.1',
  'GET /\\ HTTP/1.1',
];
const NAMES = [
  'Keep-Alive',
  'Trailer',
  'HTTP2-Settings',
  'Set-Cookie',
  'set-cookie',
  'Server',
  'Host',
  'host',
  'content-length',
  'Content-Length',
  'CONTENT-LENGTH',
  'Connection',
  'connection',
  'Transfer-Encoding',
  'Upgrade',
  'Proxy-Connection',
  'Keep-Alive',
  'Expect',
  'X-A',
  "x!#$%&'*+-.^_`|~9",
  'x b',
  '',
  'X\x01',
  'Content-Length ',
  ' X',
  'X\x80',
  'Content-Lengthh',
  'Connectio',
];
const VALUES = [
  '',
  ' a ',
  '\ta',
  'a\t',
  'a b',
  '0',
  '2',
  '02',
  ' 2 ',
  '-1',
  '+2',
  '2,2',
  '1e1',
  '999999999999999999',
  'close',
  'Close',
  'CLOSE',
  ' close ',
  'keep-alive',
  'Keep-Alive',
  'keep-alive, close',
  'upgrade',
  'chunked',
  'a\x7f',
  'a\x00',
  'a\x80\xff',
  '\xa0',
  'a\xa0',
  'a\rb',
  'a\nb',
  'a\r\n b',
  '\x0b',
  '"q"',
];

function message(next: () => number, kind: 'request' | 'response'): Buffer {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  const eol = () => (next() < 0.97 ? '\r\n' : pick(['\n', '\r', '\r\r\n']));
  let s = pick(kind === 'request' ? REQUEST_LINES : STATUS_LINES) + eol();
  const n = Math.floor(next() * 6);
  let declared = -1;
  for (let i = 0; i < n; i++) {
    const name = pick(NAMES);
    let value = pick(VALUES);
    if (/^content-length$/i.test(name) && next() < 0.7) value = String(Math.floor(next() * 4));
    if (/^content-length$/i.test(name)) declared = Number(value.trim());
    s += `${name}:${next() < 0.8 ? ' ' : ''}${value}${eol()}`;
  }
  // Most responses a proxy relays declare their length.
  if (kind === 'response' && declared === -1 && next() < 0.6) {
    declared = Math.floor(next() * 4);
    s += `Content-Length: ${declared}\r\n`;
  }
  s += eol();
  const bodyLength = Number.isInteger(declared) && declared >= 0 && declared < 8 && next() < 0.9 ? declared + (next() < 0.1 ? 1 : 0) : Math.floor(next() * 3);
  return b(s + 'x'.repeat(bodyLength));
}

test('simple messages: 20,000 generated requests and responses, each taken only as llhttp takes it', () => {
  const next = seededRandom(0x5eed);
  const taken = { request: 0, response: 0 };
  for (let i = 0; i < 10_000; i++) {
    for (const kind of ['request', 'response'] as const) if (agree(kind, message(next, kind)) !== null) taken[kind]++;
  }
  // The generator reaches both sides: enough messages are simple for the agreement to mean something.
  assert.ok(taken.request > 300 && taken.response > 300, JSON.stringify(taken));
});
