// The bypass table (README "Bypass attempts"): ways an app in the seed's curl pod might get out
// without the egress gateway, each tried without NetworkPolicies (what Kubernetes with Istio's
// capture gives) and under the OpenShift-style egress policies (default-deny egress in curl; allow
// DNS, istio-system and the gateway's namespace; the gateway's namespace may reach the outside), in
// both outboundTrafficPolicy modes — while the seed's request still leaves through the gateway and
// is logged there. All inside a network namespace the test makes; the outside is two addresses on a
// veth pair there: httpbin.org's stand-in and an unregistered host (HTTP on 80 and 7777, UDP 9999,
// a DNS server on 53 that answers every name with 192.0.2.66).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EXAMPLE_DIR } from '../../../src/runtime/example.js';
import { istioResource, outboundPolicy } from '../../helpers/istio-resource.js';
import { eventually, type RunResult } from '../../helpers/mesh.js';
import { netnsSkipReason, startNetnsMesh, startNetnsScript, type TestNetns } from '../../helpers/netns.js';
import {
  environmentOf,
  OPENSHIFT_EGRESS_POLICIES,
  OPENSHIFT_EGRESS_POLICY_NAMES,
  podOf,
  policyEnforced,
  processesIn,
  RESOLVE_VIA,
  UDP_SEND,
  deploymentYaml,
  type TestPod,
} from '../../helpers/pods.js';

const skip = netnsSkipReason();
const NODE = process.execPath;
/** httpbin.org's stand-in (startNetnsExternal's default) and the unregistered outside. */
const HTTPBIN = '203.0.113.10';
const OTHER = '203.0.113.20';
const UNLISTED = 'unlisted.example.net';
const NO_PROXY_ENV = 'env -u http_proxy -u HTTP_PROXY -u https_proxy -u HTTPS_PROXY';

type Mode = 'ALLOW_ANY' | 'REGISTRY_ONLY';
type Column = 'without' | 'with';
/** One expected outcome, or one per outboundTrafficPolicy mode. */
type Outcome = string | Record<Mode, string>;

/** What a row's attempt needs: the pods, and the mesh's addresses. */
interface Ctx {
  curl: TestPod;
  gw: TestPod;
  /** Another injected pod (namespace apps). */
  other: TestPod;
  api: string;
  control: string;
  nodeAddress: string;
  distributionPort: string;
  /** Runs `sh -c CMD` in the curl pod (`outpost exec`, with the sidecar as http_proxy). */
  sh(cmd: string): Promise<RunResult>;
  /** The same context, its commands run with exactly the environment the pod's app container has (env -i). */
  withPodEnv: Ctx;
}

/** What an attempt printed: its result, and the client's local port (to find the sidecar's log line). */
interface Tried {
  result: string;
  port?: number;
}

interface BypassRow {
  /** As the README's table says it. */
  attempt: string;
  run(c: Ctx, marker: string): Promise<Tried>;
  without: Outcome;
  with: Outcome;
}

const sq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** curl with its exit code, HTTP status and local port on stdout. */
async function curl(c: Ctx, args: string): Promise<Tried> {
  const r = await c.sh(`curl -s -o /dev/null -w '%{http_code} %{local_port}' --max-time 5 ${args}; echo " $?"`);
  const [http, port, exit] = r.stdout.trim().split(' ');
  return { result: `curl exit ${exit}, HTTP ${http}`, ...(Number(port) > 0 ? { port: Number(port) } : {}) };
}

/** A raw TCP connection that sends an HTTP request line: prints its local port and what came back. */
async function rawTcp(c: Ctx, host: string, port: number, marker: string): Promise<Tried> {
  const js = `const c = require('net').connect(${port}, '${host}'); let got = '';
    c.setTimeout(5000, () => { console.log('timeout'); process.exit(0); });
    c.on('connect', () => { console.log('port ' + c.localPort); c.write('GET /${marker} HTTP/1.1\\r\\nHost: ${host}\\r\\nConnection: close\\r\\n\\r\\n'); });
    c.on('data', (b) => (got += b));
    c.on('end', () => console.log(got ? 'reply ' + got.split('\\r\\n')[0] : 'closed without a reply'));
    c.on('error', (e) => console.log(e.code));`;
  return node(c, js, 'tcp');
}

