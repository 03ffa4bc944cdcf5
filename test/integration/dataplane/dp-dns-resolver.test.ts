import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Resolver, DnsError } from '../../../src/dataplane/dns/resolver.js';
import { startDnsServer } from '../../helpers/dns-server.js';

/** Polls `fn` until it returns true, at most `limitMs` (a bound, not a timing assertion). */
async function eventually(fn: () => Promise<boolean>, limitMs = 8000): Promise<void> {
  const until = Date.now() + limitMs;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > until) assert.fail('condition not reached in time');
    await delay(50);
  }
}

test('answers come from the DNS server with their TTL; IP literals return themselves', async (t) => {
  const dns = await startDnsServer({ 'docs.redhat.com': { addresses: ['127.0.0.5', '127.0.0.6'], ttl: 120 } });
  const r = new Resolver({ server: dns.address });
  t.after(async () => {
    r.close();
    await dns.close();
  });
  const res = await r.lookup('docs.redhat.com');
  assert.deepEqual(res.addresses, ['127.0.0.5', '127.0.0.6']);
  assert.ok(res.ttlMs > 110_000 && res.ttlMs <= 120_000, String(res.ttlMs));
  assert.deepEqual((await r.lookup('127.0.0.9')).addresses, ['127.0.0.9']);
  assert.deepEqual((await r.lookup('[::1]')).addresses, ['::1']);
  assert.equal(dns.queries('127.0.0.9'), 0);
});

test('a name with only AAAA records resolves to IPv6', async (t) => {
  const dns = await startDnsServer({ 'v6.test': ['::1'] });
  const r = new Resolver({ server: dns.address });
  t.after(async () => {
    r.close();
    await dns.close();
  });
  assert.deepEqual((await r.lookup('v6.test')).addresses, ['::1']);
});

test('answers are cached for their TTL and a changed record is seen after it', async (t) => {
  const dns = await startDnsServer({ 'ttl.test': { addresses: ['127.0.0.1'], ttl: 1 } });
  const r = new Resolver({ server: dns.address });
  t.after(async () => {
    r.close();
    await dns.close();
  });
  assert.deepEqual((await r.lookup('ttl.test')).addresses, ['127.0.0.1']);
  const asked = dns.queries('ttl.test');
  dns.set('ttl.test', ['127.0.0.2'], 1);
  // Still within the TTL: the cached answer, no new query.
  assert.deepEqual((await r.lookup('TTL.test')).addresses, ['127.0.0.1']);
  assert.equal(dns.queries('ttl.test'), asked);
  await eventually(async () => (await r.lookup('ttl.test')).addresses[0] === '127.0.0.2');
  assert.ok(dns.queries('ttl.test') > asked);
});

test('concurrent lookups of one name share one query', async (t) => {
  const dns = await startDnsServer({ 'many.test': ['127.0.0.3'] });
  const r = new Resolver({ server: dns.address });
  t.after(async () => {
    r.close();
    await dns.close();
  });
  const results = await Promise.all(Array.from({ length: 50 }, () => r.lookup('many.test')));
  for (const res of results) assert.deepEqual(res.addresses, ['127.0.0.3']);
  // One A query (the AAAA fallback is not needed when A answers).
  assert.equal(dns.queries('many.test'), 1);
});

test('NXDOMAIN is ENOTFOUND, SERVFAIL is ESERVFAIL; both are DnsErrors', async (t) => {
  const dns = await startDnsServer({ 'bad.test': ['127.0.0.1'] });
  dns.fail('bad.test');
  const r = new Resolver({ server: dns.address, negativeTtlMs: 0 });
  t.after(async () => {
    r.close();
    await dns.close();
  });
  await assert.rejects(r.lookup('missing.test'), (e: unknown) => e instanceof DnsError && e.code === 'ENOTFOUND' && /missing\.test/.test(e.message));
  await assert.rejects(r.lookup('bad.test'), (e: unknown) => e instanceof DnsError && e.code === 'ESERVFAIL');
  dns.fail('bad.test', false);
  assert.deepEqual((await r.lookup('bad.test')).addresses, ['127.0.0.1']);
});

