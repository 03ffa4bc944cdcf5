// Mesh mTLS between real proxies with real certificates (sidecar → gateway over ISTIO_MUTUAL, HTTP/2
// with ALPN h2) and AuthorizationPolicy enforced at the gateway: a table of identity and policy cases,
// each checked by curl's status, the gateway's access-log line and its metrics.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { startHttpUpstream, startTlsEcho, type HttpUpstream } from '../../helpers/upstreams.js';
import { makeWorkloadIdentity, testCerts } from '../../helpers/certs.js';
import { startProxy, tempDir, freePort, curl, type RunningProxy } from '../../helpers/proxy-harness.js';
import { proxyConfig, httpListener, routeTable, vhost, forward, staticCluster, tlsListener, sniChain } from '../../helpers/proxyconfig.js';
import type { AuthorizationPolicyRule, Cluster, Listener, ProxyConfig } from '../../../src/proxyconfig/types.js';

/** The gateway's access-log format: Istio's fields that matter here plus the caller's identity. */
const GW_FORMAT =
  '%RESPONSE_CODE% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% %REQ(:METHOD)% %REQ(:PATH)% %REQ(:AUTHORITY)% %PROTOCOL% %REQUESTED_SERVER_NAME% %DOWNSTREAM_PEER_URI_SAN%\n';
const GW_SAN = 'spiffe://cluster.local/ns/istio-system/sa/egressgw';

interface Mesh {
  gw: RunningProxy;
  gwPort: number;
  tlsPort: number;
  gwLog: string;
  upstream: HttpUpstream;
  tlsUpstreamPort: number;
  gwConfig(policies: AuthorizationPolicyRule[] | undefined): ProxyConfig;
  /** Sidecars by caller name: their plain HTTP listener port. */
  sidecars: Map<string, number>;
}

const CALLERS: Record<string, { ns: string; sa: string }> = {
  curl: { ns: 'curl', sa: 'curl' },
  otherSa: { ns: 'curl', sa: 'batch' },
  otherNs: { ns: 'apps', sa: 'curl' },
};

let logLinesSeen = 0;

async function buildMesh(t: TestContext): Promise<Mesh> {
  logLinesSeen = 0;
  const dir = tempDir(t, 'outpost-mtls-');
  const gwLog = join(dir, 'gw.log');
  const upstream = await startHttpUpstream({ name: 'httpbin' });
  t.after(() => upstream.close());
  const c = testCerts();
  const tlsUp = await startTlsEcho({ cert: c.serverCertPem, key: c.serverKeyPem });
  t.after(() => tlsUp.close());
  const gwPort = await freePort();
  const tlsPort = await freePort();
  const gwIdentity = makeWorkloadIdentity({ namespace: 'istio-system', serviceAccount: 'egressgw' });
  const gwConfig = (policies: AuthorizationPolicyRule[] | undefined): ProxyConfig => {
    const listeners: Listener[] = [
      { ...httpListener('0.0.0.0_8080', gwPort, 'http.8080'), mtls: 'PERMISSIVE' },
      tlsListener('0.0.0.0_8443', tlsPort, [sniChain(['httpbin.org'], 'outbound|443||httpbin.org')]),
    ];
    const base = proxyConfig({
      role: 'router',
      accessLog: { path: gwLog, encoding: 'TEXT', format: GW_FORMAT },
      listeners,
      routeTables: [routeTable('http.8080', [vhost('httpbin.org:80', ['httpbin.org', 'httpbin.org:80'], [forward('outbound|80||httpbin.org')])])],
      clusters: [
        staticCluster('outbound|80||httpbin.org', [{ address: upstream.address, port: upstream.port }]),
        staticCluster('outbound|443||httpbin.org', [{ address: '127.0.0.1', port: tlsUp.port }], { protocol: 'TCP' }),
      ],
    });
    const cfg = policies === undefined ? base : { ...base, authorization: { policies } };
    return { ...cfg, version: `${base.version}-${JSON.stringify(policies ?? null).length}-${Math.random().toString(36).slice(2, 8)}` };
  };
  const gw = await startProxy(t, gwConfig(undefined), { identityDir: gwIdentity }, gwLog);
  const sidecars = new Map<string, number>();
  for (const [name, who] of Object.entries(CALLERS)) {
    const port = await freePort();
    const toGateway: Cluster = staticCluster('outbound|80|httpbin|egressgw.istio-system.svc.cluster.local', [{ address: '127.0.0.1', port: gwPort }], {
      protocol: 'HTTP2',
      tls: { mode: 'ISTIO_MUTUAL', sni: 'httpbin.org', subjectAltNames: [GW_SAN] },
    });
    const cfg = proxyConfig({
      role: 'sidecar',
      listeners: [httpListener('0.0.0.0_80', port, '80')],
      routeTables: [routeTable('80', [vhost('httpbin.org:80', ['httpbin.org', 'httpbin.org:80'], [forward(toGateway.name)])])],
      clusters: [toGateway],
    });
    await startProxy(t, cfg, { identityDir: makeWorkloadIdentity({ namespace: who.ns, serviceAccount: who.sa }) });
    sidecars.set(name, port);
  }
  return { gw, gwPort, tlsPort, gwLog, upstream, tlsUpstreamPort: tlsUp.port, gwConfig, sidecars };
}

