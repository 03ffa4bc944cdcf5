// outpost's HTTP/2 codec against real clients and servers: curl, nghttp and node:http2 into the
// proxy's h2c listener, node:http2 and outpost's own codec as upstreams, gRPC through two proxies.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { startHttpUpstream, startH2cUpstream } from '../../helpers/upstreams.js';
import { startProxy, tempDir, parseLogLine } from '../../helpers/proxy-harness.js';
import { proxyConfig, httpListener, routeTable, vhost, forward, staticCluster, fallbackTables, textLog } from '../../helpers/proxyconfig.js';
import { RawH2, T, E, u32, requestBlock } from '../../helpers/h2raw.js';
import { h2Frame } from '../../helpers/fuzz.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], timeoutMs = 10_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0, stdout, stderr });
    });
  });
}

async function proxyFor(t: TestContext): Promise<{ port: number; logLines: (n: number) => Promise<string[]> }> {
  const h1 = await startHttpUpstream({ name: 'h1' });
  const h2 = await startH2cUpstream({ name: 'h2c' });
  t.after(async () => {
    await h1.close();
    await h2.close();
  });
  const dir = tempDir(t, 'outpost-h2-');
  const logPath = join(dir, 'access.log');
  const cfg = proxyConfig({
    role: 'router',
    accessLog: textLog(logPath),
    listeners: [httpListener('http', 0, 'http.80', { address: '127.0.0.1' })],
    routeTables: [
      routeTable('http.80', [
        vhost('any', ['*'], [forward('h2c', { name: 'to-h2', match: { path: { kind: 'prefix', value: '/h2/' } } }), forward('h1', { name: 'default' })]),
      ]),
      ...fallbackTables(),
    ],
    clusters: [
      staticCluster('h1', [{ address: '127.0.0.1', port: h1.port }]),
      staticCluster('h2c', [{ address: '127.0.0.1', port: h2.port }], { protocol: 'HTTP2' }),
    ],
  });
  const p = await startProxy(t, cfg, {}, logPath);
  const port = p.proxy.listenerPort('http');
  assert.ok(port !== undefined && port > 0);
  return { port, logLines: p.logLines };
}

function h2get(
  port: number,
  path: string,
  headers: http2.OutgoingHttpHeaders = {},
  body?: Buffer,
): Promise<{ status: number; headers: http2.IncomingHttpHeaders; body: Buffer; trailers: http2.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const s = http2.connect(`http://127.0.0.1:${port}`);
    s.on('error', reject);
    const req = s.request(
      { ':path': path, ':authority': 'svc.example', ...(body ? { ':method': 'POST' } : {}), ...headers },
      { endStream: body === undefined },
    );
    const chunks: Buffer[] = [];
    let head: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    req.on('response', (h) => {
      head = h;
    });
    req.on('trailers', (h) => {
      trailers = h;
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      s.close();
      resolve({ status: Number(head[':status']), headers: head, body: Buffer.concat(chunks), trailers });
    });
    req.on('error', (e) => {
      s.destroy();
      reject(e);
    });
    if (body) req.end(body);
  });
}

test('node:http2 client through the h2c listener: GET, POST with a body, to HTTP/1.1 and HTTP/2 upstreams', async (t) => {
  const { port, logLines } = await proxyFor(t);
  const r1 = await h2get(port, '/hello');
  assert.equal(r1.status, 200);
  assert.equal(JSON.parse(r1.body.toString()).upstream, 'h1');
  const big = Buffer.alloc(300_000, 'x');
  const r2 = await h2get(port, '/echo', {}, big);
  assert.equal(r2.status, 200);
  const seen = JSON.parse(r2.body.toString());
  assert.equal(seen.body.length, big.length);
  const r3 = await h2get(port, '/h2/x');
  assert.equal(r3.status, 200);
  assert.equal(JSON.parse(r3.body.toString()).upstream, 'h2c');
  const lines = (await logLines(3)).map(parseLogLine);
  assert.ok(lines.length >= 3);
  assert.ok(
    lines.every((l) => l.request.endsWith(' HTTP/2') && l.code === '200'),
    lines.map((l) => l.request).join('; '),
  );
  assert.ok(
    lines.some((l) => l.request.startsWith('POST /echo ') && l.bytesReceived === String(big.length)),
    'request body bytes counted',
  );
});