/**
 * CONNECT through the sidecar (its address from http_proxy) to `target`: prints the reply's status
 * line and, through a tunnel, the status line of a GET sent in it.
 */
async function connectVia(c: Ctx, target: string, marker: string): Promise<Tried> {
  const js = `const p = new URL(process.env.http_proxy); const c = require('net').connect(Number(p.port), p.hostname); let got = ''; let replied = false; let tunnel = false;
    c.setTimeout(5000, () => { console.log('timeout'); process.exit(0); });
    c.on('connect', () => { console.log('port ' + c.localPort); c.write('CONNECT ${target} HTTP/1.1\\r\\nHost: ${target}\\r\\n\\r\\n'); });
    c.on('data', (b) => {
      got += b;
      if (!replied && got.includes('\\r\\n\\r\\n')) {
        const status = got.split('\\r\\n')[0]; got = ''; replied = true;
        console.log('reply ' + status);
        tunnel = status.includes(' 200 ');
        if (tunnel) c.write('GET /${marker} HTTP/1.1\\r\\nHost: ${target}\\r\\nConnection: close\\r\\n\\r\\n');
      }
    });
    c.on('end', () => console.log(tunnel && got ? 'in the tunnel ' + got.split('\\r\\n')[0] : 'closed'));
    c.on('error', (e) => console.log(e.code));`;
  return node(c, js, 'CONNECT');
}

/** A TLS handshake as a client without a certificate, sending nothing: prints how it ends. */
async function tlsHello(c: Ctx, host: string, port: string): Promise<Tried> {
  const js = `const c = require('tls').connect({ host: '${host}', port: ${port}, rejectUnauthorized: false, ALPNProtocols: ['h2'] });
    c.setTimeout(5000, () => { console.log('timeout'); process.exit(0); });
    c.on('connect', () => console.log('port ' + c.localPort));
    c.on('data', () => { console.log('answered'); c.destroy(); });
    c.on('end', () => console.log('closed'));
    c.on('error', (e) => { console.log(e.code); process.exit(0); });`;
  return node(c, js, 'tls');
}

/** Runs a Node script in the pod; its `port N` line is the client's local port, the rest is the result. */
async function node(c: Ctx, js: string, what: string): Promise<Tried> {
  const out = (await c.sh(`${NODE} -e ${sq(js)}`)).stdout.trim().split('\n');
  const local = out.find((l) => l.startsWith('port '));
  return { result: `${what} ${out.filter((l) => !l.startsWith('port ')).join(', ')}`, ...(local ? { port: Number(local.slice(5)) } : {}) };
}

const BLACKHOLE = 'curl exit 0, HTTP 502; nothing reached the outside; sidecar: 502 - direct_response block_all';
const CONNECT_BLACKHOLE =
  'CONNECT reply HTTP/1.1 503 Service Unavailable, closed; nothing reached the outside; sidecar: 503 UH no_healthy_upstream BlackHoleCluster';
const SSRF = 'curl exit 0, HTTP 403; nothing reached the outside; sidecar: 403 SSRF ssrf_guard_denied{proxy_admin} PassthroughCluster';

/** What a request to an unregistered host gets, through capture, with or without http_proxy in the environment. */
const UNREGISTERED_HOST: Pick<BypassRow, 'without' | 'with'> = {
  without: {
    ALLOW_ANY: 'curl exit 0, HTTP 200; reached it from the pod; sidecar: 200 - via_upstream PassthroughCluster',
    REGISTRY_ONLY: BLACKHOLE,
  },
  with: {
    ALLOW_ANY:
      'curl exit 0, HTTP 503; nothing reached the outside; sidecar: 503 UF upstream_reset_before_response_started{connection_failure} PassthroughCluster',
    REGISTRY_ONLY: BLACKHOLE,
  },
};

