// Host lookups the analyzers share: which ServiceEntry or Service defines a host, and subsets.
import type { ServiceEntrySpec } from '../../api/kinds/service-entry.js';
import type { DestinationRuleSpec } from '../../api/kinds/destination-rule.js';
import { hostMatches, isExportedTo, resolveShortName, type Entry, type Snapshot } from '../snapshot.js';
import { ISTIO_NETWORKING_GROUP } from '../../api/groups.js';

export interface HostOwner {
  entry: Entry;
  kind: 'Service' | 'ServiceEntry';
}

/** Who defines `host` (already expanded) for a caller in namespace `from`. Services win over ServiceEntries. */
export function hostOwners(snap: Snapshot, host: string, from: string): HostOwner[] {
  const out: HostOwner[] = [];
  const svc = snap.serviceHosts().get(host);
  if (svc) out.push({ entry: svc, kind: 'Service' });
  for (const se of snap.of(ISTIO_NETWORKING_GROUP, 'ServiceEntry')) {
    const spec = se.obj.spec as ServiceEntrySpec | undefined;
    if (!spec || !Array.isArray(spec.hosts)) continue;
    if (!isExportedTo(spec.exportTo, se.namespace, from)) continue;
    if (spec.hosts.some((h) => typeof h === 'string' && hostMatches(resolveShortName(h, se.namespace), host))) out.push({ entry: se, kind: 'ServiceEntry' });
  }
  return out;
}

/** DestinationRules for a host as seen from namespace `from` (own namespace first, as Istio picks). */
export function destinationRulesFor(snap: Snapshot, host: string, from: string): Entry[] {
  const rules = snap.of(ISTIO_NETWORKING_GROUP, 'DestinationRule').filter((dr) => {
    const spec = dr.obj.spec as DestinationRuleSpec | undefined;
    if (!spec || typeof spec.host !== 'string') return false;
    if (!isExportedTo(spec.exportTo, dr.namespace, from)) return false;
    return hostMatches(resolveShortName(spec.host, dr.namespace), host);
  });
  return rules.sort((a, b) => Number(b.namespace === from) - Number(a.namespace === from));
}
