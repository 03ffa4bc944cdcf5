// DNS clusters through a real DNS server on loopback: STRICT_DNS follows record changes after the
// TTL; an unresolvable passthrough host gets 503 DF.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { request } from 'undici';
import { startHttpUpstream } from '../../helpers/upstreams.js';
import { startDnsServer } from '../../helpers/dns-server.js';
import { startProxy, tempDir, freePort, parseLogLine } from '../../helpers/proxy-harness.js';
import { proxyConfig, httpListener, routeTable, vhost, forward, dnsCluster, passthroughCluster, textLog } from '../../helpers/proxyconfig.js';

test('STRICT_DNS re-resolves on TTL and follows the new address', async (t) => {
  const one = await startHttpUpstream({ name: 'one', address: '127.0.0.1' });
  t.after(() => one.close());
  const dns = await startDnsServer({ 'httpbin.org': { addresses: ['127.0.0.1'], ttl: 1 } });
  t.after(() => dns.close());
  const port = await freePort();
  const logPath = join(tempDir(t), 'access.log');
  // The endpoint port is fixed by the cluster, so the second upstream takes the same port on 127.0.0.2.
  const twoSamePort = await startHttpUpstreamOnPort('127.0.0.2', one.port).catch(() => undefined);
  if (twoSamePort === undefined) {
    t.skip('127.0.0.2 cannot bind the same port');
    return;
  }
  t.after(() => twoSamePort.close());
  const cfg = proxyConfig({
    accessLog: textLog(logPath),
    listeners: [httpListener('http', port, 'rt')],
    routeTables: [routeTable('rt', [vhost('httpbin.org:80', ['httpbin.org'], [forward('outbound|80||httpbin.org')])])],
    clusters: [dnsCluster('outbound|80||httpbin.org', 'httpbin.org', one.port)],
  });
  const p = await startProxy(t, cfg, { resolver: { server: dns.address } }, logPath);
  const get = async () => {
    const r = await request(`http://127.0.0.1:${port}/`, { headers: { host: 'httpbin.org' } });
    return ((await r.body.json()) as { upstream: string }).upstream;
  };
  assert.equal(await get(), 'one');
  dns.set('httpbin.org', ['127.0.0.2'], 1);
  const deadline = Date.now() + 8000;
  let who = 'one';
  while (who === 'one' && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    who = await get();
  }
  assert.equal(who, 'two-same-port');
  assert.ok(dns.queries('httpbin.org') >= 2);
  const lines = (await p.logLines(2)).map(parseLogLine);
  assert.equal(lines.at(-1)!.upstreamHost, `127.0.0.2:${one.port}`);
});

test('PassthroughCluster with an unresolvable host: 503 DF', async (t) => {
  const dns = await startDnsServer({});
  t.after(() => dns.close());
  const port = await freePort();
  const logPath = join(tempDir(t), 'access.log');
  const cfg = proxyConfig({
    accessLog: textLog(logPath),
    listeners: [httpListener('http', port, 'rt')],
    routeTables: [routeTable('rt', [vhost('allow_any', ['*'], [forward('PassthroughCluster', { name: 'allow_any' })])])],
    clusters: [passthroughCluster()],
  });
  const p = await startProxy(t, cfg, { resolver: { server: dns.address } }, logPath);
  const r = await request(`http://127.0.0.1:${port}/`, { headers: { host: 'nowhere.invalid' } });
  await r.body.text();
  assert.equal(r.statusCode, 503);
  const f = parseLogLine((await p.logLines(1))[0]!);
  assert.equal(f.flags, 'DF');
  assert.equal(f.upstreamCluster, 'PassthroughCluster');
});

async function startHttpUpstreamOnPort(address: string, port: number) {
  const http = await import('node:http');
  const server = http.createServer((_req, res) => {
    const body = JSON.stringify({ upstream: 'two-same-port' });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => resolve());
  });
  return {
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