const ROWS: BypassRow[] = [
  {
    attempt: "`curl --noproxy '*'` to an unregistered host",
    run: (c, m) => curl(c, `--noproxy '*' http://${UNLISTED}/${m}`),
    ...UNREGISTERED_HOST,
  },
  {
    attempt: '`env -u http_proxy -u HTTP_PROXY curl` to an unregistered host',
    run: (c, m) => curl({ ...c, sh: (cmd) => c.sh(`${NO_PROXY_ENV} sh -c ${sq(cmd)}`) }, `http://${UNLISTED}/${m}`),
    ...UNREGISTERED_HOST,
  },
  {
    attempt: 'a raw TCP socket to an external address, unregistered port',
    run: (c, m) => rawTcp(c, OTHER, 7777, m),
    without: {
      ALLOW_ANY: 'tcp reply HTTP/1.1 200 OK; reached it from the pod',
      REGISTRY_ONLY: 'tcp reply HTTP/1.1 502 Bad Gateway; nothing reached the outside; sidecar: 502 - direct_response block_all',
    },
    with: {
      ALLOW_ANY: 'tcp ECONNREFUSED; nothing reached the outside',
      REGISTRY_ONLY: 'tcp reply HTTP/1.1 502 Bad Gateway; nothing reached the outside; sidecar: 502 - direct_response block_all',
    },
  },
  {
    attempt: 'UDP to an external address',
    run: async (c, m) => ({ result: (await c.sh(UDP_SEND(OTHER, 9999, m).map(sq).join(' '))).stdout.trim() }),
    without: 'udp sent; reached it from the pod',
    with: 'udp EPERM; nothing reached the outside',
  },
  {
    attempt: "a DNS query to a resolver other than the sidecar's",
    run: async (c) => {
      const out = (await c.sh(RESOLVE_VIA(OTHER, 'httpbin.org').map(sq).join(' '))).stdout.trim();
      return { result: out.replace(/\b240\.240\.\d+\.\d+\b/g, 'a VIP of 240.240.0.0/16') };
    },
    without: 'answer a VIP of 240.240.0.0/16; nothing reached the outside',
    with: 'answer a VIP of 240.240.0.0/16; nothing reached the outside',
  },
  {
    attempt: "another pod's admin port (15000)",
    run: (c) => curl(c, `--noproxy '*' http://${c.other.ip}:15000/config_dump`),
    without: { ALLOW_ANY: 'curl exit 7, HTTP 000; nothing reached the outside', REGISTRY_ONLY: BLACKHOLE },
    with: { ALLOW_ANY: 'curl exit 7, HTTP 000; nothing reached the outside', REGISTRY_ONLY: BLACKHOLE },
  },
  {
    attempt: "the gateway's admin port (15000)",
    run: (c) => curl(c, `--noproxy '*' http://${c.gw.ip}:15000/config_dump`),
    without: { ALLOW_ANY: 'curl exit 7, HTTP 000; nothing reached the outside', REGISTRY_ONLY: BLACKHOLE },
    with: { ALLOW_ANY: 'curl exit 7, HTTP 000; nothing reached the outside', REGISTRY_ONLY: BLACKHOLE },
  },
  {
    attempt: "the pod's own sidecar admin (127.0.0.1:15000): `GET /config_dump`, `POST /logging`",
    run: async (c) => {
      const get = await curl(c, `--noproxy '*' http://127.0.0.1:15000/config_dump`);
      const post = await curl(c, `--noproxy '*' -X POST 'http://127.0.0.1:15000/logging?level=debug'`);
      return { result: `${get.result}; ${post.result}` };
    },
    without: 'curl exit 0, HTTP 200; curl exit 0, HTTP 401; nothing reached the outside',
    with: 'curl exit 0, HTTP 200; curl exit 0, HTTP 401; nothing reached the outside',
  },
  {
    attempt: "the API server with the pod's environment",
    run: (c) => curl(c.withPodEnv, `-k ${c.api}/api/v1/namespaces/istio-system/secrets`),
    without: { ALLOW_ANY: 'curl exit 0, HTTP 401; nothing reached the outside', REGISTRY_ONLY: BLACKHOLE },
    with: { ALLOW_ANY: 'curl exit 7, HTTP 000; nothing reached the outside', REGISTRY_ONLY: BLACKHOLE },
  },
  {
    attempt: "the mesh's control endpoint with the pod's environment",
    run: (c) => curl(c.withPodEnv, `${c.control}/v1/workloads`),
    without: { ALLOW_ANY: 'curl exit 0, HTTP 401; nothing reached the outside', REGISTRY_ONLY: BLACKHOLE },
    with: { ALLOW_ANY: 'curl exit 7, HTTP 000; nothing reached the outside', REGISTRY_ONLY: BLACKHOLE },
  },
  {
    attempt: "config distribution (istiod's port) with the pod's environment",
    run: (c) => tlsHello(c.withPodEnv, c.nodeAddress, c.distributionPort),
    without: {
      ALLOW_ANY: 'tls ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED; nothing reached the outside',
      REGISTRY_ONLY: 'tls ECONNRESET; nothing reached the outside; sidecar: 0 NR - -',
    },
    with: {
      ALLOW_ANY: 'tls ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED; nothing reached the outside',
      REGISTRY_ONLY: 'tls ECONNRESET; nothing reached the outside; sidecar: 0 NR - -',
    },
  },
  {
    attempt: "a request through the sidecar (http_proxy) to the gateway's admin port",
    run: (c) => curl(c, `http://${c.gw.ip}:15000/config_dump`),
    without: { ALLOW_ANY: SSRF, REGISTRY_ONLY: BLACKHOLE },
    with: { ALLOW_ANY: SSRF, REGISTRY_ONLY: BLACKHOLE },
  },
  {
    attempt: 'a request through the sidecar (http_proxy) to its own admin port (127.0.0.1:15000)',
    run: (c) => curl(c, `--noproxy '' -x "$http_proxy" http://127.0.0.1:15000/config_dump`),
    without: { ALLOW_ANY: SSRF, REGISTRY_ONLY: BLACKHOLE },
    with: { ALLOW_ANY: SSRF, REGISTRY_ONLY: BLACKHOLE },
  },
  {
    attempt: 'CONNECT through the sidecar to an external IP',
    run: (c, m) => connectVia(c, `${OTHER}:7777`, m),
    without: {
      ALLOW_ANY: 'CONNECT reply HTTP/1.1 200 Connection established, in the tunnel HTTP/1.1 200 OK; reached it from the pod; sidecar: 0 - - PassthroughCluster',
      REGISTRY_ONLY: CONNECT_BLACKHOLE,
    },
    with: {
      ALLOW_ANY:
        'CONNECT reply HTTP/1.1 503 Service Unavailable, closed; nothing reached the outside; sidecar: 503 UF upstream_reset_before_response_started{connection_failure} PassthroughCluster',
      REGISTRY_ONLY: CONNECT_BLACKHOLE,
    },
  },
  {
    attempt: "CONNECT through the sidecar to the gateway's admin port",
    run: (c) => connectVia(c, `${c.gw.ip}:15000`, 'x'),
    without: {
      ALLOW_ANY:
        'CONNECT reply HTTP/1.1 403 Forbidden, closed; nothing reached the outside; sidecar: 403 SSRF ssrf_guard_denied{proxy_admin} PassthroughCluster',
      REGISTRY_ONLY: CONNECT_BLACKHOLE,
    },
    with: {
      ALLOW_ANY:
        'CONNECT reply HTTP/1.1 403 Forbidden, closed; nothing reached the outside; sidecar: 403 SSRF ssrf_guard_denied{proxy_admin} PassthroughCluster',
      REGISTRY_ONLY: CONNECT_BLACKHOLE,
    },
  },
];

