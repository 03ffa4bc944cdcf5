// HTTP/1.1 framing (RFC 9112): the request-smuggling corpus sent on raw sockets to a sidecar's
// outbound listener and to a gateway's HTTP listener — exact status line, Envoy's flag and details
// in the access log, nothing reaching the upstream, and the proxy serving afterwards — and
// upstream responses with framing a proxy cannot trust, answered 502 UPE.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { startHttpUpstream, type HttpUpstream } from '../../helpers/upstreams.js';
import { startProxy, tempDir, parseLogLine, type LogLine, type RunningProxy } from '../../helpers/proxy-harness.js';
import { rawExchange, type RawResult } from '../../helpers/fuzz.js';
import { testCerts } from '../../helpers/certs.js';
import {
  proxyConfig,
  httpListener,
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

const H = 'up.example';

interface Setup {
  readonly name: string;
  readonly p: RunningProxy;
  readonly address: string;
  readonly port: number;
  readonly up: HttpUpstream;
  readonly raw: RawUpstream;
  /** Sends bytes on a new connection (TLS for the TLS listener), collects until close or cap. */
  exchange(data: string): Promise<RawResult>;
}

/** The sidecar: requests to its outbound listener (Host-routed to the port-80 listener, as iptables capture would send them). */
async function sidecar(t: TestContext): Promise<Setup> {
  const up = await startHttpUpstream({ name: 'up' });
  const raw = await startRawUpstream();
  t.after(async () => {
    await up.close();
    await raw.close();
  });
  const logPath = join(tempDir(t, 'outpost-framing-'), 'access.log');
  const address = '127.0.0.1';
  const cfg = proxyConfig({
    role: 'sidecar',
    policy: 'REGISTRY_ONLY',
    accessLog: textLog(logPath),
    listeners: [outboundListener(0, 'REGISTRY_ONLY', { address }), httpListener('0.0.0.0_80', 80, '80', { bindToPort: false, address: '0.0.0.0' })],
    routeTables: [
      routeTable('80', [
        vhost(`${H}:80`, [H, `${H}:80`], [forward('raw', { name: 'raw', match: { path: { kind: 'prefix', value: '/raw/' } } }), forward(`outbound|80||${H}`)]),
      ]),
      ...fallbackTables(),
    ],
    clusters: [
      staticCluster(`outbound|80||${H}`, [{ address: '127.0.0.1', port: up.port }]),
      staticCluster('raw', [{ address: '127.0.0.1', port: raw.port }]),
      passthroughCluster(),
      blackholeCluster(),
    ],
  });
  const p = await startProxy(t, cfg, {}, logPath);
  const port = p.proxy.listenerPort('virtualOutbound')!;
  return { name: 'sidecar', p, address, port, up, raw, exchange: (d) => rawExchange(address, port, d) };
}

/** The gateway: a router's HTTP listener. */
async function gateway(t: TestContext): Promise<Setup> {
  return gatewayWith(t, 'gateway', false);
}

/** The gateway's HTTP listener terminating TLS (HTTP/1.1 parsed by node:http, not outpost's codec). */
async function gatewayTls(t: TestContext): Promise<Setup> {
  return gatewayWith(t, 'gatewayTls', true);
}

async function gatewayWith(t: TestContext, name: string, withTls: boolean): Promise<Setup> {
  const certs = testCerts();
  const up = await startHttpUpstream({ name: 'up' });
  const raw = await startRawUpstream();
  t.after(async () => {
    await up.close();
    await raw.close();
  });
  const logPath = join(tempDir(t, 'outpost-framing-'), 'access.log');
  const address = '127.0.0.2';
  const cfg = proxyConfig({
    role: 'router',
    policy: 'ALLOW_ANY',
    accessLog: textLog(logPath),
    listeners: [
      httpListener('0.0.0.0_8080', 0, 'http.8080', {
        address,
        ...(withTls ? { tls: { mode: 'SIMPLE' as const, certificateChain: certs.serverCertPem, privateKey: certs.serverKeyPem } } : {}),
      }),
    ],
    routeTables: [
      routeTable('http.8080', [
        vhost(
          H,
          [H, `${H}:*`],
          [
            forward('raw', { name: 'raw', match: { path: { kind: 'prefix', value: '/raw/' } } }),
            // A retry policy makes the proxy read the whole body before forwarding it.
            forward(`outbound|80||${H}`, { name: 'retry', match: { path: { kind: 'prefix', value: '/retry/' } }, retry: { attempts: 2, retryOn: ['5xx'] } }),
            forward(`outbound|80||${H}`),
          ],
        ),
      ]),
    ],
    clusters: [staticCluster(`outbound|80||${H}`, [{ address: '127.0.0.1', port: up.port }]), staticCluster('raw', [{ address: '127.0.0.1', port: raw.port }])],
  });
  const p = await startProxy(t, cfg, {}, logPath);
  const port = p.proxy.listenerPort('0.0.0.0_8080')!;
  const exchange = withTls ? (d: string) => tlsExchange(address, port, certs.caPem, d) : (d: string) => rawExchange(address, port, d);
  return { name, p, address, port, up, raw, exchange };
}

/** rawExchange over TLS (HTTP/1.1 by ALPN). */
function tlsExchange(host: string, port: number, ca: string, data: string): Promise<RawResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const sock = tls.connect({ host, port, ca, servername: 'upstream.test', ALPNProtocols: ['http/1.1'] });
    let done = false;
    const finish = (closed: boolean, capped: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      const bytes = Buffer.concat(chunks);
      resolve({ bytes, text: bytes.toString('latin1'), closed, capped, localPort: 0 });
    };
    const timer = setTimeout(() => finish(false, true), 3000);
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', () => finish(true, false));
    sock.on('end', () => finish(true, false));
    sock.on('close', () => finish(true, false));
    sock.once('secureConnect', () => sock.write(Buffer.from(data, 'latin1')));
  });
}

