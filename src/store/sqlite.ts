// The embedded store: Kubernetes-shaped objects in one SQLite file (WAL), with a persisted event
// log so watches resume across restarts. One process writes; watch callbacks run after commit.
//
// Durability: WAL with synchronous=FULL. NORMAL would already survive kill -9 (the WAL is in the OS
// page cache), but not a power cut; FULL costs one fsync per transaction, and our writes are
// applies and debounced status updates (an apply of many documents is one transaction, one fsync).
//
// Never losing data silently: the file is checked at open (quick_check, a probe write) and before
// every operation (still the inode we opened: see integrity.ts); SQLite's errors become a 503 that
// names the file and what to do. A deleted or replaced file stops all writes, and what the open
// connection still holds is saved next to it.
import { randomUUID } from 'node:crypto';
import { chmodSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { KubeObject, ObjectRef } from '../api/object.js';
import { groupOf } from '../api/object.js';
import { classify, FileIdentity, problemMessage, STICKY_PROBLEMS, StoreUnavailableError, type StoreProblem } from './integrity.js';
import { matchesLabels, parseLabelSelector } from './label-selector.js';
import { canonicalJson, mergePatch } from './merge-patch.js';
import { qualifiedResource } from './resource-names.js';
import { StoreError, type ApplyResult, type ListQuery, type ListResult, type Store, type WatchEvent, type WatchEventType } from './types.js';

export interface SqliteStoreOptions {
  /** How many events the log keeps; watching from an older revision is Gone (410). Default 10000. */
  historyLimit?: number;
  /** 'FULL' (default) or 'NORMAL'. */
  synchronous?: 'FULL' | 'NORMAL';
  /** How often (ms) to look for commits made by other connections while someone watches. Default 100. */
  pollMs?: number;
  /** How often (ms) to check, between operations, that the file is still there. Default 1000; 0 never. */
  checkMs?: number;
  /** How long (ms) a write waits for another process's lock before failing as locked. Default 10000. */
  busyTimeoutMs?: number;
  /** Called once when the store stops serving for good (file deleted, replaced or corrupt). */
  onFailure?: (err: StoreUnavailableError) => void;
}

interface Row {
  body: string;
  rv: number;
}

interface Watcher {
  cursor: number;
  onEvent: (ev: WatchEvent) => void;
  closed: boolean;
}

type Key = { group: string; kind: string; ns: string; name: string };

const SCHEMA = `
CREATE TABLE IF NOT EXISTS objects (
  grp TEXT NOT NULL, kind TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL,
  uid TEXT NOT NULL, rv INTEGER NOT NULL, body TEXT NOT NULL,
  PRIMARY KEY (grp, kind, ns, name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS objects_ns ON objects (ns);
CREATE TABLE IF NOT EXISTS owners (
  owner_uid TEXT NOT NULL, grp TEXT NOT NULL, kind TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS owners_uid ON owners (owner_uid);
CREATE INDEX IF NOT EXISTS owners_obj ON owners (grp, kind, ns, name);
CREATE TABLE IF NOT EXISTS events (rev INTEGER PRIMARY KEY, type TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('revision', 0), ('compacted', 0);
`;

function keyOf(ref: ObjectRef): Key {
  return { group: ref.group, kind: ref.kind, ns: ref.namespace ?? '', name: ref.name };
}

function keyOfObject(obj: KubeObject): Key {
  return { group: groupOf(obj.apiVersion), kind: obj.kind, ns: obj.metadata.namespace ?? '', name: obj.metadata.name };
}

function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

/** What generation tracks: spec, or for kinds without one every non-metadata field except status. */
function generationContent(obj: KubeObject): string {
  if (obj.spec !== undefined) return canonicalJson(obj.spec);
  const { apiVersion: _a, kind: _k, metadata: _m, status: _s, ...rest } = obj;
  return canonicalJson(rest);
}

/** What apply compares to say "unchanged": the desired content plus labels and annotations. */
function applyContent(obj: KubeObject): string {
  const { apiVersion: _a, kind: _k, metadata, status: _s, ...rest } = obj;
  return canonicalJson({ rest, labels: metadata.labels ?? {}, annotations: metadata.annotations ?? {} });
}

/** Everything but resourceVersion: equal means a write would change nothing. */
function storedContent(obj: KubeObject): string {
  const { resourceVersion: _rv, ...meta } = obj.metadata;
  return canonicalJson({ ...obj, metadata: meta });
}

function checkShape(obj: KubeObject): void {
  if (!obj || typeof obj !== 'object') throw new StoreError('BadRequest', 'the object must be a JSON object', 400);
  if (typeof obj.apiVersion !== 'string' || !obj.apiVersion) throw new StoreError('BadRequest', "Object 'apiVersion' is missing", 400);
  if (typeof obj.kind !== 'string' || !obj.kind) throw new StoreError('BadRequest', "Object 'Kind' is missing", 400);
  if (!obj.metadata || typeof obj.metadata.name !== 'string' || !obj.metadata.name) {
    throw new StoreError('Invalid', `${obj.kind} "" is invalid: metadata.name: Required value: name or generateName is required`, 422);
  }
}

class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly historyLimit: number;
  private readonly pollMs: number;
  private readonly watchers = new Set<Watcher>();
  private pumping = false;
  private pumpAgain = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private lastDataVersion = 0;
  private closed = false;
  private readonly stmts;
  private readonly path: string;
  private readonly identity: FileIdentity;
  private readonly onFailure: ((err: StoreUnavailableError) => void) | undefined;
  private failure: StoreUnavailableError | undefined;
  private checkTimer: NodeJS.Timeout | undefined;

  constructor(path: string, opts: SqliteStoreOptions = {}) {
    this.historyLimit = Math.max(1, opts.historyLimit ?? 10_000);
    this.pollMs = opts.pollMs ?? 100;
    this.path = path;
    this.onFailure = opts.onFailure;
    let opened: Database.Database | undefined;
    try {
      opened = new Database(path);
      // Refuse a damaged file before anything writes to it.
      const check = opened.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw new StoreUnavailableError('corrupt', path, problemMessage('corrupt', path, { detail: `quick_check: ${String(check)}` }));
      opened.pragma('journal_mode = WAL');
      opened.pragma(`synchronous = ${opts.synchronous ?? 'FULL'}`);
      // Several processes may open the file (tests, tools); a writer waits for another's lock instead of failing.
      opened.pragma(`busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs ?? 10_000))}`);
      opened.pragma('foreign_keys = OFF');
      opened.exec(SCHEMA);
      // A write now, so a full disk or a read-only file shows at open rather than at the first apply.
      opened.prepare("UPDATE meta SET value = value WHERE key = 'revision'").run();
      this.identity = new FileIdentity(path, [`${path}-wal`]);
    } catch (err) {
      opened?.close();
      throw classify(err, path) ?? err;
    }
    this.db = opened;
    const db = this.db;
    this.stmts = {
      get: db.prepare<[string, string, string, string], Row>('SELECT body, rv FROM objects WHERE grp = ? AND kind = ? AND ns = ? AND name = ?'),
      listAll: db.prepare<[string, string], Row>('SELECT body, rv FROM objects WHERE grp = ? AND kind = ? ORDER BY ns, name'),
      listNs: db.prepare<[string, string, string], Row>('SELECT body, rv FROM objects WHERE grp = ? AND kind = ? AND ns = ? ORDER BY name'),
      inNs: db.prepare<[string], { grp: string; kind: string; ns: string; name: string }>('SELECT grp, kind, ns, name FROM objects WHERE ns = ?'),
      upsert: db.prepare(
        'INSERT INTO objects (grp, kind, ns, name, uid, rv, body) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (grp, kind, ns, name) DO UPDATE SET uid = excluded.uid, rv = excluded.rv, body = excluded.body',
      ),
      del: db.prepare('DELETE FROM objects WHERE grp = ? AND kind = ? AND ns = ? AND name = ?'),
      ownersDel: db.prepare('DELETE FROM owners WHERE grp = ? AND kind = ? AND ns = ? AND name = ?'),
      ownersAdd: db.prepare('INSERT INTO owners (owner_uid, grp, kind, ns, name) VALUES (?, ?, ?, ?, ?)'),
      ownedBy: db.prepare<[string], { grp: string; kind: string; ns: string; name: string }>('SELECT grp, kind, ns, name FROM owners WHERE owner_uid = ?'),
      event: db.prepare('INSERT INTO events (rev, type, body) VALUES (?, ?, ?)'),
      eventsAfter: db.prepare<[number], { rev: number; type: string; body: string }>('SELECT rev, type, body FROM events WHERE rev > ? ORDER BY rev'),
      meta: db.prepare<[string], { value: number }>('SELECT value FROM meta WHERE key = ?'),
      setMeta: db.prepare('UPDATE meta SET value = ? WHERE key = ?'),
      compact: db.prepare('DELETE FROM events WHERE rev <= ?'),
    };
    const checkMs = opts.checkMs ?? 1000;
    if (checkMs > 0) {
      // Notices a deleted file even when nobody writes (onFailure reports it once).
      this.checkTimer = setInterval(() => {
        try {
          this.guard();
        } catch {
          // Reported through onFailure; the next operation throws it.
        }
      }, checkMs);
      this.checkTimer.unref();
    }
  }

  // ---- reads ----

  get(ref: ObjectRef): KubeObject | undefined {
    return this.read(() => this.getKey(keyOf(ref)));
  }

  list(query: ListQuery): ListResult {
    const selector = query.labelSelector ? parseLabelSelector(query.labelSelector) : [];
    // One read transaction so the items and the revision agree.
    return this.read(() =>
      this.db
        .transaction((): ListResult => {
          const rows =
            query.namespace !== undefined && query.namespace !== ''
              ? this.stmts.listNs.all(query.group, query.kind, query.namespace)
              : this.stmts.listAll.all(query.group, query.kind);
          const items: KubeObject[] = [];
          for (const row of rows) {
            const obj = JSON.parse(row.body) as KubeObject;
            if (selector.length === 0 || matchesLabels(selector, obj.metadata.labels)) items.push(obj);
          }
          return { items, resourceVersion: String(this.metaValue('revision')) };
        })
        .deferred(),
    );
  }

  revision(): string {
    return this.read(() => String(this.metaValue('revision')));
  }

  // ---- writes ----

  create(obj: KubeObject): KubeObject {
    checkShape(obj);
    return this.write(() => this.createIn(obj));
  }

  update(obj: KubeObject): KubeObject {
    checkShape(obj);
    return this.write(() => {
      const current = this.mustGet(keyOfObject(obj));
      this.checkPrecondition(current, obj.metadata.resourceVersion);
      return this.replaceIn(current, { ...obj, status: current.status });
    });
  }

  patch(ref: ObjectRef, patch: unknown, subresource?: 'status'): KubeObject {
    if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) {
      throw new StoreError('BadRequest', 'a merge patch must be a JSON object', 400);
    }
    return this.write(() => {
      const current = this.mustGet(keyOf(ref));
      const p = patch as Record<string, unknown>;
      const pm = p.metadata as { resourceVersion?: unknown } | undefined;
      if (pm && typeof pm === 'object' && pm.resourceVersion !== undefined && pm.resourceVersion !== null) {
        this.checkPrecondition(current, String(pm.resourceVersion));
      }
      const merged = mergePatch(current, p) as KubeObject;
      // The main resource ignores status; the status subresource ignores everything else (as Kubernetes does).
      const next: KubeObject = subresource === 'status' ? { ...current, status: merged.status } : { ...merged, status: current.status };
      if (next.status === undefined) delete next.status;
      next.metadata = { ...next.metadata, name: current.metadata.name, namespace: current.metadata.namespace };
      next.apiVersion = merged.apiVersion ?? current.apiVersion;
      next.kind = current.kind;
      return this.replaceIn(current, next);
    });
  }

  updateStatus(ref: ObjectRef, status: unknown, resourceVersion?: string): KubeObject {
    return this.write(() => {
      const current = this.mustGet(keyOf(ref));
      this.checkPrecondition(current, resourceVersion);
      const next: KubeObject = { ...current, status };
      if (status === undefined) delete next.status;
      return this.replaceIn(current, next);
    });
  }

  delete(ref: ObjectRef): KubeObject {
    return this.write(() => {
      const current = this.mustGet(keyOf(ref));
      this.deleteIn(current);
      return current;
    });
  }

  apply(objs: KubeObject[]): ApplyResult[] {
    for (const o of objs) checkShape(o);
    return this.write(() =>
      objs.map((obj): ApplyResult => {
        const key = keyOfObject(obj);
        const current = this.getKey(key);
        if (!current) return { object: this.createIn(obj), outcome: 'created' };
        if (obj.metadata.resourceVersion) this.checkPrecondition(current, obj.metadata.resourceVersion);
        if (applyContent(current) === applyContent(obj)) return { object: current, outcome: 'unchanged' };
        const desired: KubeObject = {
          ...obj,
          metadata: { ...obj.metadata, ownerReferences: obj.metadata.ownerReferences ?? current.metadata.ownerReferences },
          status: current.status,
        };
        if (desired.metadata.ownerReferences === undefined) delete desired.metadata.ownerReferences;
        return { object: this.replaceIn(current, desired), outcome: 'configured' };
      }),
    );
  }

  // ---- watch ----

  watch(fromResourceVersion: string, onEvent: (ev: WatchEvent) => void): () => void {
    if (this.closed) throw new Error('store is closed');
    const revision = this.read(() => this.metaValue('revision'));
    let from: number;
    if (fromResourceVersion === '' || fromResourceVersion === undefined) from = revision;
    else {
      from = Number(fromResourceVersion);
      if (!Number.isInteger(from) || from < 0) {
        throw new StoreError('BadRequest', `invalid resource version "${fromResourceVersion}"`, 400);
      }
    }
    const compacted = this.metaValue('compacted');
    if (from < compacted) {
      throw new StoreError('Gone', `too old resource version: ${from} (${compacted + 1})`, 410);
    }
    const w: Watcher = { cursor: from, onEvent, closed: false };
    this.watchers.add(w);
    this.startPolling();
    this.pump();
    return () => {
      w.closed = true;
      this.watchers.delete(w);
      if (this.watchers.size === 0) this.stopPolling();
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopPolling();
    if (this.checkTimer) clearInterval(this.checkTimer);
    this.watchers.clear();
    this.identity.close();
    this.db.close();
  }

  // ---- internals ----

  private metaValue(key: string): number {
    return this.stmts.meta.get(key)!.value;
  }

  private getKey(k: Key): KubeObject | undefined {
    const row = this.stmts.get.get(k.group, k.kind, k.ns, k.name);
    return row ? (JSON.parse(row.body) as KubeObject) : undefined;
  }

  private mustGet(k: Key): KubeObject {
    const obj = this.getKey(k);
    if (!obj) {
      throw new StoreError('NotFound', `${qualifiedResource(k.group, k.kind)} "${k.name}" not found`, 404, this.details(k));
    }
    return obj;
  }

  private details(k: Key): { name: string; group: string; kind: string } {
    const q = qualifiedResource(k.group, k.kind);
    return { name: k.name, group: k.group, kind: k.group ? q.slice(0, q.length - k.group.length - 1) : q };
  }

  private checkPrecondition(current: KubeObject, rv: string | undefined): void {
    if (rv === undefined || rv === '' || rv === current.metadata.resourceVersion) return;
    const k = keyOfObject(current);
    throw new StoreError(
      'Conflict',
      `Operation cannot be fulfilled on ${qualifiedResource(k.group, k.kind)} "${k.name}": the object has been modified; please apply your changes to the latest version and try again`,
      409,
      this.details(k),
    );
  }

  /** Runs fn in an IMMEDIATE transaction, then delivers the new events to watchers. */
  private write<T>(fn: () => T): T {
    if (this.closed) throw new Error('store is closed');
    this.guard();
    let result: T;
    try {
      result = this.db.transaction(fn).immediate();
    } catch (err) {
      throw this.translate(err);
    }
    this.pump();
    return result;
  }

  private read<T>(fn: () => T): T {
    if (this.closed) throw new Error('store is closed');
    this.guard();
    try {
      return fn();
    } catch (err) {
      throw this.translate(err);
    }
  }

  /** Throws when the store failed for good, or when the file on disk is no longer the one opened. */
  private guard(): void {
    if (this.failure) throw this.failure;
    const found = this.identity.check();
    if (found) throw this.fail(found.problem, found.path);
  }

  /** The store's own errors pass; SQLite's and the file system's become a StoreUnavailableError. */
  private translate(err: unknown): unknown {
    if (err instanceof StoreUnavailableError) return err;
    const e = classify(err, this.path);
    if (!e) return err;
    return STICKY_PROBLEMS.has(e.problem) ? this.setFailure(e) : e;
  }

  /** Stops all writes; saves what this connection still sees (VACUUM INTO) so the user can put it back. */
  private fail(problem: StoreProblem, path: string): StoreUnavailableError {
    let rescued: string | undefined = `${this.path}.rescued-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    try {
      this.db.prepare('VACUUM INTO ?').run(rescued);
      // A copy of everything stored is for its owner only.
      chmodSync(rescued, 0o600);
    } catch {
      rescued = undefined;
    }
    return this.setFailure(new StoreUnavailableError(problem, path, problemMessage(problem, path, rescued ? { rescued } : {})));
  }

  private setFailure(e: StoreUnavailableError): StoreUnavailableError {
    if (!this.failure) {
      this.failure = e;
      this.onFailure?.(e);
    }
    return this.failure;
  }

  private nextRevision(): number {
    const rev = this.metaValue('revision') + 1;
    this.stmts.setMeta.run(rev, 'revision');
    return rev;
  }

  private record(type: WatchEventType, obj: KubeObject, rev: number): void {
    this.stmts.event.run(rev, type, JSON.stringify(obj));
    // Compact in steps of a tenth of the limit so most writes do not pay for a DELETE.
    const keepFrom = rev - this.historyLimit;
    const compacted = this.metaValue('compacted');
    if (keepFrom - compacted >= Math.max(1, Math.floor(this.historyLimit / 10))) {
      this.stmts.compact.run(keepFrom);
      this.stmts.setMeta.run(keepFrom, 'compacted');
    }
  }

  private persist(obj: KubeObject): void {
    const k = keyOfObject(obj);
    this.stmts.upsert.run(k.group, k.kind, k.ns, k.name, obj.metadata.uid!, Number(obj.metadata.resourceVersion), JSON.stringify(obj));
    this.stmts.ownersDel.run(k.group, k.kind, k.ns, k.name);
    for (const o of obj.metadata.ownerReferences ?? []) {
      if (o && typeof o.uid === 'string') this.stmts.ownersAdd.run(o.uid, k.group, k.kind, k.ns, k.name);
    }
  }

  private createIn(obj: KubeObject): KubeObject {
    const k = keyOfObject(obj);
    if (this.getKey(k)) {
      throw new StoreError('AlreadyExists', `${qualifiedResource(k.group, k.kind)} "${k.name}" already exists`, 409, this.details(k));
    }
    const rev = this.nextRevision();
    const created: KubeObject = structuredClone(obj);
    created.metadata = {
      ...created.metadata,
      uid: randomUUID(),
      resourceVersion: String(rev),
      generation: 1,
      creationTimestamp: now(),
    };
    delete created.metadata.deletionTimestamp;
    this.persist(created);
    this.record('ADDED', created, rev);
    return created;
  }

  /** Writes next over current keeping identity fields; a write that changes nothing keeps the revision. */
  private replaceIn(current: KubeObject, desired: KubeObject): KubeObject {
    const next: KubeObject = structuredClone(desired);
    next.kind = current.kind;
    next.metadata = {
      ...next.metadata,
      name: current.metadata.name,
      namespace: current.metadata.namespace,
      uid: current.metadata.uid,
      creationTimestamp: current.metadata.creationTimestamp,
      generation: (current.metadata.generation ?? 1) + (generationContent(current) === generationContent(next) ? 0 : 1),
      resourceVersion: current.metadata.resourceVersion,
    };
    if (next.metadata.namespace === undefined) delete next.metadata.namespace;
    if (storedContent(next) === storedContent(current)) return current;
    const rev = this.nextRevision();
    next.metadata.resourceVersion = String(rev);
    this.persist(next);
    this.record('MODIFIED', next, rev);
    return next;
  }

  private deleteIn(obj: KubeObject): void {
    const k = keyOfObject(obj);
    if (!this.getKey(k)) return; // already removed earlier in this cascade
    this.stmts.del.run(k.group, k.kind, k.ns, k.name);
    this.stmts.ownersDel.run(k.group, k.kind, k.ns, k.name);
    const rev = this.nextRevision();
    this.record('DELETED', { ...obj, metadata: { ...obj.metadata, resourceVersion: String(rev) } }, rev);
    const dependents: Key[] = this.stmts.ownedBy.all(obj.metadata.uid ?? '').map((r) => ({ group: r.grp, kind: r.kind, ns: r.ns, name: r.name }));
    // A namespace takes everything in it along, as Kubernetes' namespace controller does.
    if (k.group === '' && k.kind === 'Namespace') {
      dependents.push(...this.stmts.inNs.all(k.name).map((r) => ({ group: r.grp, kind: r.kind, ns: r.ns, name: r.name })));
    }
    for (const d of dependents) {
      const child = this.getKey(d);
      if (child) this.deleteIn(child);
    }
  }

  /** Delivers committed events to each watcher past its cursor, in revision order. Re-entrant safe. */
  private pump(): void {
    if (this.watchers.size === 0 || this.closed) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        let min = Infinity;
        for (const w of this.watchers) min = Math.min(min, w.cursor);
        if (min === Infinity) break;
        const rows = this.stmts.eventsAfter.all(min);
        for (const row of rows) {
          let ev: WatchEvent | undefined;
          for (const w of [...this.watchers]) {
            if (w.closed || row.rev <= w.cursor) continue;
            w.cursor = row.rev;
            ev ??= { type: row.type as WatchEventType, object: JSON.parse(row.body) as KubeObject };
            try {
              w.onEvent(ev);
            } catch (err) {
              // A failing watcher must not break the writer or the other watchers.
              process.emitWarning(`store watcher threw: ${(err as Error).message}`);
            }
            if (this.closed) return;
          }
        }
      } while (this.pumpAgain);
    } finally {
      this.pumping = false;
    }
  }

  private startPolling(): void {
    if (this.pollTimer || this.pollMs <= 0) return;
    this.lastDataVersion = this.db.pragma('data_version', { simple: true }) as number;
    this.pollTimer = setInterval(() => {
      if (this.closed) return;
      // data_version changes only when another connection commits.
      try {
        const v = this.db.pragma('data_version', { simple: true }) as number;
        if (v !== this.lastDataVersion) {
          this.lastDataVersion = v;
          this.pump();
        }
      } catch (err) {
        // A timer must not throw; a file problem is reported through onFailure.
        this.translate(err);
      }
    }, this.pollMs);
    this.pollTimer.unref();
  }

  private stopPolling(): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = undefined;
  }
}

export function openSqliteStore(path: string, opts?: SqliteStoreOptions): Store {
  return new SqliteStore(path, opts);
}
