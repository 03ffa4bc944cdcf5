// Automated deployment: a Deployment and a Service `<gateway>-istio` for each managed Gateway of class `istio`, owned by it.
import type { KubeObject } from '../../api/object.js';
import { gatewayDeploymentName, GATEWAY_STATUS_PORT } from '../../proxyconfig/naming.js';
import type { Store } from '../../store/types.js';
import type { MeshSnapshot } from '../snapshot.js';
import { isIstioGateway, unmanagedAddress } from '../translate/gateway-api.js';
import { ISTIO_GATEWAY_CLASS } from '../../api/kinds/gateway-class.js';
import { canonicalJson } from '../translate/index.js';
import { APPS_GROUP, GATEWAY_API_GROUP, GATEWAY_NAME_LABEL } from '../../api/groups.js';
import type { Gateway } from '../../api/kinds/gateway-api-gateway.js';
import type { ServiceSpec } from '../../api/kinds/service.js';

export const ISTIO_GATEWAY_NAME_LABEL = 'istio.io/gateway-name';
export const SERVICE_TYPE_ANNOTATION = 'networking.istio.io/service-type';

/** A listener name as a Kubernetes port name: lower case, `[a-z0-9-]`, at most 63 characters. */
export function sanitizePortName(name: string): string {
  const s = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return s;
}

interface PortSpec {
  name: string;
  port: number;
  protocol: 'TCP';
  appProtocol: string;
  targetPort: number;
}

/**
 * Istio's extractServicePorts: status-port first, then one port per unique listener port. `analyze`
 * hands in Gateways from files that were never validated: a listener without a port is passed over.
 */
export function gatewayServicePorts(gw: KubeObject): PortSpec[] {
  const ports: PortSpec[] = [{ name: 'status-port', port: GATEWAY_STATUS_PORT, protocol: 'TCP', appProtocol: 'tcp', targetPort: GATEWAY_STATUS_PORT }];
  const seenPorts = new Set<number>([GATEWAY_STATUS_PORT]);
  const seenNames = new Set<string>(['status-port']);
  ((gw as Gateway).spec?.listeners ?? []).forEach((l, i) => {
    const port = l.port;
    if (typeof port !== 'number' || seenPorts.has(port)) return;
    seenPorts.add(port);
    const protocol = (l.protocol ?? 'TCP').toLowerCase();
    let name = sanitizePortName(l.name ?? '') || `${protocol}-${i}`;
    if (seenNames.has(name)) name = `${name}-${i}`;
    seenNames.add(name);
    ports.push({ name, port, protocol: 'TCP', appProtocol: protocol, targetPort: port });
  });
  return ports;
}

/** Does this Gateway get a deployment? (class `istio`, no Hostname address.) */
export function isManagedGateway(gw: KubeObject): boolean {
  return isIstioGateway(gw as Gateway) && !unmanagedAddress(gw as Gateway);
}

/** The Deployment, Service and ServiceAccount the deployer wants for a Gateway (Istio's `<gateway>-istio` set). */
export function desiredGatewayObjects(gw: KubeObject): KubeObject[] {
  const ns = gw.metadata.namespace ?? 'default';
  const name = gatewayDeploymentName(gw.metadata.name, ISTIO_GATEWAY_CLASS);
  // spec.infrastructure's labels and annotations go on everything generated (the gateway's own labels win).
  const infra = (gw as Gateway).spec?.infrastructure;
  const infraAnnotations = { ...infra?.annotations };
  const labels = { ...infra?.labels, [GATEWAY_NAME_LABEL]: gw.metadata.name, [ISTIO_GATEWAY_NAME_LABEL]: gw.metadata.name };
  const annotations = Object.keys(infraAnnotations).length ? { annotations: infraAnnotations } : {};
  const ownerReferences = [
    { apiVersion: gw.apiVersion, kind: 'Gateway', name: gw.metadata.name, uid: gw.metadata.uid ?? '', controller: true, blockOwnerDeletion: true },
  ];
  const ports = gatewayServicePorts(gw);
  const serviceType = gw.metadata.annotations?.[SERVICE_TYPE_ANNOTATION] ?? 'LoadBalancer';
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: ns, labels, ...annotations, ownerReferences },
      spec: {
        replicas: 1,
        selector: { matchLabels: { [GATEWAY_NAME_LABEL]: gw.metadata.name } },
        template: {
          metadata: {
            labels: { ...labels, 'service.istio.io/canonical-name': name, 'sidecar.istio.io/inject': 'false' },
            annotations: { ...infraAnnotations, 'sidecar.istio.io/inject': 'false', 'inject.istio.io/templates': 'gateway' },
          },
          spec: {
            serviceAccountName: name,
            containers: [
              {
                name: 'istio-proxy',
                image: 'auto',
                args: ['proxy', 'router'],
                ports: ports.map((p) => ({ containerPort: p.targetPort, name: p.name, protocol: 'TCP' })),
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: ns, labels, ...annotations, ownerReferences },
      spec: {
        type: serviceType,
        selector: { [GATEWAY_NAME_LABEL]: gw.metadata.name },
        ports,
      },
    },
    // The pods' identity (spiffe://…/ns/<ns>/sa/<name>-istio), as Istio's deployer makes it.
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: ns, labels, ...annotations, ownerReferences } },
  ];
}