/** One row of the corpus: the bytes, the status line expected back, the access log's flag and details. */
interface Row {
  readonly name: string;
  readonly send: string;
  readonly status: string;
  readonly details: string;
  /** The head is valid, the body's chunk framing is not: the head was already routed (streamed upstream, as Envoy does). */
  readonly inBody?: boolean;
}

const GOOD_HEAD = `GET /ok HTTP/1.1\r\nHost: ${H}\r\n\r\n`;
const TE_ERR = 'http1.invalid_transfer_encoding';
const CODEC = 'http1.codec_error';
const R400 = 'HTTP/1.1 400 Bad Request';
const R501 = 'HTTP/1.1 501 Not Implemented';

/** Each smuggling attempt ends with a second request that must never be parsed as one. */
const CORPUS: readonly Row[] = [
  { name: 'two Host headers', send: `GET / HTTP/1.1\r\nHost: ${H}\r\nHost: evil.example\r\n\r\n`, status: R400, details: CODEC },
  { name: 'two identical Host headers', send: `GET / HTTP/1.1\r\nHost: ${H}\r\nHost: ${H}\r\n\r\n`, status: R400, details: CODEC },
  {
    name: 'TE xchunked (unknown coding) + smuggled request',
    send: `POST / HTTP/1.1\r\nHost: ${H}\r\nTransfer-Encoding: xchunked\r\n\r\n${GOOD_HEAD}`,
    status: R501,
    details: TE_ERR,
  },
  {
    name: 'TE identity (not a coding any more)',
    send: `POST / HTTP/1.1\r\nHost: ${H}\r\nTransfer-Encoding: identity\r\n\r\n${GOOD_HEAD}`,
    status: R501,
    details: TE_ERR,
  },
  { name: 'TE "chunked" quoted', send: `POST / HTTP/1.1\r\nHost: ${H}\r\nTransfer-Encoding: "chunked"\r\n\r\n0\r\n\r\n`, status: R501, details: TE_ERR },
  {
    name: 'TE gzip (final coding not chunked)',
    send: `POST / HTTP/1.1\r\nHost: ${H}\r\nTransfer-Encoding: gzip\r\n\r\n${GOOD_HEAD}`,
    status: R400,
    details: TE_ERR,
  },
  { name: 'TE empty', send: `POST / HTTP/1.1\r\nHost: ${H}\r\nTransfer-Encoding: \r\n\r\n${GOOD_HEAD}`, status: R400, details: TE_ERR },
  {
    name: 'TE gzip, chunked (a coding we would have to apply)',
    send: `POST / HTTP/1.1\r\nHost: ${H}\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`,
    status: R501,
    details: TE_ERR,
  },
  { name: 'TE chunked, gzip', send: `POST / HTTP/1.1\r\nHost: ${H}\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n`, status: R400, details: TE_ERR },
  {
    name: 'TE chunked then TE gzip',
    send: `POST / HTTP/1.1\r\nHost: ${H}\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n`,
    status: R400,
    details: TE_ERR,
  },
  { name: 'TE chunked in HTTP/1.0', send: `POST / HTTP/1.0\r\nHost: ${H}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, status: R400, details: TE_ERR },
  {
    name: 'TE with a space before the colon',
    send: `POST / HTTP/1.1\r\nHost: ${H}\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n`,
    status: R400,
    details: CODEC,
  },
  { name: 'TE with a vertical tab', send: `POST / HTTP/1.1\r\nHost: ${H}\r\nTransfer-Encoding:\x0bchunked\r\n\r\n0\r\n\r\n`, status: R400, details: CODEC },
  {
    name: 'CL.TE',
    send: `POST / HTTP/1.1\r\nHost: ${H}\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG`,
    status: R400,
    details: 'http1.content_length_and_chunked_not_allowed',
  },
  {
    name: 'TE.CL',
    send: `POST / HTTP/1.1\r\nHost: ${H}\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n`,
    status: R400,
    details: 'http1.content_length_and_chunked_not_allowed',
  },
  {
    name: 'conflicting Content-Lengths',
    send: `POST / HTTP/1.1\r\nHost: ${H}\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!`,
    status: R400,
    details: CODEC,
  },
  {
    name: 'repeated Content-Length',
    send: `POST / HTTP/1.1\r\nHost: ${H}\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello`,
    status: R400,
    details: CODEC,
  },
  { name: 'Content-Length list', send: `POST / HTTP/1.1\r\nHost: ${H}\r\nContent-Length: 5, 5\r\n\r\nhello`, status: R400, details: CODEC },
  { name: 'Content-Length with a sign', send: `POST / HTTP/1.1\r\nHost: ${H}\r\nContent-Length: +5\r\n\r\nhello`, status: R400, details: CODEC },
  { name: 'Content-Length overflow', send: `POST / HTTP/1.1\r\nHost: ${H}\r\nContent-Length: 99999999999999999999999\r\n\r\n`, status: R400, details: CODEC },
  { name: 'obs-fold (space)', send: `GET / HTTP/1.1\r\nHost: ${H}\r\nX-A: b\r\n c\r\n\r\n`, status: R400, details: CODEC },
  { name: 'obs-fold (tab)', send: `GET / HTTP/1.1\r\nHost: ${H}\r\nX-A: b\r\n\tc\r\n\r\n`, status: R400, details: CODEC },
  { name: 'bare LF ending a header line', send: `GET / HTTP/1.1\r\nHost: ${H}\nX: b\r\n\r\n`, status: R400, details: CODEC },
  { name: 'bare LF everywhere', send: `GET / HTTP/1.1\nHost: ${H}\n\n`, status: R400, details: CODEC },
  { name: 'bare CR inside a header value', send: `GET / HTTP/1.1\r\nHost: ${H}\r\nX: b\rc\r\n\r\n`, status: R400, details: CODEC },
  { name: 'NUL in a header value', send: `GET / HTTP/1.1\r\nHost: ${H}\r\nX: b\x00c\r\n\r\n`, status: R400, details: CODEC },
  { name: 'control character in a header value', send: `GET / HTTP/1.1\r\nHost: ${H}\r\nX: b\x01c\r\n\r\n`, status: R400, details: CODEC },
  {
    name: 'chunk-size overflow',
    send: `POST / HTTP/1.1\r\nHost: ${H}\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF1\r\nx\r\n0\r\n\r\n`,
    status: R400,
    details: CODEC,
    inBody: true,
  },
  {
    name: 'chunk-size with 0x',
    send: `POST / HTTP/1.1\r\nHost: ${H}\r\nTransfer-Encoding: chunked\r\n\r\n0x1\r\nx\r\n0\r\n\r\n`,
    status: R400,
    details: CODEC,
    inBody: true,
  },
  {
    name: 'chunk data longer than its size',
    send: `POST / HTTP/1.1\r\nHost: ${H}\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxx\r\n0\r\n\r\n`,
    status: R400,
    details: CODEC,
    inBody: true,
  },
];

function statusLineOf(text: string): string {
  const i = text.indexOf('\r\n');
  return i < 0 ? text : text.slice(0, i);
}

/** Waits (bounded) for an access-log line after the first `seen` ones. */
async function nextLogLine(p: RunningProxy, seen: number, what: string): Promise<LogLine> {
  const lines = await p.logLines(seen + 1);
  assert.ok(lines.length > seen, `no access-log line for ${what}`);
  return parseLogLine(lines[seen]!);
}

/** Waits (bounded) for an access-log line after the first `seen` ones that satisfies `pred`. */
async function logLineAfter(p: RunningProxy, seen: number, pred: (l: LogLine) => boolean, what: string): Promise<LogLine> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const lines = (await p.logLines(seen + 1)).slice(seen).map(parseLogLine);
    const hit = lines.find(pred);
    if (hit !== undefined) return hit;
    if (Date.now() > deadline) assert.fail(`no access-log line for ${what}: ${JSON.stringify(lines)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function assertServing(s: Setup, what: string): Promise<void> {
  const r = await s.exchange(`GET /still-serving HTTP/1.1\r\nHost: ${H}\r\nConnection: close\r\n\r\n`);
  assert.equal(statusLineOf(r.text), 'HTTP/1.1 200 OK', `${s.name} after ${what}: ${r.text.slice(0, 200)}`);
}

for (const make of [sidecar, gateway, gatewayTls]) {
  test(`${make.name}: every request of the smuggling corpus is refused with its status, logged, never forwarded`, async (t) => {
    const s = await make(t);
    let seen = 0;
    for (const row of CORPUS) {
      const before = s.up.requests.length;
      const r = await s.exchange(row.send);
      assert.equal(statusLineOf(r.text), row.status, `${s.name}, ${row.name}: ${JSON.stringify(r.text.slice(0, 200))}`);
      assert.ok(r.closed, `${s.name}, ${row.name}: the connection is closed after a framing error`);
      if (!row.inBody) assert.equal(s.up.requests.length, before, `${s.name}, ${row.name}: nothing reaches the upstream`);
      // On the TLS listener a bad chunk arrives after node:http handed the request over: the
      // exchange logs its own line too, so look for the codec's line rather than count lines.
      const code = row.status.split(' ')[1]!;
      const l = await logLineAfter(s.p, seen, (x) => x.code === code, row.name);
      assert.equal(l.code, code, `${s.name}, ${row.name}: logged code`);
      assert.equal(l.flags, 'DPE', `${s.name}, ${row.name}: flags`);
      assert.equal(l.details, row.details, `${s.name}, ${row.name}: details`);
      if (!row.inBody) assert.equal(l.upstreamCluster, '-', `${s.name}, ${row.name}: not routed`);
      await assertServing(s, row.name);
      seen = (await s.p.logLines(0)).length;
    }
    // Legitimate framing still works: chunked, and Content-Length, on one connection.
    const ok = await s.exchange(
      `POST /a HTTP/1.1\r\nHost: ${H}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n` +
        `POST /b HTTP/1.1\r\nHost: ${H}\r\nContent-Length: 5\r\nConnection: close\r\n\r\nworld`,
    );
    assert.equal(ok.text.match(/HTTP\/1\.1 200 OK/g)?.length, 2, ok.text.slice(0, 300));
  });

  test(`${make.name}: an absolute-form target's authority wins over Host (RFC 9112 §3.2.2)`, async (t) => {
    const s = await make(t);
    const r = await s.exchange(`GET http://${H}/abs?q=1 HTTP/1.1\r\nHost: other.example\r\nConnection: close\r\n\r\n`);
    assert.equal(statusLineOf(r.text), 'HTTP/1.1 200 OK', r.text.slice(0, 200));
    const got = s.up.requests.at(-1)!;
    assert.equal(got.url, '/abs?q=1');
    assert.equal(got.headers.host, H);
    const l = await nextLogLine(s.p, 0, 'absolute-form');
    assert.equal(l.authority, H);
    assert.equal(l.code, '200');
  });

  test(`${make.name}: an upstream response with framing we cannot trust is 502 UPE, and the proxy keeps serving`, async (t) => {
    const s = await make(t);
    let seen = 0;
    for (const path of Object.keys(RAW_RESPONSES)) {
      const r = await s.exchange(`GET /raw/${path} HTTP/1.1\r\nHost: ${H}\r\nConnection: close\r\n\r\n`);
      assert.equal(statusLineOf(r.text), 'HTTP/1.1 502 Bad Gateway', `${s.name}, ${path}: ${JSON.stringify(r.text.slice(0, 200))}`);
      assert.ok(!r.text.includes('SMUGGLED'), `${s.name}, ${path}: nothing of the bad response is relayed`);
      const l = await nextLogLine(s.p, seen, path);
      seen++;
      assert.equal(l.code, '502', `${s.name}, ${path}`);
      assert.equal(l.flags, 'UPE', `${s.name}, ${path}`);
      assert.equal(l.details, 'upstream_reset_before_response_started{protocol_error}', `${s.name}, ${path}`);
      await assertServing(s, path);
      seen++;
    }
  });
}

for (const make of [gateway, gatewayTls]) {
  test(`${make.name}: a route that buffers the body for retries never forwards a body whose chunk framing breaks`, async (t) => {
    const s = await make(t);
    const r = await s.exchange(`POST /retry/x HTTP/1.1\r\nHost: ${H}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZ\r\nx\r\n0\r\n\r\n`);
    assert.equal(statusLineOf(r.text), R400, r.text.slice(0, 200));
    assert.equal(s.up.requests.length, 0, 'the part that arrived is not sent as a whole body');
    const l = await logLineAfter(s.p, 0, (x) => x.code === '400', 'retry route');
    assert.equal(l.flags, 'DPE');
    assert.equal(l.details, CODEC);
    await assertServing(s, 'the retry route');
  });
}

/** Responses by path: each frames its body in a way a proxy must not relay. */
const RAW_RESPONSES: Readonly<Record<string, string>> = {
  'te-xchunked': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\nSMUGGLED',
  'te-gzip': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nSMUGGLED',
  'te-gzip-chunked': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n',
  'te-http10': 'HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n',
  'cl-te': 'HTTP/1.1 200 OK\r\nContent-Length: 8\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n',
  'cl-cl': 'HTTP/1.1 200 OK\r\nContent-Length: 8\r\nContent-Length: 9\r\n\r\nSMUGGLED',
  'obs-fold': 'HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\nContent-Length: 8\r\n\r\nSMUGGLED',
  nul: 'HTTP/1.1 200 OK\r\nX-A: b\x00c\r\nContent-Length: 8\r\n\r\nSMUGGLED',
  'bare-lf': 'HTTP/1.1 200 OK\nContent-Length: 8\n\nSMUGGLED',
};

interface RawUpstream {
  readonly port: number;
  close(): Promise<void>;
}

/** An upstream on raw sockets that answers /raw/<name> with RAW_RESPONSES[name], then closes. */
async function startRawUpstream(): Promise<RawUpstream> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      if (!buf.includes('\r\n\r\n')) return;
      const path = buf.split(' ')[1] ?? '/';
      const name = path.slice(path.lastIndexOf('/') + 1);
      s.end(RAW_RESPONSES[name] ?? 'HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n', 'latin1');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
