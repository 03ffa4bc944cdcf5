// The access logger: formats entries with the compiled format and writes whole lines in batches,
// off the request path, to a file (appended) or the proxy's stdout/stderr.

import { open, write, close as closeFd } from 'node:fs';
import type { AccessLogSettings } from '../../proxyconfig/types.js';
import { compileAccessLogFormat, type AccessLogEntry } from './accesslog-format.js';

export {
  compileAccessLogFormat,
  parseFormat,
  formatIsoMillis,
  ISTIO_DEFAULT_TEXT_FORMAT,
  ISTIO_DEFAULT_JSON_FORMAT,
} from './accesslog-format.js';
export type { AccessLogEntry } from './accesslog-format.js';

export interface AccessLogger {
  /** Formats now (the entry may be reused after), writes later. */
  log(e: AccessLogEntry): void;
  /** Resolves when every line logged so far is written. */
  flush(): Promise<void>;
  /** Flushes, then releases the file. Lines logged after close are dropped. */
  close(): Promise<void>;
}

/** Buffered bytes that trigger a write at once. */
const FLUSH_THRESHOLD = 64 * 1024;
/**
 * Otherwise lines wait at most this long (Envoy batches for up to 1 s). A write per event-loop
 * turn cost ~10 % of the proxy's CPU under load (each async write is a thread-pool round trip);
 * one write every few ms costs next to nothing and keeps `tail -f` current.
 */
const FLUSH_INTERVAL_MS = 20;
/** Writes to a pipe up to PIPE_BUF bytes are atomic: worker processes sharing stdout never split each other's lines. */
const PIPE_BUF = 4096;

/** Where lines go: a stream (stdout/stderr) or a file descriptor opened for append. */
interface Sink {
  write(chunk: string, done: (err?: Error | null) => void): void;
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
        writeAll(Buffer.from(chunk, 'utf8'), 0, done);
      }),
    close: (done) =>
      whenOpen(() => {
        if (fd === undefined) return done();
        closeFd(fd, () => done());
        fd = undefined;
      }),
  };
}

/** Cuts `s` into pieces of at most `max` bytes at line ends (a longer line stays one piece). */
export function splitAtLines(s: string, max: number): string[] {
  if (s.length * 3 <= max || Buffer.byteLength(s) <= max) return [s];
  const out: string[] = [];
  let start = 0;
  let bytes = 0;
  for (let from = 0; from < s.length; ) {
    let nl = s.indexOf('\n', from);
    if (nl < 0) nl = s.length - 1;
    const n = Buffer.byteLength(s.slice(from, nl + 1));
    if (bytes > 0 && bytes + n > max) {
      out.push(s.slice(start, from));
      start = from;
      bytes = 0;
    }
    bytes += n;
    from = nl + 1;
  }
  out.push(s.slice(start));
  return out;
}

class BatchingAccessLogger implements AccessLogger {
  readonly #format: (e: AccessLogEntry) => string;
  readonly #sink: Sink;
  readonly #path: string;
  #buffer = '';
  #scheduled = false;
  #writing = false;
  #closed = false;
  #waiters: Array<() => void> = [];
  #reportedError = false;

  constructor(settings: AccessLogSettings) {
    this.#format = compileAccessLogFormat(settings);
    this.#path = settings.path;
    if (settings.path === '/dev/stdout') this.#sink = streamSink(process.stdout);
    else if (settings.path === '/dev/stderr') this.#sink = streamSink(process.stderr);
    else this.#sink = fileSink(settings.path);
  }

  log(e: AccessLogEntry): void {
    if (this.#closed) return;
    let line: string;
    try {
      line = this.#format(e);
    } catch {
      // A broken entry must never take the proxy down; drop the line.
      return;
    }
    this.#buffer += line;
    if (this.#buffer.length >= FLUSH_THRESHOLD) this.#drain();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      this.#timer = setTimeout(this.#onTimer, FLUSH_INTERVAL_MS);
    }
  }

  #timer: NodeJS.Timeout | undefined = undefined;

  readonly #onTimer = (): void => {
    this.#scheduled = false;
    this.#timer = undefined;
    this.#drain();
  };

  /** Writes the buffer if no write is in flight; one write at a time keeps lines in order and whole. */
  #drain(): void {
    if (this.#writing) return;
    if (this.#buffer === '') {
      this.#notify();
      return;
    }
    const chunk = this.#buffer;
    this.#buffer = '';
    this.#writing = true;
    this.#sink.write(chunk, (err) => {
      this.#writing = false;
      if (err && !this.#reportedError) {
        this.#reportedError = true;
        process.stderr.write(`outpost: access log ${this.#path}: ${err.message}\n`);
      }
      // Lines that came in meanwhile wait for the timer (not a write per completion: under load
      // that was a thread-pool round trip per event-loop turn), unless someone flushes or the
      // buffer is full.
      if (this.#buffer === '' || this.#waiters.length > 0 || this.#closed || this.#buffer.length >= FLUSH_THRESHOLD) this.#drain();
      else if (!this.#scheduled) {
        this.#scheduled = true;
        this.#timer = setTimeout(this.#onTimer, FLUSH_INTERVAL_MS);
      }
    });
  }

  #notify(): void {
    if (this.#writing || this.#buffer !== '') return;
    for (const w of this.#waiters.splice(0)) w();
  }

  flush(): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#scheduled = false;
    }
    if (!this.#writing && this.#buffer === '') return Promise.resolve();
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
