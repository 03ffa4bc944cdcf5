// Small helpers the verbs share: resource names as kubectl prints them, kind lookup with
// kubectl's error, and reading objects through the API client.
import { apiVersionOf, KINDS, kindFor, resolveKindName, type KindInfo } from '../api/kinds.js';
import { groupOf, type KubeObject, type ObjectRef } from '../api/object.js';
import { ApiError, type ApiClient } from '../apiserver/client.js';
import { CliError, failureLine } from './errors.js';

/** `serviceentry.networking.istio.io`, `deployment.apps`, `namespace`. */
export function resourceName(info: KindInfo): string {
  return info.group ? `${info.singular}.${info.group}` : info.singular;
}

/** `serviceentry.networking.istio.io/egress-se`. */
export function objectName(obj: KubeObject): string {
  const info = kindFor(obj.apiVersion, obj.kind) ?? KINDS.find((k) => k.kind === obj.kind && k.group === groupOf(obj.apiVersion));
  const base = info ? resourceName(info) : obj.kind.toLowerCase();
  return `${base}/${obj.metadata.name}`;
}

export function kindOrThrow(name: string): KindInfo {
  const info = resolveKindName(name);
  if (!info) throw new CliError(`error: the server doesn't have a resource type "${name}"`);
  return info;
}

export function refOf(info: KindInfo, name: string, namespace?: string): ObjectRef {
  return { group: info.group, kind: info.kind, namespace: info.namespaced ? (namespace ?? 'default') : undefined, name };
}

function isNotFound(err: unknown): boolean {
  if (!(err instanceof ApiError)) return false;
  const e = err as unknown as { status?: { code?: number } | number; code?: number };
  const code = typeof e.status === 'number' ? e.status : (e.status?.code ?? e.code);
  return code === 404;
}

/** The object, or undefined when the API says NotFound. */
export async function getOptional(api: ApiClient, ref: ObjectRef): Promise<KubeObject | undefined> {
  try {
    return await api.get(ref);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** kubectl's `Error from server (NotFound): serviceentries.networking.istio.io "x" not found`. */
export function notFoundMessage(info: KindInfo, name: string): string {
  return `Error from server (NotFound): ${info.group ? `${info.plural}.${info.group}` : info.plural} "${name}" not found`;
}

/** An API failure as kubectl words it: `Error from server (Reason): message` (a lost connection: `outpost: …`). */
export function apiErrorMessage(err: unknown): string {
  if (err instanceof ApiError) return failureLine(err);
  return `error: ${err instanceof Error ? err.message : String(err)}`;
}

export { apiVersionOf };
