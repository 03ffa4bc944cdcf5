// Log rotation as kubelet does it (size, file count) and `outpost logs [-f]` across rotations:
// real files, a real writer process holding the log as its stdout (as a proxy does), the reader
// that `outpost logs` and the API's pod logs use.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../helpers/proxy-harness.js';
import { readLogFile } from '../../../src/runtime/log-file.js';
import { parseByteQuantity, rotateIfNeeded, rotatedFiles, startLogRotation } from '../../../src/runtime/log-rotation.js';
import { processGroupFreeze } from '../../../src/runtime/process-freeze.js';

const line = (i: number): string => `line ${String(i).padStart(6, '0')} ${'x'.repeat(40)}\n`;

function numbers(text: string): number[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => Number(l.split(' ')[1]));
}

/** Collects what a follower yields until `until` holds (bounded), then stops it. */
function follow(file: string, t: TestContext): { seen: () => string; waitFor(pred: (s: string) => boolean, what: string): Promise<void> } {
  const stop = new AbortController();
  t.after(() => stop.abort());
  let text = '';
  void (async () => {
    for await (const chunk of readLogFile(file, { follow: true, pollMs: 10, signal: stop.signal })) text += chunk;
  })();
  return {
    seen: () => text,
    async waitFor(pred, what) {
      const deadline = Date.now() + 10_000;
      while (!pred(text)) {
        if (Date.now() > deadline) assert.fail(`follower never saw ${what}; it has ${numbers(text).length} lines`);
        await new Promise((r) => setTimeout(r, 5));
      }
    },
  };
}

test('rotation keeps FILE.1 … FILE.<maxFiles-1>, newest first, each holding whole appended runs', (t) => {
  const dir = tempDir(t, 'outpost-rotate-');
  const file = join(dir, 'gw.log');
  const fd = openSync(file, 'a', 0o640);
  t.after(() => closeSync(fd));
  let n = 0;
  for (let round = 0; round < 6; round++) {
    for (let i = 0; i < 30; i++) writeSync(fd, line(n++));
    assert.equal(rotateIfNeeded(file, 1024, 4), true, `round ${round}: over 1 KiB, rotated`);
    // The writer's next append lands at the start of the emptied file (O_APPEND).
    assert.equal(statSync(file).size, 0);
  }
  writeSync(fd, line(n++));
  assert.equal(rotateIfNeeded(file, 1024, 4), false, 'under the size: left alone');
  assert.deepEqual(rotatedFiles(file), [`${file}.1`, `${file}.2`, `${file}.3`], 'maxFiles 4: the live file and three rotated ones');
  assert.equal(existsSync(`${file}.4`), false);
  // Newest first: .1 has the last full round, .3 the oldest kept.
  assert.deepEqual(
    numbers(readFileSync(`${file}.1`, 'utf8')),
    Array.from({ length: 30 }, (_, i) => 150 + i),
  );
  assert.deepEqual(
    numbers(readFileSync(`${file}.3`, 'utf8')),
    Array.from({ length: 30 }, (_, i) => 90 + i),
  );
  assert.equal(statSync(`${file}.1`).mode & 0o777, 0o640, "rotated files keep the log's mode");
  assert.equal(existsSync(`${file}.rotating`), false);
});

test('`logs` reads the rotated files first; --tail takes its lines across them', async (t) => {
  const dir = tempDir(t, 'outpost-rotate-');
  const file = join(dir, 'gw.log');
  const fd = openSync(file, 'a');
  t.after(() => closeSync(fd));
  let n = 0;
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 10; i++) writeSync(fd, line(n++));
    rotateIfNeeded(file, 100, 5);
  }
  for (let i = 0; i < 5; i++) writeSync(fd, line(n++));
  let all = '';
  for await (const c of readLogFile(file)) all += c;
  assert.deepEqual(
    numbers(all),
    Array.from({ length: 35 }, (_, i) => i),
  );
  let tail = '';
  for await (const c of readLogFile(file, { tailLines: 12 })) tail += c;
  assert.deepEqual(
    numbers(tail),
    Array.from({ length: 12 }, (_, i) => 23 + i),
    'the last 12 lines span FILE.1 and the live file',
  );
});

test('`logs -f` keeps following across rotations: every line once, in order', async (t) => {
  const dir = tempDir(t, 'outpost-rotate-');
  const file = join(dir, 'gw.log');
  const fd = openSync(file, 'a');
  t.after(() => closeSync(fd));
  let n = 0;
  for (let i = 0; i < 5; i++) writeSync(fd, line(n++));
  const f = follow(file, t);
  await f.waitFor((s) => numbers(s).length === 5, 'the first lines');
  for (let round = 0; round < 8; round++) {
    // Lines the follower has not read yet when the file rotates, then lines after the rotation;
    // in some rounds two rotations before it looks again.
    for (let i = 0; i < 20; i++) writeSync(fd, line(n++));
    rotateIfNeeded(file, 100, 5);
    if (round % 3 === 2) {
      for (let i = 0; i < 20; i++) writeSync(fd, line(n++));
      rotateIfNeeded(file, 100, 5);
    }
    for (let i = 0; i < 3; i++) writeSync(fd, line(n++));
    const want = n;
    await f.waitFor((s) => numbers(s).length >= want, `line ${want - 1}`);
  }
  assert.deepEqual(
    numbers(f.seen()),
    Array.from({ length: n }, (_, i) => i),
  );
});