test('curl --http2-prior-knowledge and nghttp through the h2c listener (GET, POST with a body)', async (t) => {
  const { port } = await proxyFor(t);
  const c1 = await run('curl', ['-sS', '--http2-prior-knowledge', '-o', '-', '-w', '\n%{http_version} %{http_code}', `http://127.0.0.1:${port}/curl`]);
  assert.equal(c1.code, 0, c1.stderr);
  assert.match(c1.stdout, /\n2 200$/);
  const c2 = await run('curl', ['-sS', '--http2-prior-knowledge', '--data-binary', 'x'.repeat(100_000), '-o', '-', `http://127.0.0.1:${port}/h2/post`]);
  assert.equal(c2.code, 0, c2.stderr);
  const seen = JSON.parse(c2.stdout);
  assert.equal(seen.upstream, 'h2c');
  assert.equal(seen.body.length, 100_000);
  const n1 = await run('nghttp', ['-nv', `http://127.0.0.1:${port}/nghttp`]);
  assert.equal(n1.code, 0, n1.stderr + n1.stdout);
  assert.match(n1.stdout, /:status: 200/);
  // Several concurrent streams on one connection, and a request body from nghttp.
  const dir = tempDir(t, 'outpost-h2-nghttp-');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(join(dir, 'body'), Buffer.alloc(70_000, 0x41));
  const n2 = await run('nghttp', ['-nv', '-m', '5', '-d', join(dir, 'body'), `http://127.0.0.1:${port}/h2/nghttp-post`]);
  assert.equal(n2.code, 0, n2.stderr + n2.stdout);
  assert.equal((n2.stdout.match(/:status: 200/g) ?? []).length, 5, n2.stdout.slice(-2000));
});

/** A gRPC server on node:http2: unary echo, and a bidirectional stream echoing each message as it arrives. */
async function grpcServer(t: TestContext): Promise<number> {
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    const path = headers[':path'];
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'done' }));
    let buf = Buffer.alloc(0);
    stream.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      // gRPC framing: 1 byte compressed flag, 4 bytes length, the message.
      while (buf.length >= 5 && buf.length >= 5 + buf.readUInt32BE(1)) {
        const n = buf.readUInt32BE(1);
        const msg = buf.subarray(5, 5 + n);
        buf = buf.subarray(5 + n);
        if (path === '/echo.Echo/Stream') stream.write(grpcFrame(Buffer.concat([Buffer.from('echo:'), msg])));
        else stream.write(grpcFrame(Buffer.concat([Buffer.from('unary:'), msg])));
      }
    });
    stream.on('end', () => stream.end());
    stream.on('error', () => {});
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(
    () =>
      new Promise<void>((r) => {
        for (const s of sessions) s.destroy();
        server.close(() => r());
      }),
  );
  return (server.address() as { port: number }).port;
}

function grpcFrame(msg: Buffer): Buffer {
  const h = Buffer.alloc(5);
  h.writeUInt32BE(msg.length, 1);
  return Buffer.concat([h, msg]);
}

