// `outpost proxy --config FILE`: serves the file's config, re-reads it on SIGHUP, and on SIGTERM
// drains, flushes its access log and exits 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { startHttpUpstream } from '../../helpers/upstreams.js';
import { tempDir, freePort, parseLogLine, spawnProxyVerb, waitFor } from '../../helpers/proxy-harness.js';
import { proxyConfig, httpListener, routeTable, vhost, forward, staticCluster, textLog } from '../../helpers/proxyconfig.js';

test('outpost proxy --config: serve, SIGHUP reload, SIGTERM exits 0 with the log flushed', async (t) => {
  const a = await startHttpUpstream({ name: 'a' });
  const b = await startHttpUpstream({ name: 'b' });
  t.after(async () => {
    await a.close();
    await b.close();
  });
  const dir = tempDir(t);
  const logPath = join(dir, 'access.log');
  const cfgFile = join(dir, 'proxy.json');
  const port = await freePort();
  const admin = await freePort();
  const cfg = (up: number) =>
    proxyConfig({
      accessLog: textLog(logPath),
      listeners: [httpListener('http', port, 'rt')],
      routeTables: [routeTable('rt', [vhost('v', ['*'], [forward('c')])])],
      clusters: [staticCluster('c', [{ address: '127.0.0.1', port: up }])],
    });
  writeFileSync(cfgFile, JSON.stringify(cfg(a.port)));
  const child = spawnProxyVerb(['proxy', '--config', cfgFile, '--admin', `127.0.0.1:${admin}`]);
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });

  await waitFor(async () => (await fetch(`http://127.0.0.1:${admin}/ready`)).status === 200, 'ready');
  const who = async () => ((await (await fetch(`http://127.0.0.1:${port}/`)).json()) as { upstream: string }).upstream;
  assert.equal(await who(), 'a');
  writeFileSync(cfgFile, JSON.stringify(cfg(b.port)));
  child.kill('SIGHUP');
  await waitFor(async () => (await who()) === 'b', 'reload');
  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
  const lines = readFileSync(logPath, 'utf8').trim().split('\n');
  assert.ok(lines.length >= 2);
  assert.equal(parseLogLine(lines[0]!).code, '200');
  assert.match(stderr, /\[info\] config .* applied/);
});

test('outpost proxy with a bad bootstrap says which field is wrong', async () => {
  const dir = join(tempDir({ after: () => {} } as never));
  const file = join(dir, 'boot.json');
  writeFileSync(
    file,
    JSON.stringify({ identity: { id: 'x.y', role: 'gateway', namespace: 'y', workload: 'x' }, admin: { address: '127.0.0.1', port: 0 }, configFile: 'p.json' }),
  );
  const child = spawnProxyVerb(['proxy', '--bootstrap', file]);
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  assert.equal(code, 1);
  assert.match(stderr, /identity\.role: must be sidecar or router/);
});
