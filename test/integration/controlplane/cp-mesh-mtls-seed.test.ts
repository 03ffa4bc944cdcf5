// The seed's Istio-API procedure translated by the control plane and carried by real proxies with real
// workload certificates: the same curl result with mTLS as without, the gateway's line and metrics name
// the caller, and an AuthorizationPolicy lets only curl/curl out through the egress gateway.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../../../src/api/object.js';
import type { ProxyIdentity } from '../../../src/proxyconfig/types.js';
import { snapshotFromObjects } from '../../../src/controlplane/snapshot.js';
import { translate } from '../../../src/controlplane/translate/index.js';
import { loadObjects } from '../../fixtures/cp/load.js';
import { makeWorkloadIdentity } from '../../helpers/certs.js';
import { startExternalServices, DOCS_HOST } from '../../helpers/external.js';
import { startProxy, tempDir, curl, type RunningProxy } from '../../helpers/proxy-harness.js';

const FORMAT = '%RESPONSE_CODE% %RESPONSE_CODE_DETAILS% %PROTOCOL% %UPSTREAM_CLUSTER_RAW% %DOWNSTREAM_PEER_URI_SAN%\n';

function randomLoopback(): string {
  return `127.${100 + Math.floor(Math.random() * 90)}.${Math.floor(Math.random() * 256)}.${2 + Math.floor(Math.random() * 250)}`;
}

interface Run {
  gw: RunningProxy;
  sidecars: Record<string, string>;
}

/**
 * Translates the seed (plus `extra`) for the gateway and two sidecars (curl/curl and apps/default)
 * and starts them; `withIdentity` gives each its workload certificate.
 */
async function run(t: TestContext, withIdentity: boolean, extra: KubeObject[] = []): Promise<Run> {
  const ext = await startExternalServices();
  t.after(() => ext.close());
  const dir = tempDir(t, 'outpost-seed-mtls-');
  const gwIp = randomLoopback();
  const objects = loadObjects('mesh-base', 'seed-istio-api').map((o) => {
    if (o.kind === 'Pod' && o.metadata.name.startsWith('egressgw')) return { ...o, status: { ...(o.status as object), podIP: gwIp } };
    if (o.kind === 'Istio')
      return { ...o, spec: { ...(o.spec as object), values: { meshConfig: { accessLogFile: join(dir, 'gw.log'), accessLogFormat: FORMAT } } } };
    return o;
  });
  const snapshot = snapshotFromObjects([...objects, ...extra]);
  const resolver = { hostsFile: ext.hostsFile };
  const gwId: ProxyIdentity = {
    id: 'egressgw-7d9c8b6f5-xyz12.gw-ns',
    role: 'router',
    namespace: 'gw-ns',
    workload: 'egressgw',
    ip: gwIp,
    labels: { istio: 'egressgw', app: 'egressgw' },
  };
  const gw = await startProxy(
    t,
    translate(snapshot, gwId),
    {
      resolver,
      ...(withIdentity ? { identityDir: makeWorkloadIdentity({ namespace: 'gw-ns', serviceAccount: 'egressgw' }) } : {}),
    },
    join(dir, 'gw.log'),
  );
  const sidecars: Record<string, string> = {};
  for (const [ns, sa] of [
    ['curl', 'curl'],
    ['apps', 'default'],
  ] as const) {
    const ip = randomLoopback();
    const id: ProxyIdentity = { id: `${ns}-1.${ns}`, role: 'sidecar', namespace: ns, workload: ns, ip, labels: { app: ns } };
    const cfg = translate(snapshot, id);
    await startProxy(
      t,
      { ...cfg, mesh: { ...cfg.mesh, accessLog: undefined } as typeof cfg.mesh },
      {
        resolver,
        ...(withIdentity ? { identityDir: makeWorkloadIdentity({ namespace: ns, serviceAccount: sa }) } : {}),
      },
    );
    sidecars[ns] = ip;
  }
  return { gw, sidecars };
}

