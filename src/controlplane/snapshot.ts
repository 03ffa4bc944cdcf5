// MeshSnapshot: an immutable view of every object the control plane reads, taken from the store at one revision.
import type { KubeObject } from '../api/object.js';
import type { Store } from '../store/types.js';
import { APPS_GROUP, GATEWAY_API_GROUP, ISTIO_NETWORKING_GROUP, ISTIO_SECURITY_GROUP, SAIL_GROUP } from '../api/groups.js';

/** Group and kind of every resource the control plane reads. */
export const SNAPSHOT_KINDS = [
  { group: '', kind: 'Namespace' },
  { group: '', kind: 'Service' },
  { group: '', kind: 'Pod' },
  // TLS material for credentialName; only what a proxy's own config references reaches that proxy.
  { group: '', kind: 'Secret' },
  { group: APPS_GROUP, kind: 'Deployment' },
  { group: ISTIO_NETWORKING_GROUP, kind: 'ServiceEntry' },
  { group: ISTIO_NETWORKING_GROUP, kind: 'Gateway' },
  { group: ISTIO_NETWORKING_GROUP, kind: 'VirtualService' },
  { group: ISTIO_NETWORKING_GROUP, kind: 'DestinationRule' },
  { group: ISTIO_NETWORKING_GROUP, kind: 'Sidecar' },
  { group: ISTIO_SECURITY_GROUP, kind: 'AuthorizationPolicy' },
  { group: ISTIO_SECURITY_GROUP, kind: 'PeerAuthentication' },
  { group: GATEWAY_API_GROUP, kind: 'GatewayClass' },
  { group: GATEWAY_API_GROUP, kind: 'Gateway' },
  { group: GATEWAY_API_GROUP, kind: 'HTTPRoute' },
  { group: GATEWAY_API_GROUP, kind: 'GRPCRoute' },
  { group: GATEWAY_API_GROUP, kind: 'TLSRoute' },
  { group: GATEWAY_API_GROUP, kind: 'TCPRoute' },
  { group: GATEWAY_API_GROUP, kind: 'ReferenceGrant' },
  { group: SAIL_GROUP, kind: 'Istio' },
  { group: SAIL_GROUP, kind: 'IstioRevision' },
] as const;

export type SnapshotKind = (typeof SNAPSHOT_KINDS)[number];

/** `<group>/<kind>` ('/Service' for the core group). */
export function kindKey(group: string, kind: string): string {
  return `${group}/${kind}`;
}

const KIND_KEYS = new Set(SNAPSHOT_KINDS.map((k) => kindKey(k.group, k.kind)));

export function isSnapshotKind(group: string, kind: string): boolean {
  return KIND_KEYS.has(kindKey(group, kind));
}

export interface MeshSnapshot {
  /** The store revision the snapshot was read at ('0' for hand-built snapshots). */
  readonly revision: string;
  /** Objects of one kind, ordered by namespace then name. */
  of(group: string, kind: string): readonly KubeObject[];
  get(group: string, kind: string, namespace: string | undefined, name: string): KubeObject | undefined;
}

function groupOfApiVersion(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return value;
  Object.freeze(value);
  // for-in over own data properties: no Object.values array per object.
  for (const k in value) {
    const v = (value as Record<string, unknown>)[k];
    if (v !== null && typeof v === 'object') deepFreeze(v);
  }
  return value;
}

/** Objects are JSON-shaped (YAML, JSON, the store): a JSON round trip in batches copies them faster than structuredClone, without one huge string. */
function jsonCopy(objects: readonly KubeObject[]): KubeObject[] {
  const out: KubeObject[] = [];
  for (let i = 0; i < objects.length; i += 256) {
    for (const o of JSON.parse(JSON.stringify(objects.slice(i, i + 256))) as KubeObject[]) out.push(o);
  }
  return out;
}

function byNamespaceName(a: KubeObject, b: KubeObject): number {
  const an = a.metadata.namespace ?? '';
  const bn = b.metadata.namespace ?? '';
  if (an !== bn) return an < bn ? -1 : 1;
  return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
}

/**
 * A snapshot of the given objects; objects of kinds the control plane does not read are dropped.
 * The objects are copied (unless `copy` is false: the caller gives them up) and frozen.
 */
export function snapshotFromObjects(objects: readonly KubeObject[], revision = '0', copy = true): MeshSnapshot {
  const byKind = new Map<string, KubeObject[]>();
  const index = new Map<string, KubeObject>();
  const kept = objects.filter((o) => KIND_KEYS.has(kindKey(groupOfApiVersion(o.apiVersion), o.kind)));
  const copies: readonly KubeObject[] = copy ? jsonCopy(kept) : kept;
  for (const obj of copies) {
    const key = kindKey(groupOfApiVersion(obj.apiVersion), obj.kind);
    const frozen = deepFreeze(obj);
    let list = byKind.get(key);
    if (!list) byKind.set(key, (list = []));
    list.push(frozen);
    index.set(`${key}/${obj.metadata.namespace ?? ''}/${obj.metadata.name}`, frozen);
  }
  for (const list of byKind.values()) {
    list.sort(byNamespaceName);
    Object.freeze(list);
  }
  const empty: readonly KubeObject[] = Object.freeze([]);
  return Object.freeze({
    revision,
    of: (group: string, kind: string) => byKind.get(kindKey(group, kind)) ?? empty,
    get: (group: string, kind: string, namespace: string | undefined, name: string) => index.get(`${kindKey(group, kind)}/${namespace ?? ''}/${name}`),
  });
}

/** Reads every kind the control plane needs from the store. */
export function snapshotFromStore(store: Store): MeshSnapshot {
  const revision = store.revision();
  const objects: KubeObject[] = [];
  for (const k of SNAPSHOT_KINDS) {
    objects.push(...store.list({ group: k.group, kind: k.kind }).items);
  }
  // The store hands out fresh objects on every list: freezing them in place is safe.
  return snapshotFromObjects(objects, revision, false);
}
