// Config swaps: atomic under traffic, listeners added/removed without touching unchanged ones,
// NACKs (bad regex, port in use) keep the old config serving; the admin endpoint reports it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Pool } from 'undici';
import { startHttpUpstream } from '../../helpers/upstreams.js';
import { startProxy, freePort } from '../../helpers/proxy-harness.js';
import { proxyConfig, httpListener, routeTable, vhost, forward, staticCluster } from '../../helpers/proxyconfig.js';

function config(port: number, upstreamPort: number, extra: { port2?: number; regex?: string } = {}) {
  return proxyConfig({
    listeners: [httpListener('main', port, 'rt'), ...(extra.port2 ? [httpListener('second', extra.port2, 'rt')] : [])],
    routeTables: [
      routeTable('rt', [vhost('v', ['*'], [...(extra.regex ? [forward('c', { match: { path: { kind: 'regex', value: extra.regex } } })] : []), forward('c')])]),
    ],
    clusters: [staticCluster('c', [{ address: '127.0.0.1', port: upstreamPort }])],
  });
}

test('swapping configs under traffic fails no request; keep-alive connections survive', async (t) => {
  const a = await startHttpUpstream({ name: 'a' });
  const b = await startHttpUpstream({ name: 'b' });
  t.after(async () => {
    await a.close();
    await b.close();
  });
  const port = await freePort();
  const port2 = await freePort();
  const { proxy } = await startProxy(t, config(port, a.port), { adminPort: 0 });
  const client = new Pool(`http://127.0.0.1:${port}`, { connections: 4 });
  t.after(() => client.close());
  let failures = 0;
  const seen = new Set<string>();
  let stop = false;
  const worker = async () => {
    for (let i = 0; i < 150 && !stop; i++) {
      const r = await client.request({ path: '/', method: 'GET' });
      const j = (await r.body.json()) as { upstream: string };
      if (r.statusCode !== 200) failures++;
      seen.add(j.upstream);
    }
  };
  const load = Promise.all([worker(), worker(), worker(), worker()]);
  for (let i = 0; i < 6; i++) {
    await new Promise((r) => setTimeout(r, 10));
    await proxy.apply(config(port, i % 2 === 0 ? b.port : a.port, i % 3 === 0 ? { port2 } : {}));
  }
  await proxy.apply(config(port, b.port));
  await load;
  stop = true;
  assert.equal(failures, 0);
  assert.ok(seen.has('a') && seen.has('b'));
  const after = await client.request({ path: '/', method: 'GET' });
  assert.equal(((await after.body.json()) as { upstream: string }).upstream, 'b');
  // The removed second listener no longer accepts.
  await assert.rejects(
    new Promise((resolve, reject) => {
      const s = net.connect(port2, '127.0.0.1', () => {
        s.destroy();
        resolve(undefined);
      });
      s.on('error', reject);
    }),
  );
});

test('a config with a bad regex or a busy port is NACKed and the old one keeps serving', async (t) => {
  const a = await startHttpUpstream({ name: 'a' });
  t.after(() => a.close());
  const port = await freePort();
  const { proxy } = await startProxy(t, config(port, a.port), { adminPort: 0 });
  const good = proxy.config!.version;
  await assert.rejects(proxy.apply(config(port, a.port, { regex: '([a-z' })), /regex|pattern/i);
  const busy = net.createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
  t.after(() => busy.close());
  const busyPort = (busy.address() as net.AddressInfo).port;
  await assert.rejects(proxy.apply(config(port, a.port, { port2: busyPort })), /EADDRINUSE/);
  assert.equal(proxy.config!.version, good);
  const res = await fetch(`http://127.0.0.1:${port}/`);
  assert.equal(res.status, 200);
  await res.text();
  const dump = (await (await fetch(`http://127.0.0.1:${proxy.adminPort}/config_dump`)).json()) as { version: string; lastNack: { error: string } };
  assert.equal(dump.version, good);
  assert.match(dump.lastNack.error, /EADDRINUSE/);
});

test('admin: /ready is 503 before the first config and 200 after; /stats/prometheus and /clusters answer', async (t) => {
  const a = await startHttpUpstream({ name: 'a' });
  t.after(() => a.close());
  const port = await freePort();
  const { proxy } = await startProxy(t, undefined, { adminPort: 0 });
  const admin = `http://127.0.0.1:${proxy.adminPort}`;
  assert.equal((await fetch(`${admin}/ready`)).status, 503);
  await proxy.apply(config(port, a.port));
  assert.equal((await fetch(`${admin}/ready`)).status, 200);
  const r = await fetch(`http://127.0.0.1:${port}/`);
  await r.text();
  const stats = await (await fetch(`${admin}/stats/prometheus`)).text();
  assert.match(stats, /istio_requests_total\{reporter="source".*response_code="200".*\} 1/);
  const clusters = await (await fetch(`${admin}/clusters`)).text();
  assert.match(clusters, new RegExp(`^c::127\\.0\\.0\\.1:${a.port}::health_flags::healthy$`, 'm'));
  const lg = await fetch(`${admin}/logging?level=debug`, { method: 'POST' });
  assert.match(await lg.text(), /outpost: debug/);
  await fetch(`${admin}/logging?level=info`, { method: 'POST' });
});
