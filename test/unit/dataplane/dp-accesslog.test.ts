import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  compileAccessLog,
  compileAccessLogFormat,
  createAccessLogger,
  formatIsoMillis,
  type AccessLogEntry,
} from '../../../src/dataplane/telemetry/accesslog.js';
import { ConfigError } from '../../../src/dataplane/routing/errors.js';
import { setLogSink } from '../../../src/dataplane/log.js';
import { formatResponseFlags, addResponseFlag, RESPONSE_CODE_DETAILS } from '../../../src/dataplane/telemetry/flags.js';

function entry(over: Partial<AccessLogEntry> & { req?: Record<string, string>; resp?: Record<string, string> } = {}): AccessLogEntry {
  const reqH = over.req ?? {};
  const respH = over.resp ?? {};
  const base: AccessLogEntry = {
    startTime: Date.parse('2024-11-07T14:35:52.428Z'),
    method: 'GET',
    path: '/',
    protocol: 'HTTP/2',
    responseCode: 301,
    responseFlags: '-',
    responseCodeDetails: RESPONSE_CODE_DETAILS.VIA_UPSTREAM,
    bytesReceived: 0,
    bytesSent: 0,
    durationMs: 24.7,
    upstreamServiceTimeMs: 24,
    requestHeader: (n) => reqH[n],
    responseHeader: (n) => respH[n],
    upstreamHost: '23.55.176.201:80',
    upstreamCluster: 'outbound|80||docs.redhat.com',
    upstreamLocalAddress: '10.128.2.29:49766',
    downstreamLocalAddress: '10.128.2.29:80',
    downstreamRemoteAddress: '10.128.2.30:38296',
  };
  const { req: _r, resp: _s, ...rest } = over;
  return { ...base, ...rest };
}

const sampleHeaders = {
  'x-forwarded-for': '10.128.2.30',
  'user-agent': 'curl/8.11.0',
  'x-request-id': '79551af2-341b-456d-b414-9220b487a03b',
  ':authority': 'docs.redhat.com',
};

test("the default TEXT format renders the seed's gateway line byte for byte", () => {
  const render = compileAccessLogFormat({ encoding: 'TEXT' });
  const line = render(entry({ req: sampleHeaders }));
  assert.equal(
    line,
    '[2024-11-07T14:35:52.428Z] "GET / HTTP/2" 301 - via_upstream - "-" 0 0 24 24 "10.128.2.30" "curl/8.11.0" ' +
      '"79551af2-341b-456d-b414-9220b487a03b" "docs.redhat.com" "23.55.176.201:80" outbound|80||docs.redhat.com ' +
      '10.128.2.29:49766 10.128.2.29:80 10.128.2.30:38296 - -\n',
  );
});

test('the default TEXT format renders the TLS-passthrough TCP line byte for byte', () => {
  const render = compileAccessLogFormat({ encoding: 'TEXT' });
  const line = render({
    startTime: Date.parse('2024-01-11T21:09:42.835Z'),
    responseCode: 0,
    responseFlags: '-',
    bytesReceived: 839,
    bytesSent: 2504306,
    durationMs: 231,
    requestHeader: () => undefined,
    responseHeader: () => undefined,
    upstreamHost: '151.101.195.5:443',
    upstreamCluster: 'outbound|443||edition.cnn.com',
    upstreamLocalAddress: '172.30.239.8:34470',
    downstreamLocalAddress: '172.30.239.8:443',
    downstreamRemoteAddress: '172.30.239.15:43956',
    requestedServerName: 'edition.cnn.com',
  });
  assert.equal(
    line,
    '[2024-01-11T21:09:42.835Z] "- - -" 0 - - - "-" 839 2504306 231 - "-" "-" "-" "-" "151.101.195.5:443" ' +
      'outbound|443||edition.cnn.com 172.30.239.8:34470 172.30.239.8:443 172.30.239.15:43956 edition.cnn.com -\n',
  );
});

