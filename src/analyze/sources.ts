// What `analyze` looks at: the running mesh's objects with the files laid over them, as istioctl
// analyze does (a file's object replaces the live object of the same kind, namespace and name).
import type { KubeObject } from '../api/object.js';
import { groupOf } from '../api/object.js';
import type { SourceDocument } from '../api/load.js';
import { kindFor } from '../api/kinds.js';

function keyOf(obj: KubeObject, defaultNamespace: string): string | undefined {
  if (!obj || typeof obj !== 'object' || typeof obj.kind !== 'string' || typeof obj.apiVersion !== 'string' || !obj.metadata) return undefined;
  const namespaced = kindFor(obj.apiVersion, obj.kind)?.namespaced ?? true;
  return JSON.stringify([groupOf(obj.apiVersion), obj.kind, namespaced ? obj.metadata.namespace || defaultNamespace : '', obj.metadata.name]);
}

/** The live objects that no file replaces, then every file document. */
export function overlayFiles(live: readonly KubeObject[], files: readonly SourceDocument[], defaultNamespace: string): Array<KubeObject | SourceDocument> {
  const replaced = new Set(files.map((d) => keyOf(d.object, defaultNamespace)).filter((k): k is string => k !== undefined));
  return [...live.filter((o) => !replaced.has(keyOf(o, defaultNamespace) ?? '')), ...files];
}
