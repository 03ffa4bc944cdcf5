// outpost's HTTP/2 codec against real clients and servers: curl, nghttp and node:http2 into the
// proxy's h2c listener, node:http2 and outpost's own codec as upstreams, gRPC through two proxies.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { startHttpUpstream, startH2cUpstream } from '../helpers/upstreams.js';
import { startProxy, tempDir, parseLogLine } from '../helpers/proxy-harness.js';
import { proxyConfig, httpListener, routeTable, vhost, forward, staticCluster, fallbackTables, textLog } from '../helpers/proxyconfig.js';

interface Run { code: number | null; stdout: string; stderr: string }

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
  t.after(async () => { await h1.close(); await h2.close(); });
  const dir = tempDir(t, 'outpost-h2-');
  const logPath = join(dir, 'access.log');
  const cfg = proxyConfig({
    role: 'router', accessLog: textLog(logPath),
    listeners: [httpListener('http', 0, 'http.80', { address: '127.0.0.1' })],
    routeTables: [
      routeTable('http.80', [vhost('any', ['*'], [
        forward('h2c', { name: 'to-h2', match: { path: { kind: 'prefix', value: '/h2/' } } }),
        forward('h1', { name: 'default' }),
      ])]),
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

function h2get(port: number, path: string, headers: http2.OutgoingHttpHeaders = {}, body?: Buffer): Promise<{ status: number; headers: http2.IncomingHttpHeaders; body: Buffer; trailers: http2.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const s = http2.connect(`http://127.0.0.1:${port}`);
    s.on('error', reject);
    const req = s.request({ ':path': path, ':authority': 'svc.example', ...(body ? { ':method': 'POST' } : {}), ...headers }, { endStream: body === undefined });
    const chunks: Buffer[] = [];
    let head: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    req.on('response', (h) => { head = h; });
    req.on('trailers', (h) => { trailers = h; });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => { s.close(); resolve({ status: Number(head[':status']), headers: head, body: Buffer.concat(chunks), trailers }); });
    req.on('error', (e) => { s.destroy(); reject(e); });
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
  assert.ok(lines.every((l) => l.request.endsWith(' HTTP/2') && l.code === '200'), lines.map((l) => l.request).join('; '));
  assert.ok(lines.some((l) => l.request.startsWith('POST /echo ') && l.bytesReceived === String(big.length)), 'request body bytes counted');
});
