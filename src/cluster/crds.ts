// CustomResourceDefinitions for every kind outpost serves that a cluster does not have built in,
// generated from the same kind registry and field trees that outpost's own API serves.
import { KINDS, type KindInfo } from '../api/kinds.js';
import type { KubeObject } from '../api/object.js';
import { crdSchema } from '../apiserver/openapi.js';

/** Groups every Kubernetes cluster serves itself: never installed as CRDs. */
const BUILT_IN_GROUPS = new Set(['', 'apps', 'coordination.k8s.io', 'networking.k8s.io', 'discovery.k8s.io', 'authentication.k8s.io']);

export function crdKinds(): KindInfo[] {
  return KINDS.filter((k) => !BUILT_IN_GROUPS.has(k.group));
}

export function customResourceDefinition(k: KindInfo): KubeObject {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${k.plural}.${k.group}`, labels: { 'app.kubernetes.io/part-of': 'outpost' } },
    spec: {
      group: k.group,
      names: {
        kind: k.kind,
        listKind: `${k.kind}List`,
        plural: k.plural,
        singular: k.singular,
        ...(k.shortNames.length ? { shortNames: [...k.shortNames] } : {}),
        ...(k.categories.length ? { categories: [...k.categories] } : {}),
      },
      scope: k.namespaced ? 'Namespaced' : 'Cluster',
      versions: k.versions.map((version, i) => ({
        name: version,
        served: true,
        // One storage version: the first, the one outpost reads and writes.
        storage: i === 0,
        schema: { openAPIV3Schema: crdSchema(k, version) },
        subresources: { status: {} },
        ...(k.printerColumns.length
          ? {
              additionalPrinterColumns: k.printerColumns.map((c) => ({
                name: c.name,
                type: c.type,
                jsonPath: c.jsonPath,
                ...(c.description ? { description: c.description } : {}),
                ...(c.priority ? { priority: c.priority } : {}),
              })),
            }
          : {}),
      })),
    },
  } as KubeObject;
}
