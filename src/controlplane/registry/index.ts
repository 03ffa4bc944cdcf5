// The service registry: every host the mesh knows (Kubernetes Services and ServiceEntries), and which of them a namespace sees.
import type { MeshSnapshot } from '../snapshot.js';
import { compareStrings } from '../sort-order.js';
import { hostMatches, isExportedTo, isWildcard } from '../hosts.js';
import { kubeServices, podsByNamespace } from './kube-services.js';
import { serviceEntryServices } from './service-entries.js';
import { allocateVips } from './vip-allocation.js';
import type { MeshService } from './types.js';
import { ISTIO_NETWORKING_GROUP } from '../../api/groups.js';
import type { Pod } from '../../api/kinds/pod.js';
import type { Service } from '../../api/kinds/service.js';
import type { ServiceEntry } from '../../api/kinds/service-entry.js';

export * from './types.js';
export { isGatewayPod, isPodReady, hasCapturingSidecar, INBOUND_CAPTURE_ANNOTATION } from './kube-services.js';

export class ServiceRegistry {
  /** All services, ordered by host, then Kubernetes Services before ServiceEntries, then oldest first. */
  readonly services: readonly MeshService[];
  private readonly byHost = new Map<string, MeshService[]>();
  private readonly visibleCache = new Map<string, MeshService[]>();

  constructor(services: readonly MeshService[]) {
    const sorted = [...services].sort(compareServices);
    this.services = sorted;
    for (const s of sorted) {
      let list = this.byHost.get(s.host);
      if (!list) this.byHost.set(s.host, (list = []));
      list.push(s);
    }
  }

  /**
   * The services `namespace` sees, one per host: exported to it, and on a host collision the
   * namespace's own service, else the Kubernetes Service, else the oldest (Istio's precedence).
   */
  visibleTo(namespace: string): readonly MeshService[] {
    let cached = this.visibleCache.get(namespace);
    if (cached) return cached;
    cached = [];
    for (const candidates of this.byHost.values()) {
      const pick = pickForNamespace(candidates, namespace);
      if (pick) cached.push(pick);
    }
    cached.sort((a, b) => compareStrings(a.host, b.host));
    this.visibleCache.set(namespace, cached);
    return cached;
  }

  /** The service for an exact host as seen from `namespace`. */
  lookup(host: string, namespace: string): MeshService | undefined {
    const candidates = this.byHost.get(host.toLowerCase());
    return candidates ? pickForNamespace(candidates, namespace) : undefined;
  }

  /**
   * Resolves a name a client would use: an exact host first, else the visible wildcard
   * service with the longest suffix that covers it.
   */
  resolve(host: string, namespace: string): MeshService | undefined {
    const exact = this.lookup(host, namespace);
    if (exact || isWildcard(host)) return exact;
    let best: MeshService | undefined;
    for (const s of this.visibleTo(namespace)) {
      if (isWildcard(s.host) && hostMatches(s.host, host) && (!best || s.host.length > best.host.length)) best = s;
    }
    return best;
  }
}

function compareServices(a: MeshService, b: MeshService): number {
  if (a.host !== b.host) return compareStrings(a.host, b.host);
  if (a.origin !== b.origin) return a.origin === 'Service' ? -1 : 1;
  return compareStrings(a.age, b.age);
}

function pickForNamespace(candidates: readonly MeshService[], namespace: string): MeshService | undefined {
  let first: MeshService | undefined;
  for (const s of candidates) {
    if (!isExportedTo(s.exportTo, s.namespace, namespace)) continue;
    // A Kubernetes Service owns its host; a ServiceEntry with the same host only decorates it.
    if (s.origin === 'Service') return s;
    if (s.namespace === namespace && (!first || first.namespace !== namespace)) first = s;
    else if (!first) first = s;
  }
  return first;
}

const cache = new WeakMap<MeshSnapshot, ServiceRegistry>();

/** The registry of a snapshot (built once per snapshot). */
export function registryFor(snapshot: MeshSnapshot): ServiceRegistry {
  let reg = cache.get(snapshot);
  if (!reg) {
    const pods = podsByNamespace(snapshot.of('', 'Pod') as readonly Pod[]);
    reg = new ServiceRegistry([
      ...kubeServices(snapshot.of('', 'Service') as readonly Service[], pods),
      ...allocateVips(serviceEntryServices(snapshot.of(ISTIO_NETWORKING_GROUP, 'ServiceEntry') as readonly ServiceEntry[])),
    ]);
    cache.set(snapshot, reg);
  }
  return reg;
}
