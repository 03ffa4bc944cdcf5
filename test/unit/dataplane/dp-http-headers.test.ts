// Hop-by-hop hygiene between hops (src/dataplane/http/headers.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isHopByHop, upstreamRequestHeaders } from '../../../src/dataplane/http/headers.js';

const HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'http2-settings',
  'host',
  'expect',
  'proxy-authorization',
  'trailer',
];

test('isHopByHop: exactly the connection-scoped names (RFC 9110 §7.6.1, plus host, expect, proxy-authorization)', () => {
  for (const n of HOP) assert.equal(isHopByHop(n), true, n);
  // Same lengths as hop-by-hop names, and near misses: end-to-end.
  for (const n of [
    'ab',
    'accept',
    'trailers',
    'tea',
    'connectiom',
    'keep-alivE',
    'x-upgrade',
    'authorization',
    'content-length',
    'x-forwarded-proto',
    'x-request-id',
    'user-agent',
    'date',
    '',
  ])
    assert.equal(isHopByHop(n), false, n);
});

test('upstreamRequestHeaders: drops hop-by-hop, pseudo headers and what Connection lists; keeps the rest in order', () => {
  const src = {
    host: 'a.example',
    ':authority': 'a.example',
    'user-agent': 'curl/8',
    connection: 'keep-alive, x-private',
    'x-private': 'secret',
    te: 'trailers',
    'proxy-authorization': 'Basic eA==',
    accept: '*/*',
    'x-forwarded-for': ['10.0.0.1', '10.0.0.2'],
  };
  const up = upstreamRequestHeaders(src);
  assert.deepEqual(Object.keys(up), ['user-agent', 'accept', 'x-forwarded-for']);
  assert.deepEqual(up['x-forwarded-for'], ['10.0.0.1', '10.0.0.2']);
  assert.deepEqual(Object.keys(upstreamRequestHeaders({ connection: 'x-one', 'x-one': '1', 'x-two': '2' })), ['x-two']);
});
