import { test } from 'node:test';
import { join } from 'node:path';
import { readFileSync, existsSync } from 'node:fs';
import { startHttpUpstream } from '../helpers/upstreams.js';
import { startProxy, tempDir } from '../helpers/proxy-harness.js';
import { proxyConfig, httpListener, routeTable, vhost, forward, staticCluster, textLog } from '../helpers/proxyconfig.js';
import { rawExchange, caseRng, mutateHttp, httpSeeds } from '../helpers/fuzz.js';
test('find', async (t) => {
  const good = await startHttpUpstream({ name: 'good' }); t.after(() => good.close());
  const dir = tempDir(t); const logPath = join(dir, 'a.log');
  const p = await startProxy(t, proxyConfig({ accessLog: textLog(logPath), listeners: [httpListener('http', 0, 'r')], routeTables: [routeTable('r', [vhost('a', ['*'], [forward('good')])])], clusters: [staticCluster('good', [{ address: '127.0.0.1', port: good.port }])] }), {}, logPath);
  const port = p.proxy.listenerPort('http')!;
  const SEED = 0x0e57b0a7;
  for (let i = 0; i < 110; i++) {
    const r = caseRng(SEED, i);
    const bytes = mutateHttp(r, r.pick(httpSeeds('fuzz.example')));
    const pieces = r.chance(0.3) ? Array.from({ length: r.range(2, 6) }, () => r.range(1, 64)) : [];
    const end = r.chance(0.5);
    await rawExchange('127.0.0.1', port, bytes, { end, pieces, capMs: 250 });
    await p.proxy.accessLog?.flush();
    const log = existsSync(logPath) ? readFileSync(logPath, 'utf8') : '';
    if (log.includes('internal_error')) { console.log('CASE', i, JSON.stringify(bytes.toString('latin1')), 'end', end, 'pieces', pieces); break; }
  }
});
