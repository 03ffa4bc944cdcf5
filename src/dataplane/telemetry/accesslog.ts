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

/** Buffered bytes that trigger a write without waiting for the next turn of the event loop. */
const FLUSH_THRESHOLD = 64 * 1024;

/** Where lines go: a stream (stdout/stderr) or a file descriptor opened for append. */
interface Sink {
  write(chunk: string, done: (err?: Error | null) => void): void;
  close(done: () => void): void;
}

function streamSink(stream: NodeJS.WriteStream): Sink {
  return {
    write: (chunk, done) => {
      try {
        stream.write(chunk, (err) => done(err ?? null));
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
      setImmediate(this.#onImmediate);
    }
  }

  readonly #onImmediate = (): void => {
    this.#scheduled = false;
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
      this.#drain();
    });
  }

  #notify(): void {
    if (this.#writing || this.#buffer !== '') return;
    for (const w of this.#waiters.splice(0)) w();
  }

  flush(): Promise<void> {
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