test('default TEXT fields one by one: flags, details, failure reason, route name, original path', () => {
  const render = compileAccessLogFormat({ encoding: 'TEXT' });
  const fields = render(
    entry({
      responseCode: 503,
      responseFlags: formatResponseFlags(['URX', 'UF']),
      responseCodeDetails: RESPONSE_CODE_DETAILS.UPSTREAM_CONNECTION_FAILURE,
      upstreamTransportFailureReason: 'TLS_error:|268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED',
      path: '/before-rewrite',
      routeName: 'default.forward-cnn-from-egress-gateway.0',
      upstreamServiceTimeMs: undefined,
      upstreamLocalAddress: undefined,
      req: { host: 'h.test' },
    }),
  );
  assert.match(
    fields,
    /^\[2024-11-07T14:35:52\.428Z\] "GET \/before-rewrite HTTP\/2" 503 UF,URX upstream_reset_before_response_started\{connection_failure\} - "TLS_error:\|268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED" 0 0 24 - "-" "-" "-" "h\.test" /,
  );
  assert.ok(fields.endsWith(' outbound|80||docs.redhat.com - 10.128.2.29:80 10.128.2.30:38296 - default.forward-cnn-from-egress-gateway.0\n'));
});

test('x-envoy-upstream-service-time comes from the response header when present', () => {
  const render = compileAccessLogFormat({ encoding: 'TEXT', format: '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%' });
  assert.equal(render(entry({ resp: { 'x-envoy-upstream-service-time': '7' } })), '7\n');
  assert.equal(render(entry({ upstreamServiceTimeMs: 3.9 })), '3\n');
  assert.equal(render(entry({ upstreamServiceTimeMs: undefined })), '-\n');
});

test('JSON encoding uses Istio keys, numbers for numeric operators and null for unset', () => {
  const render = compileAccessLogFormat({ encoding: 'JSON' });
  const line = render(entry({ req: sampleHeaders }));
  assert.ok(line.endsWith('}\n'));
  const obj = JSON.parse(line) as Record<string, unknown>;
  assert.deepEqual(Object.keys(obj), [
    'start_time',
    'route_name',
    'method',
    'path',
    'protocol',
    'response_code',
    'response_flags',
    'response_code_details',
    'connection_termination_details',
    'bytes_received',
    'bytes_sent',
    'duration',
    'upstream_service_time',
    'x_forwarded_for',
    'user_agent',
    'request_id',
    'authority',
    'upstream_host',
    'upstream_cluster',
    'upstream_local_address',
    'downstream_local_address',
    'downstream_remote_address',
    'requested_server_name',
    'upstream_transport_failure_reason',
  ]);
  assert.equal(obj.start_time, '2024-11-07T14:35:52.428Z');
  assert.equal(obj.route_name, null);
  assert.equal(obj.method, 'GET');
  assert.equal(obj.response_code, 301);
  assert.equal(obj.response_flags, '-');
  assert.equal(obj.duration, 24);
  assert.equal(obj.bytes_received, 0);
  assert.equal(obj.upstream_service_time, '24');
  assert.equal(obj.authority, 'docs.redhat.com');
  assert.equal(obj.upstream_cluster, 'outbound|80||docs.redhat.com');
  assert.equal(obj.requested_server_name, null);
});

test('custom JSON format: a JSON object of key → format', () => {
  const render = compileAccessLogFormat({ encoding: 'JSON', format: '{"code":"%RESPONSE_CODE%","who":"%REQ(USER-AGENT)% via %UPSTREAM_CLUSTER%"}' });
  assert.equal(render(entry({ req: { 'user-agent': 'ua "q"' } })), '{"code":301,"who":"ua \\"q\\" via outbound|80||docs.redhat.com"}\n');
  assert.throws(() => compileAccessLogFormat({ encoding: 'JSON', format: 'not json' }), ConfigError);
  assert.throws(() => compileAccessLogFormat({ encoding: 'JSON', format: '{"a":1}' }), ConfigError);
});

