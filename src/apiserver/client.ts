// A small client for outpost's API (what the CLI uses): Kubernetes REST paths from KINDS, errors as
// ApiError carrying the server's Status, watches as a stream of events.
import { KINDS, type KindInfo } from '../api/kinds.js';
import { groupOf, type KubeObject, type ObjectRef } from '../api/object.js';
import type { ApplyResult, ListQuery, ListResult, WatchEvent } from '../store/types.js';
import { httpFetch, type HttpResponse } from './http-fetch.js';
import type { Status, StatusCause } from './status.js';
import { BATCH_APPLY_PATH } from './paths.js';

/** A failed request: the Status the server returned (or one made up for a transport failure). */
export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly causes: StatusCause[];

  /** True when no answer came (refused, reset, timed out): the message says what to do, not what the server said. */
  readonly transport: boolean;

  constructor(
    readonly status: Status,
    options?: { cause?: unknown; transport?: boolean },
  ) {
    super(status.message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'ApiError';
    this.transport = options?.transport ?? false;
    this.code = status.code;
    this.reason = status.reason;
    this.causes = status.details?.causes ?? [];
  }
}

export type PatchType = 'merge' | 'json' | 'strategic' | 'apply';

const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
};

export interface PatchOptions {
  type?: PatchType;
  subresource?: 'status';
  fieldManager?: string;
  force?: boolean;
}

export interface WatchHandle {
  stop(): void;
  /** Settles when the stream ends (stopped, server closed, or an error — rejected then). */
  done: Promise<void>;
}

