// Reading a workload's log file as `kubectl logs` shows it: all of it or its last N lines, and
// with follow, what gets appended afterwards until the reader goes away.
import { closeSync, existsSync, fstatSync, openSync, readSync, statSync, unwatchFile, watchFile } from 'node:fs';

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

/** The log as chunks: what is there now (tailed), then, with follow, each append. */
export async function* readLogFile(file: string, opts: LogReadOptions = {}): AsyncGenerator<string> {
  const first = readRange(file, 0);
  const now = lastLinesOf(first.text.toString('utf8'), opts.tailLines);
  if (now) yield now;
  if (!opts.follow) return;
  let offset = first.size;
  const signal = opts.signal;
  while (!signal?.aborted) {
    await new Promise<void>((resolve) => {
      const done = (): void => {
        unwatchFile(file, onChange);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const onChange = (): void => done();
      watchFile(file, { interval: opts.pollMs ?? 200 }, onChange);
      signal?.addEventListener('abort', done, { once: true });
    });
    if (signal?.aborted) return;
    const size = existsSync(file) ? statSync(file).size : 0;
    if (size < offset) offset = 0; // truncated or replaced: start over
    const next = readRange(file, offset);
    offset = next.size;
    if (next.text.length) yield next.text.toString('utf8');
  }
}
