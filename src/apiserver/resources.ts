// The resource endpoints: get/list/watch/create/update/patch/delete of one kind at one version,
// over the store, with admission on every write. Objects leave with the apiVersion asked for.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { findYamlTooDeep, MAX_NESTING_DEPTH } from '../api/input-limits.js';
import { apiVersionOf, type KindInfo } from '../api/kinds.js';
import { groupOf, type KubeObject, type ObjectRef } from '../api/object.js';
import { canonicalJson, mergePatch } from '../store/merge-patch.js';
import { StoreError, type Store, type WatchEvent } from '../store/types.js';
import { matchesLabels, parseLabelSelector } from '../store/label-selector.js';
import { Admission, fieldValidationOf } from './admission.js';
import { matchesFields, parseFieldSelector } from './field-selector.js';
import { bodyText, parseJsonBody, readBody, readRawBody, sendJson, sendStatus, warningHeaders } from './http-util.js';
import { decodeProtobufObject, isProtobuf } from './protobuf-body.js';
import { applyJsonPatch } from './json-patch.js';
import { HttpError, badRequest, notFound, toHttpError } from './status.js';
import { strategicMerge } from './strategic-merge.js';
import { TABLE_CONTENT_TYPE, toTable, wantsTable } from './table.js';

/** How often a watch that allows bookmarks gets one (the Kubernetes API server sends about one a minute). */
const BOOKMARK_INTERVAL_MS = Number(process.env['OUTPOST_WATCH_BOOKMARK_INTERVAL_MS'] ?? 60_000);

export type LogSource = string | string[] | AsyncIterable<string | Uint8Array> | NodeJS.ReadableStream;
export interface LogOptions {
  follow: boolean;
  tailLines?: number;
  container?: string;
  /** Aborted when the client goes away (ends a follow). */
  signal?: AbortSignal;
}
/** The log of a pod (the runtime knows where its workload writes). Undefined: no such log. */
export type LogsFor = (namespace: string, pod: string, opts: LogOptions) => LogSource | undefined | Promise<LogSource | undefined>;

/** One request aimed at a resource: /api/v1/namespaces/ns/pods/name/log → info Pod, name, subresource log. */
export interface ResourceRequest {
  info: KindInfo;
  version: string;
  namespace?: string;
  name?: string;
  subresource?: string;
}

const CONFLICT_RETRIES = 5;

function qualified(info: KindInfo): string {
  return info.group ? `${info.plural}.${info.group}` : info.plural;
}

function detailsOf(info: KindInfo, name: string): { name: string; group: string; kind: string } {
  return { name, group: info.group, kind: info.plural };
}

export class ResourceHandler {
  constructor(
    private readonly store: Store,
    private readonly admission: Admission,
    private readonly logsFor?: LogsFor,
  ) {}

  async handle(req: IncomingMessage, res: ServerResponse, r: ResourceRequest, query: URLSearchParams): Promise<void> {
    const method = req.method ?? 'GET';
    if (r.subresource && r.subresource !== 'status' && !(r.subresource === 'log' && r.info.kind === 'Pod' && r.info.group === '')) {
      throw notFound('the server could not find the requested resource');
    }
    if (r.info.namespaced && r.name !== undefined && !r.namespace) {
      throw notFound('the server could not find the requested resource');
    }
    if (r.subresource === 'log') {
      if (method !== 'GET') throw new HttpError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
      return this.logs(res, r, query);
    }
    if (r.name === undefined) {
      switch (method) {
        case 'GET':
          return query.get('watch') === 'true' || query.get('watch') === '1' ? this.watch(req, res, r, query) : this.list(req, res, r, query);
        case 'POST':
          return this.create(req, res, r, query);
        case 'DELETE':
          return this.deleteCollection(res, r, query);
        default:
          throw new HttpError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
      }
    }
    switch (method) {
      case 'GET':
        return this.get(req, res, r, query);
      case 'PUT':
        return this.update(req, res, r, query);
      case 'PATCH':
        return this.patch(req, res, r, query);
      case 'DELETE':
        return this.delete(res, r);
      default:
        throw new HttpError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    }
  }

  // ---- reads ----

  private ref(r: ResourceRequest, name = r.name!): ObjectRef {
    return { group: r.info.group, kind: r.info.kind, namespace: r.info.namespaced ? r.namespace : undefined, name };
  }

  private out(r: ResourceRequest, obj: KubeObject): KubeObject {
    return { ...obj, apiVersion: apiVersionOf(r.info, r.version) };
  }

