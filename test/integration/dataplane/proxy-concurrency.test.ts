// `outpost proxy --concurrency 2`: two worker processes share the listener, the admin endpoint adds
// up their metrics, a config reaches both (or neither), and SIGTERM stops them all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { startHttpUpstream } from '../../helpers/upstreams.js';
import { tempDir, freePort, parseLogLine, spawnProxyVerb, waitFor } from '../../helpers/proxy-harness.js';
import { proxyConfig, httpListener, routeTable, vhost, forward, staticCluster, textLog } from '../../helpers/proxyconfig.js';

/** One request on a fresh connection (so node:cluster's round-robin spreads them over workers). */
function getFresh(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
  });
}

function workersOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      // Only the workers (tsx's loader has its own esbuild child).
      if (ppid === pid && readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('worker-main')) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

test('outpost proxy --concurrency 2: workers share the listener, metrics add up, a bad config is NACKed by all, SIGTERM stops all', async (t) => {
  const up = await startHttpUpstream({ name: 'a' });
  t.after(() => up.close());
  const dir = tempDir(t);
  const logPath = join(dir, 'access.log');
  const cfgFile = join(dir, 'proxy.json');
  const port = await freePort();
  const admin = await freePort();
  const cfg = proxyConfig({
    accessLog: textLog(logPath),
    listeners: [httpListener('http', port, 'rt')],
    routeTables: [routeTable('rt', [vhost('v', ['*'], [forward('c')])])],
    clusters: [staticCluster('c', [{ address: '127.0.0.1', port: up.port }])],
  });
  writeFileSync(cfgFile, JSON.stringify(cfg));
  const child = spawnProxyVerb(['proxy', '--config', cfgFile, '--admin', `127.0.0.1:${admin}`, '--concurrency', '2']);
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  let workers: number[] = [];
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
    for (const w of workers) {
      try {
        process.kill(w, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  });

  await waitFor(async () => (await fetch(`http://127.0.0.1:${admin}/ready`)).status === 200, `ready\n${stderr}`, 20_000);
  workers = workersOf(child.pid!);
  assert.equal(workers.length, 2, `two worker processes under the primary\n${stderr}`);

  const N = 24;
  const results = await Promise.all(Array.from({ length: N }, () => getFresh(port)));
  for (const r of results) assert.equal(r.status, 200);

  // Each worker has its own upstream pool: two workers served → two upstream connections at least.
  const deadline = Date.now() + 10_000;
  let lines: string[] = [];
  while (Date.now() < deadline) {
    lines = existsSync(logPath)
      ? readFileSync(logPath, 'utf8')
          .split('\n')
          .filter((l) => l !== '')
      : [];
    if (lines.length >= N) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(lines.length, N, 'one whole access-log line per request');
  const parsed = lines.map((l) => parseLogLine(l));
  for (const p of parsed) assert.equal(p.code, '200');
  const upstreamLocals = new Set(parsed.map((p) => p.upstreamLocal));
  assert.ok(upstreamLocals.size >= 2, `requests were served by both workers (upstream connections: ${[...upstreamLocals].join(' ')})`);

  // The admin endpoint adds up both workers' series.
  const prom = await (await fetch(`http://127.0.0.1:${admin}/stats/prometheus`)).text();
  const total = prom
    .split('\n')
    .filter((l) => l.startsWith('istio_requests_total{') && l.includes('response_code="200"'))
    .reduce((a, l) => a + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  assert.equal(total, N, prom);
  const clusters = (await (await fetch(`http://127.0.0.1:${admin}/clusters?format=json`)).json()) as {
    clusters: Array<{ name: string; endpoints: Array<{ total: number }> }>;
  };
  assert.equal(clusters.clusters.find((c) => c.name === 'c')?.endpoints[0]?.total, N);

  // A config one worker cannot apply is NACKed and the old one keeps serving in all.
  const busy = http.createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
  t.after(() => busy.close());
  const busyPort = (busy.address() as { port: number }).port;
  writeFileSync(cfgFile, JSON.stringify({ ...cfg, version: 'v2', listeners: [...cfg.listeners, httpListener('taken', busyPort, 'rt')] }));
  child.kill('SIGHUP');
  await waitFor(async () => /config v2 rejected/.test(stderr), `NACK of v2\n${stderr}`, 20_000);
  const dump = (await (await fetch(`http://127.0.0.1:${admin}/config_dump`)).json()) as {
    version: string;
    lastNack: { version: string; error: string } | null;
  };
  assert.equal(dump.version, cfg.version);
  assert.equal(dump.lastNack?.version, 'v2');
  assert.match(dump.lastNack?.error ?? '', /EADDRINUSE|cannot bind/);
  for (let i = 0; i < 4; i++) assert.equal((await getFresh(port)).status, 200);

  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
  for (const w of workers) assert.equal(existsSync(`/proc/${w}`), false, `worker ${w} stopped with the primary`);
  assert.equal(
    readFileSync(logPath, 'utf8')
      .split('\n')
      .filter((l) => l !== '').length,
    N + 4,
    'every line flushed on SIGTERM',
  );
});
