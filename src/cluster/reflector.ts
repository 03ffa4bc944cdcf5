// A reflector mirrors one kind from a Kubernetes API, as client-go's does: list, then watch from the
// list's resourceVersion with bookmarks (so a quiet kind's position stays fresh); on 410 Gone, list
// again and report what changed meanwhile as events; on any other failure, back off and resume.
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import type { KubeObject } from '../api/object.js';
import { Backoff } from '../proxyconfig/distribution/backoff.js';
import type { KubeHttp } from './kube-http.js';
import type { KindRoute } from './kinds.js';

export type ReflectorEvent = { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: KubeObject };

export interface ReflectorOptions {
  readonly kc: KubeConfig;
  readonly http: KubeHttp;
  readonly route: KindRoute;
  readonly onEvent: (ev: ReflectorEvent) => void;
  readonly log?: (line: string) => void;
  /** Server-side watch timeout, seconds (client-go picks 5–10 min at random; shorter in tests). */
  readonly watchTimeoutSeconds?: number;
}

interface ListBody {
  metadata?: { resourceVersion?: string };
  items?: KubeObject[];
}

const keyOf = (o: KubeObject): string => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;

export class Reflector {
  private readonly items = new Map<string, KubeObject>();
  private resourceVersion = '';
  private stopped = false;
  private abort?: AbortController;
  private retry?: NodeJS.Timeout;
  private readonly backoff = new Backoff({ minMs: 200, maxMs: 30_000 });
  private synced!: () => void;
  /** Resolves after the first successful list. */
  readonly hasSynced = new Promise<void>((resolve) => (this.synced = resolve));
  /** How many times the reflector listed (the first list and each relist after 410 Gone). */
  lists = 0;

  constructor(private readonly opts: ReflectorOptions) {}

  start(): void {
    void this.run();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
    this.abort?.abort();
  }

  /** The resourceVersion the next watch resumes from ('' before the first list). */
  position(): string {
    return this.resourceVersion;
  }

  private async run(): Promise<void> {
    if (this.stopped) return;
    try {
      if (!this.resourceVersion) await this.list();
      await this.watch();
    } catch (err) {
      this.failed(err);
    }
  }

  private async list(): Promise<void> {
    const { route } = this.opts;
    const body = await this.opts.http.json<ListBody>({ method: 'GET', path: route.collection });
    this.lists++;
    const seen = new Set<string>();
    for (const raw of body.items ?? []) {
      // List items may come without apiVersion and kind (core kinds); they are the list's.
      const obj = { ...raw, apiVersion: route.apiVersion, kind: route.kind } as KubeObject;
      const key = keyOf(obj);
      seen.add(key);
      const before = this.items.get(key);
      this.items.set(key, obj);
      if (!before) this.opts.onEvent({ type: 'ADDED', object: obj });
      else if (before.metadata.resourceVersion !== obj.metadata.resourceVersion) this.opts.onEvent({ type: 'MODIFIED', object: obj });
    }
    // What went away while we were not watching.
    for (const [key, obj] of this.items) {
      if (!seen.has(key)) {
        this.items.delete(key);
        this.opts.onEvent({ type: 'DELETED', object: obj });
      }
    }
    this.resourceVersion = body.metadata?.resourceVersion ?? '';
    this.synced();
  }

  private watch(): Promise<void> {
    const { route } = this.opts;
    return new Promise<void>((resolve, reject) => {
      const timeout = this.opts.watchTimeoutSeconds ?? 300 + Math.floor(Math.random() * 300);
      let gone = false;
      const onLine = (type: string, object: KubeObject & { code?: number }): void => {
        if (type === 'ERROR') {
          if (object.code === 410) gone = true;
          return;
        }
        if (type === 'BOOKMARK') {
          this.resourceVersion = object.metadata?.resourceVersion ?? this.resourceVersion;
          return;
        }
        if (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED') return;
        const obj = { ...object, apiVersion: object.apiVersion ?? route.apiVersion, kind: object.kind ?? route.kind } as KubeObject;
        const key = keyOf(obj);
        if (type === 'DELETED') this.items.delete(key);
        else this.items.set(key, obj);
        this.resourceVersion = obj.metadata.resourceVersion ?? this.resourceVersion;
        this.backoff.reset();
        this.opts.onEvent({ type, object: obj });
      };
      const onDone = (err: unknown): void => {
        this.abort = undefined;
        const code = (err as { statusCode?: number } | null)?.statusCode;
        if (gone || code === 410) {
          // Our position was compacted away: list again (and report the difference).
          this.opts.log?.(`controller: watch of ${route.collection} expired (410 Gone); listing again`);
          this.resourceVersion = '';
        } else if (err) {
          return reject(err instanceof Error ? err : new Error(String(err)));
        }
        resolve();
      };
      new Watch(this.opts.kc)
        .watch(route.collection, { resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: timeout }, onLine, onDone)
        .then((ctl) => {
          if (this.stopped) ctl.abort();
          else this.abort = ctl;
        }, reject);
    }).then(() => this.run());
  }

  private failed(err: unknown): void {
    if (this.stopped) return;
    const delay = this.backoff.next();
    this.opts.log?.(`controller: ${this.opts.route.collection}: ${(err as Error).message ?? err}; retrying in ${Math.round(delay)} ms`);
    this.retry = setTimeout(() => void this.run(), delay);
  }
}