  private mustGet(r: ResourceRequest): KubeObject {
    const obj = this.store.get(this.ref(r));
    if (!obj) throw notFound(`${qualified(r.info)} "${r.name}" not found`, detailsOf(r.info, r.name!));
    return obj;
  }

  private async get(req: IncomingMessage, res: ServerResponse, r: ResourceRequest, query: URLSearchParams): Promise<void> {
    const obj = this.out(r, this.mustGet(r));
    if (wantsTable(req.headers.accept)) {
      sendJson(res, 200, toTable(r.info, [obj], obj.metadata.resourceVersion, query.get('includeObject') ?? undefined), TABLE_CONTENT_TYPE);
    } else sendJson(res, 200, obj);
  }

  private selected(r: ResourceRequest, query: URLSearchParams): (o: KubeObject) => boolean {
    const labels = parseLabelSelector(query.get('labelSelector') ?? '');
    const fields = parseFieldSelector(query.get('fieldSelector') ?? '');
    return (o) =>
      (!r.info.namespaced || !r.namespace || o.metadata.namespace === r.namespace) && matchesLabels(labels, o.metadata.labels) && matchesFields(fields, o);
  }

  private listItems(r: ResourceRequest, query: URLSearchParams): { items: KubeObject[]; resourceVersion: string } {
    const matches = this.selected(r, query);
    const result = this.store.list({ group: r.info.group, kind: r.info.kind, ...(r.info.namespaced && r.namespace ? { namespace: r.namespace } : {}) });
    return { items: result.items.filter(matches).map((o) => this.out(r, o)), resourceVersion: result.resourceVersion };
  }

  private async list(req: IncomingMessage, res: ServerResponse, r: ResourceRequest, query: URLSearchParams): Promise<void> {
    const { items, resourceVersion } = this.listItems(r, query);
    if (wantsTable(req.headers.accept)) {
      sendJson(res, 200, toTable(r.info, items, resourceVersion, query.get('includeObject') ?? undefined), TABLE_CONTENT_TYPE);
      return;
    }
    sendJson(res, 200, { kind: `${r.info.kind}List`, apiVersion: apiVersionOf(r.info, r.version), metadata: { resourceVersion }, items });
  }

  /** Chunked JSON lines of {type, object}; from resourceVersion, or the current state as ADDED first when none (or "0") is given. */
  private async watch(req: IncomingMessage, res: ServerResponse, r: ResourceRequest, query: URLSearchParams): Promise<void> {
    const asTable = wantsTable(req.headers.accept);
    const matches = this.selected(r, query);
    const rv = query.get('resourceVersion') ?? '';
    const initial: WatchEvent[] = [];
    let from = rv;
    if (rv === '' || rv === '0') {
      const listed = this.listItems(r, query);
      for (const o of listed.items) initial.push({ type: 'ADDED', object: o });
      from = listed.resourceVersion;
    }
    let first = true;
    const frame = (ev: { type: string; object: unknown }): string => `${JSON.stringify(ev)}\n`;
    const encode = (ev: WatchEvent): string => {
      const object = this.out(r, ev.object);
      if (!asTable) return frame({ type: ev.type, object });
      const t = toTable(r.info, [object], object.metadata.resourceVersion, query.get('includeObject') ?? undefined, first);
      first = false;
      return frame({ type: ev.type, object: t });
    };
    const pending: string[] = initial.map(encode);
    let started = false;
    let unsubscribe: (() => void) | undefined;
    // store.watch may deliver history synchronously, before the response has started: buffer it.
    unsubscribe = this.store.watch(from, (ev) => {
      if (ev.object.kind !== r.info.kind || groupOf(ev.object.apiVersion) !== r.info.group) return;
      if (!matches(ev.object)) return;
      const line = encode(ev);
      if (started) res.write(line);
      else pending.push(line);
    });
    res.writeHead(200, {
      'Content-Type': asTable ? TABLE_CONTENT_TYPE : 'application/json',
      'Cache-Control': 'no-cache, private',
      'Transfer-Encoding': 'chunked',
    });
    started = true;
    for (const line of pending) res.write(line);
    res.flushHeaders();
    const timeoutSeconds = Number(query.get('timeoutSeconds') ?? 0);
    await new Promise<void>((resolve) => {
      const done = (): void => {
        unsubscribe?.();
        unsubscribe = undefined;
        clearTimeout(timer);
        resolve();
      };
      const timer =
        timeoutSeconds > 0
          ? setTimeout(() => {
              done();
              res.end();
            }, timeoutSeconds * 1000)
          : undefined;
      // Bookmarks (allowWatchBookmarks): the store's revision, so a watcher of a quiet kind can
      // resume from a recent position instead of one that history has compacted away.
      const bookmarks =
        query.get('allowWatchBookmarks') === 'true' && !asTable
          ? setInterval(
              () =>
                res.write(
                  frame({
                    type: 'BOOKMARK',
                    object: { kind: r.info.kind, apiVersion: apiVersionOf(r.info, r.version), metadata: { resourceVersion: this.store.revision() } },
                  }),
                ),
              BOOKMARK_INTERVAL_MS,
            )
          : undefined;
      bookmarks?.unref();
      res.once('close', () => clearInterval(bookmarks));
      res.once('close', done);
      req.once('close', done);
    });
  }

