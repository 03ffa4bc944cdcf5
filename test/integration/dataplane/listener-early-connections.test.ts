// A connection can reach a listener's socket after it is bound and before the config that bound it
// is in force: a `--concurrency N` worker gets connections from the primary as soon as its listen
// returns. It used to reach a proxy with no config yet (TypeError, the worker died, the client got
// a reset); now it waits and is served once the config is in force, on real sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { compileConfig, type CompiledConfig } from '../../../src/dataplane/config/compile.js';
import { Resolver } from '../../../src/dataplane/dns/resolver.js';
import { ProxyMetrics } from '../../../src/dataplane/telemetry/metrics.js';
import { ListenerManager } from '../../../src/dataplane/listeners/manager.js';
import { DEFAULT_LIMITS } from '../../../src/dataplane/listeners/http-servers.js';
import type { ProxyRuntime } from '../../../src/dataplane/runtime.js';
import { freePort } from '../../helpers/proxy-harness.js';
import { proxyConfig, httpListener, routeTable, vhost } from '../../helpers/proxyconfig.js';

test('a connection accepted before the first config is in force is served once it is', { timeout: 20_000 }, async (t) => {
  const port = await freePort();
  const cfg = proxyConfig({
    role: 'router',
    listeners: [httpListener('http', port, 'http.80')],
    routeTables: [
      routeTable('http.80', [
        vhost(
          'any',
          ['*'],
          [{ name: 'early', match: { path: { kind: 'prefix', value: '/' } }, action: { kind: 'directResponse', status: 418, body: 'served' } }],
        ),
      ]),
    ],
  });
  const resolver = new Resolver({ hostsFile: '/dev/null' });
  t.after(() => resolver.close());
  const next = compileConfig(cfg, undefined, resolver, undefined);
  // The runtime as the proxy has it before its first config: nothing in force.
  const rt: { current: CompiledConfig | undefined } & Omit<ProxyRuntime, 'current'> = {
    current: undefined,
    accessLog: undefined,
    metrics: new ProxyMetrics(cfg.proxy),
    helloTimeoutMs: 5000,
    identity: undefined,
  };
  const mgr = new ListenerManager(rt as ProxyRuntime, DEFAULT_LIMITS, 1000);
  t.after(() => mgr.close(0));
  await mgr.bindNew(next);

  const c = net.connect({ host: '127.0.0.1', port });
  t.after(() => c.destroy());
  await once(c, 'connect');
  c.end('GET / HTTP/1.1\r\nhost: a\r\n\r\n');
  const reply: Buffer[] = [];
  c.on('data', (d: Buffer) => reply.push(d));
  // Until the listener has accepted it (bounded: 10,000 turns).
  for (let i = 0; i < 10_000 && mgr.earlyConnections === 0; i++) await new Promise((r) => setImmediate(r));
  assert.equal(mgr.earlyConnections, 1, 'the connection waits for the config');

  rt.current = next;
  mgr.commit(next);
  assert.equal(mgr.earlyConnections, 0);
  await once(c, 'end');
  const text = Buffer.concat(reply).toString();
  assert.match(text, /^HTTP\/1\.1 418 /);
  assert.match(text, /served$/);
});
