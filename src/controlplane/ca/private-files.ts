// Files only their owner may read: directories 0700, files 0600, written atomically (temp file in the same dir, then rename).
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Creates the directory (and parents) and makes it 0700 even when it existed with wider modes. */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/** A temp file beside `file`, created 0600 (never wider, whatever the umask), for a later rename. */
export function writePrivateTemp(file: string, content: string | Buffer): string {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    try {
      writeSync(fd, typeof content === 'string' ? Buffer.from(content) : content);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  return tmp;
}

/** Writes `file` 0600 in one step for readers: they see the old content or the new, never half. */
export function writePrivateFile(file: string, content: string | Buffer): void {
  const tmp = writePrivateTemp(file, content);
  try {
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
