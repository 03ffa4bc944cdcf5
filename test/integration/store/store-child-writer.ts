// Child process for the store tests (not a test itself): writes to a store file in a loop and
// reports each acknowledged write on stdout, so the parent can kill it or count what landed.
//   mode "batches" DB: apply batches of 5 ConfigMaps forever, printing "ack N" after each commit.
//   mode "counter" DB ID COUNT: create COUNT objects and increment a shared counter COUNT times with
//   optimistic concurrency (get → update with resourceVersion → retry on Conflict).
import { openSqliteStore } from '../../../src/store/sqlite.js';
import { StoreError } from '../../../src/store/types.js';
import type { KubeObject } from '../../../src/api/object.js';

const [mode, dbPath, id, countArg] = process.argv.slice(2);
const store = openSqliteStore(dbPath!);

function cm(name: string, data: Record<string, string>): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data };
}

if (mode === 'batches') {
  for (let i = 0; ; i++) {
    const batch = [0, 1, 2, 3, 4].map((j) => cm(`b${i}-${j}`, { batch: String(i), payload: 'x'.repeat(2000) }));
    store.apply(batch);
    process.stdout.write(`ack ${i}\n`);
    if (i > 100_000) break;
  }
} else if (mode === 'counter') {
  const count = Number(countArg);
  const ref = { group: '', kind: 'ConfigMap', namespace: 'default', name: 'counter' };
  for (let i = 0; i < count; i++) {
    store.create(cm(`w${id}-${i}`, { writer: id! }));
    for (;;) {
      const cur = store.get(ref)!;
      const n = Number((cur.data as Record<string, string>).n) + 1;
      try {
        store.update({ ...cur, data: { n: String(n) } });
        break;
      } catch (err) {
        if (err instanceof StoreError && err.reason === 'Conflict') continue;
        throw err;
      }
    }
  }
  store.close();
  process.stdout.write('done\n');
}