/** The outside's stand-ins on OTHER: what reached them, in order. */
interface Reached {
  kind: 'http' | 'udp' | 'dns';
  url: string;
  from: string;
}

async function startOutside(node: TestNetns, seen: Reached[]): Promise<() => Promise<void>> {
  execFileSync('ip', ['-n', node.name, 'addr', 'add', `${OTHER}/24`, 'dev', 'ext0']);
  const script = `
    const http = require('http'); const dgram = require('dgram');
    const rec = (kind, url, from) => console.log(JSON.stringify({ kind, url, from }));
    let n = 0; const up = () => { if (++n === 4) console.log('ready'); };
    for (const port of [80, 7777]) http.createServer((q, r) => { rec('http', q.url, q.socket.remoteAddress); r.end('reached\\n'); }).listen(port, '${OTHER}', up);
    const u = dgram.createSocket('udp4');
    u.on('message', (m, ri) => rec('udp', String(m), ri.address));
    u.bind(9999, '${OTHER}', up);
    // Any question gets one A record, 192.0.2.66: an answer only this resolver gives.
    const d = dgram.createSocket('udp4');
    d.on('message', (q, ri) => {
      let i = 12; const labels = [];
      while (q[i] !== 0) { labels.push(q.subarray(i + 1, i + 1 + q[i]).toString()); i += q[i] + 1; }
      rec('dns', labels.join('.'), ri.address);
      const head = Buffer.from(q.subarray(0, i + 5));
      head.writeUInt16BE(0x8180, 2); head.writeUInt16BE(1, 6); head.writeUInt16BE(0, 8); head.writeUInt16BE(0, 10);
      d.send(Buffer.concat([head, Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 66])]), ri.port, ri.address);
    });
    d.bind(53, '${OTHER}', up);`;
  const proc = await startNetnsScript(node, script, (l) => seen.push(JSON.parse(l) as Reached), 'the unregistered outside');
  return () => proc.close();
}

