// Watch bookmarks (allowWatchBookmarks=true): a watcher of a quiet kind learns the store's current
// revision, so it can resume from there after other kinds' churn instead of getting 410 Gone.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

process.env['OUTPOST_WATCH_BOOKMARK_INTERVAL_MS'] = '200';
const { startApiServer } = await import('../../../src/apiserver/server.js');
const { openSqliteStore } = await import('../../../src/store/sqlite.js');

test('a watch that allows bookmarks gets BOOKMARK events carrying the store revision; one that does not, gets none', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-bookmarks-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = openSqliteStore(join(dir, 'store.db'), { historyLimit: 10 });
  t.after(() => store.close());
  const api = await startApiServer({ store, token: 't', tls: false });
  t.after(() => api.close());
  store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'quiet' } });
  const start = store.revision();

  type Event = { type: string; object: { metadata: { resourceVersion: string } } };
  const watch = (bookmarks: boolean): { started: Promise<void>; events: Promise<Event[]> } => {
    let started!: () => void;
    const startedP = new Promise<void>((r) => (started = r));
    const events = new Promise<Event[]>((resolve, reject) => {
      const req = request(
        `${api.url}/api/v1/namespaces?watch=true&resourceVersion=${start}&timeoutSeconds=2${bookmarks ? '&allowWatchBookmarks=true' : ''}`,
        { headers: { authorization: 'Bearer t' } },
        (res) => {
          assert.equal(res.statusCode, 200);
          started();
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () =>
            resolve(
              text
                .split('\n')
                .filter(Boolean)
                .map((l) => JSON.parse(l) as Event),
            ),
          );
        },
      );
      req.on('error', reject);
      req.end();
    });
    return { started: startedP, events };
  };
  const w1 = watch(true);
  const w2 = watch(false);
  await Promise.all([w1.started, w2.started]);
  const withBookmarks = w1.events;
  const without = w2.events;
  // Churn in another kind, past the history limit.
  for (let i = 0; i < 30; i++) store.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cm-${i}`, namespace: 'quiet' } });
  const events = await withBookmarks;
  const marks = events.filter((e) => e.type === 'BOOKMARK');
  assert.ok(marks.length > 0, 'bookmarks were sent');
  assert.equal(marks.at(-1)!.object.metadata.resourceVersion, store.revision(), 'the latest bookmark is the store revision');
  assert.deepEqual(
    (await without).filter((e) => e.type === 'BOOKMARK'),
    [],
  );
  // Resuming from the bookmark works; from the start position it is Gone.
  const resume = (rv: string) =>
    fetch(`${api.url}/api/v1/namespaces?watch=true&resourceVersion=${rv}&timeoutSeconds=1`, { headers: { authorization: 'Bearer t' } }).then(async (r) => ({
      status: r.status,
      body: await r.text(),
    }));
  assert.equal((await resume(marks.at(-1)!.object.metadata.resourceVersion)).status, 200);
  assert.equal((await resume(start)).status, 410);
});
