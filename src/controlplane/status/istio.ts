// The sail-operator view: IstioRevision `default` derived from the Istio resource, and the Istio resource's status.
import type { KubeObject } from '../../api/object.js';
import type { MeshSnapshot } from '../snapshot.js';
import { isIstioGateway } from '../translate/gateway-api.js';
import type { Gateway } from '../../api/kinds/gateway-api-gateway.js';
import { mergeConditions } from './conditions.js';
import { isGatewayInjected, type Deployment } from '../../api/kinds/deployment.js';
import { APPS_GROUP, GATEWAY_API_GROUP, SAIL_V1 } from '../../api/groups.js';
import { DEFAULT_ISTIO_VERSION } from '../../api/kinds/sail-common.js';
import { istioDefaults, type Istio } from '../../api/kinds/sail-istio.js';
import type { IstioRevision } from '../../api/kinds/istio-revision.js';

/** The revision name of an Istio resource: `default` for the one named default (InPlace), else its name. */
export function revisionName(istio: KubeObject): string {
  return istio.metadata.name;
}

export function desiredRevision(istio: Istio): IstioRevision {
  const spec = istioDefaults(istio.spec ?? undefined);
  return {
    apiVersion: SAIL_V1,
    kind: 'IstioRevision',
    metadata: {
      name: revisionName(istio),
      labels: { 'sailoperator.io/revision': revisionName(istio) },
      ownerReferences: [
        { apiVersion: istio.apiVersion, kind: 'Istio', name: istio.metadata.name, uid: istio.metadata.uid ?? '', controller: true, blockOwnerDeletion: true },
      ],
    },
    spec: {
      type: 'Local',
      version: spec.version ?? DEFAULT_ISTIO_VERSION,
      namespace: spec.namespace,
      ...(spec.values !== undefined ? { values: spec.values } : {}),
    },
  };
}

/** In use: a namespace asks for injection with this revision (or the default label), or a gateway runs on it. */
export function revisionInUse(snapshot: MeshSnapshot, revision: string): boolean {
  for (const ns of snapshot.of('', 'Namespace')) {
    const labels = ns.metadata.labels ?? {};
    if (labels['istio.io/rev'] === revision) return true;
    if (revision === 'default' && labels['istio-injection'] === 'enabled') return true;
  }
  if (revision === 'default' && (snapshot.of(GATEWAY_API_GROUP, 'Gateway') as readonly Gateway[]).some(isIstioGateway)) return true;
  // A gateway installed through gateway injection runs the revision's proxy (as its pods would say).
  for (const d of snapshot.of(APPS_GROUP, 'Deployment')) {
    if (!isGatewayInjected(d as unknown as Deployment)) continue;
    const rev = (d as unknown as Deployment).spec?.template?.metadata?.labels?.['istio.io/rev'] ?? 'default';
    if (rev === revision) return true;
  }
  return snapshot.of('', 'Pod').some((p) => p.metadata.labels?.['istio.io/rev'] === revision);
}

export function revisionStatus(rev: IstioRevision, inUse: boolean, now: string): Record<string, unknown> {
  const generation = rev.metadata.generation ?? 1;
  const old = rev.status;
  return {
    ...old,
    observedGeneration: generation,
    conditions: mergeConditions(
      old?.conditions,
      [
        { type: 'Reconciled', status: 'True', reason: 'Reconciled', message: '' },
        { type: 'Ready', status: 'True', reason: 'Healthy', message: '' },
        { type: 'DependenciesHealthy', status: 'True', reason: 'Healthy', message: '' },
        inUse
          ? { type: 'InUse', status: 'True', reason: 'ReferencedByWorkloads', message: 'Referenced by at least one pod or namespace' }
          : { type: 'InUse', status: 'False', reason: 'NotReferencedByAnything', message: 'Not referenced by any pod or namespace' },
      ],
      now,
    ),
    state: 'Healthy',
  };
}

export function istioStatus(istio: Istio, inUse: boolean, now: string): Record<string, unknown> {
  const generation = istio.metadata.generation ?? 1;
  const old = istio.status;
  return {
    ...old,
    observedGeneration: generation,
    activeRevisionName: revisionName(istio),
    revisions: { total: 1, ready: 1, inUse: inUse ? 1 : 0 },
    conditions: mergeConditions(
      old?.conditions,
      [
        { type: 'Reconciled', status: 'True', reason: 'Reconciled', message: '' },
        { type: 'Ready', status: 'True', reason: 'Healthy', message: '' },
        { type: 'RevisionsReady', status: 'True', reason: 'Healthy', message: '' },
      ],
      now,
    ),
    state: 'Healthy',
  };
}
