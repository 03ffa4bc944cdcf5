// Kubernetes Services as registry entries: selector → Running pods with an IP → endpoints at the targetPort.
import { isIPv4 } from 'node:net';
import type { KubeObject } from '../../api/object.js';
import { serviceFqdn } from '../../proxyconfig/naming.js';
import { arr, ageKey, num, rec, sortedRecord, str, strMap } from '../fields.js';
import { labelsMatch } from '../hosts.js';
import { kubePortProtocol, type MeshService, type ServiceEndpoint, type ServicePort } from './types.js';
import { GATEWAY_NAME_LABEL } from '../../api/groups.js';

/** A pod is a gateway proxy when it was made from the gateway template (injection or Gateway API deployment). */
export function isGatewayPod(pod: KubeObject): boolean {
  const labels = pod.metadata.labels ?? {};
  const annotations = pod.metadata.annotations ?? {};
  return Boolean(labels[GATEWAY_NAME_LABEL]) || (annotations['inject.istio.io/templates'] ?? '').split(',').includes('gateway');
}

/**
 * Set by the local mesh on pods whose sidecar captures their inbound traffic (the netns model), where
 * Istio's `sidecar.istio.io/status` alone would do: with the loopback model an injected pod's
 * sidecar takes no inbound traffic, so auto mTLS toward it would fail.
 */
export const INBOUND_CAPTURE_ANNOTATION = 'outpost.dev/inbound-capture';

export function hasCapturingSidecar(pod: KubeObject): boolean {
  return pod.metadata.annotations?.[INBOUND_CAPTURE_ANNOTATION] === 'true';
}

export function isPodReady(pod: KubeObject): boolean {
  const status = rec(pod.status);
  if (str(status.phase) !== 'Running' || !str(status.podIP)) return false;
  const conditions = arr(status.conditions).map(rec);
  const ready = conditions.find((c) => c.type === 'Ready');
  return !ready || ready.status === 'True';
}

function namedContainerPort(pod: KubeObject, name: string): number | undefined {
  for (const c of arr(rec(pod.spec).containers).map(rec)) {
    for (const p of arr(c.ports).map(rec)) {
      if (p.name === name) return num(p.containerPort);
    }
  }
  return undefined;
}

export function kubeServices(services: readonly KubeObject[], podsByNamespace: ReadonlyMap<string, readonly KubeObject[]>): MeshService[] {
  const out: MeshService[] = [];
  for (const svc of services) {
    const ns = svc.metadata.namespace ?? 'default';
    const spec = rec(svc.spec);
    if (str(spec.type) === 'ExternalName') continue; // Not modelled: it has no endpoints of its own.
    const ports: ServicePort[] = arr(spec.ports)
      .map(rec)
      .flatMap((p) => {
        const port = num(p.port);
        if (port === undefined) return [];
        const name = str(p.name) ?? '';
        const target = p.targetPort;
        const targetPort = typeof target === 'string' && !/^\d+$/.test(target) ? target : num(target);
        return [{ port, name, protocol: kubePortProtocol(str(p.appProtocol), name), ...(targetPort !== undefined ? { targetPort } : {}) }];
      });
    const selector = strMap(spec.selector);
    const endpoints: ServiceEndpoint[] = [];
    if (Object.keys(selector).length > 0) {
      for (const pod of podsByNamespace.get(ns) ?? []) {
        if (!labelsMatch(selector, pod.metadata.labels) || !isPodReady(pod)) continue;
        const resolved = new Map<number, number>();
        for (const p of ports) {
          const t = p.targetPort === undefined ? p.port : typeof p.targetPort === 'number' ? p.targetPort : namedContainerPort(pod, p.targetPort);
          if (t !== undefined) resolved.set(p.port, t);
        }
        endpoints.push({
          address: str(rec(pod.status).podIP)!,
          ports: resolved,
          labels: sortedRecord(pod.metadata.labels ?? {}),
          ...(isGatewayPod(pod) ? { meshGateway: true } : hasCapturingSidecar(pod) ? { meshSidecar: true } : {}),
          ...(str(rec(pod.spec).serviceAccountName) ? { serviceAccount: str(rec(pod.spec).serviceAccountName)! } : {}),
        });
      }
      endpoints.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
    }
    const exportTo = (svc.metadata.annotations?.['networking.istio.io/exportTo'] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    out.push({
      host: serviceFqdn(svc.metadata.name, ns),
      name: svc.metadata.name,
      namespace: ns,
      origin: 'Service',
      ports,
      resolution: 'STATIC',
      location: 'MESH_INTERNAL',
      exportTo,
      endpoints,
      ...(clusterIpOf(svc) ? { clusterIP: clusterIpOf(svc) } : {}),
      age: ageKey(svc.metadata),
    });
  }
  return out;
}

/** Pods grouped by namespace (for selector matching). */
export function podsByNamespace(pods: readonly KubeObject[]): Map<string, KubeObject[]> {
  const map = new Map<string, KubeObject[]>();
  for (const pod of pods) {
    const ns = pod.metadata.namespace ?? 'default';
    let list = map.get(ns);
    if (!list) map.set(ns, (list = []));
    list.push(pod);
  }
  return map;
}

/** spec.clusterIP when it is an IPv4 address (not `None`, not empty). */
function clusterIpOf(svc: KubeObject): string | undefined {
  const ip = (svc.spec as Record<string, unknown> | undefined)?.clusterIP;
  return typeof ip === 'string' && isIPv4(ip) ? ip : undefined;
}
