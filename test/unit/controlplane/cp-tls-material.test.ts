// Unreadable TLS files fail closed: a DestinationRule's cluster gets no endpoints (never the system roots), a Gateway server no listener; each is reported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeObject } from '../../../src/api/object.js';
import type { Cluster, ProxyConfig, ProxyIdentity } from '../../../src/proxyconfig/types.js';
import { snapshotFromObjects } from '../../../src/controlplane/snapshot.js';
import { readPemFromFs, translate } from '../../../src/controlplane/translate/index.js';
import { formatTlsMaterialProblem, tlsMaterialProblems } from '../../../src/controlplane/translate/tls-material.js';
import { testCerts } from '../../helpers/certs.js';

const certs = testCerts();
const dir = mkdtempSync(join(tmpdir(), 'cp-tls-'));
process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const CA = file('ca.pem', certs.caPem);
const CERT = file('client.pem', certs.clientCertPem);
const KEY = file('client.key', certs.clientKeyPem);
const EMPTY = file('empty.pem', '');
const MISSING = join(dir, 'missing.pem');

const curl: ProxyIdentity = { id: 'curl-1.curl', role: 'sidecar', namespace: 'curl', workload: 'curl', ip: '127.0.1.2', labels: { app: 'curl' } };
const gwPod: ProxyIdentity = {
  id: 'egw-1.istio-system',
  role: 'router',
  namespace: 'istio-system',
  workload: 'istio-egressgateway',
  ip: '127.0.4.2',
  labels: { istio: 'egressgateway' },
};

const serviceEntry: KubeObject = {
  apiVersion: 'networking.istio.io/v1',
  kind: 'ServiceEntry',
  metadata: { name: 'cnn', namespace: 'curl' },
  spec: {
    hosts: ['edition.cnn.com'],
    ports: [
      { number: 80, name: 'http', protocol: 'HTTP' },
      { number: 443, name: 'https', protocol: 'HTTPS' },
    ],
    resolution: 'DNS',
  },
};

function rule(tls: Record<string, unknown>, extra: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name: 'originate', namespace: 'curl', uid: 'dr-uid' },
    spec: { host: 'edition.cnn.com', trafficPolicy: { portLevelSettings: [{ port: { number: 443 }, tls }] }, ...extra },
  };
}

function clusterOf(objects: KubeObject[], proxy: ProxyIdentity = curl, name = 'outbound|443||edition.cnn.com'): { cfg: ProxyConfig; c: Cluster } {
  const cfg = translate(snapshotFromObjects(objects), proxy);
  return { cfg, c: cfg.clusters.find((x) => x.name === name)! };
}

function assertFailsClosed(c: Cluster): void {
  assert.equal(c.type, 'STATIC');
  assert.deepEqual(c.endpoints, []);
  assert.equal(c.tls, undefined, 'no TLS settings that a proxy could use with the system roots');
  assert.equal(c.protocol, 'HTTP1');
}

test('a readable caCertificates file is sent as its path, for the proxy to read (never its content); inline PEM as is', () => {
  const { c } = clusterOf([serviceEntry, rule({ mode: 'SIMPLE', caCertificates: CA, sni: 'edition.cnn.com' })]);
  assert.equal(c.type, 'STRICT_DNS');
  assert.deepEqual(c.tls, { mode: 'SIMPLE', sni: 'edition.cnn.com', caCertificates: CA });
  assert.deepEqual(clusterOf([serviceEntry, rule({ mode: 'SIMPLE', caCertificates: certs.caPem })]).c.tls, { mode: 'SIMPLE', caCertificates: certs.caPem });
  // A relative path would be read from the proxy's working directory: refused, fails closed.
  assertFailsClosed(clusterOf([serviceEntry, rule({ mode: 'SIMPLE', caCertificates: 'ca.pem' })]).c);
});

test('a missing caCertificates file fails the cluster closed instead of trusting the system roots', () => {
  const { cfg, c } = clusterOf([serviceEntry, rule({ mode: 'SIMPLE', caCertificates: MISSING })]);
  assertFailsClosed(c);
  // Only the cluster the rule's TLS applies to: port 80 has no TLS settings and keeps its endpoints.
  const plain = cfg.clusters.find((x) => x.name === 'outbound|80||edition.cnn.com')!;
  assert.deepEqual(plain.endpoints, [{ address: 'edition.cnn.com', port: 80 }]);
});

test('an empty (PEM-less) caCertificates file fails closed too: it would otherwise mean the system roots', () => {
  assertFailsClosed(clusterOf([serviceEntry, rule({ mode: 'SIMPLE', caCertificates: EMPTY })]).c);
});

test('MUTUAL: readable files are sent; a missing key or an absent client certificate fails closed (not a NACK of the whole config)', () => {
  const ok = clusterOf([serviceEntry, rule({ mode: 'MUTUAL', caCertificates: CA, clientCertificate: CERT, privateKey: KEY })]).c;
  assert.deepEqual(ok.tls, { mode: 'MUTUAL', caCertificates: CA, clientCertificate: CERT, privateKey: KEY });
  assert.ok(!JSON.stringify(ok).includes('PRIVATE KEY'), 'the key file is not read into the config');
  assertFailsClosed(clusterOf([serviceEntry, rule({ mode: 'MUTUAL', clientCertificate: CERT, privateKey: MISSING })]).c);
  assertFailsClosed(clusterOf([serviceEntry, rule({ mode: 'MUTUAL', caCertificates: CA })]).c);
});