test('custom TEXT formats: REQ alternatives, truncation, START_TIME(fmt), address operators, newline added', () => {
  const e = entry({ req: { 'x-b': 'bee', 'user-agent': 'abcdefgh' } });
  const r = (format: string): string => compileAccessLogFormat({ encoding: 'TEXT', format })(e);
  assert.equal(r('%REQ(X-A?X-B)%'), 'bee\n');
  assert.equal(r('%REQ(USER-AGENT):3%'), 'abc\n');
  assert.equal(r('%REQ(X-NONE)% "%RESP(X-NONE)%"'), '- "-"\n');
  assert.equal(r('%START_TIME(%Y/%m/%d %H:%M:%S.%3f %z)%'), '2024/11/07 14:35:52.428 +0000\n');
  assert.equal(r('%START_TIME(%s)%'), '1730990152\n');
  assert.equal(
    r('%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% %DOWNSTREAM_LOCAL_PORT% %UPSTREAM_CLUSTER% %BYTES_RECEIVED%'),
    '10.128.2.30 80 outbound|80||docs.redhat.com 0\n',
  );
  assert.equal(r('100%% literal percent stays: 50%\n'), '100%% literal percent stays: 50%\n');
  assert.equal(r('%PROTOCOL% %ROUTE_NAME%\n'), 'HTTP/2 -\n');
});

test('IPv6 addresses without port', () => {
  const e = entry({ downstreamRemoteAddress: '[::1]:5555' });
  assert.equal(compileAccessLogFormat({ encoding: 'TEXT', format: '%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%' })(e), '::1\n');
});

test('an unknown operator is a ConfigError that names it', () => {
  assert.throws(
    () => compileAccessLogFormat({ encoding: 'TEXT', format: '%NOPE%' }),
    (e: unknown) => e instanceof ConfigError && /NOPE/.test(e.message),
  );
  assert.throws(() => compileAccessLogFormat({ encoding: 'TEXT', format: '%START_TIME(%Q)%' }), ConfigError);
});

test('START_TIME is UTC with exactly three fraction digits', () => {
  assert.equal(formatIsoMillis(Date.parse('2024-01-01T00:00:00.007Z')), '2024-01-01T00:00:00.007Z');
  assert.equal(formatIsoMillis(Date.parse('2024-01-01T00:00:00.070Z')), '2024-01-01T00:00:00.070Z');
  assert.equal(formatIsoMillis(Date.parse('2024-01-01T00:00:01.999Z')), '2024-01-01T00:00:01.999Z');
  assert.equal(formatIsoMillis(Date.parse('2024-01-01T00:00:01.000Z') + 0.6), '2024-01-01T00:00:01.000Z');
});

test('response flags render in Envoy order without duplicates', () => {
  assert.equal(formatResponseFlags([]), '-');
  assert.equal(formatResponseFlags(['URX', 'UF', 'UF']), 'UF,URX');
  assert.equal(addResponseFlag('-', 'UH'), 'UH');
  assert.equal(addResponseFlag('URX', 'UF'), 'UF,URX');
  assert.equal(addResponseFlag('UF', 'UF'), 'UF');
});

