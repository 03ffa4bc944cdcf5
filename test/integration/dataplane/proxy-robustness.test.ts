// Robustness: broken clients and broken upstreams each get Envoy's status, flag and details, are
// logged, and never stop the proxy from serving everyone else.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { join } from 'node:path';
import { startHttpUpstream, startTlsEcho, startTcpEcho } from '../../helpers/upstreams.js';
import { startDnsServer } from '../../helpers/dns-server.js';
import { testCerts } from '../../helpers/certs.js';
import { startProxy, tempDir, parseLogLine, type LogLine, type RunningProxy } from '../../helpers/proxy-harness.js';
import {
  proxyConfig,
  httpListener,
  tlsListener,
  tcpListener,
  sniChain,
  tcpRoute,
  outboundListener,
  routeTable,
  vhost,
  forward,
  staticCluster,
  passthroughCluster,
  blackholeCluster,
  fallbackTables,
  textLog,
} from '../../helpers/proxyconfig.js';
import { rawExchange, startScriptedUpstream, proxyHeldSockets, H2_PREFACE, h2Frame, hpackGet } from '../../helpers/fuzz.js';

/** Short limits so timeouts show within a test; the defaults are noted in the report. */
const HEADERS_TIMEOUT_MS = 400;
const HELLO_TIMEOUT_MS = 400;

const A = { http: '127.0.0.1', tlsDefault: '127.0.0.2', tlsStrict: '127.0.0.3', tcp: '127.0.0.4', outbound: '127.0.0.5' };

interface Gateway {
  p: RunningProxy;
  httpPort: number;
  tlsDefaultPort: number;
  tlsStrictPort: number;
  tcpPort: number;
  outboundPort: number;
  /** Waits (bounded) for an access-log line satisfying `pred`. */
  logLine(pred: (l: LogLine) => boolean, what: string): Promise<LogLine>;
  /** A good request through the HTTP listener still succeeds. */
  assertServing(): Promise<void>;
}

/**
 * A proxy with an HTTP listener (paths /raw/* to a scripted upstream, the rest to a good one), a
 * TLS passthrough listener with a default chain, one without, a TCP listener and an outbound
 * listener under `policy`.
 */
