// Operational failures print one line and exit non-zero, never a stack trace: the mesh not running,
// the control plane killed (kill -9) in the middle of a 5,000-document apply; `-v`/`--v=N` shows
// the detail behind the line.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { OUTPOST_BIN, runOutpost, startTestMesh, type RunResult } from '../../helpers/mesh.js';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-clifail-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function assertOneLine(r: RunResult, pattern: RegExp): void {
  assert.notEqual(r.code, 0, `expected a failure:\n${r.stdout}\n${r.stderr}`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `expected one line, got:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /^\s+at /m);
  assert.match(lines[0]!, pattern);
}

test('with no mesh running, verbs say so in one line and what to do', async (t) => {
  const dir = tempDir(t);
  const se = join(dir, 'se.yaml');
  writeFileSync(se, 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n');
  for (const args of [['get', 'serviceentries'], ['apply', '-f', se], ['proxy-status'], ['--v=3', 'get', 'pods']]) {
    const r = await runOutpost([...args, '--state-dir', join(dir, 'state')]);
    assertOneLine(r, /^outpost: the mesh is not running \(state dir .*\)\. Start it with `outpost up -d`\.$/);
  }
});

test('the control plane killed during a 5,000-document apply: one line, nothing half-applied, -v shows the detail', async (t) => {
  const work = tempDir(t);
  const hosts = join(work, 'hosts');
  writeFileSync(hosts, '127.0.0.1 localhost\n');
  const mesh = await startTestMesh(t, { hostsFile: hosts });
  const docs = ['apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bulk\n'];
  // Big enough that the server works on it for a while after the request arrives.
  const filler = 'x'.repeat(2000);
  for (let i = 0; i < 5000; i++) {
    docs.push(
      `apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: se-${i}\n  namespace: bulk\n  annotations:\n    filler: ${filler}\nspec:\n  hosts: [h${i}.example.com]\n  ports:\n  - {number: 80, name: http, protocol: HTTP}\n  resolution: DNS\n`,
    );
  }
  const file = join(work, 'bulk.yaml');
  writeFileSync(file, docs.join('---\n'));
  const ep = JSON.parse(readFileSync(join(mesh.stateDir, 'api.json'), 'utf8')) as { url: string; pid: number; supervisorPid?: number };
  assert.ok(ep.supervisorPid, 'api.json names the supervisor');
  const apiPort = new URL(ep.url).port;

  const child = spawn(process.execPath, [OUTPOST_BIN, 'apply', '-f', file, '--state-dir', mesh.stateDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? 128)));
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  // The CLI's only connection to the API port is the apply's POST: kill -9 the mesh once it is open.
  let killed = false;
  const deadline = Date.now() + 90_000;
  while (!killed && child.exitCode === null && Date.now() < deadline) {
    const conns = execFileSync('ss', ['-Htn', 'state', 'established', `( dport = :${apiPort} )`], { encoding: 'utf8' });
    if (conns.trim() !== '') {
      // The supervisor too, or it starts the control plane again before the checks below.
      process.kill(ep.supervisorPid!, 'SIGKILL');
      process.kill(ep.pid, 'SIGKILL');
      killed = true;
    } else {
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  const code = await exited;
  assert.ok(killed, `the apply never connected: ${stderr}`);
  assert.equal(stdout, '', 'nothing may claim "created"');
  assertOneLine(
    { code, stdout, stderr },
    /^outpost: lost the connection to the outpost API at http:\/\/\S+ during POST \/apis\/outpost\.dev\/v1alpha1\/apply \(\w+\): the mesh may have stopped, and the change may or may not have been made; check with `outpost get` once it runs again, then repeat the command$/,
  );

  // Afterwards: the mesh is not running (one line), and -v shows what was behind the line.
  assertOneLine(await mesh.outpost(['get', 'se', '-n', 'bulk']), /^outpost: the mesh is not running/);

  // Started again, the store holds all of the apply or none of it.
  await mesh.up();
  const listed = await mesh.ok(['get', 'serviceentries', '-n', 'bulk', '-o', 'name']);
  const n = listed.stdout.trim() === '' ? 0 : listed.stdout.trim().split('\n').length;
  assert.ok(n === 0 || n === 5000, `half an apply is stored: ${n} ServiceEntries`);
});

test('-v N / --v=N prints the detail (stack, causes) behind the one line', async (t) => {
  const work = tempDir(t);
  const hosts = join(work, 'hosts');
  writeFileSync(hosts, '127.0.0.1 localhost\n');
  const mesh = await startTestMesh(t, { hostsFile: hosts });
  const ep = JSON.parse(readFileSync(join(mesh.stateDir, 'api.json'), 'utf8')) as { url: string; pid: number; controlUrl: string; token: string };
  // An API that refuses connections while the rest of the mesh answers: point api.json at a closed port.
  const closedPort = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
  writeFileSync(join(mesh.stateDir, 'api.json'), JSON.stringify({ ...ep, url: `http://127.0.0.1:${closedPort}` }));
  const quiet = await mesh.outpost(['get', 'serviceentries']);
  assertOneLine(
    quiet,
    /^outpost: cannot reach the outpost API at http:\/\/127\.0\.0\.1:\d+ \(connection refused\): the mesh is not running there; start it with `outpost up -d`$/,
  );
  for (const flag of [['-v', '1'], ['--v=4'], ['-v6']]) {
    const loud = await mesh.outpost([...flag, 'get', 'serviceentries']);
    assert.equal(loud.code, 1);
    assert.equal(loud.stderr.split('\n')[0], quiet.stderr.trimEnd());
    assert.match(loud.stderr, /^\s+at /m);
    assert.match(loud.stderr, /caused by: .*ECONNREFUSED|code ECONNREFUSED/);
  }
  writeFileSync(join(mesh.stateDir, 'api.json'), JSON.stringify(ep));
});
