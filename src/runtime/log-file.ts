// Reading a workload's log file as `kubectl logs` shows it: all of it (rotated files first) or its
// last N lines, and with follow, what gets appended afterwards, across rotations, until the reader goes away.
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { rotatedFiles } from './log-rotation.js';

export interface LogReadOptions {
  /** Only the last N lines (negative or absent: all). */
  tailLines?: number;
  follow?: boolean;
  /** Ends a follow. */
  signal?: AbortSignal;
  /** How often a follow checks the file (ms). */
  pollMs?: number;
}

function readRange(file: string, from: number): { text: Buffer; size: number } {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return { text: Buffer.alloc(0), size: 0 };
  }
  try {
    const size = fstatSync(fd).size;
    if (size <= from) return { text: Buffer.alloc(0), size };
    const buf = Buffer.alloc(size - from);
    const n = readSync(fd, buf, 0, buf.length, from);
    return { text: buf.subarray(0, n), size: from + n };
  } finally {
    closeSync(fd);
  }
}

/** The last `n` lines of text (a trailing partial line counts as one). */
export function lastLinesOf(text: string, n: number | undefined): string {
  if (n === undefined || n < 0) return text;
  if (n === 0) return '';
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  if (body === '') return '';
  const lines = body.split('\n');
  return lines.slice(-n).join('\n') + '\n';
}

/** The file's inode, undefined when it does not exist. */
function inodeOf(file: string): number | undefined {
  try {
    return statSync(file).ino;
  } catch {
    return undefined;
  }
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** What is there now: the rotated files (oldest first) and the live one, only as much as `tail` needs. */
function readAll(file: string, tailLines: number | undefined): { text: string; size: number } {
  const live = readRange(file, 0);
  const parts = [live.text];
  if (tailLines === undefined || tailLines < 0 || countLines(live.text) <= tailLines) {
    for (const f of rotatedFiles(file)) {
      const t = readRange(f, 0).text;
      parts.unshift(t);
      if (tailLines !== undefined && tailLines >= 0 && countLines(Buffer.concat(parts)) > tailLines) break;
    }
  }
  return { text: lastLinesOf(Buffer.concat(parts).toString('utf8'), tailLines), size: live.size };
}

function countLines(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) n++;
  return n;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * The log as chunks: what is there now (rotated files included, tailed), then, with follow, each
 * append. A follower keeps following across rotation (log-rotation.ts): when a new `FILE.1`
 * appears, the rest of what it was reading is in it (or in an older one, after several
 * rotations), and the live file starts over.
 */
export async function* readLogFile(file: string, opts: LogReadOptions = {}): AsyncGenerator<string> {
  const first = readAll(file, opts.tailLines);
  if (first.text) yield first.text;
  if (!opts.follow) return;
  let offset = first.size;
  let lastRotated = inodeOf(`${file}.1`);
  let shrunk = 0;
  const signal = opts.signal;
  while (!signal?.aborted) {
    await sleep(opts.pollMs ?? 200, signal);
    if (signal?.aborted) return;
    const newest = inodeOf(`${file}.1`);
    if (newest !== undefined && newest !== lastRotated) {
      // How many rotations since the last look: where the FILE.1 we knew has moved to.
      const now = rotatedFiles(file);
      let r = lastRotated === undefined ? now.length : now.findIndex((f) => inodeOf(f) === lastRotated);
      if (r < 0) r = now.length;
      for (let j = r; j >= 1; j--) {
        const part = readRange(`${file}.${j}`, j === r ? offset : 0);
        if (part.text.length) yield part.text.toString('utf8');
      }
      offset = 0;
      lastRotated = newest;
      shrunk = 0;
    }
    const size = sizeOf(file);
    if (size < offset) {
      // Truncated: a rotation under way shows its FILE.1 within a look or two; else start over.
      if (++shrunk < 5) continue;
      offset = 0;
    }
    shrunk = 0;
    const next = readRange(file, offset);
    offset = next.size;
    if (next.text.length) yield next.text.toString('utf8');
  }
}
