// Between real proxies with mesh certificates: AUDIT policies mark the access-log line (Envoy's
// access_log_hint) and count without deciding anything, and a sidecar's ISTIO_MUTUAL (or auto mTLS)
// cluster refuses a gateway whose SPIFFE identity is not one the cluster expects (UF, TLS failure reason).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { startHttpUpstream, type HttpUpstream } from '../../helpers/upstreams.js';
import { makeWorkloadIdentity } from '../../helpers/certs.js';
import { startProxy, tempDir, freePort, curl, type RunningProxy } from '../../helpers/proxy-harness.js';
import { proxyConfig, httpListener, routeTable, vhost, forward, staticCluster } from '../../helpers/proxyconfig.js';
import type { AuthorizationPolicyRule, ProxyConfig, UpstreamTls } from '../../../src/proxyconfig/types.js';

const GW_SAN = 'spiffe://cluster.local/ns/istio-system/sa/egressgw';
const GW_FORMAT =
  '%RESPONSE_CODE% %RESPONSE_CODE_DETAILS% %DYNAMIC_METADATA(envoy.common:access_log_hint)% %DYNAMIC_METADATA(outpost.rbac:audit_policy)% %DOWNSTREAM_PEER_URI_SAN%\n';
const SC_FORMAT = '%RESPONSE_CODE% %RESPONSE_FLAGS% %UPSTREAM_CLUSTER% "%UPSTREAM_TRANSPORT_FAILURE_REASON%"\n';

interface Pair {
  upstream: HttpUpstream;
  gwPort: number;
  /** The sidecar's workload identity dir (its certificate is the caller's). */
  scIdentity: string;
  gw: RunningProxy;
  sc: RunningProxy;
  scPort: number;
  gwConfig(policies: AuthorizationPolicyRule[] | undefined, mtls?: 'STRICT' | 'PERMISSIVE'): ProxyConfig;
  scConfig(tls: UpstreamTls): ProxyConfig;
}

let versions = 0;

async function pair(t: TestContext): Promise<Pair> {
  const dir = tempDir(t, 'outpost-audit-');
  const upstream = await startHttpUpstream({ name: 'httpbin' });
  t.after(() => upstream.close());
  const gwPort = await freePort();
  const scPort = await freePort();
  const gwConfig = (policies: AuthorizationPolicyRule[] | undefined, mtls: 'STRICT' | 'PERMISSIVE' = 'STRICT'): ProxyConfig => {
    const base = proxyConfig({
      role: 'router',
      accessLog: { path: join(dir, 'gw.log'), encoding: 'TEXT', format: GW_FORMAT },
      listeners: [{ ...httpListener('0.0.0.0_8080', gwPort, 'http.8080'), mtls }],
      routeTables: [routeTable('http.8080', [vhost('httpbin.org:80', ['httpbin.org', 'httpbin.org:80'], [forward('outbound|80||httpbin.org')])])],
      clusters: [staticCluster('outbound|80||httpbin.org', [{ address: upstream.address, port: upstream.port }])],
    });
    return { ...base, ...(policies ? { authorization: { policies } } : {}), version: `gw-${++versions}` };
  };
  const scConfig = (tls: UpstreamTls): ProxyConfig => {
    const toGw = staticCluster('outbound|80||egressgw.istio-system.svc.cluster.local', [{ address: '127.0.0.1', port: gwPort }], { protocol: 'HTTP2', tls });
    const base = proxyConfig({
      role: 'sidecar',
      accessLog: { path: join(dir, 'sc.log'), encoding: 'TEXT', format: SC_FORMAT },
      listeners: [httpListener('0.0.0.0_80', scPort, '80')],
      routeTables: [routeTable('80', [vhost('httpbin.org:80', ['httpbin.org', 'httpbin.org:80'], [forward(toGw.name)])])],
      clusters: [toGw],
    });
    return { ...base, version: `sc-${++versions}` };
  };
  const gw = await startProxy(
    t,
    gwConfig(undefined),
    { identityDir: makeWorkloadIdentity({ namespace: 'istio-system', serviceAccount: 'egressgw' }) },
    join(dir, 'gw.log'),
  );
  const scIdentity = makeWorkloadIdentity({ namespace: 'curl', serviceAccount: 'curl' });
  const sc = await startProxy(
    t,
    scConfig({ mode: 'ISTIO_MUTUAL', sni: 'httpbin.org', subjectAltNames: [GW_SAN] }),
    { identityDir: scIdentity },
    join(dir, 'sc.log'),
  );
  return { upstream, gwPort, scIdentity, gw, sc, scPort, gwConfig, scConfig };
}

