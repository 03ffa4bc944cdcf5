// The one host:port parser (src/proxyconfig/authority.ts): IPv6 in brackets has a port, bare IPv6 has none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authorityHost, authorityHostPart, authorityPort, joinHostPort, parseHostPort, splitHostPort } from '../../../src/proxyconfig/authority.js';
import { shadowAuthority } from '../../../src/dataplane/http/mirror.js';
import { splitAuthority } from '../../../src/dataplane/routing/route-table.js';

test('authorities split into host and port alike everywhere, IPv6 included', () => {
  // [authority, host without brackets, host as written, port as written]
  const table: Array<[string, string, string, string | undefined]> = [
    ['example.com', 'example.com', 'example.com', undefined],
    ['example.com:8080', 'example.com', 'example.com', '8080'],
    ['example.com:', 'example.com', 'example.com', ''],
    ['10.0.0.1:53', '10.0.0.1', '10.0.0.1', '53'],
    ['[::1]:8080', '::1', '[::1]', '8080'],
    ['[::1]', '::1', '[::1]', undefined],
    ['[2001:db8::1]:443', '2001:db8::1', '[2001:db8::1]', '443'],
    // Bare IPv6: all host, never `::` port 1.
    ['::1', '::1', '::1', undefined],
    ['2001:db8::1', '2001:db8::1', '2001:db8::1', undefined],
    ['fe80::1:80', 'fe80::1:80', 'fe80::1:80', undefined],
    // An unclosed bracket is not split.
    ['[::1', '[::1', '[::1', undefined],
    ['', '', '', undefined],
  ];
  for (const [a, host, part, port] of table) {
    assert.equal(authorityHost(a), host, `host of ${a}`);
    assert.equal(authorityHostPart(a), part, `host part of ${a}`);
    assert.equal(authorityPort(a), port, `port of ${a}`);
  }
});

test('splitHostPort falls back to the default port; parseHostPort wants one', () => {
  assert.deepEqual(splitHostPort('a.com', 443), { host: 'a.com', port: 443 });
  assert.deepEqual(splitHostPort('a.com:8443', 443), { host: 'a.com', port: 8443 });
  assert.deepEqual(splitHostPort('[::1]:80', 443), { host: '::1', port: 80 });
  assert.deepEqual(splitHostPort('::1', 443), { host: '::1', port: 443 });
  assert.deepEqual(splitHostPort('a.com:x', 80), { host: 'a.com', port: 80 });
  const table: Array<[string, { host: string; port: number } | undefined]> = [
    ['127.0.0.53:53', { host: '127.0.0.53', port: 53 }],
    ['[::1]:5353', { host: '::1', port: 5353 }],
    ['localhost:0', { host: 'localhost', port: 0 }],
    ['::1', undefined],
    ['[::1]', undefined],
    ['127.0.0.1', undefined],
    ['127.0.0.1:', undefined],
    [':53', undefined],
    ['127.0.0.1:65536', undefined],
    ['127.0.0.1:5x', undefined],
    ['127.0.0.1:-1', undefined],
  ];
  for (const [s, want] of table) assert.deepEqual(parseHostPort(s), want, s);
  assert.equal(joinHostPort('::1', 80), '[::1]:80');
  assert.equal(joinHostPort('a.com', 80), 'a.com:80');
});

test('the proxy reads authorities through it: virtual-host lookup and shadow hosts', () => {
  assert.deepEqual(splitAuthority('[::1]:8080'), { host: '[::1]', withPort: '[::1]:8080' });
  assert.deepEqual(splitAuthority('a.com:'), { host: 'a.com', withPort: undefined });
  assert.deepEqual(splitAuthority('a.com', 80), { host: 'a.com', withPort: 'a.com:80' });
  assert.equal(shadowAuthority('a.com:8080'), 'a.com-shadow:8080');
  assert.equal(shadowAuthority('[::1]:8080'), '[::1]-shadow:8080');
  assert.equal(shadowAuthority('::1'), '::1-shadow');
  assert.equal(shadowAuthority('a.com'), 'a.com-shadow');
});
