// HTTP/1.1 head writing and raw-header reading (src/dataplane/http1/head.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  endToEndHeaderMap,
  headerLines,
  headerMapFromRaw,
  httpDate,
  InvalidHeaderError,
  isToken,
  isValidValue,
  lowerName,
  renderHead,
  renderRequestHead,
  statusLine,
} from '../../../src/dataplane/http1/head.js';

test('statusLine: known and unknown reasons, cached', () => {
  assert.equal(statusLine(200), 'HTTP/1.1 200 OK\r\n');
  assert.equal(statusLine(503), 'HTTP/1.1 503 Service Unavailable\r\n');
  assert.equal(statusLine(299), 'HTTP/1.1 299 Unknown\r\n');
  assert.equal(statusLine(200), statusLine(200));
});

test('headerLines: one line per value, arrays repeated, undefined skipped, order kept', () => {
  assert.equal(
    headerLines({ 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'], skip: undefined, 'x-empty': '' }),
    'content-type: text/plain\r\nset-cookie: a=1\r\nset-cookie: b=2\r\nx-empty: \r\n',
  );
  assert.equal(headerLines({}), '');
});

test('headerLines: rejects CR/LF/NUL in values and non-token names, naming the header', () => {
  assert.throws(
    () => headerLines({ 'x-a': 'ok\r\nx-injected: 1' }),
    (e: unknown) => e instanceof InvalidHeaderError && e.header === 'x-a',
  );
  assert.throws(() => headerLines({ 'x-b': ['fine', 'bad\u0000'] }), InvalidHeaderError);
  assert.throws(() => headerLines({ 'bad name': 'v' }), /invalid header "bad name"/);
  assert.throws(() => headerLines({ 'x-c': 'snowman \u2603' }), InvalidHeaderError);
  // obs-text (latin1 high bytes) and HTAB are allowed, as llhttp allows them on the way in.
  assert.equal(headerLines({ 'x-d': 'caf\u00e9\tok' }), 'x-d: caf\u00e9\tok\r\n');
});

test('isToken / isValidValue edges', () => {
  assert.equal(isToken(''), false);
  assert.equal(isToken("x-!#$%&'*+-.^_`|~09AZaz"), true);
  assert.equal(isToken('x:y'), false);
  assert.equal(isValidValue(''), true);
  assert.equal(isValidValue('\x7f'), false);
});

test('headerMapFromRaw: lower-case names, repeats become arrays in order', () => {
  const h = headerMapFromRaw(['Host', 'a', 'X-Multi', '1', 'x-multi', '2', 'X-MULTI', '3', 'Content-Length', '0']);
  assert.deepEqual(h, { host: 'a', 'x-multi': ['1', '2', '3'], 'content-length': '0' });
});

test('lowerName returns the same string when already lower-case', () => {
  const s = 'x-already-lower';
  assert.equal(lowerName(s), s);
  assert.equal(lowerName('X-Up'), 'x-up');
});

test('httpDate is an IMF-fixdate', () => {
  assert.match(httpDate(), /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
});

test('endToEndHeaderMap drops connection-specific headers and what Connection lists', () => {
  const h = endToEndHeaderMap([
    'Connection',
    'keep-alive, X-Private',
    'Keep-Alive',
    'timeout=5',
    'Transfer-Encoding',
    'chunked',
    'X-Private',
    'secret',
    'Set-Cookie',
    'a=1',
    'set-cookie',
    'b=2',
    'Trailer',
    'x-t',
    'Content-Type',
    'text/plain',
  ]);
  assert.deepEqual(h, { 'set-cookie': ['a=1', 'b=2'], 'content-type': 'text/plain' });
  assert.deepEqual(endToEndHeaderMap(['Connection', 'close', 'X-A', '1']), { 'x-a': '1' });
});

test('renderHead: the same bytes as the head string, then `room` free bytes', () => {
  const headers = { server: 'istio-envoy', 'content-length': '5', 'set-cookie': ['a=1', 'b=2'], skipped: undefined, 'x-obs': 'caf\u00e9\t1' };
  const expected = statusLine(200) + headerLines(headers) + 'date: x\r\n' + '\r\n';
  const b = renderHead(statusLine(200), headers, 'date: x\r\n', 5);
  assert.equal(b.length, expected.length + 5);
  assert.equal(b.subarray(0, b.length - 5).toString('latin1'), expected);
  assert.equal(renderHead('GET / HTTP/1.1\r\n', {}, '', 0).toString('latin1'), 'GET / HTTP/1.1\r\n\r\n');
});

test('renderRequestHead: the request line and host, then as renderHead', () => {
  const headers = { 'x-request-id': 'abc', accept: ['a', 'b'] };
  const b = renderRequestHead('GET', '/p?q=1', 'httpbin.org:8080', headers, 'content-length: 2\r\n', 2);
  const expected = 'GET /p?q=1 HTTP/1.1\r\nhost: httpbin.org:8080\r\n' + headerLines(headers) + 'content-length: 2\r\n\r\n';
  assert.equal(b.length, expected.length + 2);
  assert.equal(b.subarray(0, b.length - 2).toString('latin1'), expected);
  assert.throws(
    () => renderRequestHead('GET', '/', 'h', { ok: 'a\nInjected: 1' }, '', 0),
    (e: unknown) => e instanceof InvalidHeaderError && e.header === 'ok',
  );
});

test('renderHead: long values (checked and copied natively) as short ones', () => {
  const long = 'By=spiffe://cluster.local/ns/gw/sa/egressgw;Cert="' + '%0A-----BEGIN%20CERTIFICATE-----'.repeat(30) + '";caf\u00e9\tend';
  const headers = { 'x-forwarded-client-cert': long, after: 'x' };
  const b = renderHead(statusLine(200), headers, '', 0);
  assert.equal(b.toString('latin1'), statusLine(200) + headerLines(headers) + '\r\n');
  for (const bad of ['\r\nInjected: 1', '\n', '\u0000', '\u007f', '\u0100', '\u2028']) {
    for (const at of [0, 70, long.length]) {
      const v = long.slice(0, at) + bad + long.slice(at);
      assert.throws(
        () => renderHead(statusLine(200), { ok: v }, '', 0),
        (e: unknown) => e instanceof InvalidHeaderError && e.header === 'ok',
        JSON.stringify(bad) + ' at ' + at,
      );
    }
  }
  // The valid long value just rendered is remembered: a value of the same length that differs by
  // one bad character is still refused, and the remembered one still passes after it.
  const same = long.slice(0, -1) + '\n';
  renderHead(statusLine(200), { ok: long }, '', 0);
  assert.throws(() => renderHead(statusLine(200), { ok: same }, '', 0), InvalidHeaderError);
  assert.equal(renderHead(statusLine(200), { ok: long }, '', 0).toString('latin1'), statusLine(200) + `ok: ${long}\r\n\r\n`);
});

test('renderHead: refuses what headerLines refuses, naming the header', () => {
  for (const [h, name] of [
    [{ 'bad name': 'v' }, 'bad name'],
    [{ '': 'v' }, ''],
    [{ ok: 'a\r\nInjected: 1' }, 'ok'],
    [{ ok: ['fine', 'nul\u0000'] }, 'ok'],
    [{ ok: 'wide \u2028' }, 'ok'],
  ] as const) {
    assert.throws(
      () => renderHead(statusLine(200), h as Record<string, string | string[]>, '', 0),
      (e: unknown) => e instanceof InvalidHeaderError && e.header === name,
    );
  }
});
