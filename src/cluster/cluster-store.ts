// The store's contract over a Kubernetes API: one reflector per kind fills a cache that the control
// plane reads synchronously, exactly as it reads the embedded SQLite store; its writes (status,
// the deployer's objects, Events) go to the API in order, and show in the cache at once
// (write-through) so the next reconcile does not repeat them. The API stays the truth: the watch
// brings each write back, and a write the API refuses is undone in the cache and logged.
import type { KubeConfig } from '@kubernetes/client-node';
import { groupOf, type KubeObject, type ObjectRef } from '../api/object.js';
import { matchesLabels, parseLabelSelector } from '../store/label-selector.js';
import { StoreError, type ApplyResult, type ListQuery, type ListResult, type Store, type WatchEvent } from '../store/types.js';
import { KubeHttp, KubeHttpError } from './kube-http.js';
import { kindRoute, type KindRoute } from './kinds.js';
import { Reflector, type ReflectorEvent } from './reflector.js';

export interface ClusterStoreOptions {
  readonly kc: KubeConfig;
  /** The kinds to mirror (and the only ones this store can write). */
  readonly kinds: readonly { group: string; kind: string }[];
  readonly log?: (line: string) => void;
  /** Server-side watch timeout, seconds (tests shorten it). */
  readonly watchTimeoutSeconds?: number;
  /** Watch events kept for `watch(fromRevision)`; older is Gone. */
  readonly historyLimit?: number;
}

const kindKey = (group: string, kind: string): string => `${group}/${kind}`;
const objectKey = (group: string, kind: string, namespace: string | undefined, name: string): string => `${group}/${kind}/${namespace ?? ''}/${name}`;
const keyOfObject = (o: KubeObject): string => objectKey(groupOf(o.apiVersion), o.kind, o.metadata.namespace, o.metadata.name);

export class ClusterStore implements Store {
  private readonly http: KubeHttp;
  private readonly routes = new Map<string, KindRoute>();
  private readonly reflectors: Reflector[] = [];
  private readonly objects = new Map<string, KubeObject>();
  private rev = 0;
  private readonly history: { rev: number; ev: WatchEvent }[] = [];
  private readonly watchers = new Set<(ev: WatchEvent) => void>();
  private writes: Promise<void> = Promise.resolve();
  private pendingWrites = 0;

  constructor(private readonly opts: ClusterStoreOptions) {
    this.http = new KubeHttp(opts.kc);
    for (const k of opts.kinds) this.routes.set(kindKey(k.group, k.kind), kindRoute(k.group, k.kind));
  }

  /** Lists every kind and starts watching; resolves when every kind has been listed once. */
  async start(): Promise<void> {
    for (const route of this.routes.values()) {
      const r = new Reflector({
        kc: this.opts.kc,
        http: this.http,
        route,
        onEvent: (ev) => this.fromApi(ev),
        ...(this.opts.log ? { log: this.opts.log } : {}),
        ...(this.opts.watchTimeoutSeconds !== undefined ? { watchTimeoutSeconds: this.opts.watchTimeoutSeconds } : {}),
      });
      this.reflectors.push(r);
      r.start();
    }
    await Promise.all(this.reflectors.map((r) => r.hasSynced));
  }

  /** How many lists the reflectors made (kinds + relists after 410 Gone). */
  listCount(): number {
    return this.reflectors.reduce((n, r) => n + r.lists, 0);
  }

  /** Resolves when every write issued so far has been answered. */
  async flushWrites(): Promise<void> {
    while (this.pendingWrites > 0) await this.writes;
  }

  // ---- reads (the cache) ----

  get(ref: ObjectRef): KubeObject | undefined {
    return this.objects.get(objectKey(ref.group, ref.kind, ref.namespace, ref.name));
  }

  list(query: ListQuery): ListResult {
    const prefix = `${query.group}/${query.kind}/`;
    const selector = query.labelSelector ? parseLabelSelector(query.labelSelector) : undefined;
    const items: KubeObject[] = [];
    for (const [key, obj] of this.objects) {
      if (!key.startsWith(prefix)) continue;
      if (query.namespace !== undefined && (obj.metadata.namespace ?? '') !== query.namespace) continue;
      if (selector && !matchesLabels(selector, obj.metadata.labels)) continue;
      items.push(obj);
    }
    items.sort((a, b) => keyOfObject(a).localeCompare(keyOfObject(b)));
    return { items, resourceVersion: String(this.rev) };
  }

  revision(): string {
    return String(this.rev);
  }

  watch(fromResourceVersion: string, onEvent: (ev: WatchEvent) => void): () => void {
    const from = Number(fromResourceVersion);
    const oldest = this.history.length ? this.history[0]!.rev : this.rev + 1;
    if (from < this.rev && from + 1 < oldest) throw new StoreError('Gone', `too old resource version: ${from} (${oldest})`, 410);
    for (const h of this.history) if (h.rev > from) onEvent(h.ev);
    this.watchers.add(onEvent);
    return () => this.watchers.delete(onEvent);
  }

  close(): void {
    for (const r of this.reflectors) r.stop();
    this.watchers.clear();
  }

  // ---- writes (to the API, in order) ----

  create(obj: KubeObject): KubeObject {
    const route = this.routeOf(obj);
    if (this.objects.has(keyOfObject(obj))) throw new StoreError('AlreadyExists', `${route.kind} "${obj.metadata.name}" already exists`, 409);
    const optimistic = this.cacheLocal('ADDED', obj);
    const ns = obj.metadata.namespace;
    const collection = route.namespaced && ns ? route.item(ns, '').replace(/\/$/, '') : route.collection;
    this.send(optimistic, undefined, { method: 'POST', path: collection, body: obj });
    return optimistic;
  }