test('the buffer writer renders the same bytes as the string renderer, and -1 (never a cut line) without room', () => {
  const entries = [
    entry({ req: sampleHeaders }),
    entry({ req: { ...sampleHeaders, 'user-agent': 'agent ünïcødé ✓ 😀', 'x-forwarded-for': '' }, path: '/ä?q=✓', responseFlags: 'UF,URX' }),
    entry({ responseCode: 0, bytesSent: 4294967296, durationMs: 0, upstreamServiceTimeMs: undefined, upstreamHost: undefined, routeName: 'r' }),
    entry({ bytesReceived: 1.5, startTime: Date.parse('2024-01-01T00:00:00.007Z') }),
  ];
  const formats: Array<{ encoding: 'TEXT' | 'JSON'; format?: string }> = [
    { encoding: 'TEXT' },
    { encoding: 'JSON' },
    { encoding: 'TEXT', format: '%REQ(USER-AGENT):7% %START_TIME(%Y/%m/%d %3f)% %BYTES_SENT% %BYTES_RECEIVED% %DURATION% %REQ(X-NONE)% "%RESP(X-NONE)%" ✓' },
    { encoding: 'JSON', format: '{"ua":"%REQ(USER-AGENT)%","n":"%BYTES_SENT%"}' },
  ];
  for (const f of formats) {
    const { render, write } = compileAccessLog(f);
    for (const e of entries) {
      const want = Buffer.from(render(e));
      const buf = Buffer.alloc(want.length + 20, 0xee);
      const end = write(e, buf, 7);
      assert.equal(end, 7 + want.length, `${f.encoding} ${f.format ?? 'default'}`);
      assert.deepEqual(buf.subarray(7, end), want, `${f.encoding} ${f.format ?? 'default'}: ${buf.subarray(7, end).toString()}`);
      // Every buffer too short for the line: -1, never a shorter line.
      for (let size = 0; size < want.length; size++) assert.equal(write(e, Buffer.alloc(size), 0), -1, `size ${size}`);
      assert.equal(write(e, Buffer.alloc(want.length), 0), want.length);
    }
  }
});

test('the buffer writer keeps a long value that repeats as bytes: every line still equals the string renderer', () => {
  const a = 'outbound|80||httpbin-egress-gateway-istio.default.svc.cluster.local';
  const b = 'outbound|80||httpbin-egress-gateway-istio.default.svc.cluster.locaL'; // same length, one byte apart
  const u = 'outbound|80||ünïcødé-gateway.default.svc.cluster.local ✓';
  // Repeats (kept after the second), alternations, same-length changes, a non-ASCII value, a value
  // that goes away, and a fresh id on every line.
  const clusters = [a, a, a, b, b, a, b, a, a, u, u, u, undefined, a, a, `${a}x`, `${a}x`, a];
  const formats: Array<{ encoding: 'TEXT'; format?: string }> = [
    { encoding: 'TEXT' },
    { encoding: 'TEXT', format: '%UPSTREAM_CLUSTER% %UPSTREAM_CLUSTER%:%REQ(USER-AGENT):20% %REQ(X-REQUEST-ID)%' },
  ];
  for (const f of formats) {
    const { render, write } = compileAccessLog(f);
    clusters.forEach((cluster, i) => {
      const ua = i % 4 < 2 ? 'a long user agent that the format cuts at twenty' : 'another long user agent, also cut';
      const e = entry({
        upstreamCluster: cluster,
        req: { ...sampleHeaders, 'user-agent': ua, 'x-request-id': `79551af2-341b-456d-b414-${String(i).padStart(12, '0')}` },
      });
      const want = Buffer.from(render(e));
      const buf = Buffer.alloc(want.length + 9, 0xee);
      const end = write(e, buf, 3);
      assert.equal(end, 3 + want.length, `line ${i}`);
      assert.equal(buf.subarray(3, end).toString(), want.toString(), `${f.format ?? 'default'} line ${i}`);
      // Without room for the kept bytes too: -1.
      assert.equal(write(e, Buffer.alloc(want.length - 1), 0), -1, `line ${i} short`);
    });
  }
});

test('the logger: lines of every length across chunk boundaries, a line longer than a chunk, non-ASCII', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dp-accesslog-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'access.log');
  const logger = createAccessLogger({ path, encoding: 'TEXT', format: '%BYTES_SENT% %REQ(X-PAD)%' })!;
  const want: string[] = [];
  for (let i = 0; i < 2000; i++) {
    const pad = (i % 3 === 0 ? 'é' : 'x').repeat((i * 37) % 700) + (i === 1000 ? 'y'.repeat(70_000) : '');
    logger.log(entry({ bytesSent: i, req: { 'x-pad': pad } }));
    want.push(`${i} ${pad || '-'}`);
  }
  await logger.close();
  assert.deepEqual(readFileSync(path, 'utf8').split('\n'), [...want, '']);
});