async function call(m: Mesh, caller: string, path = '/get', method = 'GET', headers: string[] = []): Promise<{ status: number; body: string }> {
  const port = m.sidecars.get(caller)!;
  const r = await curl([
    '-o',
    '-',
    '-w',
    '\n%{http_code}',
    '-X',
    method,
    ...headers.flatMap((h) => ['-H', h]),
    '--connect-to',
    `httpbin.org:80:127.0.0.1:${port}`,
    `http://httpbin.org${path}`,
  ]);
  const i = r.stdout.lastIndexOf('\n');
  return { status: Number(r.stdout.slice(i + 1)), body: r.stdout.slice(0, i) };
}

/** The gateway's next access-log line (lines are consumed in order across the test). */
async function nextLine(m: Mesh): Promise<string> {
  const lines = await m.gw.logLines(logLinesSeen + 1);
  assert.ok(lines.length > logLinesSeen, 'gateway logged the request');
  return lines[logLinesSeen++]!;
}

async function metrics(m: Mesh): Promise<string> {
  return m.gw.proxy.prometheus();
}

function counter(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

const ALLOW_CURL_ONLY: AuthorizationPolicyRule = {
  name: 'ns[istio-system]-policy[allow-curl]',
  action: 'ALLOW',
  rules: [{ from: [{ principals: ['cluster.local/ns/curl/sa/curl'] }] }],
};

test('sidecar → gateway over ISTIO_MUTUAL: HTTP/2 over TLS (ALPN h2), the caller in the log and the metrics', async (t) => {
  const m = await buildMesh(t);
  const r = await call(m, 'curl');
  assert.equal(r.status, 200);
  const line = await nextLine(m);
  assert.equal(line, `200 via_upstream - GET /get httpbin.org HTTP/2 httpbin.org spiffe://cluster.local/ns/curl/sa/curl`);
  const text = await metrics(m);
  assert.match(
    text,
    /istio_requests_total\{[^}]*source_principal="spiffe:\/\/cluster.local\/ns\/curl\/sa\/curl"[^}]*connection_security_policy="mutual_tls",response_code="200"[^}]*\} 1/,
  );
  // The upstream got the request the gateway forwarded.
  assert.equal(m.upstream.requests.at(-1)?.url, '/get');

  // A plaintext client still reaches a PERMISSIVE listener, without an identity.
  const plain = await curl(['-o', '/dev/null', '-w', '%{http_code}', '--connect-to', `httpbin.org:80:127.0.0.1:${m.gwPort}`, 'http://httpbin.org/plain']);
  assert.equal(plain.stdout, '200');
  assert.equal(await nextLine(m), '200 via_upstream - GET /plain httpbin.org HTTP/1.1 - -');

  // A client with a certificate from another root fails the handshake: no request is served.
  const foreign = makeWorkloadIdentity({ namespace: 'curl', serviceAccount: 'curl', foreignRoot: true });
  const s = tls.connect({
    host: '127.0.0.1',
    port: m.gwPort,
    servername: 'httpbin.org',
    rejectUnauthorized: false,
    cert: readFileSync(join(foreign, 'cert-chain.pem')),
    key: readFileSync(join(foreign, 'key.pem')),
  });
  s.on('error', () => {});
  const outcome = await new Promise<string>((resolve) => {
    s.once('secureConnect', () => {
      s.write('GET / HTTP/1.1\r\nhost: httpbin.org\r\n\r\n');
    });
    s.once('data', (d) => resolve(`data ${String(d).split('\r\n')[0]}`));
    s.once('close', () => resolve('closed'));
  });
  assert.equal(outcome, 'closed');

  // STRICT: plaintext is refused, mTLS still works.
  await m.gw.proxy.apply({
    ...m.gwConfig(undefined),
    listeners: m.gwConfig(undefined).listeners.map((l) => (l.name === '0.0.0.0_8080' ? { ...l, mtls: 'STRICT' as const } : l)),
  });
  const refused = await curl(['-o', '/dev/null', '-w', '%{http_code}', '--connect-to', `httpbin.org:80:127.0.0.1:${m.gwPort}`, 'http://httpbin.org/plain']);
  assert.notEqual(refused.exitCode, 0);
  assert.equal((await call(m, 'otherNs')).status, 200);
  assert.match(await nextLine(m), /^200 via_upstream .* spiffe:\/\/cluster.local\/ns\/apps\/sa\/curl$/);
});

