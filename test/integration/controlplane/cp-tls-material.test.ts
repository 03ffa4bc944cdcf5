// An unreadable caCertificates file, end to end: the translated gateway config fails closed on a real proxy
// (503 UH, the upstream is never contacted), and the control plane reports it once as a Warning Event.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeObject } from '../../../src/api/object.js';
import type { ProxyIdentity } from '../../../src/proxyconfig/types.js';
import { snapshotFromObjects } from '../../../src/controlplane/snapshot.js';
import { translate } from '../../../src/controlplane/translate/index.js';
import { ControlPlane } from '../../../src/controlplane/control-plane.js';
import { TLS_MATERIAL_EVENT_REASON } from '../../../src/controlplane/status/tls-problems.js';
import { openSqliteStore } from '../../../src/store/sqlite.js';
import { testCerts } from '../../helpers/certs.js';
import { startHttpsUpstream } from '../../helpers/upstreams.js';
import { curl, freePort, parseLogLine, startProxy, tempDir } from '../../helpers/proxy-harness.js';

const NS = 'istio-system';
const HOST = 'secure.example';
const gatewayPod: ProxyIdentity = {
  id: 'egw-1.istio-system',
  role: 'router',
  namespace: NS,
  workload: 'istio-egressgateway',
  ip: '127.0.0.1',
  labels: { istio: 'egressgateway' },
};

/** Plain HTTP into the gateway on `port`, TLS origination from the gateway to the upstream, trusting `caFile`. */
function mesh(port: number, upstreamPort: number, caFile: string, logPath: string): KubeObject[] {
  return [
    { apiVersion: 'sailoperator.io/v1', kind: 'Istio', metadata: { name: 'default' }, spec: { values: { meshConfig: { accessLogFile: logPath } } } },
    {
      apiVersion: 'networking.istio.io/v1',
      kind: 'ServiceEntry',
      metadata: { name: 'secure', namespace: NS },
      spec: {
        hosts: [HOST],
        ports: [{ number: 443, name: 'https', protocol: 'HTTPS' }],
        resolution: 'STATIC',
        endpoints: [{ address: '127.0.0.1', ports: { https: upstreamPort } }],
      },
    },
    {
      apiVersion: 'networking.istio.io/v1',
      kind: 'Gateway',
      metadata: { name: 'egw', namespace: NS },
      spec: { selector: { istio: 'egressgateway' }, servers: [{ port: { number: port, name: 'http', protocol: 'HTTP' }, hosts: [HOST] }] },
    },
    {
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'secure', namespace: NS },
      spec: { hosts: [HOST], gateways: ['egw'], http: [{ route: [{ destination: { host: HOST, port: { number: 443 } } }] }] },
    },
    {
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { name: 'originate', namespace: NS },
      spec: { host: HOST, trafficPolicy: { tls: { mode: 'SIMPLE', caCertificates: caFile, sni: 'upstream.test' } } },
    },
  ];
}

async function through(t: import('node:test').TestContext, caFile: (dir: string) => string) {
  const certs = testCerts();
  const up = await startHttpsUpstream({ cert: certs.serverCertPem, key: certs.serverKeyPem });
  t.after(() => up.close());
  const dir = tempDir(t, 'cp-tls-int-');
  const logPath = join(dir, 'access.log');
  const port = await freePort();
  const cfg = translate(snapshotFromObjects(mesh(port, up.port, caFile(dir), logPath)), gatewayPod);
  const p = await startProxy(t, cfg, {}, logPath);
  const r = await curl(['-o', '/dev/null', '-w', '%{http_code}', '-H', `Host: ${HOST}`, `http://127.0.0.1:${port}/get`]);
  const [line] = await p.logLines(1);
  return { code: r.stdout, log: parseLogLine(line!), up };
}

test('with a readable caCertificates file, the gateway originates TLS trusting that CA', async (t) => {
  const { code, log, up } = await through(t, (dir) => {
    const f = join(dir, 'ca.pem');
    writeFileSync(f, testCerts().caPem);
    return f;
  });
  assert.equal(code, '200');
  assert.equal(log.upstreamCluster, `outbound|443||${HOST}`);
  assert.equal(up.requests.length, 1);
});

test('with a missing caCertificates file, requests fail closed (503 UH) and never reach the upstream', async (t) => {
  const { code, log, up } = await through(t, (dir) => join(dir, 'no-such-ca.pem'));
  assert.equal(code, '503');
  assert.equal(log.flags, 'UH');
  assert.equal(log.upstreamCluster, `outbound|443||${HOST}`);
  assert.equal(up.requests.length, 0);
  assert.equal(up.connections(), 0, 'no connection was opened to the upstream');
});

async function until<T>(what: string, get: () => T | undefined | false, timeoutMs = 8000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = get();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('the control plane logs the problem and records one Warning Event on the DestinationRule, also across a restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cp-tls-ev-'));
  const store = openSqliteStore(join(dir, 'store.db'), { pollMs: 20 });
  const lines: string[] = [];
  let cp = new ControlPlane({ store, token: 't', debounceMs: 10, log: (l) => lines.push(l) });
  t.after(async () => {
    await cp.stop();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const missing = join(dir, 'ca.pem');
  store.apply(mesh(8080, 8443, missing, '/dev/null'));
  await cp.start();
  const warnings = () => store.list({ group: '', kind: 'Event', namespace: NS }).items.filter((e) => e.reason === TLS_MATERIAL_EVENT_REASON);
  const [ev] = await until('event', () => warnings().length > 0 && warnings());
  const e = ev as unknown as { type: string; message: string; involvedObject: { kind: string; name: string } };
  assert.equal(e.type, 'Warning');
  assert.deepEqual([e.involvedObject.kind, e.involvedObject.name], ['DestinationRule', 'originate']);
  assert.match(
    e.message,
    new RegExp(
      `^spec\\.trafficPolicy\\.tls\\.caCertificates ${JSON.stringify(missing).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} cannot be read: ENOENT.*; clusters outbound\\|\\*\\|\\*\\|secure\\.example fail closed \\(503 UH\\)`,
    ),
  );
  assert.ok(
    lines.some((l) => l.startsWith('control plane: Warning (DestinationRule istio-system/originate) spec.trafficPolicy.tls.caCertificates')),
    lines.join('\n'),
  );

  // Another round (an unrelated change) does not repeat it; neither does a restarted control plane.
  store.apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'other' } }]);
  await until('caught up', () => cp.revision() === store.revision());
  await cp.stop();
  cp = new ControlPlane({ store, token: 't', debounceMs: 10 });
  await cp.start();
  assert.equal(warnings().length, 1);

  // Fixed and broken again (a new generation): reported again.
  writeFileSync(missing, testCerts().caPem);
  const dr = store.get({ group: 'networking.istio.io', kind: 'DestinationRule', namespace: NS, name: 'originate' })!;
  store.update({ ...dr, spec: { host: HOST, trafficPolicy: { tls: { mode: 'SIMPLE', caCertificates: join(dir, 'gone.pem') } } } });
  await until('second event', () => warnings().length === 2);
});
