// Where each kind the controller mirrors lives on a Kubernetes API: its REST path and the
// apiVersion it is read and written as (the first version outpost serves, as kubectl prefers).
import { KINDS, apiVersionOf, type KindInfo } from '../api/kinds.js';

export interface KindRoute {
  readonly group: string;
  readonly kind: string;
  readonly apiVersion: string;
  readonly namespaced: boolean;
  /** /api/v1/pods, /apis/networking.istio.io/v1/serviceentries */
  readonly collection: string;
  /** The path of one object (its namespace and name). */
  item(namespace: string | undefined, name: string): string;
}

export function kindRoute(group: string, kind: string): KindRoute {
  const info: KindInfo | undefined = KINDS.find((k) => k.group === group && k.kind === kind);
  if (!info) throw new Error(`outpost does not know kind ${kind}${group ? `.${group}` : ''}`);
  const apiVersion = apiVersionOf(info);
  const base = group ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  return {
    group,
    kind,
    apiVersion,
    namespaced: info.namespaced,
    collection: `${base}/${info.plural}`,
    item: (namespace, name) =>
      info.namespaced && namespace
        ? `${base}/namespaces/${encodeURIComponent(namespace)}/${info.plural}/${encodeURIComponent(name)}`
        : `${base}/${info.plural}/${encodeURIComponent(name)}`,
  };
}