interface Case {
  readonly name: string;
  readonly policies: AuthorizationPolicyRule[];
  readonly caller: string;
  readonly path?: string;
  readonly method?: string;
  readonly headers?: string[];
  readonly status: number;
  /** RESPONSE_CODE_DETAILS expected in the gateway's line. */
  readonly details: string;
  /** RBAC counter that must go up by one. */
  readonly counterName: string;
}

const DENY_POST: AuthorizationPolicyRule = {
  name: 'ns[istio-system]-policy[no-post]',
  action: 'DENY',
  rules: [{ to: [{ methods: ['POST'] }] }],
};

const CASES: Case[] = [
  { name: 'allowed by principal', policies: [ALLOW_CURL_ONLY], caller: 'curl', status: 200, details: 'via_upstream', counterName: 'envoy_http_rbac_allowed' },
  {
    name: 'denied by principal (other service account)',
    policies: [ALLOW_CURL_ONLY],
    caller: 'otherSa',
    status: 403,
    details: 'rbac_access_denied_matched_policy[none]',
    counterName: 'envoy_http_rbac_denied',
  },
  {
    name: 'denied by principal (other namespace)',
    policies: [ALLOW_CURL_ONLY],
    caller: 'otherNs',
    status: 403,
    details: 'rbac_access_denied_matched_policy[none]',
    counterName: 'envoy_http_rbac_denied',
  },
  {
    name: 'allowed by namespace',
    caller: 'otherSa',
    status: 200,
    details: 'via_upstream',
    counterName: 'envoy_http_rbac_allowed',
    policies: [{ name: 'ns[istio-system]-policy[ns-curl]', action: 'ALLOW', rules: [{ from: [{ namespaces: ['curl'] }] }] }],
  },
  {
    name: 'denied by notNamespaces',
    caller: 'otherNs',
    status: 403,
    details: 'rbac_access_denied_matched_policy[ns[istio-system]-policy[not-curl]-rule[0]]',
    counterName: 'envoy_http_rbac_denied',
    policies: [{ name: 'ns[istio-system]-policy[not-curl]', action: 'DENY', rules: [{ from: [{ notNamespaces: ['curl'] }] }] }],
  },
  {
    name: 'allowed by host and port',
    caller: 'curl',
    status: 200,
    details: 'via_upstream',
    counterName: 'envoy_http_rbac_allowed',
    policies: [{ name: 'ns[istio-system]-policy[hosts]', action: 'ALLOW', rules: [{ to: [{ hosts: ['HTTPBIN.org'], ports: ['PORT'] }] }] }],
  },
  {
    name: 'denied by host',
    caller: 'curl',
    status: 403,
    details: 'rbac_access_denied_matched_policy[none]',
    counterName: 'envoy_http_rbac_denied',
    policies: [{ name: 'ns[istio-system]-policy[hosts]', action: 'ALLOW', rules: [{ to: [{ hosts: ['*.example.com'] }] }] }],
  },
  {
    name: 'denied by port',
    caller: 'curl',
    status: 403,
    details: 'rbac_access_denied_matched_policy[none]',
    counterName: 'envoy_http_rbac_denied',
    policies: [{ name: 'ns[istio-system]-policy[ports]', action: 'ALLOW', rules: [{ to: [{ ports: ['9999'] }] }] }],
  },
  {
    name: 'denied by method (DENY POST)',
    caller: 'curl',
    method: 'POST',
    status: 403,
    details: 'rbac_access_denied_matched_policy[ns[istio-system]-policy[no-post]-rule[0]]',
    counterName: 'envoy_http_rbac_denied',
    policies: [DENY_POST],
  },
  {
    name: 'GET passes the DENY POST policy',
    caller: 'curl',
    status: 200,
    details: 'via_upstream',
    counterName: 'envoy_http_rbac_allowed',
    policies: [DENY_POST],
  },
  {
    name: 'allowed by path prefix',
    caller: 'curl',
    path: '/status/200?x=1',
    status: 200,
    details: 'via_upstream',
    counterName: 'envoy_http_rbac_allowed',
    policies: [{ name: 'ns[istio-system]-policy[paths]', action: 'ALLOW', rules: [{ to: [{ paths: ['/status/*'] }] }] }],
  },
  {
    name: 'denied by notPaths',
    caller: 'curl',
    path: '/admin',
    status: 403,
    details: 'rbac_access_denied_matched_policy[none]',
    counterName: 'envoy_http_rbac_denied',
    policies: [{ name: 'ns[istio-system]-policy[paths]', action: 'ALLOW', rules: [{ to: [{ notPaths: ['/admin*'] }] }] }],
  },
  {
    name: 'DENY wins over a matching ALLOW',
    caller: 'curl',
    status: 403,
    details: 'rbac_access_denied_matched_policy[ns[istio-system]-policy[deny-curl]-rule[0]]',
    counterName: 'envoy_http_rbac_denied',
    policies: [ALLOW_CURL_ONLY, { name: 'ns[istio-system]-policy[deny-curl]', action: 'DENY', rules: [{ from: [{ principals: ['*/sa/curl'] }] }] }],
  },
  {
    name: 'AUDIT only logs: the request goes through',
    caller: 'otherSa',
    status: 200,
    details: 'via_upstream',
    counterName: 'envoy_http_rbac_logged',
    policies: [{ name: 'ns[istio-system]-policy[audit-all]', action: 'AUDIT', rules: [{}] }],
  },
  {
    name: 'when request.headers and source.principal',
    caller: 'curl',
    headers: ['x-team: a'],
    status: 403,
    details: 'rbac_access_denied_matched_policy[ns[istio-system]-policy[hdr]-rule[0]]',
    counterName: 'envoy_http_rbac_denied',
    policies: [
      {
        name: 'ns[istio-system]-policy[hdr]',
        action: 'DENY',
        rules: [
          {
            when: [
              { key: 'request.headers[X-Team]', values: ['a'] },
              { key: 'source.principal', values: ['cluster.local/ns/curl/*'] },
            ],
          },
        ],
      },
    ],
  },
  {
    name: 'when connection.sni (the DestinationRule sni)',
    caller: 'curl',
    status: 200,
    details: 'via_upstream',
    counterName: 'envoy_http_rbac_allowed',
    policies: [
      {
        name: 'ns[istio-system]-policy[sni]',
        action: 'ALLOW',
        rules: [
          {
            when: [
              { key: 'connection.sni', values: ['httpbin.org'] },
              { key: 'source.namespace', values: ['curl'] },
            ],
          },
        ],
      },
    ],
  },
  {
    name: 'an ALLOW policy with no rules denies everything',
    caller: 'curl',
    status: 403,
    details: 'rbac_access_denied_matched_policy[none]',
    counterName: 'envoy_http_rbac_denied',
    policies: [{ name: 'ns[istio-system]-policy[deny-all]', action: 'ALLOW', rules: [] }],
  },
];