interface LogEntry {
  path: string | null;
  response_code: number | null;
  response_flags: string | null;
  response_code_details: string | null;
  upstream_cluster: string | null;
  route_name: string | null;
  downstream_remote_address: string | null;
  start_time: string;
}

const SEED_ROW = "the seed's request (`curl http://httpbin.org/get`), with http_proxy and with capture alone";

const expected = (o: Outcome, mode: Mode): string => (typeof o === 'string' ? o : o[mode]);

test(
  'bypass attempts from the curl pod: as Kubernetes with Istio without policies, blocked under the egress policies',
  { skip, timeout: 900_000 },
  async (t) => {
    const tmp = mkdtempSync(join(tmpdir(), 'outpost-bypass-'));
    t.after(() => rmSync(tmp, { recursive: true, force: true }));
    const hostsFile = join(tmp, 'hosts');
    writeFileSync(hostsFile, `${HTTPBIN} httpbin.org\n${OTHER} ${UNLISTED}\n`);
    const { node, ext, mesh } = await startNetnsMesh(t, { hostsFile });
    const outside: Reached[] = [];
    t.after(await startOutside(node, outside));
    const yaml = join(tmp, 'manifest.yaml');
    writeFileSync(
      yaml,
      `apiVersion: v1
kind: Namespace
metadata: {name: apps, labels: {istio-injection: enabled}}
---
${deploymentYaml('apps', 'other', '      - {name: main, image: ignored, command: [sleep, infinity]}')}`,
    );
    await mesh.ok(['apply', '-f', EXAMPLE_DIR]);
    await mesh.ok(['apply', '-f', yaml]);
    const curlPod = await podOf(mesh, 'curl', 'curl');
    const gw = await podOf(mesh, 'gw-ns', 'egressgw', 'istio');
    const other = await podOf(mesh, 'apps', 'other');

    // What a pod's app container gets: PATH, HOSTNAME, its sidecar as proxy; no credential, nothing of the mesh's.
    const endpoint = JSON.parse(readFileSync(join(mesh.stateDir, 'api.json'), 'utf8')) as { url: string; controlUrl: string; token: string };
    const app = await eventually("the curl pod's app container", async () => processesIn(curlPod.netns, ['/bin/sleep', 'infinity'])[0]);
    const podEnv = environmentOf(app);
    const nodeAddress = new URL(endpoint.url).hostname;
    const sidecar = `http://${curlPod.ip}:15001`;
    const noProxy = `localhost,127.0.0.1,${nodeAddress}`;
    assert.deepEqual(podEnv, {
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      HOSTNAME: curlPod.name,
      http_proxy: sidecar,
      HTTP_PROXY: sidecar,
      https_proxy: sidecar,
      HTTPS_PROXY: sidecar,
      no_proxy: noProxy,
      NO_PROXY: noProxy,
    });
    const sh = (cmd: string): Promise<RunResult> => mesh.outpost(['exec', curlPod.name, '-n', 'curl', '--', 'sh', '-c', cmd]);
    const envArgs = Object.entries(podEnv)
      .map(([k, v]) => sq(`${k}=${v}`))
      .join(' ');
    const base = {
      curl: curlPod,
      gw,
      other,
      api: endpoint.url,
      control: endpoint.controlUrl,
      nodeAddress,
      distributionPort: readFileSync(join(mesh.stateDir, 'distribution-port'), 'utf8').trim(),
    };
    const podEnvCtx: Ctx = { ...base, sh: (cmd) => sh(`env -i ${envArgs} sh -c ${sq(cmd)}`) } as Ctx;
    podEnvCtx.withPodEnv = podEnvCtx;
    const ctx: Ctx = { ...base, sh, withPodEnv: podEnvCtx };

    const sidecarLog = async (): Promise<LogEntry[]> =>
      (await mesh.ok(['logs', `pod/${curlPod.name}`, '-n', 'curl', '-c', 'istio-proxy'])).stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as LogEntry);
    const who = (from: string | undefined): string => (from === curlPod.ip ? 'the pod' : from === gw.ip ? 'the gateway' : (from ?? 'nobody'));

    const setMode = async (mode: Mode): Promise<void> => {
      writeFileSync(yaml, istioResource(`${outboundPolicy(mode)}      accessLogEncoding: JSON\n`));
      await mesh.ok(['apply', '-f', yaml]);
      // The pod's capture table follows its sidecar's config: under REGISTRY_ONLY every TCP connection goes to 15001.
      await eventually(`the curl pod captures as ${mode}`, async () => {
        const table = (await node.run('ip', ['netns', 'exec', curlPod.netns, 'nft', 'list', 'table', 'inet', 'outpost_capture'])).stdout;
        return table.includes('meta l4proto tcp dnat') === (mode === 'REGISTRY_ONLY') ? true : undefined;
      });
    };

    // The seed's request, sidecar → gateway → httpbin.org, logged at the gateway: with http_proxy, and with capture alone.
    const seed = async (column: Column, mode: Mode): Promise<void> => {
      for (const [how, env] of [
        ['with http_proxy', ''],
        ['with capture alone', `${NO_PROXY_ENV} `],
      ] as const) {
        const marker = `seed-${column}-${mode}-${how.replace(/ /g, '-')}`;
        await t.test(`${column} the policies, ${mode}: the seed's request ${how}`, async () => {
          const r = await sh(`${env}curl -sS -o /dev/null -w '%{http_code}' --max-time 5 http://httpbin.org/get?${marker}`);
          assert.equal(r.stdout, '200', r.stderr);
          assert.equal(who(ext.seen.find((s) => s.url.includes(marker))?.remoteAddress), 'the gateway');
          await eventually('the gateway logged it', async () => {
            const lines = (await mesh.ok(['logs', 'deployment/egressgw', '-n', 'gw-ns'])).stdout.split('\n').filter((l) => l.includes(marker));
            const e = lines.length === 1 ? (JSON.parse(lines[0]!) as LogEntry) : undefined;
            return e && e.response_code === 200 && e.upstream_cluster === 'outbound|80||httpbin.org' ? true : undefined;
          });
        });
      }
    };

    const table = async (column: Column, mode: Mode): Promise<void> => {
      const phase = `${column}-${mode}`;
      // When each attempt began: the pod's ephemeral ports are reused, so a line from an earlier
      // connection on the same client port must not be taken for the attempt's.
      const tried: (Tried & { since: number })[] = [];
      for (const [i, row] of ROWS.entries()) {
        const since = Date.now();
        tried.push({ ...(await row.run(ctx, `bypass-${i}-${phase}`)), since });
      }
      // Whatever reached the outside's stand-ins did so before they answer this.
      const barrier = `barrier-${phase}`;
      await node.run('curl', ['-s', '--max-time', '5', `http://${OTHER}/${barrier}`]);
      await eventually('the barrier reached the outside', async () => (outside.some((r) => r.url.includes(barrier)) ? true : undefined));
      for (const [i, row] of ROWS.entries()) {
        const want = expected(row[column], mode);
        await t.test(`${column} the policies, ${mode}: ${row.attempt}`, async () => {
          const marker = `bypass-${i}-${phase}`;
          const reached = outside.filter((r) => r.url.includes(marker) || (r.kind === 'dns' && row.attempt.includes('DNS')));
          const port = tried[i]!.port;
          const seen = [
            tried[i]!.result,
            reached.length ? `reached it from ${[...new Set(reached.map((r) => who(r.from)))].join(', ')}` : 'nothing reached the outside',
          ].join('; ');
          // The sidecar's access-log line for the attempt's connection (found by its client port and start), when one is expected.
          const line = want.startsWith(`${seen}; sidecar: `)
            ? await eventually(
                `the sidecar's line for ${row.attempt}`,
                async () => (await sidecarLog()).find((e) => e.downstream_remote_address?.endsWith(`:${port}`) && Date.parse(e.start_time) >= tried[i]!.since),
                30,
              )
            : undefined;
          const got = line
            ? `${seen}; sidecar: ${line.response_code} ${line.response_flags} ${line.response_code_details ?? '-'} ${line.upstream_cluster ?? line.route_name ?? '-'}`
            : seen;
          assert.equal(got, want);
        });
      }
      outside.splice(0);
    };

    // Without policies: as Kubernetes with Istio's capture, under both outbound policies.
    await setMode('ALLOW_ANY');
    await seed('without', 'ALLOW_ANY');
    await table('without', 'ALLOW_ANY');
    await setMode('REGISTRY_ONLY');
    await table('without', 'REGISTRY_ONLY');

    // Under the OpenShift-style egress policies.
    const policies = join(tmp, 'policies.yaml');
    writeFileSync(policies, OPENSHIFT_EGRESS_POLICIES);
    await mesh.ok(['apply', '-f', policies]);
    for (const [ns, name] of OPENSHIFT_EGRESS_POLICY_NAMES) await policyEnforced(mesh, ns, name);
    // A connection the sidecar kept alive from before the policies is established, and conntrack
    // keeps it (so does Kubernetes): the rows are about new connections, so they start once the
    // stand-ins' keep-alive timeout has closed those.
    await eventually(
      'no connection to the outside from before the policies',
      async () =>
        (await node.run('ip', ['netns', 'exec', curlPod.netns, 'ss', '-Htn', 'state', 'established', 'dst', OTHER])).stdout.trim() === '' ? true : undefined,
      200,
    );
    await seed('with', 'REGISTRY_ONLY');
    await table('with', 'REGISTRY_ONLY');
    await setMode('ALLOW_ANY');
    await table('with', 'ALLOW_ANY');
    await seed('with', 'ALLOW_ANY');
  },
);

test("README's bypass table has this test's rows, in order", () => {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const lines = readme.slice(readme.indexOf('#### Bypass attempts')).split('\n');
  const start = lines.findIndex((l) => l.startsWith('| attempt |'));
  const end = lines.findIndex((l, i) => i > start && !l.startsWith('|'));
  const rows = lines.slice(start + 2, end).map((l) => l.split(' | ')[0]!.slice(2));
  assert.deepEqual(rows, [...ROWS.map((r) => r.attempt), SEED_ROW]);
});