async function gateway(t: TestContext, policy: 'ALLOW_ANY' | 'REGISTRY_ONLY' = 'REGISTRY_ONLY', helloTimeoutMs = HELLO_TIMEOUT_MS): Promise<Gateway> {
  const certs = testCerts();
  const good = await startHttpUpstream({ name: 'good' });
  const scripted = await startScriptedUpstream();
  const tlsEcho = await startTlsEcho({ name: 'tls-default', cert: certs.serverCertPem, key: certs.serverKeyPem });
  const tcpEcho = await startTcpEcho();
  // Knows no names: every passthrough lookup fails (NXDOMAIN) without leaving loopback.
  const dns = await startDnsServer({});
  t.after(async () => {
    await good.close();
    await scripted.close();
    await tlsEcho.close();
    await tcpEcho.close();
    await dns.close();
  });
  const dir = tempDir(t, 'outpost-robust-');
  const logPath = join(dir, 'access.log');
  const cfg = proxyConfig({
    role: 'sidecar',
    policy,
    accessLog: textLog(logPath),
    listeners: [
      httpListener('http', 0, 'http.80', { address: A.http }),
      tlsListener('tls-default', 0, [sniChain(['upstream.test'], 'tls-echo', 'tls-route')], {
        address: A.tlsDefault,
        defaultChain: tcpRoute('tls-echo', 'default-route'),
      }),
      tlsListener('tls-strict', 0, [sniChain(['upstream.test'], 'tls-echo')], { address: A.tlsStrict }),
      tcpListener('tcp', 0, 'tcp-echo', { address: A.tcp }),
      outboundListener(0, policy, { address: A.outbound }),
    ],
    routeTables: [
      routeTable('http.80', [
        vhost('any', ['*'], [forward('scripted', { name: 'raw', match: { path: { kind: 'prefix', value: '/raw/' } } }), forward('good', { name: 'default' })]),
      ]),
      ...fallbackTables(),
    ],
    clusters: [
      staticCluster('good', [{ address: '127.0.0.1', port: good.port }]),
      staticCluster('scripted', [{ address: '127.0.0.1', port: scripted.port }]),
      staticCluster('tls-echo', [{ address: '127.0.0.1', port: tlsEcho.port }], { protocol: 'TCP' }),
      staticCluster('tcp-echo', [{ address: '127.0.0.1', port: tcpEcho.port }], { protocol: 'TCP' }),
      passthroughCluster(),
      blackholeCluster(),
    ],
  });
  const p = await startProxy(
    t,
    cfg,
    {
      resolver: { server: dns.address, negativeTtlMs: 0 },
      http: { headersTimeoutMs: HEADERS_TIMEOUT_MS },
      helloTimeoutMs,
    },
    logPath,
  );
  const port = (name: string): number => {
    const n = p.proxy.listenerPort(name);
    assert.ok(n !== undefined && n > 0, `listener ${name} is bound`);
    return n;
  };
  const httpPort = port('http');
  const logLine = async (pred: (l: LogLine) => boolean, what: string): Promise<LogLine> => {
    const deadline = Date.now() + 5000;
    let lines: string[] = [];
    for (;;) {
      lines = await p.logLines(0);
      const hit = lines.map(parseLogLine).find(pred);
      if (hit !== undefined) return hit;
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.fail(`no access-log line for ${what}; log:\n${lines.join('\n')}`);
  };
  return {
    p,
    httpPort,
    logLine,
    tlsDefaultPort: port('tls-default'),
    tlsStrictPort: port('tls-strict'),
    tcpPort: port('tcp'),
    outboundPort: port('virtualOutbound'),
    assertServing: async () => {
      const r = await get(A.http, httpPort, '/still-serving', { host: 'good.example' });
      assert.equal(r.status, 200, 'a good request after the bad one still succeeds');
      assert.equal(JSON.parse(r.body).upstream, 'good');
    },
  };
}

interface Got {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  complete: boolean;
}

/** One request on its own connection; `complete` is false when the response was cut short. */
function get(host: string, port: number, path: string, headers: http.OutgoingHttpHeaders = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, path, headers, agent: false, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      let done = false;
      const finish = (complete: boolean): void => {
        if (done) return;
        done = true;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), complete });
      };
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => finish(res.complete));
      res.on('aborted', () => finish(false));
      res.on('error', () => finish(false));
      res.on('close', () => finish(res.complete));
    });
    req.on('timeout', () => req.destroy(new Error('client timeout: the proxy did not answer')));
    req.on('error', reject);
    req.end();
  });
}

function statusOf(raw: string): number {
  const m = /^HTTP\/1\.[01] (\d{3}) /.exec(raw);
  return m ? Number(m[1]) : 0;
}

// ---------------------------------------------------------------------------------------------
// Broken clients (HTTP/1.1)

test('a malformed request line gets 400 DPE, is logged, and the proxy keeps serving', async (t) => {
  const g = await gateway(t);
  const r = await rawExchange(A.http, g.httpPort, 'GET /a b c HTTP/1.1\r\nHost: good.example\r\n\r\n');
  assert.equal(statusOf(r.text), 400, r.text);
  assert.ok(r.closed, 'the connection is closed after a codec error');
  const l = await g.logLine((x) => x.code === '400', '400');
  assert.equal(l.flags, 'DPE');
  assert.match(l.details, /^http1\./);
  assert.equal(l.upstreamCluster, '-');
  assert.equal(l.downstreamLocal, `${A.http}:${g.httpPort}`);
  const r2 = await rawExchange(A.http, g.httpPort, 'GARBAGE\r\n\r\n');
  assert.equal(statusOf(r2.text), 400, r2.text);
  await g.assertServing();
});

test('oversized request headers get 431 DPE http1.headers_too_large, logged', async (t) => {
  const g = await gateway(t);
  const big = 'x'.repeat(80 * 1024);
  const r = await rawExchange(A.http, g.httpPort, `GET / HTTP/1.1\r\nHost: good.example\r\nX-Big: ${big}\r\n\r\n`);
  assert.equal(statusOf(r.text), 431, r.text.slice(0, 200));
  const l = await g.logLine((x) => x.code === '431', '431');
  assert.equal(l.flags, 'DPE');
  assert.equal(l.details, 'http1.headers_too_large');
  assert.equal(l.request, '- - HTTP/1.1');
  await g.assertServing();
});

