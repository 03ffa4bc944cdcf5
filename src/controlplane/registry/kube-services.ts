// Kubernetes Services as registry entries: selector → Running pods with an IP → endpoints at the targetPort.
import { isIPv4 } from 'node:net';
import type { KubeObject } from '../../api/object.js';
import { namedContainerPort, type Pod } from '../../api/kinds/pod.js';
import { serviceTargetPort, type Service } from '../../api/kinds/service.js';
import { serviceFqdn } from '../../proxyconfig/naming.js';
import { kubePortProtocol } from '../../api/kinds/port-protocol.js';
import { ageKey, sortedRecord } from '../sort-order.js';
import { labelsMatch } from '../hosts.js';
import type { MeshService, ServiceEndpoint, ServicePort } from './types.js';
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

export function isPodReady(pod: Pod): boolean {
  const status = pod.status;
  if (status?.phase !== 'Running' || !status.podIP) return false;
  const ready = status.conditions?.find((c) => c.type === 'Ready');
  return !ready || ready.status === 'True';
}

export function kubeServices(services: readonly Service[], podsByNamespace: ReadonlyMap<string, readonly Pod[]>): MeshService[] {
  const out: MeshService[] = [];
  for (const svc of services) {
    const ns = svc.metadata.namespace ?? 'default';
    const spec = svc.spec;
    if (spec?.type === 'ExternalName') continue; // Not modelled: it has no endpoints of its own.
    const ports: ServicePort[] = (spec?.ports ?? []).map((p) => {
      const name = p.name ?? '';
      return { port: p.port, name, protocol: kubePortProtocol(p.appProtocol, name), targetPort: serviceTargetPort(p) };
    });
    const selector = spec?.selector ?? {};
    const endpoints: ServiceEndpoint[] = [];
    if (Object.keys(selector).length > 0) {
      for (const pod of podsByNamespace.get(ns) ?? []) {
        if (!labelsMatch(selector, pod.metadata.labels) || !isPodReady(pod)) continue;
        const resolved = new Map<number, number>();
        for (const p of ports) {
          const t = typeof p.targetPort === 'string' ? namedContainerPort(pod.spec, p.targetPort) : p.targetPort;
          if (t !== undefined) resolved.set(p.port, t);
        }
        const serviceAccount = pod.spec?.serviceAccountName;
        endpoints.push({
          address: pod.status!.podIP!,
          ports: resolved,
          labels: sortedRecord(pod.metadata.labels ?? {}),
          ...(isGatewayPod(pod) ? { meshGateway: true } : hasCapturingSidecar(pod) ? { meshSidecar: true } : {}),
          ...(serviceAccount ? { serviceAccount } : {}),
        });
      }
      endpoints.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
    }
    const exportTo = (svc.metadata.annotations?.['networking.istio.io/exportTo'] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const clusterIP = spec?.clusterIP && isIPv4(spec.clusterIP) ? spec.clusterIP : undefined;
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
      ...(clusterIP ? { clusterIP } : {}),
      age: ageKey(svc.metadata),
    });
  }
  return out;
}

/** Pods grouped by namespace (for selector matching). */
export function podsByNamespace(pods: readonly Pod[]): Map<string, Pod[]> {
  const map = new Map<string, Pod[]>();
  for (const pod of pods) {
    const ns = pod.metadata.namespace ?? 'default';
    let list = map.get(ns);
    if (!list) map.set(ns, (list = []));
    list.push(pod);
  }
  return map;
}
