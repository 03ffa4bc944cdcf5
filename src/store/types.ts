// The store's contract: Kubernetes-shaped objects with resourceVersions, list and watch.
// Implementations: SQLite (the embedded default). Callers never see SQL.
import type { KubeObject, ObjectRef } from '../api/object.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface WatchEvent {
  type: WatchEventType;
  object: KubeObject;
}

export interface ListQuery {
  group: string;
  kind: string;
  /** Absent: all namespaces. */
  namespace?: string;
  /** Kubernetes label selector syntax: `app=curl,tier!=db,env in (a,b),!x`. */
  labelSelector?: string;
}

export interface ListResult {
  items: KubeObject[];
  /** The store's revision at the time of the list; watch from here to miss nothing. */
  resourceVersion: string;
}

export type ApplyOutcome = 'created' | 'configured' | 'unchanged';

export interface ApplyResult {
  object: KubeObject;
  outcome: ApplyOutcome;
}

export class StoreError extends Error {
  constructor(
    readonly reason: 'NotFound' | 'AlreadyExists' | 'Conflict' | 'Invalid' | 'Gone' | 'BadRequest' | 'ServiceUnavailable',
    message: string,
    readonly code: number,
    /** What the error is about, for a Status object's details (name, group, kind as the API server fills them). */
    readonly details?: { name?: string; group?: string; kind?: string },
  ) {
    super(message);
    this.name = 'StoreError';
  }
}

export interface Store {
  get(ref: ObjectRef): KubeObject | undefined;
  list(query: ListQuery): ListResult;
  /** Fails with AlreadyExists. Sets uid, resourceVersion, generation 1, creationTimestamp. */
  create(obj: KubeObject): KubeObject;
  /** Replaces spec/metadata (not status). A set metadata.resourceVersion that is stale is a Conflict. */
  update(obj: KubeObject): KubeObject;
  /** JSON merge patch (RFC 7386) of the whole object (status excluded unless subresource is 'status'). */
  patch(ref: ObjectRef, patch: unknown, subresource?: 'status'): KubeObject;
  /** Writes status only; never bumps generation. */
  updateStatus(ref: ObjectRef, status: unknown, resourceVersion?: string): KubeObject;
  /** Deletes the object and, transitively, every object whose ownerReferences name its uid. */
  delete(ref: ObjectRef): KubeObject;
  /** Creates or updates every object in one transaction: all or nothing. */
  apply(objs: KubeObject[]): ApplyResult[];
  /** Events after `fromResourceVersion` (exclusive), then live ones. Throws Gone (410) when history was compacted. */
  watch(fromResourceVersion: string, onEvent: (ev: WatchEvent) => void): () => void;
  /** Current revision. */
  revision(): string;
  close(): void;
}
