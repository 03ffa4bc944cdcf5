// `outpost down` leaves no process of its state dir behind: the `up` process and every proxy it
// started are gone (checked in /proc), also after SIGKILL of `up` (whose proxies keep serving until
// then) and after two `up -d` raced.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { eventually, startTestMesh, type TestMesh } from '../../helpers/mesh.js';

const CURL_YAML = fileURLToPath(new URL('../../fixtures/seed/curl.yaml', import.meta.url));

/** Running (not zombie) per /proc. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Every pid the state dir records: the `up` (api.json, up.lock) and its proxies (run/*.pid). */
function recordedPids(stateDir: string): { up: number[]; proxies: number[] } {
  const up: number[] = [];
  try {
    up.push((JSON.parse(readFileSync(join(stateDir, 'api.json'), 'utf8')) as { pid: number }).pid);
  } catch {
    // none
  }
  try {
    up.push(Number(readFileSync(join(stateDir, 'up.lock'), 'utf8').trim()));
  } catch {
    // none
  }
  const proxies = readdirSync(join(stateDir, 'run'))
    .filter((f) => f.endsWith('.pid'))
    .map((f) => Number(readFileSync(join(stateDir, 'run', f), 'utf8').split('\n')[0]));
  return { up: [...new Set(up)], proxies };
}

async function injectedCurl(mesh: TestMesh): Promise<void> {
  await mesh.ok(['create', 'namespace', 'curl']);
  await mesh.ok(['label', 'namespace', 'curl', 'istio-injection=enabled']);
  await mesh.ok(['apply', '-n', 'curl', '-f', CURL_YAML]);
  await eventually('the sidecar of curl is ready', async () => {
    const r = await mesh.ok(['get', 'pod', '-n', 'curl', '-l', 'app=curl', '-o', 'jsonpath={.items[0].status.conditions[?(@.type=="Ready")].status}']);
    return r.stdout === 'True' ? true : undefined;
  });
}

test('down stops the up process and its sidecar; nothing of the state dir keeps running', async (t) => {
  const mesh = await startTestMesh(t);
  await injectedCurl(mesh);
  const pids = recordedPids(mesh.stateDir);
  assert.equal(pids.up.length, 1, 'api.json and up.lock name the same up process');
  const supervisor = (JSON.parse(readFileSync(join(mesh.stateDir, 'api.json'), 'utf8')) as { supervisorPid: number }).supervisorPid;
  pids.up.push(supervisor);
  assert.equal(pids.proxies.length, 1, 'one sidecar for namespace curl');
  assert.ok([...pids.up, ...pids.proxies].every(running));

  const down = await mesh.down();
  assert.equal(down.stdout, `outpost: the mesh stopped (state dir ${mesh.stateDir})\n`, down.stderr);
  for (const pid of [...pids.up, ...pids.proxies]) assert.ok(!running(pid), `pid ${pid} is gone after down`);
  assert.deepEqual(recordedPids(mesh.stateDir), { up: [], proxies: [] }, 'down leaves no pid records');

  // The next up starts alone and serves the same store.
  await mesh.up();
  const again = recordedPids(mesh.stateDir);
  assert.equal(again.up.length, 1);
  assert.ok(!pids.up.includes(again.up[0]!));
  assert.equal((await mesh.ok(['get', 'namespace', 'curl', '-o', 'jsonpath={.metadata.labels.istio-injection}'])).stdout, 'enabled');
});

test('a SIGKILLed up leaves its proxies serving; down stops them', async (t) => {
  const mesh = await startTestMesh(t);
  await injectedCurl(mesh);
  const pids = recordedPids(mesh.stateDir);
  const upPid = pids.up[0]!;
  // The `outpost up` the user started (the supervisor): the mesh process leaves with it.
  const supervisor = (JSON.parse(readFileSync(join(mesh.stateDir, 'api.json'), 'utf8')) as { supervisorPid: number }).supervisorPid;
  process.kill(supervisor, 'SIGKILL');
  await eventually('the up processes are gone', async () => (running(upPid) || running(supervisor) ? undefined : true));
  assert.equal(recordedPids(mesh.stateDir).up.length, 0, 'the mesh process gave up api.json and the lock');
  // Proxies do not depend on the control plane's life (as Envoy does not on istiod's).
  assert.ok(pids.proxies.length === 1 && pids.proxies.every(running), 'the sidecar still runs');
  const down = await mesh.down();
  assert.equal(down.code, 0, down.stderr);
  assert.match(down.stdout, /the control plane was not running; stopped 1 proxy it left serving/);
  for (const pid of [...pids.up, ...pids.proxies]) assert.ok(!running(pid), `pid ${pid} is gone`);
  assert.deepEqual(recordedPids(mesh.stateDir), { up: [], proxies: [] }, 'down leaves no pid records');
  const again = await mesh.down();
  assert.match(again.stdout, /the mesh is not running/);
});

test('two up -d racing on one state dir: one mesh runs, the other says so; down stops everything', async (t) => {
  const mesh = await startTestMesh(t, { noStart: true });
  const [a, b] = await Promise.all([mesh.outpost(['up', '-d'], { timeoutMs: 90_000 }), mesh.outpost(['up', '-d'], { timeoutMs: 90_000 })]);
  assert.deepEqual([a.code, b.code].sort(), [0, 1], `${a.stdout}${a.stderr}\n---\n${b.stdout}${b.stderr}`);
  assert.match((a.code === 1 ? a : b).stderr, /already running/);
  await injectedCurl(mesh);
  const pids = recordedPids(mesh.stateDir);
  assert.equal(pids.up.length, 1);
  const down = await mesh.down();
  assert.equal(down.code, 0, down.stderr);
  for (const pid of [...pids.up, ...pids.proxies]) assert.ok(!running(pid), `pid ${pid} is gone after down`);
});
