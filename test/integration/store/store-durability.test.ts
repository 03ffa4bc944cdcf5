// The store across processes and restarts: watch resume after reopen, compaction → Gone,
// concurrent writer processes without lost updates, and kill -9 in the middle of batch applies.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { KubeObject } from '../../../src/api/object.js';
import { openSqliteStore } from '../../../src/store/sqlite.js';
import { StoreError, type WatchEvent } from '../../../src/store/types.js';

const CHILD = fileURLToPath(new URL('./store-child-writer.ts', import.meta.url));

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function cm(name: string, data: Record<string, string> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data };
}

function child(args: string[]): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

async function withDeadline<T>(p: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what()}`)), ms);
  });
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

function exited(p: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) resolve(p.exitCode);
    else p.once('exit', (code) => resolve(code));
  });
}

test('a watch resumes from a revision after the store is closed and reopened', (t) => {
  const path = join(tempDir(t), 'store.db');
  let store = openSqliteStore(path);
  store.create(cm('a'));
  const seenUpTo = store.revision();
  store.create(cm('b'));
  store.update({ ...store.get({ group: '', kind: 'ConfigMap', namespace: 'default', name: 'b' })!, data: { x: '1' } });
  store.close();
  store = openSqliteStore(path);
  t.after(() => store.close());
  const events: WatchEvent[] = [];
  const stop = store.watch(seenUpTo, (e) => events.push(e));
  t.after(stop);
  assert.deepEqual(
    events.map((e) => `${e.type} ${e.object.metadata.name}`),
    ['ADDED b', 'MODIFIED b'],
  );
  store.delete({ group: '', kind: 'ConfigMap', namespace: 'default', name: 'a' });
  assert.deepEqual(
    events.map((e) => e.type),
    ['ADDED', 'MODIFIED', 'DELETED'],
  );
  const revs = events.map((e) => Number(e.object.metadata.resourceVersion));
  assert.deepEqual(
    revs,
    [...revs].sort((x, y) => x - y),
  );
  assert.equal(String(revs.at(-1)), store.revision());
});

test('compaction keeps the last N events; older revisions are Gone (410) and newer ones still resume', (t) => {
  const path = join(tempDir(t), 'store.db');
  const store = openSqliteStore(path, { historyLimit: 20 });
  t.after(() => store.close());
  const start = store.revision();
  for (let i = 0; i < 60; i++) store.create(cm(`c${i}`));
  assert.throws(
    () => store.watch(start, () => {}),
    (e: unknown) => e instanceof StoreError && e.code === 410 && e.reason === 'Gone' && /too old resource version/.test(e.message),
  );
  const recent = String(Number(store.revision()) - 10);
  const events: WatchEvent[] = [];
  const stop = store.watch(recent, (e) => events.push(e));
  t.after(stop);
  assert.equal(events.length, 10);
  assert.equal(events[0]!.object.metadata.name, 'c50');
});

test('concurrent writer processes: no lost update, unique increasing revisions, a watcher sees every write', async (t) => {
  const path = join(tempDir(t), 'store.db');
  const store = openSqliteStore(path, { pollMs: 20 });
  t.after(() => store.close());
  store.create(cm('counter', { n: '0' }));
  const events: WatchEvent[] = [];
  const writers = 4;
  const perWriter = 25;
  // Each writer makes 2 writes per step (create + counter update) → this many events.
  const expected = writers * perWriter * 2;
  let resolveAll!: () => void;
  const allSeen = new Promise<void>((r) => (resolveAll = r));
  const stop = store.watch(store.revision(), (e) => {
    events.push(e);
    if (events.length === expected) resolveAll();
  });
  t.after(stop);
  const procs = Array.from({ length: writers }, (_, i) => child(['counter', path, String(i), String(perWriter)]));
  t.after(() => procs.forEach((p) => p.exitCode === null && p.kill('SIGKILL')));
  const stderr: string[] = [];
  for (const p of procs) p.stderr!.on('data', (d) => stderr.push(String(d)));
  const codes = await Promise.all(procs.map(exited));
  assert.deepEqual(
    codes,
    procs.map(() => 0),
    stderr.join(''),
  );
  // The store's cross-process poll timer is unref'd (it must not keep a proxy or CLI alive), so
  // hold the event loop open while the watcher catches up, bounded.
  await withDeadline(allSeen, 20_000, () => `the watcher saw ${events.length} of ${expected} events`);
  const counter = store.get({ group: '', kind: 'ConfigMap', namespace: 'default', name: 'counter' })!;
  assert.equal((counter.data as Record<string, string>).n, String(writers * perWriter));
  assert.equal(store.list({ group: '', kind: 'ConfigMap' }).items.length, writers * perWriter + 1);
  const revs = events.map((e) => Number(e.object.metadata.resourceVersion));
  for (let i = 1; i < revs.length; i++) assert.equal(revs[i], revs[i - 1]! + 1, 'revisions are gapless and increasing');
});

test('kill -9 during batch applies: every acknowledged batch is there and no batch is half-applied', async (t) => {
  const path = join(tempDir(t), 'store.db');
  const p = child(['batches', path]);
  t.after(() => {
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  });
  let lastAck = -1;
  const lines = createInterface({ input: p.stdout! });
  await new Promise<void>((resolve, reject) => {
    lines.on('line', (line) => {
      const m = /^ack (\d+)$/.exec(line);
      if (m) lastAck = Number(m[1]);
      if (lastAck >= 30) resolve();
    });
    p.once('exit', () => reject(new Error('writer exited early')));
  });
  p.kill('SIGKILL');
  await exited(p);
  const store = openSqliteStore(path);
  t.after(() => store.close());
  const items = store.list({ group: '', kind: 'ConfigMap', namespace: 'default' }).items;
  const byBatch = new Map<string, number>();
  for (const o of items) {
    const b = (o.data as Record<string, string>).batch!;
    byBatch.set(b, (byBatch.get(b) ?? 0) + 1);
  }
  for (let i = 0; i <= lastAck; i++) assert.equal(byBatch.get(String(i)), 5, `acknowledged batch ${i} is complete`);
  for (const [b, n] of byBatch) assert.equal(n, 5, `batch ${b} is all or nothing`);
  // The event log agrees with the objects: one ADDED per object, the revision is the last event's.
  const events: WatchEvent[] = [];
  store.watch('0', (e) => events.push(e))();
  assert.equal(events.length, items.length);
  assert.equal(events.at(-1)!.object.metadata.resourceVersion, store.revision());
  // And the store still takes writes.
  store.create(cm('after-crash'));
});