test('the periodic rotator bounds a log a separate process keeps appending to (as its stdout)', async (t) => {
  const dir = tempDir(t, 'outpost-rotate-');
  const file = join(dir, 'ns', 'gw.log');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(join(dir, 'ns'));
  const fd = openSync(file, 'a');
  const total = 4000;
  // 40 lines per write, a write every 2 ms: ~100 KB in under a second.
  const child = spawn(
    process.execPath,
    [
      '-e',
      `
    const { writeSync } = require('node:fs');
    let i = 0;
    const line = (i) => 'line ' + String(i).padStart(6, '0') + ' ' + 'x'.repeat(40) + '\\n';
    const tick = () => {
      let s = '';
      for (let k = 0; k < 40 && i < ${total}; k++) s += line(i++);
      writeSync(1, s);
      if (i < ${total}) setTimeout(tick, 2);
    };
    tick();
  `,
    ],
    { stdio: ['ignore', fd, 'inherit'] },
  );
  closeSync(fd);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  t.after(() => {
    child.kill('SIGKILL');
  });
  const rotation = startLogRotation(dir, { maxBytes: 16 * 1024, maxFiles: 3, intervalMs: 20 }, () => {});
  t.after(() => rotation.stop());
  let maxSeen = 0;
  const watchSize = setInterval(() => {
    try {
      maxSeen = Math.max(maxSeen, statSync(file).size);
    } catch {
      /* mid-rotation */
    }
  }, 5);
  await exited;
  clearInterval(watchSize);
  // One more check after the writer is done.
  rotateIfNeeded(file, 16 * 1024, 3);
  rotation.stop();
  assert.ok(rotatedFiles(file).length === 2, `maxFiles 3: two rotated files (${rotatedFiles(file).join(', ')})`);
  assert.ok(statSync(file).size <= 16 * 1024, 'the live file is under the size after the last check');
  assert.ok(maxSeen < 100 * 1024, `the log was rotated while written (largest seen ${maxSeen} bytes)`);
  // What is kept is the newest part of the stream, in order, without duplicates, ending with the last line.
  let kept = '';
  for await (const c of readLogFile(file)) kept += c;
  const got = numbers(kept);
  assert.equal(got.at(-1), total - 1);
  for (let i = 1; i < got.length; i++) assert.ok(got[i]! > got[i - 1]!, `in order at ${i}: ${got[i - 1]} then ${got[i]}`);
});

test('a writer appending as fast as it can loses no line to rotation when its process group is held for the truncate', async (t) => {
  const dir = tempDir(t, 'outpost-rotate-');
  const file = join(dir, 'gw.log');
  const fd = openSync(file, 'a');
  const total = 200_000;
  // A proxy's access log under load: 64 lines per write(2), back to back, on its stdout. Detached:
  // its own process group, as the mesh starts proxies.
  const child = spawn(
    process.execPath,
    [
      '-e',
      `
    const { writeSync } = require('node:fs');
    const line = (i) => 'line ' + String(i).padStart(6, '0') + ' ' + 'x'.repeat(40) + '\\n';
    for (let i = 0; i < ${total}; ) {
      let s = '';
      for (let k = 0; k < 64 && i < ${total}; k++) s += line(i++);
      writeSync(1, s);
    }
  `,
    ],
    { stdio: ['ignore', fd, 'inherit'], detached: true },
  );
  closeSync(fd);
  let exited = false;
  const done = new Promise<void>((r) => child.once('exit', () => r()));
  void done.then(() => (exited = true));
  t.after(() => {
    child.kill('SIGKILL');
  });
  const freeze = processGroupFreeze(child.pid!);
  let rotations = 0;
  // Bounded: the writer ends after `total` lines; the loop ends with it (or after 60 s).
  const deadline = Date.now() + 60_000;
  while (!exited && Date.now() < deadline) {
    if (rotateIfNeeded(file, 64 * 1024, 10_000, freeze)) rotations++;
    await new Promise((r) => setImmediate(r));
  }
  await done;
  assert.ok(rotations > 0, 'the log was rotated while being written');
  let all = '';
  for await (const c of readLogFile(file)) all += c;
  const got = numbers(all);
  assert.equal(got.length, total, `every line kept across ${rotations} rotations`);
  for (let i = 0; i < got.length; i++) assert.equal(got[i], i, `line ${i} in place`);
});

test("sizes as kubelet's flags take them", () => {
  assert.equal(parseByteQuantity('10Mi'), 10 * 1024 * 1024);
  assert.equal(parseByteQuantity('512Ki'), 512 * 1024);
  assert.equal(parseByteQuantity('1G'), 1e9);
  assert.equal(parseByteQuantity('2048'), 2048);
  assert.equal(parseByteQuantity('10MB'), undefined);
  assert.equal(parseByteQuantity('-1Mi'), undefined);
});