/** The seed's command: `curl -sSL -o /dev/null -D - http://docs.redhat.com` through a sidecar (explicit proxy). */
async function seedCurl(r: Run, ns: string): Promise<{ status: string; headers: string }> {
  const out = await curl(['-sSL', '-o', '/dev/null', '-D', '-', '-x', `http://${r.sidecars[ns]}:15001`, `http://${DOCS_HOST}/`]);
  const lines = out.stdout.split('\r\n').filter((l) => l !== '');
  // Per-request values (date, timings) aside, the heads must be the same: status lines, header names and values.
  const stable = lines.filter((l) => !/^(date|x-envoy-upstream-service-time):/i.test(l));
  return { status: lines.filter((l) => l.startsWith('HTTP/')).join(' | '), headers: stable.join('\n') };
}

test("seed (Istio API) with mTLS on: the same curl result as without; the gateway logs HTTP/2 from the caller's identity", async (t) => {
  const plain = await run(t, false);
  const mtls = await run(t, true);
  const a = await seedCurl(plain, 'curl');
  const b = await seedCurl(mtls, 'curl');
  assert.equal(a.status, 'HTTP/1.1 301 Moved Permanently | HTTP/1.1 200 OK');
  assert.deepEqual(b, a);
  assert.deepEqual(await plain.gw.logLines(2), [
    '301 via_upstream HTTP/2 outbound|80||docs.redhat.com -',
    '200 via_upstream HTTP/2 outbound|80||docs.redhat.com -',
  ]);
  assert.deepEqual(await mtls.gw.logLines(2), [
    '301 via_upstream HTTP/2 outbound|80||docs.redhat.com spiffe://cluster.local/ns/curl/sa/curl',
    '200 via_upstream HTTP/2 outbound|80||docs.redhat.com spiffe://cluster.local/ns/curl/sa/curl',
  ]);
  const metrics = await mtls.gw.proxy.prometheus();
  assert.match(
    metrics,
    /istio_requests_total\{reporter="source",source_workload="egressgw",source_workload_namespace="gw-ns",source_principal="spiffe:\/\/cluster.local\/ns\/curl\/sa\/curl",[^}]*connection_security_policy="mutual_tls",response_code="200"[^}]*\} 1/,
  );
  assert.match(
    metrics,
    /source_principal="spiffe:\/\/cluster.local\/ns\/curl\/sa\/curl",[^}]*connection_security_policy="mutual_tls",response_code="301"[^}]*\} 1/,
  );
});

test('only service account curl in namespace curl may leave through the egress gateway; others get 403 there, logged with their identity', async (t) => {
  const policy = parseAllDocuments(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: egress-only-curl, namespace: gw-ns}
spec:
  selector: {matchLabels: {istio: egressgw}}
  action: ALLOW
  rules:
  - from: [{source: {principals: [cluster.local/ns/curl/sa/curl]}}]
    to: [{operation: {hosts: [${DOCS_HOST}]}}]
`).map((d) => d.toJS() as KubeObject);
  const r = await run(t, true, policy);
  assert.equal((await seedCurl(r, 'curl')).status, 'HTTP/1.1 301 Moved Permanently | HTTP/1.1 200 OK');
  assert.equal((await seedCurl(r, 'apps')).status, 'HTTP/1.1 403 Forbidden');
  const lines = await r.gw.logLines(3);
  assert.deepEqual(lines, [
    '301 via_upstream HTTP/2 outbound|80||docs.redhat.com spiffe://cluster.local/ns/curl/sa/curl',
    '200 via_upstream HTTP/2 outbound|80||docs.redhat.com spiffe://cluster.local/ns/curl/sa/curl',
    '403 rbac_access_denied_matched_policy[none] HTTP/2 - spiffe://cluster.local/ns/apps/sa/default',
  ]);
  const metrics = await r.gw.proxy.prometheus();
  assert.match(metrics, /\nenvoy_http_rbac_denied 1\n/);
  assert.match(metrics, /istio_requests_total\{[^}]*source_principal="spiffe:\/\/cluster.local\/ns\/apps\/sa\/default"[^}]*response_code="403"[^}]*\} 1/);
});
