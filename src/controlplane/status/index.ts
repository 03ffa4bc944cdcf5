// Status reconciliation: what the control plane observed, written back through the store only when it changed.
import type { KubeObject } from '../../api/object.js';
import type { Store } from '../../store/types.js';
import type { MeshSnapshot } from '../snapshot.js';
import { activeIstio } from '../mesh-settings.js';
import { canonicalJson } from '../translate/index.js';
import { gatewayApiModel } from '../translate/gateway-api.js';
import { findCondition, kubeTime, refOf, writeStatus, type StoredCondition } from './conditions.js';
import { recordEvent } from './events.js';
import { defaultGatewayClass, gatewayClassStatus, gatewayProgramming, gatewayStatus, routeStatus } from './gateway-api.js';
import { desiredRevision, istioStatus, revisionInUse, revisionStatus } from './istio.js';
import { GATEWAY_API_GROUP, SAIL_GROUP } from '../../api/groups.js';
import type { IstioRevision } from '../../api/kinds/istio-revision.js';
import type { GatewayClass } from '../../api/kinds/gateway-class.js';

export interface StatusOptions {
  readonly now?: Date;
  readonly log?: (line: string) => void;
}

/** A status's condition of `type` (stored statuses are not validated: anything but an object has none). */
function condition(status: unknown, type: string): StoredCondition | undefined {
  return status !== null && typeof status === 'object' ? findCondition((status as { conditions?: unknown }).conditions, type) : undefined;
}

/** Writes every status the snapshot implies; returns how many objects were written. */
export function reconcileStatus(store: Store, snapshot: MeshSnapshot, options: StatusOptions = {}): number {
  const nowDate = options.now ?? new Date();
  const now = kubeTime(nowDate);
  const log = options.log;
  let writes = 0;

  // GatewayClass `istio`: Istio creates it when it is missing.
  let gc: KubeObject | undefined = snapshot.get(GATEWAY_API_GROUP, 'GatewayClass', undefined, 'istio');
  if (!gc) {
    try {
      gc = store.get(refOf(defaultGatewayClass())) ?? store.create(defaultGatewayClass());
      writes++;
    } catch (err) {
      log?.(`status: GatewayClass istio: ${(err as Error).message}`);
    }
  }
  if (gc && writeStatus(store, gc, gatewayClassStatus(gc as GatewayClass, now), log)) writes++;

  const model = gatewayApiModel(snapshot);
  for (const info of model.gatewayInfo.values()) {
    const desired = gatewayStatus(info, gatewayProgramming(snapshot, info), now);
    if (writeStatus(store, info.gateway, desired, log)) {
      writes++;
      const was = condition(info.gateway.status, 'Programmed');
      const is = condition(desired, 'Programmed');
      if (is?.status === 'True' && was?.status !== 'True') recordEvent(store, info.gateway, 'Normal', 'Programmed', String(is.message), nowDate, log);
    }
  }
  for (const info of model.routeInfo.values()) {
    if (writeStatus(store, info.route, routeStatus(info, now), log)) writes++;
  }

  const istio = activeIstio(snapshot);
  if (istio) {
    const desired = desiredRevision(istio);
    let rev = snapshot.get(SAIL_GROUP, 'IstioRevision', undefined, desired.metadata.name);
    try {
      if (!rev) {
        rev = store.get(refOf(desired)) ?? store.create(desired);
        writes++;
      } else if (canonicalJson(rev.spec) !== canonicalJson(desired.spec)) {
        rev = store.update({ ...rev, metadata: { ...rev.metadata, ownerReferences: desired.metadata.ownerReferences! }, spec: desired.spec });
        writes++;
      }
    } catch (err) {
      log?.(`status: IstioRevision ${desired.metadata.name}: ${(err as Error).message}`);
    }
    const inUse = revisionInUse(snapshot, desired.metadata.name);
    if (rev && writeStatus(store, rev, revisionStatus(rev as IstioRevision, inUse, now), log)) writes++;
    if (writeStatus(store, istio, istioStatus(istio, inUse, now), log)) writes++;
  }
  return writes;
}
