// What a user sees when the store file is not usable: `outpost up` refuses with one line naming the
// file and what to do (corrupt, read-only, full disk, locked), and a store deleted under a running
// mesh makes `outpost apply` fail with the reason instead of printing "created".
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openSqliteStore } from '../../../src/store/sqlite.js';
import { eventually, runOutpost, startTestMesh, type RunResult } from '../../helpers/mesh.js';

const isRoot = process.getuid?.() === 0;
const REPO = fileURLToPath(new URL('../../..', import.meta.url));

function tempDir(t: { after(fn: () => void): void }, prefix = 'outpost-storefail-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** One line on stderr, no stack frames, exit code 1. */
function assertOneLine(r: RunResult, pattern: RegExp): void {
  assert.equal(r.code, 1, `exit code: ${r.code}\n${r.stderr}`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `expected one line, got:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /^\s+at /m);
  assert.match(lines[0]!, pattern);
}

/** A state dir whose store exists (as after an earlier run). */
function stateDirWithStore(dir: string): string {
  mkdirSync(join(dir, 'logs'), { recursive: true });
  mkdirSync(join(dir, 'run'), { recursive: true });
  const store = openSqliteStore(join(dir, 'store.db'), { checkMs: 0 });
  store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
  store.close();
  return join(dir, 'store.db');
}

test('outpost up refuses a corrupt store file with one line naming it', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'store.db'), Buffer.alloc(8192, 0x5a));
  for (const args of [['up', '-d'], ['up']]) {
    const r = await runOutpost([...args, '--state-dir', dir, '--hosts-file', '/dev/null']);
    assertOneLine(
      r,
      new RegExp(`^outpost: the store file ${dir}/store\\.db is corrupt \\(file is not a database\\): restore it from a backup, or move it away`),
    );
  }
  // -v shows the detail: the stack and SQLite's own error under it.
  const verbose = await runOutpost(['up', '--state-dir', dir, '--hosts-file', '/dev/null', '-v', '2']);
  assert.equal(verbose.code, 1);
  assert.match(verbose.stderr, /^\s+at /m);
  assert.match(verbose.stderr, /caused by: SqliteError: file is not a database/);
});

test('outpost up refuses a state dir on a read-only mount with one line', { skip: !isRoot && 'needs root for a read-only bind mount' }, async (t) => {
  const dir = tempDir(t);
  const src = join(dir, 'src');
  const ro = join(dir, 'ro');
  mkdirSync(src);
  mkdirSync(ro);
  stateDirWithStore(src);
  execFileSync('mount', ['--bind', src, ro]);
  try {
    execFileSync('mount', ['-o', 'remount,bind,ro', ro]);
    const r = await runOutpost(['up', '-d', '--state-dir', ro, '--hosts-file', '/dev/null']);
    assertOneLine(
      r,
      new RegExp(
        `^outpost: the store file ${ro}/store\\.db cannot be written \\(read-only file, directory or file system.*\\): make them writable, then retry$`,
      ),
    );
  } finally {
    execFileSync('umount', ['-l', ro]);
  }
});

test('outpost up refuses a store on a full disk (a tmpfs the test mounts) with one line', { skip: !isRoot && 'needs root to mount a tmpfs' }, async (t) => {
  const dir = tempDir(t);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1024k', 'tmpfs', dir]);
  try {
    stateDirWithStore(dir);
    const fd = openSync(join(dir, 'filler'), 'w');
    try {
      for (let i = 0; i < 1000; i++) writeSync(fd, Buffer.alloc(16 * 1024, 1));
      assert.fail('the tmpfs never filled up');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
    } finally {
      closeSync(fd);
    }
    const r = await runOutpost(['up', '-d', '--state-dir', dir, '--hosts-file', '/dev/null']);
    assertOneLine(r, new RegExp(`^outpost: the disk holding the store file ${dir}/store\\.db is full: free space there, then retry$`));
  } finally {
    execFileSync('umount', ['-l', dir]);
  }
});

test('outpost up refuses a store another process holds locked with one line', async (t) => {
  const dir = tempDir(t);
  const db = stateDirWithStore(dir);
  // Another process (a tool, a second copy of outpost) in the middle of a write transaction.
  const locker = spawn(
    process.execPath,
    [
      '-e',
      `
    const Database = require('better-sqlite3');
    const db = new Database(process.argv[1]);
    db.exec('BEGIN IMMEDIATE');
    db.exec("UPDATE meta SET value = value WHERE key = 'revision'");
    console.log('locked');
    process.stdin.resume();
    process.stdin.on('end', () => process.exit(0));
  `,
      db,
    ],
    { cwd: REPO, stdio: ['pipe', 'pipe', 'inherit'] },
  );
  t.after(() => {
    locker.stdin!.end();
    if (locker.exitCode === null) locker.kill('SIGKILL');
  });
  const first = await new Promise<string>((resolve) => createInterface({ input: locker.stdout! }).once('line', resolve));
  assert.equal(first, 'locked');
  const r = await runOutpost(['up', '-d', '--state-dir', dir, '--hosts-file', '/dev/null']);
  assertOneLine(r, new RegExp(`^outpost: the store file ${dir}/store\\.db is locked by another process: stop whatever else has it open, then retry$`));
});

test('a store deleted under a running mesh: apply fails with the reason (nothing claims "created"), the mesh log says so', async (t) => {
  const work = tempDir(t);
  const hosts = join(work, 'hosts');
  writeFileSync(hosts, '127.0.0.1 localhost\n');
  const mesh = await startTestMesh(t, { hostsFile: hosts });
  const store = join(mesh.stateDir, 'store.db');
  for (const f of [store, `${store}-wal`, `${store}-shm`]) rmSync(f, { force: true });
  const se = join(work, 'se.yaml');
  writeFileSync(
    se,
    'apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: se\n  namespace: default\nspec:\n  hosts: [example.com]\n  ports:\n  - {number: 80, name: http, protocol: HTTP}\n  resolution: DNS\n',
  );
  const r = await mesh.outpost(['apply', '-f', se]);
  assert.equal(r.stdout, '');
  assertOneLine(
    r,
    new RegExp(
      `^Error from server \\(ServiceUnavailable\\): the store file ${store}[^ ]* was deleted while in use, so the store stops serving; what the mesh still held was saved to ${store}\\.rescued-[^:]+: stop the mesh \\(outpost down\\)`,
    ),
  );
  const log = join(mesh.stateDir, 'logs', 'mesh.log');
  await eventually('the mesh log names the deleted store', async () =>
    /store: the store file .* was deleted while in use/.test(readFileSync(log, 'utf8')) ? true : undefined,
  );
  // Reads are refused too: nothing pretends the store is empty.
  const get = await mesh.outpost(['get', 'serviceentries']);
  assertOneLine(get, /^Error from server \(ServiceUnavailable\): the store file .* was deleted while in use/);
});