function failure(code: number, reason: string, message: string): Status {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

/** The system error code under a fetch failure (ECONNREFUSED, ECONNRESET…). */
function transportCode(err: unknown): string {
  let e: unknown = err;
  for (let i = 0; i < 4 && e; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'ERR_INVALID_STATE') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return (err as Error)?.name === 'TimeoutError' ? 'timeout' : ((err as Error)?.message ?? String(err));
}

/**
 * A request that got no answer, worded for the user: refused means nothing listens (mesh down);
 * lost mid-way means the server went away and the request may or may not have taken effect.
 */
function transportError(base: string, method: string, path: string, err: unknown, started: boolean): ApiError {
  const code = transportCode(err);
  const op = `${method} ${path.split('?')[0]}`;
  const message =
    code === 'ECONNREFUSED' && !started
      ? `cannot reach the outpost API at ${base} (connection refused): the mesh is not running there; start it with \`outpost up -d\``
      : method === 'GET'
        ? `lost the connection to the outpost API at ${base} during ${op} (${code}): the mesh may have stopped; check with \`outpost get\` once it runs again`
        : `lost the connection to the outpost API at ${base} during ${op} (${code}): the mesh may have stopped, and the change may or may not have been made; check with \`outpost get\` once it runs again, then repeat the command`;
  return new ApiError(failure(503, 'ServiceUnavailable', message), { cause: err, transport: true });
}

export class ApiClient {
  private readonly base: string;
  private readonly token: string;

  constructor(opts: { url: string; token: string }) {
    this.base = opts.url.replace(/\/+$/, '');
    this.token = opts.token;
  }

  // ---- paths ----

  private kind(group: string, kind: string): KindInfo {
    const info = KINDS.find((k) => k.group === group && k.kind === kind);
    if (!info) throw new ApiError(failure(404, 'NotFound', `the server doesn't have a resource type "${kind}${group ? `.${group}` : ''}"`));
    return info;
  }

  private collectionPath(info: KindInfo, namespace: string | undefined, version = info.versions[0]!): string {
    const prefix = info.group ? `/apis/${info.group}/${version}` : `/api/${version}`;
    const ns = info.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
    return `${prefix}${ns}/${info.plural}`;
  }

  private objectPath(ref: ObjectRef): string {
    const info = this.kind(ref.group, ref.kind);
    return `${this.collectionPath(info, ref.namespace ?? (info.namespaced ? 'default' : undefined))}/${encodeURIComponent(ref.name)}`;
  }

  private pathOf(obj: KubeObject): string {
    const info = this.kind(groupOf(obj.apiVersion), obj.kind);
    const version = info.versions.includes(obj.apiVersion.split('/').pop()!) ? obj.apiVersion.split('/').pop()! : info.versions[0]!;
    return this.collectionPath(info, obj.metadata.namespace ?? (info.namespaced ? 'default' : undefined), version);
  }

  // ---- transport ----

  private async request<T>(method: string, path: string, body?: unknown, contentType = 'application/json', signal?: AbortSignal): Promise<T> {
    const res = await this.send(method, path, body, contentType, signal);
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      throw transportError(this.base, method, path, err, true);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  private async send(method: string, path: string, body: unknown, contentType: string, signal?: AbortSignal): Promise<HttpResponse> {
    let res: HttpResponse;
    try {
      res = await httpFetch(`${this.base}${path}`, {
        method,
        headers: { Authorization: `Bearer ${this.token}`, Accept: 'application/json', ...(body !== undefined ? { 'Content-Type': contentType } : {}) },
        ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      throw transportError(this.base, method, path, err, false);
    }
    if (!res.ok) {
      let text: string;
      try {
        text = await res.text();
      } catch (err) {
        throw transportError(this.base, method, path, err, true);
      }
      let status: Status;
      try {
        const parsed = JSON.parse(text) as Status;
        status = parsed && parsed.kind === 'Status' ? parsed : failure(res.status, res.statusText, text);
      } catch {
        status = failure(res.status, res.statusText || 'Unknown', text || `HTTP ${res.status}`);
      }
      throw new ApiError(status);
    }
    return res;
  }

  // ---- verbs ----

  async get(ref: ObjectRef): Promise<KubeObject> {
    return this.request<KubeObject>('GET', this.objectPath(ref));
  }

  async list(query: ListQuery & { fieldSelector?: string }): Promise<ListResult> {
    const info = this.kind(query.group, query.kind);
    const params = new URLSearchParams();
    if (query.labelSelector) params.set('labelSelector', query.labelSelector);
    if (query.fieldSelector) params.set('fieldSelector', query.fieldSelector);
    const qs = params.toString();
    const out = await this.request<{ items: KubeObject[]; metadata: { resourceVersion: string } }>(
      'GET',
      `${this.collectionPath(info, query.namespace)}${qs ? `?${qs}` : ''}`,
    );
    return { items: out.items, resourceVersion: out.metadata.resourceVersion };
  }

  /** All documents in one transaction, all or nothing (outpost's batch endpoint). */
  async apply(objs: KubeObject[], fieldManager = 'outpost'): Promise<ApplyResult[]> {
    const out = await this.request<{ results: ApplyResult[] }>('POST', BATCH_APPLY_PATH, { items: objs, fieldManager });
    return out.results;
  }

  async create(obj: KubeObject): Promise<KubeObject> {
    return this.request<KubeObject>('POST', this.pathOf(obj), obj);
  }

  async update(obj: KubeObject): Promise<KubeObject> {
    return this.request<KubeObject>('PUT', `${this.pathOf(obj)}/${encodeURIComponent(obj.metadata.name)}`, obj);
  }

  async updateStatus(ref: ObjectRef, status: unknown, resourceVersion?: string): Promise<KubeObject> {
    return this.patch(ref, { ...(resourceVersion ? { metadata: { resourceVersion } } : {}), status: status ?? null }, { subresource: 'status' });
  }

  /** A merge patch unless opts.type says otherwise ('apply' is server-side apply and needs a fieldManager). */
  async patch(ref: ObjectRef, patch: unknown, opts: PatchOptions = {}): Promise<KubeObject> {
    const type = opts.type ?? 'merge';
    const params = new URLSearchParams();
    if (opts.fieldManager ?? (type === 'apply' ? 'outpost' : undefined)) params.set('fieldManager', opts.fieldManager ?? 'outpost');
    if (opts.force) params.set('force', 'true');
    const qs = params.toString();
    const path = `${this.objectPath(ref)}${opts.subresource ? `/${opts.subresource}` : ''}${qs ? `?${qs}` : ''}`;
    return this.request<KubeObject>('PATCH', path, patch, PATCH_CONTENT_TYPES[type]);
  }

  async delete(ref: ObjectRef): Promise<KubeObject> {
    return this.request<KubeObject>('DELETE', this.objectPath(ref));
  }

  /**
   * Events after query.resourceVersion (or the current objects as ADDED first, when none is given).
   * Resolves once the server accepted the watch; a too-old revision rejects with an ApiError 410.
   */
  async watch(query: ListQuery & { resourceVersion?: string; fieldSelector?: string }, onEvent: (ev: WatchEvent) => void): Promise<WatchHandle> {
    const info = this.kind(query.group, query.kind);
    const params = new URLSearchParams({ watch: 'true' });
    if (query.resourceVersion) params.set('resourceVersion', query.resourceVersion);
    if (query.labelSelector) params.set('labelSelector', query.labelSelector);
    if (query.fieldSelector) params.set('fieldSelector', query.fieldSelector);
    const abort = new AbortController();
    const res = await this.send('GET', `${this.collectionPath(info, query.namespace)}?${params}`, undefined, 'application/json', abort.signal);
    res.body.setEncoding('utf8');
    const done = (async () => {
      let buf = '';
      try {
        for await (const chunk of res.body) {
          buf += chunk as string;
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            if (!line) continue;
            const ev = JSON.parse(line) as { type: string; object: unknown };
            if (ev.type === 'ERROR') throw new ApiError(ev.object as Status);
            if (ev.type === 'ADDED' || ev.type === 'MODIFIED' || ev.type === 'DELETED') onEvent(ev as WatchEvent);
          }
        }
      } catch (err) {
        if (abort.signal.aborted) return;
        throw err;
      }
    })();
    return { stop: () => abort.abort(), done };
  }

  /** True when the API answers its health check. */
  async health(): Promise<boolean> {
    try {
      const res = await httpFetch(`${this.base}/healthz`, { signal: AbortSignal.timeout(2000) });
      await res.text();
      return res.ok;
    } catch {
      return false;
    }
  }
}