  private async logs(res: ServerResponse, r: ResourceRequest, query: URLSearchParams): Promise<void> {
    this.mustGet(r);
    const tail = query.get('tailLines');
    const tailLines = tail === null ? undefined : Number(tail);
    if (tailLines !== undefined && !Number.isInteger(tailLines)) throw badRequest(`tailLines: invalid value "${tail}": must be an integer`);
    const gone = new AbortController();
    res.once('close', () => gone.abort());
    const opts: LogOptions = {
      follow: query.get('follow') === 'true',
      ...(tailLines !== undefined ? { tailLines } : {}),
      ...(query.get('container') ? { container: query.get('container')! } : {}),
      signal: gone.signal,
    };
    const source = this.logsFor ? await this.logsFor(r.namespace ?? '', r.name!, opts) : undefined;
    if (source === undefined) throw badRequest(`the log of pod "${r.name}" is not available`);
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked' });
    if (typeof source === 'string') res.end(source);
    else if (Array.isArray(source)) res.end(source.map((l) => (l.endsWith('\n') ? l : `${l}\n`)).join(''));
    else {
      try {
        for await (const chunk of source as AsyncIterable<string | Uint8Array>) {
          if (res.destroyed) break;
          res.write(chunk);
        }
      } finally {
        gone.abort();
      }
      res.end();
    }
  }

  // ---- writes ----

  private async readObject(req: IncomingMessage, r: ResourceRequest): Promise<KubeObject> {
    const raw = await readRawBody(req);
    const body = isProtobuf(req.headers['content-type']) ? decodeProtobufObject(raw) : parseJsonBody(bodyText(raw));
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('the request body must be a JSON object');
    const obj = body as KubeObject;
    obj.metadata ??= { name: '' };
    if (typeof obj.metadata !== 'object') throw badRequest('metadata must be an object');
    const wantApiVersion = apiVersionOf(r.info, r.version);
    if (obj.apiVersion !== undefined && obj.apiVersion !== wantApiVersion) {
      throw badRequest(`the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${wantApiVersion})`);
    }
    if (obj.kind !== undefined && obj.kind !== r.info.kind) {
      throw badRequest(`the kind in the data (${String(obj.kind)}) does not match the expected kind (${r.info.kind})`);
    }
    obj.apiVersion = wantApiVersion;
    obj.kind = r.info.kind;
    this.placeNamespace(obj, r);
    return obj;
  }

