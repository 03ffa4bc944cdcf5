// Size-based rotation of the local mesh's log files, as kubelet rotates container logs
// (containerLogMaxSize, containerLogMaxFiles, checked every containerLogMonitorInterval): the
// live file keeps its name, rotated ones are `FILE.1` (newest) … `FILE.<maxFiles-1>` (oldest).
import { closeSync, existsSync, fstatSync, ftruncateSync, openSync, readdirSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { WriterFreeze } from './process-freeze.js';

export interface LogRotationOptions {
  /** A file is rotated once it is larger than this, bytes (kubelet's containerLogMaxSize: 10Mi). */
  readonly maxBytes: number;
  /** Files kept per log, the live one included, at least 2 (kubelet's containerLogMaxFiles: 5). */
  readonly maxFiles: number;
  /** How often sizes are checked, ms (kubelet's containerLogMonitorInterval: 10s). */
  readonly intervalMs: number;
}

export const DEFAULT_LOG_ROTATION: LogRotationOptions = { maxBytes: 10 * 1024 * 1024, maxFiles: 5, intervalMs: 10_000 };

/** The rotated files of `file` that exist, newest first (`FILE.1`, `FILE.2`, …). */
export function rotatedFiles(file: string): string[] {
  const out: string[] = [];
  for (let k = 1; existsSync(`${file}.${k}`); k++) out.push(`${file}.${k}`);
  return out;
}

const COPY_CHUNK = 256 * 1024;

/**
 * Rotates `file` when it is larger than maxBytes; returns whether it did. Copy-then-truncate
 * (logrotate's copytruncate), not kubelet's rename-and-reopen: the writers are proxies that hold
 * the file as their stdout, opened for append, and keep running without the process that rotates
 * (kubelet asks the container runtime to reopen; nothing can reopen another process's stdout).
 * O_APPEND makes their next write land at the new end.
 *
 * Without `freeze`, what the writers append between the copy's last read and the truncate is lost:
 * under load (a proxy's access log at ~5 MB/s on the same CPU) that was whole batches of lines. With
 * it, the bulk is copied while they run, then they are stopped for the tail and the truncate only
 * (a few KiB, well under a millisecond): no line is lost. When they cannot be stopped in time the
 * rotation waits for the next check.
 */
export function rotateIfNeeded(file: string, maxBytes: number, maxFiles: number, freeze?: WriterFreeze): boolean {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return false;
  }
  if (size <= maxBytes) return false;
  const tmp = `${file}.rotating`;
  const src = openSync(file, 'r+');
  try {
    const mode = fstatSync(src).mode & 0o777;
    const dst = openSync(tmp, 'w', mode);
    let done = false;
    try {
      const buf = Buffer.allocUnsafe(COPY_CHUNK);
      let pos = 0;
      const copyToEnd = (): void => {
        for (;;) {
          const n = readSync(src, buf, 0, buf.length, pos);
          if (n === 0) break;
          writeSync(dst, buf, 0, n);
          pos += n;
        }
      };
      // Read to the end, then truncate at once: what the writers add meanwhile is read too.
      copyToEnd();
      if (freeze === undefined) {
        ftruncateSync(src, 0);
        done = true;
      } else {
        try {
          if (freeze.stop()) {
            copyToEnd();
            ftruncateSync(src, 0);
            done = true;
          }
        } finally {
          freeze.resume();
        }
      }
    } finally {
      closeSync(dst);
      if (!done) rmSync(tmp, { force: true });
    }
    if (!done) return false;
  } finally {
    closeSync(src);
  }
  // Shift FILE.k → FILE.k+1, dropping what would be beyond maxFiles - 1 rotated files.
  const keep = Math.max(1, maxFiles - 1);
  for (let k = keep; existsSync(`${file}.${k}`); k++) rmSync(`${file}.${k}`, { force: true });
  for (let k = keep - 1; k >= 1; k--) {
    if (existsSync(`${file}.${k}`)) renameSync(`${file}.${k}`, `${file}.${k + 1}`);
  }
  renameSync(tmp, `${file}.1`);
  return true;
}

/**
 * Checks every `*.log` under `dir` (workloads' logs are in per-namespace folders) each interval and
 * rotates those over the size; stop() ends it. `writersOf` names what holds a log still while it is
 * emptied (a proxy's process group), undefined for logs rotated without it.
 */
export function startLogRotation(
  dir: string,
  opts: LogRotationOptions,
  log: (line: string) => void,
  writersOf?: (file: string) => WriterFreeze | undefined,
): { stop(): void } {
  let warned = false;
  const tick = (): void => {
    let names: string[];
    try {
      names = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((n) => n.endsWith('.log'));
    } catch {
      return;
    }
    for (const n of names) {
      try {
        const file = join(dir, n);
        rotateIfNeeded(file, opts.maxBytes, opts.maxFiles, writersOf?.(file));
      } catch (err) {
        // A full disk or a vanished file: said once, tried again next interval.
        if (!warned) log(`log rotation of ${join(dir, n)} failed: ${(err as Error).message}`);
        warned = true;
      }
    }
  };
  const timer = setInterval(tick, opts.intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/** A Kubernetes quantity of bytes as kubelet's flags take it (`10Mi`, `512Ki`, `1G`, `2048`); undefined if not one. */
export function parseByteQuantity(s: string): number | undefined {
  const m = /^(\d+)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(s.trim());
  if (!m) return undefined;
  const unit = m[2] ?? '';
  const factor: Record<string, number> = { '': 1, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };
  return Number(m[1]) * factor[unit]!;
}