async function get(p: Pair): Promise<number> {
  const r = await curl(['-o', '/dev/null', '-w', '%{http_code}', '--connect-to', `httpbin.org:80:127.0.0.1:${p.scPort}`, 'http://httpbin.org/get']);
  return Number(r.stdout);
}

function counter(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

const AUDIT_CURL: AuthorizationPolicyRule = {
  name: 'ns[istio-system]-policy[audit-curl]',
  action: 'AUDIT',
  rules: [{ from: [{ principals: ['cluster.local/ns/curl/sa/curl'] }] }],
};
const AUDIT_OTHER: AuthorizationPolicyRule = {
  name: 'ns[istio-system]-policy[audit-batch]',
  action: 'AUDIT',
  rules: [{ from: [{ principals: ['cluster.local/ns/curl/sa/batch'] }] }],
};
const DENY_ALL: AuthorizationPolicyRule = { name: 'ns[istio-system]-policy[deny-all]', action: 'DENY', rules: [{}] };
const ALLOW_NONE: AuthorizationPolicyRule = { name: 'ns[istio-system]-policy[allow-none]', action: 'ALLOW', rules: [] };

test('AUDIT: a matched policy marks the log line and counts, and never changes the decision', async (t) => {
  const p = await pair(t);
  const table: Array<{ name: string; policies: AuthorizationPolicyRule[]; status: number; details: string; hint: string; policy: string; logged: number }> = [
    {
      name: 'AUDIT matches, nothing else',
      policies: [AUDIT_CURL],
      status: 200,
      details: 'via_upstream',
      hint: 'true',
      policy: 'ns[istio-system]-policy[audit-curl]-rule[0]',
      logged: 1,
    },
    { name: 'AUDIT for someone else', policies: [AUDIT_OTHER], status: 200, details: 'via_upstream', hint: '-', policy: '-', logged: 0 },
    {
      name: 'AUDIT and a DENY both match: denied, still audited',
      policies: [AUDIT_CURL, DENY_ALL],
      status: 403,
      details: 'rbac_access_denied_matched_policy[ns[istio-system]-policy[deny-all]-rule[0]]',
      hint: 'true',
      policy: 'ns[istio-system]-policy[audit-curl]-rule[0]',
      logged: 1,
    },
    {
      name: 'AUDIT does not count as an ALLOW',
      policies: [AUDIT_CURL, ALLOW_NONE],
      status: 403,
      details: 'rbac_access_denied_matched_policy[none]',
      hint: 'true',
      policy: 'ns[istio-system]-policy[audit-curl]-rule[0]',
      logged: 1,
    },
  ];
  let seen = 0;
  for (const c of table) {
    await p.gw.proxy.apply(p.gwConfig(c.policies));
    const before = counter(await p.gw.proxy.prometheus(), 'envoy_http_rbac_logged');
    assert.equal(await get(p), c.status, c.name);
    const lines = await p.gw.logLines(seen + 1);
    const line = lines[seen++]!;
    assert.equal(line, `${c.status} ${c.details} ${c.hint} ${c.policy} spiffe://cluster.local/ns/curl/sa/curl`, c.name);
    assert.equal(counter(await p.gw.proxy.prometheus(), 'envoy_http_rbac_logged'), before + c.logged, `${c.name}: envoy_http_rbac_logged`);
  }
});

test('the sidecar checks the gateway identity against the expected SANs: a wrong one fails the handshake (UF, TLS failure reason)', async (t) => {
  const p = await pair(t);
  const table: Array<{ name: string; tls: UpstreamTls; status: number; flags: string }> = [
    {
      name: 'DestinationRule ISTIO_MUTUAL, the gateway account',
      tls: { mode: 'ISTIO_MUTUAL', sni: 'httpbin.org', subjectAltNames: [GW_SAN] },
      status: 200,
      flags: '-',
    },
    {
      name: 'DestinationRule ISTIO_MUTUAL, another account expected',
      tls: { mode: 'ISTIO_MUTUAL', sni: 'httpbin.org', subjectAltNames: ['spiffe://cluster.local/ns/istio-system/sa/other'] },
      status: 503,
      flags: 'UF',
    },
    {
      name: 'auto mTLS, the gateway account',
      tls: { mode: 'ISTIO_MUTUAL', auto: true, sni: 'outbound_.80_._.egressgw.istio-system.svc.cluster.local', subjectAltNames: [GW_SAN] },
      status: 200,
      flags: '-',
    },
    {
      name: 'auto mTLS, another trust domain expected',
      tls: {
        mode: 'ISTIO_MUTUAL',
        auto: true,
        sni: 'outbound_.80_._.egressgw.istio-system.svc.cluster.local',
        subjectAltNames: ['spiffe://corp.example/ns/istio-system/sa/egressgw'],
      },
      status: 503,
      flags: 'UF',
    },
  ];
  let seen = 0;
  for (const c of table) {
    await p.sc.proxy.apply(p.scConfig(c.tls));
    assert.equal(await get(p), c.status, c.name);
    const line = (await p.sc.logLines(seen + 1))[seen++]!;
    assert.ok(line.startsWith(`${c.status} ${c.flags} outbound|80||egressgw.istio-system.svc.cluster.local `), `${c.name}: ${line}`);
    if (c.status === 503) assert.match(line, /"TLS_error:.*CERTIFICATE_VERIFY_FAILED:ERR_TLS_CERT_ALTNAME_INVALID:TLS_error_end"$/, c.name);
    else assert.ok(line.endsWith(' "-"'), `${c.name}: ${line}`);
  }
  const m = await p.sc.proxy.prometheus();
  assert.match(
    m,
    /istio_requests_total\{[^}]*destination_service_name="egressgw.istio-system.svc.cluster.local"[^}]*response_flags="UF"[^}]*response_code="503"[^}]*\} 2/,
  );
});