test('AuthorizationPolicy at the gateway: a table of identity and policy cases (status, access-log line, metric)', async (t) => {
  const m = await buildMesh(t);
  for (const c of CASES) {
    // `PORT` stands for the gateway listener's port (the destination port a policy sees).
    const policies = JSON.parse(JSON.stringify(c.policies).replaceAll('"PORT"', `"${m.gwPort}"`)) as AuthorizationPolicyRule[];
    await m.gw.proxy.apply(m.gwConfig(policies));
    const before = counter(await metrics(m), c.counterName);
    const r = await call(m, c.caller, c.path, c.method, c.headers);
    assert.equal(r.status, c.status, `${c.name}: status`);
    if (c.status === 403) assert.equal(r.body, 'RBAC: access denied', `${c.name}: body`);
    const who = CALLERS[c.caller]!;
    const line = await nextLine(m);
    const [code, details] = line.split(' ');
    assert.equal(code, String(c.status), `${c.name}: logged status (${line})`);
    assert.equal(details, c.details, `${c.name}: logged details (${line})`);
    assert.ok(line.endsWith(` spiffe://cluster.local/ns/${who.ns}/sa/${who.sa}`), `${c.name}: logged caller (${line})`);
    const text = await metrics(m);
    assert.equal(counter(text, c.counterName), before + 1, `${c.name}: ${c.counterName}`);
    assert.match(
      text,
      new RegExp(`istio_requests_total\\{[^}]*source_principal="spiffe://cluster.local/ns/${who.ns}/sa/${who.sa}"[^}]*response_code="${c.status}"`),
      `${c.name}: istio_requests_total`,
    );
  }
});

