// Why the store file cannot be used, worded for a user (which file, what happened, what to do),
// and the cheap check that the file we write is still the one on disk.
import { closeSync, fstatSync, openSync, statfsSync, statSync, accessSync, constants } from 'node:fs';
import { dirname } from 'node:path';
import { StoreError } from './types.js';

/**
 * deleted/replaced/corrupt are sticky: every later operation fails the same way, because writing on
 * would lose data silently. full/readonly/locked/io fail one operation (rolled back) and may clear.
 */
export type StoreProblem = 'deleted' | 'replaced' | 'corrupt' | 'full' | 'readonly' | 'locked' | 'io';

export const STICKY_PROBLEMS: ReadonlySet<StoreProblem> = new Set(['deleted', 'replaced', 'corrupt']);

/** The store cannot serve: the API answers 503 ServiceUnavailable with this message. */
export class StoreUnavailableError extends StoreError {
  constructor(
    readonly problem: StoreProblem,
    readonly file: string,
    message: string,
    cause?: unknown,
  ) {
    super('ServiceUnavailable', message, 503);
    this.name = 'StoreUnavailableError';
    if (cause !== undefined) this.cause = cause;
  }
}

/** One line: the file, what happened, what to do. `rescued` names a copy saved from the open connection. */
export function problemMessage(problem: StoreProblem, file: string, opts: { detail?: string; rescued?: string } = {}): string {
  const saved = opts.rescued ? `; what the mesh still held was saved to ${opts.rescued}` : '';
  switch (problem) {
    case 'deleted':
      return `the store file ${file} was deleted while in use, so the store stops serving${saved}: stop the mesh (outpost down), put the file back${opts.rescued ? ` (mv ${opts.rescued} ${file})` : ''} and start it again`;
    case 'replaced':
      return `the store file ${file} was replaced by another file while in use, so the store stops serving${saved}: stop the mesh (outpost down), decide which file to keep and start it again`;
    case 'corrupt':
      return `the store file ${file} is corrupt${opts.detail ? ` (${opts.detail})` : ''}: restore it from a backup, or move it away to start with an empty store`;
    case 'full':
      return `the disk holding the store file ${file} is full: free space there, then retry`;
    case 'readonly':
      return `the store file ${file} cannot be written (read-only file, directory or file system${opts.detail ? `: ${opts.detail}` : ''}): make them writable, then retry`;
    case 'locked':
      return `the store file ${file} is locked by another process: stop whatever else has it open, then retry`;
    case 'io':
      return `the store file ${file} cannot be read or written (${opts.detail ?? 'I/O error'}): check the disk, then retry`;
  }
}

function directoryIsFull(file: string): boolean {
  try {
    const s = statfsSync(dirname(file));
    return s.bavail === 0 || s.ffree === 0;
  } catch {
    return false;
  }
}

function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Maps an error from SQLite (or the file system) on `file` to a problem; undefined when it is not about the file. */
export function classify(err: unknown, file: string): StoreUnavailableError | undefined {
  if (err instanceof StoreUnavailableError) return err;
  const code = String((err as { code?: unknown })?.code ?? '');
  const message = err instanceof Error ? err.message : String(err);
  const make = (problem: StoreProblem, detail?: string): StoreUnavailableError =>
    new StoreUnavailableError(problem, file, problemMessage(problem, file, { detail }), err);
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') return make('corrupt', message);
  if (code === 'SQLITE_FULL' || code === 'ENOSPC') return make('full');
  // SQLite itself notices a renamed or unlinked file on some writes.
  if (code === 'SQLITE_READONLY_DBMOVED') return make('deleted');
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return make('locked');
  if (code.startsWith('SQLITE_READONLY') || code === 'SQLITE_PERM' || code === 'EROFS' || code === 'EACCES' || code === 'EPERM')
    return make('readonly', message);
  if (code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_IOERR')) {
    // SQLite does not pass errno on; the file system tells which it was.
    if (directoryIsFull(file)) return make('full');
    if (!writable(dirname(file)) || (existsQuiet(file) && !writable(file))) return make('readonly', message);
    return make('io', message);
  }
  return undefined;
}

function existsQuiet(file: string): boolean {
  try {
    statSync(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * Remembers which inode `file` (and its WAL) was when opened; check() says whether it was since
 * unlinked (link count 0, or the name is gone) or replaced (the name points at another inode).
 * Two stat calls: cheap enough for every transaction.
 */
export class FileIdentity {
  private readonly fd: number;
  private readonly ids = new Map<string, string>();

  constructor(
    private readonly file: string,
    companions: string[] = [],
  ) {
    this.fd = openSync(file, 'r');
    const st = fstatSync(this.fd);
    this.ids.set(file, `${st.dev}:${st.ino}`);
    for (const c of companions) {
      try {
        const s = statSync(c);
        this.ids.set(c, `${s.dev}:${s.ino}`);
      } catch {
        // Not there (yet): nothing to compare.
      }
    }
  }

  /** The problem and the path it concerns, or undefined when every file is still the one opened. */
  check(): { problem: 'deleted' | 'replaced'; path: string } | undefined {
    for (const [path, id] of this.ids) {
      let st;
      try {
        st = statSync(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { problem: 'deleted', path };
        throw err;
      }
      if (`${st.dev}:${st.ino}` !== id) return { problem: 'replaced', path };
    }
    // The name still points at our inode yet it has no links: unlinked through another path.
    if (fstatSync(this.fd).nlink === 0) return { problem: 'deleted', path: this.file };
    return undefined;
  }

  close(): void {
    closeSync(this.fd);
  }
}
