// The framing decisions llhttp leaves to us (src/dataplane/http1/framing.ts), as a table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  absoluteForm,
  parseErrorReject,
  rawRequestHeadReject,
  requestHeadReject,
  responseHeadReject,
  transferEncodingReject,
} from '../../../src/dataplane/http1/framing.js';
import type { ParseError } from '../../../src/dataplane/http1/llhttp.js';

test('Transfer-Encoding: only exactly chunked frames a message; final non-chunked 400, unknown or extra codings 501', () => {
  const cases: Array<[string | string[], number | undefined]> = [
    ['chunked', undefined],
    ['Chunked', undefined],
    ['CHUNKED', undefined],
    ['gzip', 400],
    ['deflate', 400],
    ['chunked, gzip', 400],
    ['', 400],
    [['chunked', 'gzip'], 400],
    ['xchunked', 501],
    ['identity', 501],
    ['"chunked"', 501],
    ['gzip, chunked', 501],
    ['chunked, chunked', 501],
    ['br, chunked', 501],
  ];
  for (const [te, status] of cases) {
    assert.equal(transferEncodingReject(te)?.status, status, JSON.stringify(te));
  }
});

test('request heads: several Host, or any Transfer-Encoding in HTTP/1.0, are refused', () => {
  assert.equal(requestHeadReject({ host: 'a' }, false), undefined);
  assert.deepEqual(requestHeadReject({ host: ['a', 'a'] }, false), { status: 400, details: 'http1.codec_error' });
  assert.deepEqual(requestHeadReject({ host: 'a', 'transfer-encoding': 'chunked' }, true), { status: 400, details: 'http1.invalid_transfer_encoding' });
  assert.equal(requestHeadReject({ host: 'a', 'transfer-encoding': 'chunked' }, false), undefined);
  assert.equal(rawRequestHeadReject(['Host', 'a', 'HOST', 'b'], false)?.status, 400);
  assert.equal(rawRequestHeadReject(['Host', 'a', 'Transfer-Encoding', 'gzip', 'transfer-encoding', 'chunked'], false)?.status, 501);
  assert.equal(rawRequestHeadReject(['Host', 'a', 'Transfer-Encoding', 'chunked'], false), undefined);
});

test('response heads: any Transfer-Encoding but chunked, or one in HTTP/1.0, cannot be relayed', () => {
  assert.equal(responseHeadReject(['Content-Length', '5'], false), undefined);
  assert.equal(responseHeadReject(['Transfer-Encoding', 'chunked'], false), undefined);
  assert.match(responseHeadReject(['Transfer-Encoding', 'gzip'], false)!, /unsupported transfer-encoding "gzip"/);
  assert.match(responseHeadReject(['transfer-encoding', 'chunked'], true)!, /HTTP\/1\.0/);
});

test("llhttp errors map to Envoy's statuses and details", () => {
  const e = (code: string, reason: string): ParseError => Object.assign(new Error(reason), { code, reason, bytesParsed: 0 });
  assert.deepEqual(parseErrorReject(e('HPE_HEADER_OVERFLOW', 'Header overflow')), { status: 431, details: 'http1.headers_too_large' });
  assert.deepEqual(parseErrorReject(e('HPE_INVALID_TRANSFER_ENCODING', "Transfer-Encoding can't be present with Content-Length")), {
    status: 400,
    details: 'http1.content_length_and_chunked_not_allowed',
  });
  assert.deepEqual(parseErrorReject(e('HPE_INVALID_TRANSFER_ENCODING', 'Invalid `Transfer-Encoding` header value')), {
    status: 400,
    details: 'http1.invalid_transfer_encoding',
  });
  assert.deepEqual(parseErrorReject(e('HPE_INVALID_HEADER_TOKEN', 'Invalid header value char')), { status: 400, details: 'http1.codec_error' });
});

test('absolute-form targets: authority (without userinfo) and path', () => {
  assert.deepEqual(absoluteForm('http://a.example/x?q=1'), { authority: 'a.example', path: '/x?q=1', https: false });
  assert.deepEqual(absoluteForm('HTTPS://a.example:8443'), { authority: 'a.example:8443', path: '/', https: true });
  assert.deepEqual(absoluteForm('http://u:p@a.example?q'), { authority: 'a.example', path: '/?q', https: false });
  assert.equal(absoluteForm('/x'), undefined);
  assert.equal(absoluteForm('*'), undefined);
  assert.equal(absoluteForm('ftp://a/'), undefined);
});
