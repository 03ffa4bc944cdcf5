// EndpointSlices (discovery.k8s.io/v1), as Kubernetes' EndpointSlice controller keeps them: one
// per Service with a selector, listing each selected pod with an address, ready or not (its
// `ready` condition says which), with the Service's ports resolved to the pods' target ports.
import { createHash } from 'node:crypto';
import type { KubeObject } from '../../api/object.js';
import { namedContainerPort, type Pod } from '../../api/kinds/pod.js';
import { serviceTargetPort, type Service, type ServicePortSpec } from '../../api/kinds/service.js';
import { labelsMatch } from '../../controlplane/hosts.js';
import { MANAGED_BY_LABEL, SERVICE_NAME_LABEL } from '../../api/kinds/endpoint-slice.js';
import { isPodReady } from '../../controlplane/registry/kube-services.js';
import type { Store } from '../../store/types.js';

const MANAGER = 'outpost';

type Rec = Record<string, unknown>;

function sliceName(svc: string, ns: string): string {
  // Kubernetes appends 5 random characters; a hash keeps the name stable across restarts.
  return `${svc}-${createHash('sha256').update(`${ns}/${svc}`).digest('hex').slice(0, 5)}`;
}

/** The port on the pods: a number, or the first selected pod's container port of that name. */
function targetPort(port: ServicePortSpec, pods: readonly Pod[]): number | undefined {
  const t = serviceTargetPort(port);
  if (typeof t === 'number') return t;
  for (const pod of pods) {
    const n = namedContainerPort(pod.spec, t);
    if (n !== undefined) return n;
  }
  return undefined;
}

/** The slice a Service should have now (undefined: none, e.g. no selector or ExternalName). */
export function desiredSlice(service: KubeObject, podObjects: readonly KubeObject[]): KubeObject | undefined {
  const svc = service as Service;
  const pods = podObjects as readonly Pod[];
  const selector = svc.spec?.selector ?? {};
  if (svc.spec?.type === 'ExternalName' || Object.keys(selector).length === 0) return undefined;
  const ns = svc.metadata.namespace ?? 'default';
  const selected = pods
    .filter((p) => (p.metadata.namespace ?? 'default') === ns && labelsMatch(selector, p.metadata.labels) && Boolean(p.status?.podIP))
    .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: sliceName(svc.metadata.name, ns),
      namespace: ns,
      labels: { [SERVICE_NAME_LABEL]: svc.metadata.name, [MANAGED_BY_LABEL]: MANAGER },
      ...(svc.metadata.uid
        ? {
            ownerReferences: [
              { apiVersion: 'v1', kind: 'Service', name: svc.metadata.name, uid: svc.metadata.uid, controller: true, blockOwnerDeletion: true },
            ],
          }
        : {}),
    },
    addressType: 'IPv4',
    endpoints: selected.map((p) => {
      const ready = isPodReady(p);
      return {
        addresses: [p.status!.podIP!],
        conditions: { ready, serving: ready, terminating: false },
        nodeName: p.spec?.nodeName ?? 'outpost',
        targetRef: { kind: 'Pod', namespace: ns, name: p.metadata.name, ...(p.metadata.uid ? { uid: p.metadata.uid } : {}) },
      };
    }),
    ports: (svc.spec?.ports ?? []).map((p) => {
      const port = targetPort(p, selected);
      return {
        name: p.name ?? '',
        ...(port !== undefined ? { port } : {}),
        protocol: p.protocol ?? 'TCP',
        ...(p.appProtocol !== undefined ? { appProtocol: p.appProtocol } : {}),
      };
    }),
  };
}

const content = (o: KubeObject): string => JSON.stringify([o.metadata.labels, (o as Rec).addressType, (o as Rec).endpoints, (o as Rec).ports]);

/** Creates, updates and deletes outpost's slices so each Service with a selector has its current one. */
export function syncEndpointSlices(store: Store, services: readonly KubeObject[], pods: readonly KubeObject[], log: (line: string) => void): void {
  const existing = store.list({ group: 'discovery.k8s.io', kind: 'EndpointSlice', labelSelector: `${MANAGED_BY_LABEL}=${MANAGER}` }).items;
  const wanted = new Map<string, KubeObject>();
  for (const svc of services) {
    const slice = desiredSlice(svc, pods);
    if (slice) wanted.set(`${slice.metadata.namespace}/${slice.metadata.name}`, slice);
  }
  for (const have of existing) {
    const id = `${have.metadata.namespace}/${have.metadata.name}`;
    if (wanted.has(id)) continue;
    try {
      store.delete({ group: 'discovery.k8s.io', kind: 'EndpointSlice', namespace: have.metadata.namespace, name: have.metadata.name });
    } catch {
      // Gone with its Service.
    }
  }
  for (const [id, slice] of wanted) {
    const have = existing.find((e) => `${e.metadata.namespace}/${e.metadata.name}` === id);
    try {
      if (!have) store.create(slice);
      else if (content(have) !== content(slice)) store.update({ ...slice, metadata: { ...have.metadata, labels: slice.metadata.labels } });
    } catch (err) {
      log(`services: cannot write EndpointSlice ${id}: ${(err as Error).message}`);
    }
  }
}
