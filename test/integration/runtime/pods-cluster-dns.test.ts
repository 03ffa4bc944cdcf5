// The node's DNS server for pods, over real UDP with node's own resolver as the client: Service
// names (cluster IP, headless pod IPs, NOERROR-empty for AAAA, NXDOMAIN for unknown), the hosts
// file, and other names forwarded to an upstream server.
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ClusterDns, podResolvConf } from '../../../src/runtime/pods/cluster-dns.js';
import { startDnsServer } from '../../helpers/dns-server.js';

test('cluster DNS answers Service names, the hosts file, and forwards the rest', async (t) => {
  const upstream = await startDnsServer({ 'docs.example.com': ['203.0.113.7'] });
  t.after(() => upstream.close());
  const dir = mkdtempSync(join(tmpdir(), 'outpost-dns-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const hostsFile = join(dir, 'hosts');
  writeFileSync(hostsFile, '# stand-ins\n198.18.7.1 httpbin.org\n');
  const dns = new ClusterDns({ address: '127.0.0.1', port: 0, upstream: upstream.address, hostsFile });
  await dns.start();
  t.after(() => dns.close());
  dns.setRecords(
    new Map([
      ['hello.apps.svc.cluster.local', ['198.19.7.2']],
      ['echo-headless.apps.svc.cluster.local', ['198.18.7.5', '198.18.7.6']],
    ]),
  );
  const r = new Resolver({ timeout: 2000, tries: 1 });
  r.setServers([`127.0.0.1:${dns.port}`]);

  assert.deepEqual(await r.resolve4('hello.apps.svc.cluster.local'), ['198.19.7.2']);
  assert.deepEqual((await r.resolve4('ECHO-HEADLESS.apps.svc.cluster.local')).sort(), ['198.18.7.5', '198.18.7.6']);
  // A known name asked for another family: no records, not an error that would stop a search.
  await assert.rejects(r.resolve6('hello.apps.svc.cluster.local'), { code: 'ENODATA' });
  await assert.rejects(r.resolve4('nope.apps.svc.cluster.local'), { code: 'ENOTFOUND' });
  assert.equal(upstream.queries('nope.apps.svc.cluster.local'), 0, 'cluster names never leave the node');
  assert.deepEqual(await r.resolve4('httpbin.org'), ['198.18.7.1']);
  assert.deepEqual(await r.resolve4('docs.example.com'), ['203.0.113.7']);
  assert.equal(upstream.queries('docs.example.com'), 1);
  await assert.rejects(r.resolve4('unknown.example.com'), { code: 'ENOTFOUND' });
});

test("a pod's resolv.conf has Kubernetes' search path for its namespace", () => {
  assert.equal(
    podResolvConf('198.18.7.1', 'apps').split('\n').slice(1).join('\n'),
    'nameserver 198.18.7.1\nsearch apps.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n',
  );
});