  private placeNamespace(obj: KubeObject, r: ResourceRequest): void {
    if (!r.info.namespaced) {
      delete obj.metadata.namespace;
      return;
    }
    if (obj.metadata.namespace && r.namespace && obj.metadata.namespace !== r.namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    obj.metadata.namespace = r.namespace ?? obj.metadata.namespace;
  }

  private requireNamespace(ns: string | undefined): void {
    if (!ns) return;
    if (!this.store.get({ group: '', kind: 'Namespace', name: ns })) {
      throw notFound(`namespaces "${ns}" not found`, { name: ns, group: '', kind: 'namespaces' });
    }
  }

  private send(res: ServerResponse, code: number, r: ResourceRequest, obj: KubeObject, warnings: string[]): void {
    const headers: Record<string, string> = {};
    const w = warningHeaders(warnings);
    if (w.length) res.setHeader('Warning', w);
    sendJson(res, code, this.out(r, obj), 'application/json', headers);
  }

  private isDryRun(query: URLSearchParams): boolean {
    return query.getAll('dryRun').includes('All');
  }

  private async create(req: IncomingMessage, res: ServerResponse, r: ResourceRequest, query: URLSearchParams): Promise<void> {
    const obj = await this.readObject(req, r);
    const generateName = (obj.metadata as unknown as { generateName?: unknown }).generateName;
    if (!obj.metadata.name && typeof generateName === 'string') obj.metadata.name = `${generateName}${Math.random().toString(36).slice(2, 7)}`;
    delete obj.status;
    const { object, warnings } = this.admission.admit(obj, r.info.group, fieldValidationOf(query.get('fieldValidation')));
    if (r.info.namespaced) this.requireNamespace(object.metadata.namespace);
    if (r.info.kind === 'Namespace' && r.info.group === '') object.status ??= { phase: 'Active' };
    withManager(object, query.get('fieldManager') ?? managerOf(req), 'Update', r);
    if (this.isDryRun(query)) {
      if (this.store.get(this.ref(r, object.metadata.name)))
        throw new HttpError(409, 'AlreadyExists', `${qualified(r.info)} "${object.metadata.name}" already exists`, detailsOf(r.info, object.metadata.name));
      this.send(res, 201, r, object, warnings);
      return;
    }
    const created = this.createWithStatus(object);
    this.send(res, 201, r, created, warnings);
  }

  /** Create, keeping a status the caller set (namespaces are born Active). */
  private createWithStatus(obj: KubeObject): KubeObject {
    const created = this.store.create(obj);
    if (obj.status === undefined) return created;
    const ref = { group: groupOf(created.apiVersion), kind: created.kind, namespace: created.metadata.namespace, name: created.metadata.name };
    return this.store.updateStatus(ref, obj.status);
  }

  private async update(req: IncomingMessage, res: ServerResponse, r: ResourceRequest, query: URLSearchParams): Promise<void> {
    const obj = await this.readObject(req, r);
    if (obj.metadata.name && obj.metadata.name !== r.name)
      throw badRequest(`the name of the object (${obj.metadata.name}) does not match the name on the URL (${r.name})`);
    obj.metadata.name = r.name!;
    const current = this.mustGet(r);
    if (r.subresource === 'status') {
      if (this.isDryRun(query)) return this.send(res, 200, r, { ...current, status: obj.status }, []);
      const updated = this.store.updateStatus(this.ref(r), obj.status, obj.metadata.resourceVersion || undefined);
      this.send(res, 200, r, updated, []);
      return;
    }
    const { object, warnings } = this.admission.admit({ ...obj, status: current.status }, r.info.group, fieldValidationOf(query.get('fieldValidation')));
    if (!setsManagedFields(object, current)) withManager(object, query.get('fieldManager') ?? managerOf(req), 'Update', r);
    if (this.isDryRun(query)) return this.send(res, 200, r, { ...object, metadata: { ...current.metadata, ...object.metadata } }, warnings);
    const updated = this.store.update(object);
    this.send(res, 200, r, updated, warnings);
  }

  private async patch(req: IncomingMessage, res: ServerResponse, r: ResourceRequest, query: URLSearchParams): Promise<void> {
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
    const text = await readBody(req);
    const mode = fieldValidationOf(query.get('fieldValidation'));
    if (contentType === 'application/apply-patch+yaml') return this.serverSideApply(res, r, query, text, mode);
    let patch: unknown;
    let apply: (current: KubeObject) => KubeObject;
    switch (contentType) {
      case 'application/merge-patch+json':
        patch = parseJsonBody(text);
        if (!patch || typeof patch !== 'object' || Array.isArray(patch)) throw badRequest('a merge patch must be a JSON object');
        apply = (c) => mergePatch(c, patch) as KubeObject;
        break;
      case 'application/strategic-merge-patch+json':
        patch = parseJsonBody(text);
        if (!patch || typeof patch !== 'object' || Array.isArray(patch)) throw badRequest('a strategic merge patch must be a JSON object');
        apply = (c) => strategicMerge(c, patch) as KubeObject;
        break;
      case 'application/json-patch+json':
        patch = parseJsonBody(text);
        apply = (c) => applyJsonPatch(c, patch) as KubeObject;
        break;
      default:
        throw new HttpError(
          415,
          'UnsupportedMediaType',
          `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`,
        );
    }
    const manager = query.get('fieldManager') ?? managerOf(req);
    // A patch without a resourceVersion applies to whatever is current: retry when a writer got in between.
    for (let attempt = 0; ; attempt++) {
      const current = this.out(r, this.mustGet(r));
      const patched = apply(structuredClone(current));
      if (!patched || typeof patched !== 'object' || Array.isArray(patched))
        throw new HttpError(422, 'Invalid', 'the patch made the object something other than a JSON object');
      const preRv = (patched.metadata as { resourceVersion?: string } | undefined)?.resourceVersion;
      const explicitRv = preRv !== undefined && preRv !== current.metadata.resourceVersion ? preRv : undefined;
      try {
        if (r.subresource === 'status') {
          if (this.isDryRun(query)) return this.send(res, 200, r, { ...current, status: patched.status }, []);
          const updated = this.store.updateStatus(this.ref(r), patched.status, explicitRv ?? current.metadata.resourceVersion);
          return this.send(res, 200, r, updated, []);
        }
        const next = this.fixIdentity(patched, current, r);
        const { object, warnings } = this.admission.admit(next, r.info.group, mode);
        if (!setsManagedFields(object, current)) withManager(object, manager, 'Update', r);
        if (this.isDryRun(query)) return this.send(res, 200, r, object, warnings);
        const updated = this.store.update({ ...object, metadata: { ...object.metadata, resourceVersion: explicitRv ?? current.metadata.resourceVersion } });
        return this.send(res, 200, r, updated, warnings);
      } catch (err) {
        if (err instanceof StoreError && err.reason === 'Conflict' && explicitRv === undefined && attempt < CONFLICT_RETRIES) continue;
        throw err;
      }
    }
  }

  private fixIdentity(patched: KubeObject, current: KubeObject, r: ResourceRequest): KubeObject {
    const next: KubeObject = { ...patched, apiVersion: apiVersionOf(r.info, r.version), kind: r.info.kind, status: current.status };
    next.metadata = { ...(next.metadata ?? {}), name: current.metadata.name };
    if (current.metadata.namespace !== undefined) next.metadata.namespace = current.metadata.namespace;
    return next;
  }

  /** Server-side apply, as a merge of the applied configuration; the manager is recorded in managedFields. */
  private async serverSideApply(
    res: ServerResponse,
    r: ResourceRequest,
    query: URLSearchParams,
    text: string,
    mode: ReturnType<typeof fieldValidationOf>,
  ): Promise<void> {
    const manager = query.get('fieldManager');
    if (!manager) throw badRequest('PATCH, application/apply-patch+yaml: fieldManager is required for apply patch');
    const deep = findYamlTooDeep(text);
    if (deep)
      throw badRequest(
        `error decoding YAML: the applied configuration nests deeper than ${MAX_NESTING_DEPTH} levels at line ${deep.line}, column ${deep.column}`,
      );
    let applied: unknown;
    try {
      applied = parseYaml(text);
    } catch (err) {
      throw badRequest(`error decoding YAML: ${(err as Error).message}`);
    }
    if (!applied || typeof applied !== 'object' || Array.isArray(applied)) throw badRequest('the applied configuration must be an object');
    const cfg = applied as KubeObject;
    cfg.metadata ??= { name: r.name! };
    if (cfg.metadata.name && cfg.metadata.name !== r.name)
      throw badRequest(`the name of the object (${cfg.metadata.name}) does not match the name on the URL (${r.name})`);
    cfg.metadata.name = r.name!;
    if (cfg.kind !== undefined && cfg.kind !== r.info.kind)
      throw badRequest(`the kind in the data (${String(cfg.kind)}) does not match the expected kind (${r.info.kind})`);
    this.placeNamespace(cfg, r);
    const current = this.store.get(this.ref(r));
    if (r.subresource === 'status') {
      if (!current) throw notFound(`${qualified(r.info)} "${r.name}" not found`, detailsOf(r.info, r.name!));
      const updated = this.store.updateStatus(this.ref(r), mergePatch(current.status ?? {}, cfg.status ?? {}), current.metadata.resourceVersion);
      return this.send(res, 200, r, updated, []);
    }
    const { status: _ignored, ...desired } = cfg;
    if (!current) {
      const obj: KubeObject = { ...desired, apiVersion: apiVersionOf(r.info, r.version), kind: r.info.kind, metadata: { ...desired.metadata } };
      const { object, warnings } = this.admission.admit(obj, r.info.group, mode);
      if (r.info.namespaced) this.requireNamespace(object.metadata.namespace);
      withManager(object, manager, 'Apply', r, desired);
      if (this.isDryRun(query)) return this.send(res, 201, r, object, warnings);
      return this.send(
        res,
        201,
        r,
        this.createWithStatus(r.info.kind === 'Namespace' && !r.info.group ? { ...object, status: { phase: 'Active' } } : object),
        warnings,
      );
    }
    const { apiVersion: _a, kind: _k, ...content } = desired;
    const merged = mergePatch(this.out(r, current), content) as KubeObject;
    const next = this.fixIdentity(merged, current, r);
    const { object, warnings } = this.admission.admit(next, r.info.group, mode);
    withManager(object, manager, 'Apply', r, desired);
    if (this.isDryRun(query)) return this.send(res, 200, r, object, warnings);
    const updated = this.store.update({ ...object, metadata: { ...object.metadata, resourceVersion: current.metadata.resourceVersion } });
    this.send(res, 200, r, updated, warnings);
  }

  private async delete(res: ServerResponse, r: ResourceRequest): Promise<void> {
    if (r.subresource) throw new HttpError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    const deleted = this.store.delete(this.ref(r));
    sendJson(res, 200, this.out(r, deleted));
  }

  private async deleteCollection(res: ServerResponse, r: ResourceRequest, query: URLSearchParams): Promise<void> {
    const { items } = this.listItems(r, query);
    const deleted: KubeObject[] = [];
    for (const o of items) {
      try {
        deleted.push(this.out(r, this.store.delete(this.ref(r, o.metadata.name))));
      } catch (err) {
        if (!(err instanceof StoreError && err.reason === 'NotFound')) throw err;
      }
    }
    sendJson(res, 200, {
      kind: `${r.info.kind}List`,
      apiVersion: apiVersionOf(r.info, r.version),
      metadata: { resourceVersion: this.store.revision() },
      items: deleted,
    });
  }
}

/** A client that rewrites managedFields itself (kubectl migrating client-side apply) gets exactly what it wrote. */
function setsManagedFields(next: KubeObject, current: KubeObject): boolean {
  return canonicalJson(next.metadata.managedFields ?? null) !== canonicalJson(current.metadata.managedFields ?? null);
}

function managerOf(req: IncomingMessage): string {
  const ua = req.headers['user-agent'] ?? 'unknown';
  return ua.split('/')[0] || 'unknown';
}

/** The fields an applied configuration names, in managedFields' FieldsV1 shape (`f:spec: {f:hosts: {}}`). */
function fieldsOf(v: unknown): Record<string, unknown> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return {};
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (k === 'apiVersion' || k === 'kind') continue;
    out[`f:${k}`] = x && typeof x === 'object' && !Array.isArray(x) ? fieldsOf(x) : {};
  }
  return out;
}

