// The access logger: formats entries with the compiled format and writes whole lines in batches,
// off the request path, to a file (appended) or the proxy's stdout/stderr.

import { open, write, close as closeFd } from 'node:fs';
import type { AccessLogSettings } from '../../proxyconfig/types.js';
import { compileAccessLog, type AccessLogEntry, type LineWriter } from './accesslog-format.js';
import { log } from '../log.js';

export {
  compileAccessLogFormat,
  compileAccessLog,
  parseFormat,
  formatIsoMillis,
  ISTIO_DEFAULT_TEXT_FORMAT,
  ISTIO_DEFAULT_JSON_FORMAT,
} from './accesslog-format.js';
export type { AccessLogEntry, LineWriter } from './accesslog-format.js';

export interface AccessLogger {
  /** Formats now (the entry may be reused after), writes later. */
  log(e: AccessLogEntry): void;
  /** Resolves when every line logged so far is written. */
  flush(): Promise<void>;
  /** Lines that could not be rendered (a bug: each one is reported on the component log). */
  readonly dropped: number;
  /** Flushes, then releases the file. Lines logged after close are dropped. */
  close(): Promise<void>;
}

/**
 * Lines are rendered straight into chunks of this size as they are logged (no line string); a
 * full chunk is written at once. A batch kept as one growing string (a rope of every line's
 * pieces) survived garbage collection after garbage collection, and the young-generation pauses
 * that copied it showed in every request's tail latency.
 */
const CHUNK_BYTES = 64 * 1024;
/** Written chunks kept for reuse. */
const SPARE_CHUNKS = 2;
/**
 * Otherwise lines wait at most this long (Envoy batches for up to 1 s). A write per event-loop
 * turn cost ~10 % of the proxy's CPU under load (each async write is a thread-pool round trip);
 * one write every few ms costs next to nothing and keeps `tail -f` current.
 */
const FLUSH_INTERVAL_MS = 20;
/** Writes to a pipe up to PIPE_BUF bytes are atomic: worker processes sharing stdout never split each other's lines. */
const PIPE_BUF = 4096;

/** Where lines go: a stream (stdout/stderr) or a file descriptor opened for append. The chunk may be reused after `done`. */
interface Sink {
  write(chunk: Buffer, done: (err?: Error | null) => void): void;
  close(done: () => void): void;
}

function streamSink(stream: NodeJS.WriteStream): Sink {
  return {
    write: (chunk, done) => {
      try {
        const pieces = splitAtLines(chunk, PIPE_BUF);
        for (let i = 0; i < pieces.length - 1; i++) stream.write(pieces[i]!);
        stream.write(pieces[pieces.length - 1]!, (err) => done(err ?? null));
      } catch (err) {
        done(err as Error);
      }
    },
    close: (done) => done(),
  };
}

function fileSink(path: string): Sink {
  let fd: number | undefined;
  let openErr: Error | undefined;
  const waiting: Array<() => void> = [];
  open(path, 'a', 0o644, (err, f) => {
    if (err) openErr = err;
    else fd = f;
    for (const w of waiting.splice(0)) w();
  });
  const whenOpen = (fn: () => void): void => {
    if (fd !== undefined || openErr !== undefined) fn();
    else waiting.push(fn);
  };
  const writeAll = (buf: Buffer, off: number, done: (err?: Error | null) => void): void => {
    write(fd!, buf, off, buf.length - off, null, (err, n) => {
      if (err) return done(err);
      if (off + n < buf.length) writeAll(buf, off + n, done);
      else done(null);
    });
  };
  return {
    write: (chunk, done) =>
      whenOpen(() => {
        if (openErr !== undefined) return done(openErr);
        writeAll(chunk, 0, done);
      }),
    close: (done) =>
      whenOpen(() => {
        if (fd === undefined) return done();
        closeFd(fd, () => done());
        fd = undefined;
      }),
  };
}

/** Cuts `b` into pieces of at most `max` bytes at line ends (a longer line stays one piece). */
export function splitAtLines(b: Buffer, max: number): Buffer[] {
  if (b.length <= max) return [b];
  const out: Buffer[] = [];
  let start = 0;
  while (b.length - start > max) {
    let cut = b.lastIndexOf(0x0a, start + max - 1);
    if (cut < start) {
      // One line longer than max: it goes alone, whole.
      cut = b.indexOf(0x0a, start + max);
      if (cut < 0) break;
    }
    out.push(b.subarray(start, cut + 1));
    start = cut + 1;
  }
  if (start < b.length) out.push(b.subarray(start));
  return out;
}