test('AuthorizationPolicy on a TLS passthrough listener: connection.sni and ports decide per connection', async (t) => {
  const m = await buildMesh(t);
  const hello = (sni: string) =>
    new Promise<string>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port: m.tlsPort, servername: sni, ca: testCerts().caPem });
      s.on('error', () => resolve('closed'));
      s.once('secureConnect', () => {
        s.write('ping\n');
      });
      s.once('data', (d) => {
        resolve(`echo ${String(d).trim()}`);
        s.destroy();
      });
      s.once('close', () => resolve('closed'));
    });
  const denySni: AuthorizationPolicyRule = {
    name: 'ns[istio-system]-policy[sni]',
    action: 'ALLOW',
    rules: [{ when: [{ key: 'connection.sni', values: ['*.example.com'] }] }],
  };
  await m.gw.proxy.apply(m.gwConfig([denySni]));
  const before = counter(await metrics(m), 'envoy_tcp_rbac_denied');
  assert.equal(await hello('httpbin.org'), 'closed');
  const line = await nextLine(m);
  assert.equal(line, '0 rbac_access_denied_matched_policy[none] rbac_access_denied_matched_policy[none] - - - - httpbin.org -');
  assert.equal(counter(await metrics(m), 'envoy_tcp_rbac_denied'), before + 1);

  const allowSni: AuthorizationPolicyRule = {
    name: 'ns[istio-system]-policy[sni]',
    action: 'ALLOW',
    rules: [{ when: [{ key: 'connection.sni', values: ['httpbin.org'] }], to: [{ ports: [String(m.tlsPort)] }] }],
  };
  await m.gw.proxy.apply(m.gwConfig([allowSni]));
  assert.match(await hello('httpbin.org'), /^echo /);
  assert.match(await nextLine(m), /^0 - - - - - - httpbin.org -$/);
  // An HTTP-only field in a DENY rule matches any TCP connection (Istio's rule for TCP).
  const denyMethods: AuthorizationPolicyRule = { name: 'ns[istio-system]-policy[no-get]', action: 'DENY', rules: [{ to: [{ methods: ['GET'] }] }] };
  await m.gw.proxy.apply(m.gwConfig([denyMethods]));
  assert.equal(await hello('httpbin.org'), 'closed');
  assert.match(await nextLine(m), /rbac_access_denied_matched_policy\[ns\[istio-system\]-policy\[no-get\]-rule\[0\]\]/);
  void net;
});
