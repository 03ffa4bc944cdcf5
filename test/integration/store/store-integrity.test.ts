// The store never loses data silently: a deleted or replaced file stops writes (and what the open
// connection holds is rescued), a corrupt file is refused at open, a full disk (a small tmpfs this
// test mounts) and a read-only mount (a read-only bind mount) fail with a 503 naming the file.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { KubeObject } from '../../../src/api/object.js';
import { startApiServer } from '../../../src/apiserver/server.js';
import { StoreUnavailableError } from '../../../src/store/integrity.js';
import { openSqliteStore } from '../../../src/store/sqlite.js';

const TOKEN = 'integrity-token-0123456789';
const isRoot = process.getuid?.() === 0;

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-integrity-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function cm(name: string, data: Record<string, string> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data };
}

const ref = (name: string) => ({ group: '', kind: 'ConfigMap', namespace: 'default', name });

function problemOf(fn: () => unknown): StoreUnavailableError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof StoreUnavailableError, `expected a StoreUnavailableError, got ${String(err)}`);
    assert.equal(err.code, 503);
    return err;
  }
  assert.fail('expected the store to refuse');
}

/** A tmpfs of sizeKb mounted on a fresh directory, unmounted after the test. */
function mountTmpfs(t: { after(fn: () => void): void }, sizeKb: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-tmpfs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k`, 'tmpfs', dir]);
  t.after(() => {
    execFileSync('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Writes a filler file until the file system says ENOSPC. */
function fill(dir: string): string {
  const file = join(dir, `filler-${Date.now()}`);
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(16 * 1024, 1);
  try {
    for (let i = 0; i < 100_000; i++) writeSync(fd, chunk);
    assert.fail('the tmpfs never filled up');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  return file;
}

test('a store whose files are deleted while open refuses writes, says so once, and rescues its content', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'store.db');
  const failures: StoreUnavailableError[] = [];
  const store = openSqliteStore(path, { checkMs: 0, onFailure: (e) => failures.push(e) });
  t.after(() => store.close());
  store.create(cm('kept', { a: '1' }));
  for (const f of [path, `${path}-wal`, `${path}-shm`]) rmSync(f);

  const err = problemOf(() => store.create(cm('lost')));
  assert.equal(err.problem, 'deleted');
  assert.match(err.message, new RegExp(`${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} was deleted while in use`));
  assert.match(err.message, /outpost down/);
  // Sticky: reads and every later write fail the same way; onFailure fired once.
  assert.equal(problemOf(() => store.get(ref('kept'))).problem, 'deleted');
  assert.equal(problemOf(() => store.apply([cm('x')])).problem, 'deleted');
  assert.equal(failures.length, 1);

  const rescued = readdirSync(dir).filter((f) => f.startsWith('store.db.rescued-'));
  assert.equal(rescued.length, 1);
  assert.match(err.message, new RegExp(rescued[0]!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')));
  assert.equal(statSync(join(dir, rescued[0]!)).mode & 0o777, 0o600);
  // The rescued copy is a working store with what was written before the delete.
  renameSync(join(dir, rescued[0]!), path);
  const back = openSqliteStore(path, { checkMs: 0 });
  t.after(() => back.close());
  assert.deepEqual(back.get(ref('kept'))?.data, { a: '1' });
  assert.equal(back.get(ref('lost')), undefined);
});

test('a store whose file is replaced while open refuses writes; the timer notices with no operation', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'store.db');
  const other = openSqliteStore(join(dir, 'other.db'), { checkMs: 0 });
  other.create(cm('from-other'));
  other.close();
  let failed!: (e: StoreUnavailableError) => void;
  const noticed = new Promise<StoreUnavailableError>((r) => (failed = r));
  const store = openSqliteStore(path, { checkMs: 20, onFailure: (e) => failed(e) });
  t.after(() => store.close());
  store.create(cm('mine'));
  renameSync(join(dir, 'other.db'), path);
  // The store's check timer is unref'd: a ref'd bound keeps this test's event loop alive meanwhile.
  let bound: NodeJS.Timeout | undefined;
  const err = await Promise.race([
    noticed,
    new Promise<never>((_, reject) => (bound = setTimeout(() => reject(new Error('the check timer never noticed the replaced file')), 10_000))),
  ]).finally(() => clearTimeout(bound));
  assert.equal(err.problem, 'replaced');
  assert.match(err.message, /was replaced by another file while in use/);
  assert.equal(problemOf(() => store.create(cm('more'))).problem, 'replaced');
});

test('a corrupt store file is refused at open: not a database, and damaged pages (quick_check)', (t) => {
  const dir = tempDir(t);
  const garbage = join(dir, 'garbage.db');
  const fd = openSync(garbage, 'w');
  writeSync(fd, Buffer.alloc(8192, 0x5a));
  closeSync(fd);
  const notDb = problemOf(() => openSqliteStore(garbage, { checkMs: 0 }));
  assert.equal(notDb.problem, 'corrupt');
  assert.match(notDb.message, /garbage\.db is corrupt \(file is not a database\): restore it from a backup/);

  // A real store whose b-tree pages were overwritten: the header is fine, quick_check is not.
  const damaged = join(dir, 'damaged.db');
  const store = openSqliteStore(damaged, { checkMs: 0 });
  store.apply(Array.from({ length: 200 }, (_, i) => cm(`cm-${i}`, { v: 'x'.repeat(200) })));
  store.close();
  const dfd = openSync(damaged, 'r+');
  writeSync(dfd, Buffer.alloc(4096 * 4, 0xff), 0, 4096 * 4, 4096 * 2);
  closeSync(dfd);
  const bad = problemOf(() => openSqliteStore(damaged, { checkMs: 0 }));
  assert.equal(bad.problem, 'corrupt');
  assert.match(bad.message, /damaged\.db is corrupt/);
});

test(
  'a full disk (a small tmpfs) fails the write with 503 through the API, keeps what was stored, and clears when space is freed',
  { skip: !isRoot && 'needs root to mount a tmpfs' },
  async (t) => {
    const dir = mountTmpfs(t, 1024);
    const path = join(dir, 'store.db');
    const store = openSqliteStore(path, { checkMs: 0 });
    t.after(() => store.close());
    store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
    store.create(cm('before', { a: '1' }));
    const api = await startApiServer({ store, token: TOKEN, tls: false });
    t.after(() => api.close());
    const filler = fill(dir);

    const res = await fetch(`${api.url}/api/v1/namespaces/default/configmaps`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(cm('big', { v: 'y'.repeat(200_000) })),
    });
    assert.equal(res.status, 503);
    const status = (await res.json()) as { kind: string; reason: string; message: string; code: number };
    assert.equal(status.kind, 'Status');
    assert.equal(status.reason, 'ServiceUnavailable');
    assert.equal(status.code, 503);
    assert.match(status.message, new RegExp(`the disk holding the store file ${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is full: free space there`));
    assert.deepEqual(store.get(ref('before'))?.data, { a: '1' });
    assert.equal(store.get(ref('big')), undefined);

    rmSync(filler);
    store.create(cm('big', { v: 'y'.repeat(200_000) }));
    assert.equal((store.get(ref('big'))?.data as Record<string, string> | undefined)?.v?.length, 200_000);

    // Opening on a full disk is refused too (what `outpost up` meets).
    store.close();
    fill(dir);
    const atOpen = problemOf(() => openSqliteStore(path, { checkMs: 0 }));
    assert.equal(atOpen.problem, 'full');
  },
);

test('a store on a read-only mount is refused at open', { skip: !isRoot && 'needs root for a read-only bind mount' }, (t) => {
  const dir = tempDir(t);
  const src = join(dir, 'src');
  const ro = join(dir, 'ro');
  mkdirSync(src);
  mkdirSync(ro);
  const store = openSqliteStore(join(src, 'store.db'), { checkMs: 0 });
  store.create(cm('a'));
  store.close();
  execFileSync('mount', ['--bind', src, ro]);
  try {
    execFileSync('mount', ['-o', 'remount,bind,ro', ro]);
    const err = problemOf(() => openSqliteStore(join(ro, 'store.db'), { checkMs: 0 }));
    assert.equal(err.problem, 'readonly');
    assert.match(err.message, /ro\/store\.db cannot be written \(read-only file, directory or file system/);
    // A new store in a read-only directory: the same.
    assert.equal(problemOf(() => openSqliteStore(join(ro, 'new.db'), { checkMs: 0 })).problem, 'readonly');
  } finally {
    execFileSync('umount', ['-l', ro]);
  }
});

test('a deleted store makes the API answer 503 with the reason as a Status', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'store.db');
  const store = openSqliteStore(path, { checkMs: 0 });
  t.after(() => store.close());
  store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
  const api = await startApiServer({ store, token: TOKEN, tls: false });
  t.after(() => api.close());
  rmSync(path);
  for (const [method, body] of [
    ['POST', JSON.stringify(cm('x'))],
    ['GET', undefined],
  ] as const) {
    const res = await fetch(`${api.url}/api/v1/namespaces/default/configmaps`, {
      method,
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
      ...(body ? { body } : {}),
    });
    assert.equal(res.status, 503, method);
    const status = (await res.json()) as { reason: string; message: string };
    assert.equal(status.reason, 'ServiceUnavailable');
    assert.match(status.message, /store\.db was deleted while in use/);
  }
});