class BatchingAccessLogger implements AccessLogger {
  readonly #format: (e: AccessLogEntry) => string;
  readonly #write: LineWriter;
  readonly #sink: Sink;
  readonly #path: string;
  /** The chunk being filled, and its bytes used. */
  #chunk: Buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  #used = 0;
  /** Filled chunks waiting for the sink, oldest first. */
  readonly #full: Buffer[] = [];
  readonly #spare: Buffer[] = [];
  #scheduled = false;
  #writing = false;
  #closed = false;
  #waiters: Array<() => void> = [];
  #reportedError = false;
  #timer: NodeJS.Timeout | undefined = undefined;
  dropped = 0;

  constructor(settings: AccessLogSettings) {
    const f = compileAccessLog(settings);
    this.#format = f.render;
    this.#write = f.write;
    this.#path = settings.path;
    if (settings.path === '/dev/stdout') this.#sink = streamSink(process.stdout);
    else if (settings.path === '/dev/stderr') this.#sink = streamSink(process.stderr);
    else this.#sink = fileSink(settings.path);
  }

  log(e: AccessLogEntry): void {
    if (this.#closed) return;
    try {
      let end = this.#write(e, this.#chunk, this.#used);
      if (end < 0) {
        // Not enough room left in this chunk: the line goes whole into the next one.
        this.#seal();
        end = this.#write(e, this.#chunk, 0);
        if (end < 0) {
          // Longer than a chunk: a buffer of its own.
          this.#full.push(Buffer.from(this.#format(e)));
          this.#drain();
          return;
        }
      }
      this.#used = end;
    } catch (err) {
      // A broken entry must never take the proxy down; the line is dropped (#used still ends the
      // last whole one), never silently: counted, and said with its stack (the first, then every 1000th).
      if (this.dropped++ % 1000 === 0) {
        log(
          'error',
          `access log ${this.#path}: a line could not be rendered and was dropped (${this.dropped} so far): ${(err as Error)?.stack ?? String(err)}`,
        );
      }
      return;
    }
    if (this.#full.length > 0) this.#drain();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      this.#timer = setTimeout(this.#onTimer, FLUSH_INTERVAL_MS);
    }
  }

  readonly #onTimer = (): void => {
    this.#scheduled = false;
    this.#timer = undefined;
    this.#drain();
  };

  /** Moves the current chunk (if it holds anything) to the write queue and starts a fresh one. */
  #seal(): void {
    if (this.#used === 0) return;
    this.#full.push(this.#chunk.subarray(0, this.#used));
    this.#chunk = this.#spare.pop() ?? Buffer.allocUnsafe(CHUNK_BYTES);
    this.#used = 0;
  }

  /** Writes queued bytes if no write is in flight; one write at a time keeps lines in order and whole. */
  #drain(): void {
    if (this.#writing) return;
    if (this.#full.length === 0) this.#seal();
    const chunk = this.#full.shift();
    if (chunk === undefined) {
      this.#notify();
      return;
    }
    this.#writing = true;
    this.#sink.write(chunk, (err) => {
      this.#writing = false;
      if (chunk.buffer.byteLength === CHUNK_BYTES && chunk.byteOffset === 0 && this.#spare.length < SPARE_CHUNKS) {
        this.#spare.push(Buffer.from(chunk.buffer, 0, CHUNK_BYTES));
      }
      if (err && !this.#reportedError) {
        this.#reportedError = true;
        process.stderr.write(`outpost: access log ${this.#path}: ${err.message}\n`);
      }
      // Lines that came in meanwhile wait for the timer (not a write per completion: under load
      // that was a thread-pool round trip per event-loop turn), unless someone flushes or a
      // chunk is full.
      if (this.#full.length > 0 || this.#waiters.length > 0 || this.#closed) this.#drain();
      else if (this.#used > 0 && !this.#scheduled) {
        this.#scheduled = true;
        this.#timer = setTimeout(this.#onTimer, FLUSH_INTERVAL_MS);
      }
    });
  }

  #notify(): void {
    if (this.#writing || this.#used !== 0 || this.#full.length !== 0) return;
    for (const w of this.#waiters.splice(0)) w();
  }

  flush(): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#scheduled = false;
    }
    if (!this.#writing && this.#used === 0 && this.#full.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#waiters.push(resolve);
      this.#drain();
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.flush();
    await new Promise<void>((resolve) => this.#sink.close(resolve));
  }
}

/** The logger for the mesh settings; undefined when access logging is off, so callers skip building entries. */
export function createAccessLogger(settings: AccessLogSettings | undefined): AccessLogger | undefined {
  if (settings === undefined || settings.path === undefined || settings.path === '') return undefined;
  return new BatchingAccessLogger(settings);
}