test("SIMPLE without caCertificates stays SIMPLE with the system roots (Istio's documented default)", () => {
  assert.deepEqual(clusterOf([serviceEntry, rule({ mode: 'SIMPLE' })]).c.tls, { mode: 'SIMPLE' });
});

test('credentialName: unresolvable at a gateway (fails closed), ignored at a sidecar as Istio ignores it there', () => {
  const objects = [serviceEntry, rule({ mode: 'SIMPLE', credentialName: 'cnn-ca' })];
  assertFailsClosed(clusterOf(objects, gwPod).c);
  assert.deepEqual(clusterOf(objects, curl).c.tls, { mode: 'SIMPLE' });
  // A rule with a workloadSelector is resolved at the selected sidecar too.
  const selected = [serviceEntry, rule({ mode: 'SIMPLE', credentialName: 'cnn-ca' }, { workloadSelector: { matchLabels: { app: 'curl' } } })];
  assertFailsClosed(clusterOf(selected, curl).c);
});

test('subset clusters fail closed on their own TLS material', () => {
  const dr: KubeObject = {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name: 'subsets', namespace: 'curl' },
    spec: {
      host: 'edition.cnn.com',
      subsets: [
        { name: 'good', trafficPolicy: { tls: { mode: 'SIMPLE', caCertificates: CA } } },
        { name: 'bad', trafficPolicy: { tls: { mode: 'SIMPLE', caCertificates: MISSING } } },
      ],
    },
  };
  const cfg = translate(snapshotFromObjects([serviceEntry, dr]), curl);
  assert.equal(cfg.clusters.find((c) => c.name === 'outbound|443|good|edition.cnn.com')!.tls?.caCertificates, CA);
  assertFailsClosed(cfg.clusters.find((c) => c.name === 'outbound|443|bad|edition.cnn.com')!);
});

function gateway(tls: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'Gateway',
    metadata: { name: 'egw', namespace: 'istio-system' },
    spec: { selector: { istio: 'egressgateway' }, servers: [{ port: { number: 8443, name: 'https', protocol: 'HTTPS' }, hosts: ['*'], tls }] },
  };
}

test('a Gateway server with unreadable certificates gets no listener; readable ones terminate TLS', () => {
  const ok = translate(snapshotFromObjects([gateway({ mode: 'SIMPLE', serverCertificate: CERT, privateKey: KEY })]), gwPod);
  const l = ok.listeners.find((x) => x.port === 8443);
  assert.ok(l && l.protocol === 'HTTP' && l.tls?.mode === 'SIMPLE' && l.tls.certificateChain === CERT && l.tls.privateKey === KEY);
  const bad = translate(snapshotFromObjects([gateway({ mode: 'SIMPLE', serverCertificate: CERT, privateKey: MISSING })]), gwPod);
  assert.equal(
    bad.listeners.find((x) => x.port === 8443),
    undefined,
  );
});

test('tlsMaterialProblems names the resource, field, file and reason, and what the proxies do', () => {
  const objects = [
    serviceEntry,
    rule({ mode: 'SIMPLE', caCertificates: MISSING }),
    gateway({ mode: 'MUTUAL', serverCertificate: CERT, privateKey: KEY, caCertificates: EMPTY }),
    rule({ mode: 'SIMPLE', caCertificates: CA }),
  ];
  objects[3] = { ...objects[3]!, metadata: { name: 'fine', namespace: 'curl' } };
  const problems = tlsMaterialProblems(snapshotFromObjects(objects), readPemFromFs);
  assert.deepEqual(
    problems.map((p) => [p.object.kind, p.object.metadata.name, p.path, p.value]),
    [
      ['DestinationRule', 'originate', 'spec.trafficPolicy.portLevelSettings[0].tls.caCertificates', MISSING],
      ['Gateway', 'egw', 'spec.servers[0].tls.caCertificates', EMPTY],
    ],
  );
  assert.match(problems[0]!.reason, /^cannot be read: ENOENT/);
  assert.equal(problems[1]!.reason, 'contains no PEM block');
  assert.equal(
    formatTlsMaterialProblem(problems[0]!),
    `Warning (DestinationRule curl/originate) spec.trafficPolicy.portLevelSettings[0].tls.caCertificates ${JSON.stringify(MISSING)} ${problems[0]!.reason}; clusters outbound|443|*|edition.cnn.com fail closed (503 UH) instead of originating TLS without it against the system roots`,
  );
  assert.match(
    formatTlsMaterialProblem(problems[1]!),
    /^Warning \(Gateway istio-system\/egw\) .* contains no PEM block; the gateway does not serve port 8443 \(no listener\)$/,
  );
});

test('a required field that is absent is a problem without a file name', () => {
  const problems = tlsMaterialProblems(snapshotFromObjects([rule({ mode: 'MUTUAL', caCertificates: CA })]), readPemFromFs);
  assert.deepEqual(
    problems.map((p) => [p.path, p.value, p.reason]),
    [['spec.trafficPolicy.portLevelSettings[0].tls.clientCertificate', '', 'is required for MUTUAL']],
  );
});
