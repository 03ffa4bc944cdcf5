// The proxy reads TLS files named in its config itself; an unreadable or relative one is a clear NACK; the config it was given keeps the paths.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { withTlsFiles } from '../../../src/dataplane/config/tls-files.js';
import type { ProxyConfig } from '../../../src/proxyconfig/types.js';
import { testCerts } from '../../helpers/certs.js';

const dir = mkdtempSync(join(tmpdir(), 'dp-tls-files-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const certs = testCerts();
const KEY = join(dir, 'client.key');
writeFileSync(KEY, certs.clientKeyPem, { mode: 0o600 });

function config(tls: Record<string, string>): ProxyConfig {
  return {
    version: 'v1',
    proxy: { id: 'gw.ns', role: 'router', namespace: 'ns', workload: 'gw', labels: {} },
    listeners: [],
    routeTables: [],
    clusters: [{ name: 'outbound|443||up.test', type: 'STRICT_DNS', endpoints: [], tls: { mode: 'MUTUAL', ...tls } }],
  } as unknown as ProxyConfig;
}

test('paths are read by the proxy; inline PEM stays; the given config keeps its paths', () => {
  const given = config({ caCertificates: certs.caPem, clientCertificate: join(certs.dir, 'client.pem'), privateKey: KEY });
  const loaded = withTlsFiles(given);
  assert.equal(loaded.clusters[0]!.tls!.privateKey, certs.clientKeyPem);
  assert.equal(loaded.clusters[0]!.tls!.clientCertificate, certs.clientCertPem);
  assert.equal(loaded.clusters[0]!.tls!.caCertificates, certs.caPem);
  assert.equal(given.clusters[0]!.tls!.privateKey, KEY, 'what config_dump shows is the path');
});

test('an unreadable or relative path is a NACK naming the cluster, field and file', () => {
  assert.throws(
    () => withTlsFiles(config({ privateKey: join(dir, 'missing.key') })),
    /clusters\[0\] \(outbound\|443\|\|up\.test\): tls\.privateKey: cannot read .*missing\.key: ENOENT/,
  );
  assert.throws(() => withTlsFiles(config({ privateKey: 'client.key' })), /tls\.privateKey: neither PEM nor an absolute file path/);
});