test('a failure is remembered briefly so a storm of lookups does not become a storm of queries', async (t) => {
  const dns = await startDnsServer({});
  const r = new Resolver({ server: dns.address, negativeTtlMs: 60_000 });
  t.after(async () => {
    r.close();
    await dns.close();
  });
  await assert.rejects(r.lookup('nx.test'), DnsError);
  const asked = dns.queries('nx.test');
  for (let i = 0; i < 20; i++) await assert.rejects(r.lookup('nx.test'), DnsError);
  assert.equal(dns.queries('nx.test'), asked);
});

test('hosts-file entries win over DNS and the file is re-read when it changes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dp-dns-hosts-'));
  const dns = await startDnsServer({ 'docs.redhat.com': ['127.0.0.50'], 'other.test': ['127.0.0.60'] });
  const hostsFile = join(dir, 'hosts');
  writeFileSync(hostsFile, '# test hosts\n127.0.0.10 docs.redhat.com rh-docs  # alias\n127.0.0.11 docs.redhat.com\n::1 docs.redhat.com\n');
  const r = new Resolver({ server: dns.address, hostsFile });
  t.after(async () => {
    r.close();
    await dns.close();
    rmSync(dir, { recursive: true, force: true });
  });
  assert.deepEqual((await r.lookup('docs.redhat.com')).addresses, ['127.0.0.10', '127.0.0.11', '::1']);
  assert.deepEqual((await r.lookup('RH-DOCS')).addresses, ['127.0.0.10']);
  assert.deepEqual((await r.lookup('other.test')).addresses, ['127.0.0.60']);
  assert.equal(dns.queries('docs.redhat.com'), 0);

  // Replace the file atomically, as editors and config tools do.
  writeFileSync(`${hostsFile}.new`, '127.0.0.20 docs.redhat.com\n');
  renameSync(`${hostsFile}.new`, hostsFile);
  await eventually(async () => (await r.lookup('docs.redhat.com')).addresses[0] === '127.0.0.20');
  // A name removed from the file falls back to DNS.
  await eventually(async () => (await r.lookup('rh-docs').catch(() => undefined)) === undefined);
});

test('hosts file alone (no DNS server) with the system resolver as fallback for IPs', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dp-dns-hosts-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const hostsFile = join(dir, 'hosts');
  writeFileSync(hostsFile, '127.0.0.30 httpbin.org\n');
  const r = new Resolver({ hostsFile });
  t.after(() => r.close());
  const res = await r.lookup('httpbin.org');
  assert.deepEqual(res.addresses, ['127.0.0.30']);
  assert.equal(res.ttlMs, 30_000);
  assert.deepEqual((await r.lookup('localhost')).addresses.length > 0, true);
});

test('the DNS test server also answers over TCP', async (t) => {
  const dns = await startDnsServer({ 'tcp.test': ['127.0.0.7'] });
  t.after(() => dns.close());
  const { connect } = await import('node:net');
  const sock = connect(dns.port, '127.0.0.1');
  t.after(() => sock.destroy());
  // A minimal A query for tcp.test, length-prefixed.
  const q = Buffer.concat([
    Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]),
    Buffer.from([3, ...Buffer.from('tcp'), 4, ...Buffer.from('test'), 0, 0, 1, 0, 1]),
  ]);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(q.length);
  sock.write(Buffer.concat([len, q]));
  const reply = await new Promise<Buffer>((resolve) => {
    let buf = Buffer.alloc(0);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) resolve(buf.subarray(2));
    });
  });
  assert.equal(reply.readUInt16BE(0), 0x1234);
  assert.equal(reply.readUInt16BE(6), 1);
  assert.deepEqual([...reply.subarray(reply.length - 4)], [127, 0, 0, 7]);
});