test('an invalid Host gets 400 (not routed), logged as http.invalid_authority', async (t) => {
  const g = await gateway(t);
  for (const host of ['bad host.example', 'a"b.example', 'ex{am}ple.com', 'x/y']) {
    const r = await rawExchange(A.http, g.httpPort, `GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    assert.equal(statusOf(r.text), 400, `Host: ${host} → ${r.text.slice(0, 120)}`);
  }
  const l = await g.logLine((x) => x.code === '400', '400 invalid host');
  assert.equal(l.flags, 'DPE');
  assert.equal(l.details, 'http.invalid_authority');
  assert.equal(l.upstreamCluster, '-');
  await g.assertServing();
});

test('a request without any Host gets 400 missing_host_header', async (t) => {
  const g = await gateway(t);
  const r = await rawExchange(A.http, g.httpPort, 'GET / HTTP/1.1\r\nConnection: close\r\n\r\n');
  assert.equal(statusOf(r.text), 400, r.text);
  const l = await g.logLine((x) => x.code === '400', '400 missing host');
  assert.equal(l.details, 'missing_host_header');
  assert.equal(l.flags, 'DPE');
  await g.assertServing();
});

test('an HTTP/1 request line claiming HTTP/2.0 is a protocol error, not a 500', async (t) => {
  // Found by the fuzz (seed 0x0e57b0a7, case 55): node's HTTP/1 parser accepts the version.
  const g = await gateway(t);
  const r = await rawExchange(A.http, g.httpPort, 'POST /post HTTP/2.0\r\nHost: good.example\r\nContent-Length: 5\r\n\r\nhello', { capMs: 3000 });
  assert.ok([400, 505].includes(statusOf(r.text)), `answered ${JSON.stringify(r.text.slice(0, 40))}`);
  const l = await g.logLine((x) => x.code === String(statusOf(r.text)), 'HTTP/2.0 on h1');
  assert.equal(l.flags, 'DPE');
  assert.notEqual(l.details, 'internal_error');
  await g.assertServing();
});

test('a slow client that never finishes its headers gets 408 within the headers timeout; others are served meanwhile', async (t) => {
  const g = await gateway(t);
  // Bounded wait: well beyond the configured 400 ms, so a missing timeout fails rather than hangs.
  const slow = rawExchange(A.http, g.httpPort, 'GET / HTTP/1.1\r\nHost: good.example\r\nX-Slow: never ends', { end: false, capMs: 4000 });
  await g.assertServing();
  const r = await slow;
  assert.ok(r.closed && !r.capped, `the proxy closed the slow connection itself (got ${JSON.stringify(r.text.slice(0, 80))})`);
  assert.equal(statusOf(r.text), 408, r.text);
  const l = await g.logLine((x) => x.code === '408', '408');
  assert.equal(l.details, 'request_header_timeout');
  await g.assertServing();
});

test('a client that disconnects mid-body is logged 0 DC downstream_remote_disconnect', async (t) => {
  const g = await gateway(t);
  const sock = net.connect(g.httpPort, A.http);
  sock.on('error', () => {});
  await new Promise<void>((r) => sock.once('connect', () => r()));
  sock.write('POST /upload HTTP/1.1\r\nHost: good.example\r\nContent-Length: 100000\r\n\r\n');
  sock.write(Buffer.alloc(1000, 0x61));
  // Let the proxy route the request and start the upstream body before leaving.
  await new Promise((r) => setTimeout(r, 50));
  sock.destroy();
  const l = await g.logLine((x) => x.flags.includes('DC'), 'DC');
  assert.equal(l.code, '0');
  assert.equal(l.flags, 'DC');
  assert.equal(l.details, 'downstream_remote_disconnect');
  assert.equal(l.request, 'POST /upload HTTP/1.1');
  assert.equal(l.upstreamCluster, 'good');
  await g.assertServing();
});

// ---------------------------------------------------------------------------------------------
// Broken upstreams

test('an upstream that resets mid-response: the client sees a cut response, logged 200 UC', async (t) => {
  const g = await gateway(t);
  const r = await get(A.http, g.httpPort, '/raw/midreset', { host: 'good.example' });
  assert.equal(r.status, 200);
  assert.equal(r.complete, false, 'a chunked response cut by the upstream must not look complete downstream');
  const l = await g.logLine((x) => x.request.includes('/raw/midreset'), 'midreset');
  assert.equal(l.code, '200');
  assert.equal(l.flags, 'UC');
  assert.match(l.details, /^upstream_reset_after_response_started\{/);
  assert.equal(l.upstreamCluster, 'scripted');
  await g.assertServing();
});

test("mid-response reset details are Envoy's {connection_termination} for a closed HTTP/1 connection", async (t) => {
  const g = await gateway(t);
  await get(A.http, g.httpPort, '/raw/midreset', { host: 'good.example' });
  const l = await g.logLine((x) => x.request.includes('/raw/midreset'), 'midreset');
  assert.equal(l.details, 'upstream_reset_after_response_started{connection_termination}');
});

test('an upstream that closes before responding: 503 UC connection_termination', async (t) => {
  const g = await gateway(t);
  const r = await get(A.http, g.httpPort, '/raw/close', { host: 'good.example' });
  assert.equal(r.status, 503);
  assert.match(r.body, /^upstream connect error or disconnect\/reset before headers\. reset reason: connection termination/);
  const l = await g.logLine((x) => x.request.includes('/raw/close'), 'close');
  assert.equal(l.code, '503');
  assert.equal(l.flags, 'UC');
  assert.equal(l.details, 'upstream_reset_before_response_started{connection_termination}');
  assert.equal(l.upstreamHost.startsWith('127.0.0.1:'), true);
  await g.assertServing();
});

test('an upstream that sends garbage: 502 UPE protocol_error', async (t) => {
  const g = await gateway(t);
  for (const path of ['/raw/garbage', '/raw/badstatus', '/raw/badheader']) {
    const r = await get(A.http, g.httpPort, path, { host: 'good.example' });
    assert.equal(r.status, 502, path);
    const l = await g.logLine((x) => x.request.includes(path), path);
    assert.equal(l.flags, 'UPE', `${path} flags`);
    assert.equal(l.code, String(r.status));
    assert.match(l.details, /protocol_error/, `${path} details`);
  }
  await g.assertServing();
});

test('an upstream that stalls then resets with an RST: 503 UC, logged', async (t) => {
  const g = await gateway(t);
  const r = await get(A.http, g.httpPort, '/raw/rst', { host: 'good.example' });
  assert.equal(r.status, 503);
  const l = await g.logLine((x) => x.request.includes('/raw/rst'), 'rst');
  assert.ok(['UC', 'UR'].includes(l.flags), l.flags);
  assert.match(l.details, /^upstream_reset_before_response_started\{/);
  await g.assertServing();
});

// ---------------------------------------------------------------------------------------------
// TLS passthrough

function tlsHello(host: string, port: number, servername: string | undefined): Promise<{ ok: boolean; greeting: string; error?: string }> {
  return new Promise((resolve) => {
    const s = tls.connect({ host, port, ...(servername !== undefined ? { servername } : {}), ca: testCerts().caPem, rejectUnauthorized: false });
    let greeting = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ ok: false, greeting, error: 'client cap reached' });
    }, 5000);
    s.on('data', (d: Buffer) => {
      greeting += d.toString();
      if (greeting.includes('\n')) {
        clearTimeout(timer);
        s.destroy();
        resolve({ ok: true, greeting });
      }
    });
    s.on('error', (err) => {
      clearTimeout(timer);
      resolve({ ok: false, greeting, error: (err as NodeJS.ErrnoException).code ?? err.message });
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ ok: greeting.includes('\n'), greeting });
    });
  });
}

test('TLS passthrough without SNI: the default chain when there is one, else closed and logged NR', async (t) => {
  const g = await gateway(t);
  // An IP host: node sends no SNI.
  const withDefault = await tlsHello(A.tlsDefault, g.tlsDefaultPort, undefined);
  assert.ok(withDefault.ok, `default chain carries it: ${withDefault.error}`);
  assert.equal(withDefault.greeting, 'hello from tls-default\n');
  const l1 = await g.logLine((x) => x.downstreamLocal === `${A.tlsDefault}:${g.tlsDefaultPort}`, 'default chain');
  assert.equal(l1.upstreamCluster, 'tls-echo');
  assert.equal(l1.sni, '-');
  assert.equal(l1.route, 'default-route');
  assert.equal(l1.flags, '-');

  const strict = await tlsHello(A.tlsStrict, g.tlsStrictPort, undefined);
  assert.equal(strict.ok, false, 'no chain: the connection is closed');
  const l2 = await g.logLine((x) => x.downstreamLocal === `${A.tlsStrict}:${g.tlsStrictPort}`, 'no chain');
  assert.equal(l2.flags, 'NR');
  assert.equal(l2.termination, 'filter_chain_not_found');
  assert.equal(l2.request, '- - -');
  // And SNI routing still works on the strict listener.
  const named = await tlsHello(A.tlsStrict, g.tlsStrictPort, 'upstream.test');
  assert.ok(named.ok, named.error);
  await g.assertServing();
});

test('TLS passthrough: a non-TLS first byte is closed and logged, not hung', async (t) => {
  const g = await gateway(t);
  const r = await rawExchange(A.tlsDefault, g.tlsDefaultPort, 'GET / HTTP/1.1\r\nHost: upstream.test\r\n\r\n', { end: false, capMs: 4000 });
  assert.ok(r.closed && !r.capped, 'closed by the proxy');
  assert.equal(r.text, '', 'nothing is relayed');
  const l = await g.logLine((x) => x.downstreamLocal === `${A.tlsDefault}:${g.tlsDefaultPort}`, 'non-TLS');
  assert.equal(l.flags, 'NR');
  assert.equal(l.termination, 'filter_chain_not_found');
  assert.notEqual(l.bytesReceived, '0');
  assert.equal(l.upstreamCluster, '-');
  await g.assertServing();
});

test('TLS passthrough: a silent client, and one that stops mid-hello, time out and are logged', async (t) => {
  const g = await gateway(t);
  const silent = await rawExchange(A.tlsStrict, g.tlsStrictPort, '', { end: false, capMs: 4000 });
  assert.ok(silent.closed && !silent.capped, 'the proxy closes a silent TLS client after its hello timeout');
  // The first 20 bytes of a real hello, then nothing.
  const hello = await captureHello();
  const partial = await rawExchange(A.tlsStrict, g.tlsStrictPort, hello.subarray(0, 20), { end: false, capMs: 4000 });
  assert.ok(partial.closed && !partial.capped, 'the proxy closes a half-sent hello after its hello timeout');
  const lines = (await g.p.logLines(2)).map(parseLogLine).filter((x) => x.termination === 'tls_inspector_timeout');
  assert.equal(lines.length, 2, 'both timeouts are logged');
  assert.equal(lines[1]!.bytesReceived, '20');
  await g.assertServing();
});

// ---------------------------------------------------------------------------------------------
// Forward proxy: policy and DNS

test('REGISTRY_ONLY: CONNECT to an unknown port gets no tunnel and is logged BlackHoleCluster', async (t) => {
  const g = await gateway(t, 'REGISTRY_ONLY');
  const r = await rawExchange(A.outbound, g.outboundPort, 'CONNECT unknown.example:9999 HTTP/1.1\r\nHost: unknown.example:9999\r\n\r\nhello?', {
    end: false,
    capMs: 4000,
  });
  assert.ok(r.closed && !r.capped, 'the proxy closes it');
  assert.ok(!r.text.includes('hello?'), 'no bytes carried anywhere');
  const l = await g.logLine((x) => x.upstreamCluster === 'BlackHoleCluster', 'BlackHoleCluster');
  assert.equal(l.flags, 'UH');
  assert.equal(l.request, '- - -');
  assert.equal(l.sni, 'unknown.example');
  await g.assertServing();
});

test('ALLOW_ANY: a passthrough target whose name does not resolve gets DF (CONNECT and HTTP)', async (t) => {
  const g = await gateway(t, 'ALLOW_ANY');
  const r = await rawExchange(A.outbound, g.outboundPort, 'CONNECT nosuch.example:8443 HTTP/1.1\r\nHost: nosuch.example:8443\r\n\r\n', {
    end: false,
    capMs: 6000,
  });
  assert.ok(r.closed && !r.capped, 'closed once resolution failed');
  const l = await g.logLine((x) => x.upstreamCluster === 'PassthroughCluster' && x.sni === 'nosuch.example', 'CONNECT DF');
  assert.equal(l.flags, 'DF');

  const h = await rawExchange(
    A.outbound,
    g.outboundPort,
    'GET http://nosuch.example:8080/x HTTP/1.1\r\nHost: nosuch.example:8080\r\nConnection: close\r\n\r\n',
    { capMs: 6000 },
  );
  assert.equal(statusOf(h.text), 503, h.text);
  const lh = await g.logLine((x) => x.request === 'GET /x HTTP/1.1', 'HTTP DF');
  assert.equal(lh.code, '503');
  assert.equal(lh.flags, 'DF');
  assert.equal(lh.details, 'dns_resolution_failed');
  assert.equal(lh.upstreamCluster, 'PassthroughCluster');
  assert.equal(lh.authority, 'nosuch.example:8080');
  await g.assertServing();
});

test('TCP listener: a client that connects and leaves at once is logged, and the echo still works', async (t) => {
  const g = await gateway(t);
  const s = net.connect(g.tcpPort, A.tcp);
  s.on('error', () => {});
  await new Promise<void>((r) => s.once('connect', () => r()));
  s.resetAndDestroy();
  await g.logLine((x) => x.downstreamLocal === `${A.tcp}:${g.tcpPort}`, 'tcp reset');
  const echo = await rawExchange(A.tcp, g.tcpPort, 'ping\n', { capMs: 4000, until: (b) => b.includes(0x0a) });
  assert.equal(echo.text, 'ping\n');
  await g.assertServing();
});

test('TCP listener: a client that half-closes after writing still gets the reply (Envoy keeps half-close)', async (t) => {
  const g = await gateway(t);
  // `printf ping | nc host port`: the request, then FIN, then the reply comes back.
  const echo = await rawExchange(A.tcp, g.tcpPort, 'ping\n', { end: true, capMs: 4000 });
  assert.equal(echo.text, 'ping\n');
  assert.ok(echo.closed, 'closed once the upstream closed too');
});

/** A real ClientHello, as node's TLS client sends it. */
async function captureHello(): Promise<Buffer> {
  const { captureClientHellos } = await import('../../helpers/fuzz.js');
  const [h] = await captureClientHellos([{ servername: 'upstream.test' }]);
  return h!;
}

/** The types of the HTTP/2 frames in `b`, in order (a truncated last frame is left out). */
function h2FrameTypes(b: Buffer): number[] {
  const types: number[] = [];
  for (let o = 0; o + 9 <= b.length; o += 9 + b.readUIntBE(o, 3)) types.push(b[o + 3]!);
  return types;
}

/** Writes `bytes`, waits a moment, then closes (FIN) with no protocol goodbye; how many sockets the proxy still holds for it. */
async function heldAfterVanishing(host: string, port: number, bytes: Buffer): Promise<number> {
  const r = await rawExchange(host, port, bytes, { capMs: 100 });
  return proxyHeldSockets(port, 3000, r.localPort);
}

test('an HTTP client that vanishes is noticed at once: h1 partial headers, h2c without GOAWAY', async (t) => {
  const g = await gateway(t);
  const h2get = Buffer.concat([H2_PREFACE, h2Frame(0x4, 0, 0, Buffer.alloc(0)), h2Frame(0x1, 0x5, 1, hpackGet('good.example'))]);
  assert.equal(await heldAfterVanishing(A.http, g.httpPort, Buffer.from('GET / HTTP/1.1\r\nHo')), 0, 'h1 partial headers');
  assert.equal(await heldAfterVanishing(A.http, g.httpPort, H2_PREFACE), 0, 'h2c preface only: the proxy keeps its socket (CLOSE-WAIT)');
  assert.equal(await heldAfterVanishing(A.http, g.httpPort, h2get), 0, 'h2c GET then gone: the proxy keeps its socket (CLOSE-WAIT)');
  // A protocol error: the proxy answers GOAWAY, after which nghttp2 reads no more; the client's FIN must still be seen.
  const idleData = Buffer.concat([H2_PREFACE, h2Frame(0x4, 0, 0, Buffer.alloc(0)), h2Frame(0x0, 0x1, 99, Buffer.from('xx'))]);
  const r = await rawExchange(A.http, g.httpPort, idleData, { capMs: 100 });
  assert.ok(h2FrameTypes(r.bytes).includes(0x7), `the proxy answers the bad frame with GOAWAY (got ${r.bytes.toString('hex')})`);
  assert.equal(await proxyHeldSockets(g.httpPort, 3000, r.localPort), 0, 'h2c GOAWAY for a protocol error, then gone: the proxy keeps its socket (CLOSE-WAIT)');
  await g.assertServing();
});

test('a TLS client that vanishes mid-hello is noticed at once, not at the hello timeout', async (t) => {
  // A hello timeout far beyond the bounded wait: only noticing the close can free the socket.
  const g = await gateway(t, 'REGISTRY_ONLY', 60_000);
  const hello = await captureHello();
  assert.equal(await heldAfterVanishing(A.tlsStrict, g.tlsStrictPort, hello.subarray(0, 6)), 0, 'passthrough listener');
  assert.equal(await heldAfterVanishing(A.outbound, g.outboundPort, hello.subarray(0, 6)), 0, 'outbound listener (captured TLS)');
  await g.assertServing();
});