/** Records (or refreshes) the manager's managedFields entry. Apply entries name the applied fields. */
function withManager(obj: KubeObject, manager: string, operation: 'Apply' | 'Update', r: ResourceRequest, applied?: KubeObject): void {
  const entries = (Array.isArray(obj.metadata.managedFields) ? obj.metadata.managedFields : []) as Record<string, unknown>[];
  const others = entries.filter((e) => !(e.manager === manager && e.operation === operation && !e.subresource));
  const fields =
    operation === 'Apply' && applied
      ? fieldsOf({
          metadata: pick(applied.metadata, ['labels', 'annotations']),
          ...Object.fromEntries(Object.entries(applied).filter(([k]) => k !== 'metadata' && k !== 'status')),
        })
      : fieldsOf({
          metadata: pick(obj.metadata, ['labels', 'annotations']),
          ...Object.fromEntries(Object.entries(obj).filter(([k]) => k !== 'metadata' && k !== 'status')),
        });
  const entry = {
    manager,
    operation,
    apiVersion: apiVersionOf(r.info, r.version),
    time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    fieldsType: 'FieldsV1',
    fieldsV1: fields,
  };
  const previous = entries.find((e) => e.manager === manager && e.operation === operation && !e.subresource);
  // Keep the old timestamp when nothing changed, so a no-op write stays a no-op in the store.
  if (previous && canonicalJson(previous.fieldsV1) === canonicalJson(fields) && previous.apiVersion === entry.apiVersion) entry.time = String(previous.time);
  obj.metadata.managedFields = [...others, entry];
}

function pick(o: unknown, keys: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const rec = (o ?? {}) as Record<string, unknown>;
  for (const k of keys) if (rec[k] !== undefined) out[k] = rec[k];
  return out;
}

export { toHttpError, sendStatus };
