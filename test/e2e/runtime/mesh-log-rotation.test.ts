// `outpost up --container-log-max-size/--container-log-max-files`: the sidecar's log (access
// lines on its stdout) rotates under traffic as kubelet rotates container logs, and a running
// `outpost logs -f` follows across the rotations, every request's line once and in order.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { OUTPOST_BIN, runOutpost } from '../../helpers/mesh.js';
import { cnnHttpAndTlsGatewayApi, startFlowMesh, startFlowWorld, waitProgrammed } from '../flows/flows-support.js';

const CNN = 'edition.cnn.com';
/** Requests, sent by one curl in batches; ~350-byte access lines against a 4 KiB limit: several rotations. */
const BATCHES = 4;
const PER_BATCH = 15;

test('outpost up flags for log rotation are checked as kubelet checks them', async () => {
  const r = await runOutpost(['up', '--container-log-max-files', '1']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /--container-log-max-files must be an integer of at least 2, not "1"/);
  const r2 = await runOutpost(['up', '--container-log-max-size', '10MB']);
  assert.notEqual(r2.code, 0);
  assert.match(r2.stderr, /--container-log-max-size wants a size such as 10Mi/);
});

test('the sidecar log rotates under traffic and `outpost logs -f` follows it across rotations', async (t) => {
  const world = await startFlowWorld([{ name: CNN, http: [80], https: [443] }]);
  t.after(() => world.close());
  const mesh = await startFlowMesh(t, world, {
    upArgs: ['--container-log-max-size', '4Ki', '--container-log-max-files', '3', '--container-log-monitor-interval', '100ms'],
  });
  await mesh.ok(['apply', '-f', world.yaml('cnn.yaml', cnnHttpAndTlsGatewayApi('apps'))]);
  await waitProgrammed(mesh, 'cnn-egress-gateway', 'apps');
  // The first request also makes sure the sidecar is serving before the follower starts.
  await mesh.ok(['exec', '-n', 'apps', '--', 'curl', '-sS', '-o', '/dev/null', `http://${CNN}/warmup`]);

  const follower = spawn(process.execPath, [OUTPOST_BIN, 'logs', '-f', '-n', 'apps', '-c', 'istio-proxy', '--tail', '1', '--state-dir', mesh.stateDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let followed = '';
  follower.stdout.on('data', (c: Buffer) => {
    followed += c.toString();
  });
  const followerExited = new Promise<void>((r) => follower.once('exit', () => r()));
  t.after(async () => {
    follower.kill('SIGTERM');
    await followerExited;
  });

  // Following from the warm-up request's line on: nothing sent after it can be missed.
  const started = Date.now() + 15_000;
  while (!followed.includes('/warmup') && Date.now() < started) await new Promise((r) => setTimeout(r, 50));
  assert.ok(followed.includes('/warmup'), `the follower printed the last line: ${JSON.stringify(followed)}`);
  const total = BATCHES * PER_BATCH;
  for (let b = 0; b < BATCHES; b++) {
    const urls = Array.from({ length: PER_BATCH }, (_, i) => `http://${CNN}/r${b * PER_BATCH + i}`);
    const r = await mesh.ok([
      'exec',
      '-n',
      'apps',
      '--',
      'curl',
      '-sS',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}\n',
      ...urls.flatMap((u) => ['-o', '/dev/null', u]),
    ]);
    assert.equal(r.stdout, '200\n'.repeat(PER_BATCH));
    // Let the rotator (every 100 ms) see the file between batches.
    await new Promise((r) => setTimeout(r, 300));
  }
  const reqLines = (): number[] =>
    followed.split('\n').flatMap((l) => {
      const m = /"GET \/r(\d+) /.exec(l);
      return m ? [Number(m[1])] : [];
    });
  const deadline = Date.now() + 15_000;
  while (reqLines().length < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(
    reqLines(),
    Array.from({ length: total }, (_, i) => i),
    'every request once, in order, across rotations',
  );

  const logsDir = join(mesh.stateDir, 'logs', 'apps');
  const files = readdirSync(logsDir).sort();
  const live = files.find((f) => f.endsWith('.log'))!;
  assert.ok(existsSync(join(logsDir, `${live}.1`)), `rotated: ${files.join(', ')}`);
  assert.ok(!existsSync(join(logsDir, `${live}.3`)), `at most 3 files (max-files 3): ${files.join(', ')}`);
});
