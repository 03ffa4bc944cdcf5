// A preload (`node --import`) for a proxy under load: V8's sampling heap profiler from
// OUTPOST_HEAP_SAMPLING_AFTER_S (default 3) for OUTPOST_HEAP_SAMPLING_FOR_S seconds (default 5),
// written to OUTPOST_HEAP_SAMPLING_DIR/<mode>-<pid>.heapprofile. OUTPOST_HEAP_SAMPLING=major keeps
// only allocations that a young-generation collection did not free (promoted, then collected by a
// full GC, or still alive); =all keeps every allocation sampled. `node bench/heap-survivors.mjs`
// compares the two per allocation site. How the two-hop tail was found (bench/README.md).
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const mode = process.env.OUTPOST_HEAP_SAMPLING === 'all' ? 'all' : 'major';
const dir = process.env.OUTPOST_HEAP_SAMPLING_DIR ?? '.';
const after = Number(process.env.OUTPOST_HEAP_SAMPLING_AFTER_S ?? 3) * 1000;
const span = Number(process.env.OUTPOST_HEAP_SAMPLING_FOR_S ?? 5) * 1000;

const session = new Session();
session.connect();
const post = (method, params) => new Promise((resolve, reject) => session.post(method, params, (err, r) => (err ? reject(err) : resolve(r))));

setTimeout(async () => {
  try {
    await post('HeapProfiler.enable');
    await post('HeapProfiler.startSampling', {
      samplingInterval: 1024,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: mode === 'all',
    });
    setTimeout(async () => {
      const { profile } = await post('HeapProfiler.stopSampling');
      writeFileSync(join(dir, `${mode}-${process.pid}.heapprofile`), JSON.stringify(profile));
    }, span).unref();
  } catch (err) {
    process.stderr.write(`heap-sampling: ${err.message}\n`);
  }
}, after).unref();