test('a line that cannot be rendered is dropped without taking the others, counted and reported with its stack', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dp-accesslog-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'access.log');
  const said: string[] = [];
  setLogSink((line) => said.push(line));
  t.after(() => setLogSink((line) => void process.stderr.write(line)));
  const logger = createAccessLogger({ path, encoding: 'TEXT', format: '%BYTES_SENT% %REQ(X-PAD)%' })!;
  logger.log(entry({ bytesSent: 1 }));
  const broken = entry({ bytesSent: 2 });
  (broken as { requestHeader: (n: string) => string | undefined }).requestHeader = () => {
    throw new Error('entry broke');
  };
  logger.log(broken);
  logger.log(entry({ bytesSent: 3 }));
  await logger.close();
  assert.deepEqual(readFileSync(path, 'utf8').split('\n'), ['1 -', '3 -', '']);
  assert.equal(logger.dropped, 1);
  assert.equal(said.length, 1);
  assert.match(said[0]!, /\[error\] access log .*dropped \(1 so far\): Error: entry broke\n\s+at /);
});

test('createAccessLogger is undefined when logging is off', () => {
  assert.equal(createAccessLogger(undefined), undefined);
});

test('the file logger batches, appends, keeps lines whole and loses nothing on close', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dp-accesslog-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'access.log');
  const first = createAccessLogger({ path, encoding: 'TEXT', format: 'first %RESPONSE_CODE%' })!;
  first.log(entry());
  await first.close();
  const logger = createAccessLogger({ path, encoding: 'TEXT', format: 'line %BYTES_SENT% %REQ(X-PAD)%' })!;
  const pad = 'x'.repeat(300);
  const n = 5000;
  for (let i = 0; i < n; i++) logger.log(entry({ bytesSent: i, req: { 'x-pad': pad } }));
  await logger.flush();
  logger.log(entry({ bytesSent: n, req: { 'x-pad': pad } }));
  await logger.close();
  logger.log(entry({ bytesSent: -1 }));
  const lines = readFileSync(path, 'utf8').split('\n');
  assert.equal(lines.pop(), '');
  assert.equal(lines[0], 'first 301');
  assert.equal(lines.length, n + 2);
  for (let i = 0; i <= n; i++) assert.equal(lines[i + 1], `line ${i} ${pad}`);
});

test('/dev/stdout: a child proxy process writes whole lines and flushes them on close', async () => {
  const { spawn } = await import('node:child_process');
  const { pathToFileURL } = await import('node:url');
  const mod = pathToFileURL(join(import.meta.dirname, '../../../src/dataplane/telemetry/accesslog.ts')).href;
  const n = 3000;
  const script = `
    const { createAccessLogger } = await import(${JSON.stringify(mod)});
    const log = createAccessLogger({ path: '/dev/stdout', encoding: 'TEXT', format: 'n=%BYTES_SENT% %REQ(X-PAD)%' });
    const pad = 'p'.repeat(200);
    const e = { startTime: 0, responseCode: 200, responseFlags: '-', bytesReceived: 0, bytesSent: 0, durationMs: 0,
      requestHeader: () => pad, responseHeader: () => undefined, downstreamLocalAddress: 'a', downstreamRemoteAddress: 'b' };
    for (let i = 0; i < ${n}; i++) { e.bytesSent = i; log.log(e); if (i % 500 === 0) process.stdout.write('other line ' + i + '\\n'); }
    await log.close();
    process.exit(0);
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0, err);
  const lines = out.split('\n');
  assert.equal(lines.pop(), '');
  const logLines = lines.filter((l) => l.startsWith('n='));
  assert.equal(logLines.length, n);
  assert.equal(lines.length - logLines.length, n / 500);
  const pad = 'p'.repeat(200);
  logLines.forEach((l, i) => assert.equal(l, `n=${i} ${pad}`));
});