/** The part of an object the deployer owns: compared to decide whether to write. */
function ownedPart(obj: KubeObject): string {
  let spec: unknown = obj.spec ?? {};
  if (obj.kind === 'Service') {
    const { type, selector, ports } = spec as ServiceSpec;
    spec = { type, selector, ports };
  }
  return canonicalJson({ labels: obj.metadata.labels ?? {}, ownerReferences: obj.metadata.ownerReferences ?? [], spec });
}

/** Whether `existing` lacks an annotation the deployer wants (user-added ones are kept). */
function missingAnnotations(existing: KubeObject, desired: KubeObject): boolean {
  const have = existing.metadata.annotations ?? {};
  return Object.entries(desired.metadata.annotations ?? {}).some(([k, v]) => have[k] !== v);
}

export interface DeployerResult {
  created: string[];
  updated: string[];
  deleted: string[];
}

const refOf = (o: KubeObject) => ({
  group: o.apiVersion.includes('/') ? o.apiVersion.split('/')[0]! : '',
  kind: o.kind,
  namespace: o.metadata.namespace,
  name: o.metadata.name,
});

/** Brings the store to the desired deployments; writes only what differs. */
export function reconcileGatewayDeployments(store: Store, snapshot: MeshSnapshot, log?: (line: string) => void): DeployerResult {
  const result: DeployerResult = { created: [], updated: [], deleted: [] };
  const wanted = new Set<string>();
  for (const gw of snapshot.of(GATEWAY_API_GROUP, 'Gateway')) {
    if (!isManagedGateway(gw)) continue;
    for (const desired of desiredGatewayObjects(gw)) {
      const ref = refOf(desired);
      const id = `${desired.kind}/${ref.namespace}/${ref.name}`;
      wanted.add(id);
      try {
        const existing = store.get(ref);
        if (!existing) {
          store.create(desired);
          result.created.push(id);
        } else if (ownedPart(existing) !== ownedPart(desired) || missingAnnotations(existing, desired)) {
          const spec = { ...(existing.spec as object | undefined), ...(desired.spec as object) };
          const merged = { ...(existing.metadata.annotations ?? {}), ...(desired.metadata.annotations ?? {}) };
          store.update({
            ...existing,
            metadata: {
              ...existing.metadata,
              labels: { ...(existing.metadata.labels ?? {}), ...desired.metadata.labels },
              ownerReferences: desired.metadata.ownerReferences!,
              ...(Object.keys(merged).length ? { annotations: merged } : {}),
            },
            spec,
          });
          result.updated.push(id);
        }
      } catch (err) {
        log?.(`deployer: ${id}: ${(err as Error).message}`);
      }
    }
  }
  // Objects we made for a Gateway that no longer wants them (class changed, became unmanaged).
  for (const [group, kind] of [
    [APPS_GROUP, 'Deployment'],
    ['', 'Service'],
    ['', 'ServiceAccount'],
  ] as const) {
    // ServiceAccounts are not part of the snapshot (translation never reads them): ask the store.
    const objects = kind === 'ServiceAccount' ? store.list({ group, kind }).items : snapshot.of(group, kind);
    for (const obj of objects) {
      const owner = obj.metadata.ownerReferences?.find((o) => o.kind === 'Gateway' && o.apiVersion.startsWith(`${GATEWAY_API_GROUP}/`) && o.controller);
      if (!owner || !obj.metadata.labels?.[GATEWAY_NAME_LABEL]) continue;
      const id = `${kind}/${obj.metadata.namespace}/${obj.metadata.name}`;
      if (wanted.has(id)) continue;
      try {
        store.delete(refOf(obj));
        result.deleted.push(id);
      } catch (err) {
        log?.(`deployer: delete ${id}: ${(err as Error).message}`);
      }
    }
  }
  return result;
}
