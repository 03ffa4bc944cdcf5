// The supervisor `outpost up` runs the mesh under: a mesh process that dies after it came up is
// started again (also when a restart fails); one that fails before it first came up is not (its
// error says why); exit 0 ends it.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { MESH_UP_MESSAGE, SUPERVISED_ENV, superviseMesh } from '../../../src/runtime/supervisor.js';

/**
 * A stand-in for the mesh process: counts its runs in a file, reports up (unless told to fail
 * first), then does what `plan` says for this run: `kill` (SIGKILL itself), `exit:N`, or `fail:N` (exit before up).
 */
const STAND_IN = `
const fs = require('node:fs');
const file = process.env.RUNS_FILE;
const n = Number(fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : 0) + 1;
fs.writeFileSync(file, String(n));
const step = process.env.PLAN.split(',')[n - 1] ?? 'exit:0';
if (process.env.${SUPERVISED_ENV} !== '1') process.exit(90);
if (step.startsWith('fail:')) process.exit(Number(step.slice(5)));
process.send(${JSON.stringify(MESH_UP_MESSAGE)}, () => {
  if (step === 'kill') process.kill(process.pid, 'SIGKILL');
  else setTimeout(() => process.exit(Number(step.slice(5))), 20);
});
`;

async function supervise(t: { after(fn: () => void): void }, plan: string): Promise<{ code: number; runs: number; log: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-supervisor-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const runsFile = join(dir, 'runs');
  writeFileSync(runsFile, '0');
  const log: string[] = [];
  const code = await superviseMesh({
    argv: [process.execPath, '-e', STAND_IN],
    env: { ...process.env, RUNS_FILE: runsFile, PLAN: plan },
    log: (line) => log.push(line),
    otherUp: async () => undefined,
  });
  return { code, runs: Number(readFileSync(runsFile, 'utf8')), log };
}

test('a mesh process killed after it came up is restarted until it stops cleanly', async (t) => {
  const r = await supervise(t, 'kill,kill,exit:0');
  assert.equal(r.code, 0);
  assert.equal(r.runs, 3);
  assert.equal(r.log.length, 2);
  for (const line of r.log) assert.match(line, /^the control plane \(pid \d+\) died \(signal SIGKILL\); the proxies keep serving; restarting it in \d+ ms$/);
});

test('a crash with an exit code after coming up is restarted too', async (t) => {
  const r = await supervise(t, 'exit:1,exit:0');
  assert.equal(r.code, 0);
  assert.equal(r.runs, 2);
  assert.match(r.log[0]!, /died \(exit code 1\)/);
});

test('a mesh process that fails before it came up is not retried: its exit code is the result', async (t) => {
  const r = await supervise(t, 'fail:3');
  assert.equal(r.code, 3);
  assert.equal(r.runs, 1);
  assert.deepEqual(r.log, []);
});

test('once the mesh has come up, a restart that fails is retried too (with backoff)', async (t) => {
  const r = await supervise(t, 'kill,fail:4,exit:0');
  assert.equal(r.code, 0);
  assert.equal(r.runs, 3);
  assert.match(r.log[1]!, /died \(exit code 4\)/);
});