  update(obj: KubeObject): KubeObject {
    const route = this.routeOf(obj);
    const before = this.objects.get(keyOfObject(obj));
    if (!before) throw new StoreError('NotFound', `${route.kind} "${obj.metadata.name}" not found`, 404);
    // The status is the API's (it is not part of an update); no resourceVersion: the last write wins, as the deployer means it.
    const body = { ...obj, metadata: { ...obj.metadata, resourceVersion: undefined }, status: before.status };
    const optimistic = this.cacheLocal('MODIFIED', body as KubeObject);
    this.send(optimistic, before, { method: 'PUT', path: route.item(obj.metadata.namespace, obj.metadata.name), body });
    return optimistic;
  }

  updateStatus(ref: ObjectRef, status: unknown): KubeObject {
    const route = this.routeOf({ group: ref.group, kind: ref.kind });
    const before = this.get(ref);
    if (!before) throw new StoreError('NotFound', `${ref.kind} "${ref.name}" not found`, 404);
    const optimistic = this.cacheLocal('MODIFIED', { ...before, status } as KubeObject);
    // A merge patch of the whole status: the control plane owns it, no resourceVersion conflicts.
    const body = { status: nullMissing(before.status, status) };
    this.send(optimistic, before, {
      method: 'PATCH',
      path: `${route.item(ref.namespace, ref.name)}/status`,
      body,
      contentType: 'application/merge-patch+json',
    });
    return optimistic;
  }

  patch(ref: ObjectRef, patch: unknown, subresource?: 'status'): KubeObject {
    const route = this.routeOf({ group: ref.group, kind: ref.kind });
    const before = this.get(ref);
    if (!before) throw new StoreError('NotFound', `${ref.kind} "${ref.name}" not found`, 404);
    this.send(before, before, {
      method: 'PATCH',
      path: route.item(ref.namespace, ref.name) + (subresource ? '/status' : ''),
      body: patch,
      contentType: 'application/merge-patch+json',
    });
    return before;
  }

  delete(ref: ObjectRef): KubeObject {
    const route = this.routeOf({ group: ref.group, kind: ref.kind });
    const before = this.get(ref);
    if (!before) throw new StoreError('NotFound', `${ref.kind} "${ref.name}" not found`, 404);
    this.cacheLocal('DELETED', before);
    // Background propagation: the API's garbage collector removes what the object owns, as ours does.
    this.send(undefined, before, { method: 'DELETE', path: route.item(ref.namespace, ref.name), body: { propagationPolicy: 'Background' } });
    return before;
  }

  apply(): ApplyResult[] {
    throw new StoreError('BadRequest', 'apply is not available against a Kubernetes API: use kubectl apply', 400);
  }

  // ---- internals ----

  private routeOf(ref: { apiVersion: string; kind: string } | { group: string; kind: string }): KindRoute {
    const group = 'group' in ref ? ref.group : groupOf(ref.apiVersion);
    const route = this.routes.get(kindKey(group, ref.kind));
    if (!route) throw new StoreError('BadRequest', `the controller does not write ${ref.kind}${group ? `.${group}` : ''}`, 400);
    return route;
  }

  private fromApi(ev: ReflectorEvent): void {
    const key = keyOfObject(ev.object);
    if (ev.type === 'DELETED') this.objects.delete(key);
    else this.objects.set(key, ev.object);
    this.emit({ type: ev.type, object: ev.object });
  }

  private cacheLocal(type: WatchEvent['type'], obj: KubeObject): KubeObject {
    const key = keyOfObject(obj);
    if (type === 'DELETED') this.objects.delete(key);
    else this.objects.set(key, obj);
    this.emit({ type, object: obj });
    return obj;
  }

  private emit(ev: WatchEvent): void {
    this.rev++;
    this.history.push({ rev: this.rev, ev });
    const limit = this.opts.historyLimit ?? 10_000;
    if (this.history.length > limit) this.history.splice(0, this.history.length - limit);
    for (const w of [...this.watchers]) w(ev);
  }

  /** Queues a write; if the API refuses it, the cache goes back to `before` (when nothing newer came meanwhile). */
  private send(optimistic: KubeObject | undefined, before: KubeObject | undefined, req: Parameters<KubeHttp['json']>[0]): void {
    this.pendingWrites++;
    this.writes = this.writes
      .then(() => this.http.json(req))
      .then(
        () => undefined,
        (err: unknown) => {
          const what = `${req.method} ${req.path}`;
          this.opts.log?.(`controller: ${err instanceof KubeHttpError ? err.message : `${what}: ${(err as Error).message}`}`);
          const key = keyOfObject((optimistic ?? before)!);
          const current = this.objects.get(key);
          if (current !== optimistic) return; // the watch already brought the API's version
          if (before) this.cacheLocal(current ? 'MODIFIED' : 'ADDED', before);
          else if (current) this.cacheLocal('DELETED', current);
        },
      )
      .finally(() => this.pendingWrites--);
  }
}

/** A merge patch that replaces `before` by `after`: top-level keys of `before` missing from `after` become null. */
function nullMissing(before: unknown, after: unknown): unknown {
  if (!after || typeof after !== 'object' || Array.isArray(after)) return after;
  const out: Record<string, unknown> = { ...(after as Record<string, unknown>) };
  if (before && typeof before === 'object' && !Array.isArray(before)) {
    for (const k of Object.keys(before)) if (!(k in out)) out[k] = null;
  }
  return out;
}