test("X-Forwarded-Client-Cert at the gateway (SANITIZE_SET, as Istio): the caller's certificate details replace what a client sent; no mTLS, no XFCC", async (t) => {
  const p = await pair(t);
  const forged = ['-H', 'x-forwarded-client-cert: By=spiffe://cluster.local/ns/istio-system/sa/egressgw;URI=spiffe://cluster.local/ns/prod/sa/admin'];
  const leaf = new X509Certificate(readFileSync(join(p.scIdentity, 'cert-chain.pem')));
  const pem = `-----BEGIN CERTIFICATE-----\n${leaf.raw
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
  const expected = `By=${GW_SAN};Hash=${createHash('sha256').update(leaf.raw).digest('hex')};Cert="${encodeURIComponent(pem)}";Subject="O=cluster.local";URI=spiffe://cluster.local/ns/curl/sa/curl`;
  // Through the sidecar: mesh mTLS to the gateway.
  const viaMesh = await curl([
    '-o',
    '/dev/null',
    '-w',
    '%{http_code}',
    ...forged,
    '--connect-to',
    `httpbin.org:80:127.0.0.1:${p.scPort}`,
    'http://httpbin.org/get',
  ]);
  assert.equal(viaMesh.stdout, '200', viaMesh.stderr);
  assert.equal(p.upstream.requests[0]!.headers['x-forwarded-client-cert'], expected);
  // Plaintext straight to the gateway (PERMISSIVE): the forged header is dropped, nothing is set.
  await p.gw.proxy.apply(p.gwConfig(undefined, 'PERMISSIVE'));
  const plain = await curl([
    '-o',
    '/dev/null',
    '-w',
    '%{http_code}',
    ...forged,
    '--connect-to',
    `httpbin.org:80:127.0.0.1:${p.gwPort}`,
    'http://httpbin.org/get',
  ]);
  assert.equal(plain.stdout, '200', plain.stderr);
  assert.equal(p.upstream.requests[1]!.headers['x-forwarded-client-cert'], undefined);
  const lines = await p.gw.logLines(2);
  assert.deepEqual(
    lines.map((l) => l.split(' ')[0]),
    ['200', '200'],
  );
  assert.ok(lines[0]!.endsWith(' spiffe://cluster.local/ns/curl/sa/curl') && lines[1]!.endsWith(' -'), lines.join('\n'));
});
