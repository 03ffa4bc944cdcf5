// EndpointSlices (discovery.k8s.io/v1), as Kubernetes' EndpointSlice controller keeps them: one
// per Service with a selector, listing each selected pod with an address, ready or not (its
// `ready` condition says which), with the Service's ports resolved to the pods' target ports.
import { createHash } from 'node:crypto';
import type { KubeObject } from '../../api/object.js';
import type { Pod } from '../../api/kinds/pod.js';
import { MANAGED_BY_LABEL, SERVICE_NAME_LABEL } from '../../api/kinds/endpoint-slice.js';
import { isPodReady } from '../../controlplane/registry/kube-services.js';
import type { Store } from '../../store/types.js';

const MANAGER = 'outpost';

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Rec) : {});

function sliceName(svc: string, ns: string): string {
  // Kubernetes appends 5 random characters; a hash keeps the name stable across restarts.
  return `${svc}-${createHash('sha256').update(`${ns}/${svc}`).digest('hex').slice(0, 5)}`;
}

function targetPort(port: Rec, pods: KubeObject[]): number | undefined {
  const t = port.targetPort ?? port.port;
  if (typeof t === 'number') return t;
  if (typeof t === 'string' && /^\d+$/.test(t)) return Number(t);
  for (const pod of pods) {
    for (const c of (rec(pod.spec).containers ?? []) as Rec[]) {
      for (const p of (c.ports ?? []) as Rec[]) if (p.name === t && typeof p.containerPort === 'number') return p.containerPort;
    }
  }
  return undefined;
}

/** The slice a Service should have now (undefined: none, e.g. no selector or ExternalName). */
export function desiredSlice(svc: KubeObject, pods: readonly KubeObject[]): KubeObject | undefined {
  const spec = rec(svc.spec);
  const selector = rec(spec.selector) as Record<string, string>;
  if (spec.type === 'ExternalName' || Object.keys(selector).length === 0) return undefined;
  const ns = svc.metadata.namespace ?? 'default';
  const selected = pods
    .filter(
      (p) =>
        (p.metadata.namespace ?? 'default') === ns &&
        Object.entries(selector).every(([k, v]) => p.metadata.labels?.[k] === v) &&
        typeof rec(p.status).podIP === 'string' &&
        rec(p.status).podIP !== '',
    )
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
      const ready = isPodReady(p as Pod);
      return {
        addresses: [String(rec(p.status).podIP)],
        conditions: { ready, serving: ready, terminating: false },
        nodeName: String(rec(p.spec).nodeName ?? 'outpost'),
        targetRef: { kind: 'Pod', namespace: ns, name: p.metadata.name, ...(p.metadata.uid ? { uid: p.metadata.uid } : {}) },
      };
    }),
    ports: ((spec.ports ?? []) as Rec[]).map((p) => {
      const port = targetPort(p, selected);
      return {
        ...(typeof p.name === 'string' ? { name: p.name } : { name: '' }),
        ...(port !== undefined ? { port } : {}),
        protocol: typeof p.protocol === 'string' ? p.protocol : 'TCP',
        ...(typeof p.appProtocol === 'string' ? { appProtocol: p.appProtocol } : {}),
      };
    }),
  } as KubeObject;
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