test('gRPC through two proxies (client → sidecar → gateway → server, HTTP/2 on every hop): unary and a bidirectional stream, trailers', async (t) => {
  const grpcPort = await grpcServer(t);
  const dir = tempDir(t, 'outpost-grpc-');
  const gwCfg = proxyConfig({
    role: 'router',
    accessLog: textLog(join(dir, 'gw.log')),
    listeners: [httpListener('gw', 0, 'gw.80', { address: '127.0.0.1' })],
    routeTables: [routeTable('gw.80', [vhost('any', ['*'], [forward('grpc', { name: 'to-grpc' })])]), ...fallbackTables()],
    clusters: [staticCluster('grpc', [{ address: '127.0.0.1', port: grpcPort }], { protocol: 'HTTP2' })],
  });
  const gw = await startProxy(t, gwCfg, {}, join(dir, 'gw.log'));
  const gwPort = gw.proxy.listenerPort('gw')!;
  const scCfg = proxyConfig({
    role: 'sidecar',
    accessLog: textLog(join(dir, 'sc.log')),
    listeners: [httpListener('sc', 0, 'sc.80', { address: '127.0.0.1' })],
    routeTables: [routeTable('sc.80', [vhost('any', ['*'], [forward('gw', { name: 'to-gw' })])]), ...fallbackTables()],
    clusters: [staticCluster('gw', [{ address: '127.0.0.1', port: gwPort }], { protocol: 'HTTP2' })],
  });
  const sc = await startProxy(t, scCfg, {}, join(dir, 'sc.log'));
  const port = sc.proxy.listenerPort('sc')!;
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  t.after(() => session.destroy());
  const grpcHeaders = (path: string): http2.OutgoingHttpHeaders => ({
    ':method': 'POST',
    ':path': path,
    ':authority': 'grpc.example',
    'content-type': 'application/grpc',
    te: 'trailers',
  });

  // Unary.
  const unary = await new Promise<{ status: string; body: Buffer; trailers: http2.IncomingHttpHeaders }>((resolve, reject) => {
    const s = session.request(grpcHeaders('/echo.Echo/Unary'));
    const chunks: Buffer[] = [];
    let status = '';
    let trailers: http2.IncomingHttpHeaders = {};
    s.on('response', (h) => {
      status = String(h[':status']);
    });
    s.on('trailers', (h) => {
      trailers = h;
    });
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => resolve({ status, body: Buffer.concat(chunks), trailers }));
    s.on('error', reject);
    s.end(grpcFrame(Buffer.from('hello')));
  });
  assert.equal(unary.status, '200');
  assert.equal(unary.body.subarray(5).toString(), 'unary:hello');
  assert.equal(unary.trailers['grpc-status'], '0');
  assert.equal(unary.trailers['grpc-message'], 'done');

  // Bidirectional: each message is answered before the next is sent, so nothing on the path may
  // hold the request body back until it ends.
  const s = session.request(grpcHeaders('/echo.Echo/Stream'));
  let pending = Buffer.alloc(0);
  const waiters: Array<(m: string) => void> = [];
  s.on('data', (c: Buffer) => {
    pending = Buffer.concat([pending, c]);
    while (pending.length >= 5 && pending.length >= 5 + pending.readUInt32BE(1)) {
      const n = pending.readUInt32BE(1);
      const m = pending.subarray(5, 5 + n).toString();
      pending = pending.subarray(5 + n);
      waiters.shift()?.(m);
    }
  });
  const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => s.on('trailers', resolve));
  const ended = new Promise<void>((resolve) => s.on('end', resolve));
  for (const word of ['one', 'two', 'three']) {
    const reply = new Promise<string>((resolve) => waiters.push(resolve));
    s.write(grpcFrame(Buffer.from(word)));
    assert.equal(await reply, `echo:${word}`);
  }
  s.end();
  assert.equal((await trailers)['grpc-status'], '0');
  await ended;
  const scLines = (await sc.logLines(2)).map(parseLogLine);
  const gwLines = (await gw.logLines(2)).map(parseLogLine);
  assert.ok(
    scLines.every((l) => l.code === '200' && l.request.endsWith(' HTTP/2')),
    JSON.stringify(scLines),
  );
  assert.ok(
    gwLines.every((l) => l.code === '200' && l.request.endsWith(' HTTP/2')),
    JSON.stringify(gwLines),
  );
});

test('through the proxy: rapid reset and a PING flood get GOAWAY ENHANCE_YOUR_CALM while a node:http2 client keeps being served', async (t) => {
  const { port } = await proxyFor(t);
  const good = http2.connect(`http://127.0.0.1:${port}`);
  good.on('error', () => {});
  t.after(() => good.destroy());
  let ok = 0;
  let bad = 0;
  let stop = false;
  const loop = (async () => {
    for (let i = 0; i < 1000 && !stop; i++) {
      await new Promise<void>((resolve) => {
        const r = good.request({ ':path': i % 2 ? '/h2/good' : '/good', ':authority': 'svc.example' });
        r.on('response', (h) => {
          if (h[':status'] === 200) ok++;
          else bad++;
        });
        r.on('error', () => {
          bad++;
        });
        r.resume();
        r.on('close', resolve);
      });
    }
  })();
  const floods: Array<(c: RawH2) => void> = [
    (c) => {
      const parts: Buffer[] = [];
      for (let i = 0; i < 400; i++) {
        const id = 1 + 2 * i;
        parts.push(h2Frame(T.HEADERS, 0x5, id, requestBlock({ path: '/delay/1000' })), h2Frame(T.RST_STREAM, 0, id, u32(E.CANCEL)));
      }
      c.send(Buffer.concat(parts));
    },
    (c) => c.send(Buffer.concat(Array.from({ length: 5000 }, () => h2Frame(T.PING, 0, 0, Buffer.alloc(8))))),
  ];
  for (const f of floods) {
    const c = await RawH2.connect(port);
    f(c);
    assert.equal(await c.goaway(5000), E.ENHANCE_YOUR_CALM);
    c.close();
  }
  stop = true;
  await loop;
  assert.equal(bad, 0, 'the good client never failed');
  assert.ok(ok > 0);
  const after = await h2get(port, '/after');
  assert.equal(after.status, 200, 'the proxy still serves');
});
