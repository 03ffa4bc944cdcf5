// REST paths for the objects `outpost install` writes: outpost's own kinds from its registry, plus
// the cluster kinds it needs (CRDs, RBAC, webhook configurations) that outpost's API does not serve.
import { groupOf, type KubeObject } from '../api/object.js';
import { kindRoute } from './kinds.js';

const CLUSTER_KINDS: Record<string, { base: string; plural: string; namespaced: boolean }> = {
  CustomResourceDefinition: { base: '/apis/apiextensions.k8s.io/v1', plural: 'customresourcedefinitions', namespaced: false },
  ClusterRole: { base: '/apis/rbac.authorization.k8s.io/v1', plural: 'clusterroles', namespaced: false },
  ClusterRoleBinding: { base: '/apis/rbac.authorization.k8s.io/v1', plural: 'clusterrolebindings', namespaced: false },
  Role: { base: '/apis/rbac.authorization.k8s.io/v1', plural: 'roles', namespaced: true },
  RoleBinding: { base: '/apis/rbac.authorization.k8s.io/v1', plural: 'rolebindings', namespaced: true },
  MutatingWebhookConfiguration: { base: '/apis/admissionregistration.k8s.io/v1', plural: 'mutatingwebhookconfigurations', namespaced: false },
};

/** The collection to POST `obj` to, and its own path. */
export function objectPaths(obj: KubeObject): { collection: string; item: string } {
  const name = encodeURIComponent(obj.metadata.name);
  const ns = obj.metadata.namespace;
  const cluster = CLUSTER_KINDS[obj.kind];
  if (cluster) {
    const collection =
      cluster.namespaced && ns ? `${cluster.base}/namespaces/${encodeURIComponent(ns)}/${cluster.plural}` : `${cluster.base}/${cluster.plural}`;
    return { collection, item: `${collection}/${name}` };
  }
  const route = kindRoute(groupOf(obj.apiVersion), obj.kind);
  const item = route.item(ns, obj.metadata.name);
  return { collection: item.slice(0, item.lastIndexOf('/')), item };
}
