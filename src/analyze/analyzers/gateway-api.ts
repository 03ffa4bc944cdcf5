// Gateway API checks: classes, route parents (Gateways, ServiceEntries, Services), backends
// (Services, Istio Hostnames), cross-namespace grants, listener hostnames, NONE-resolution loops,
// and negative status conditions the controller wrote (IST0171).
import type { GatewaySpec } from '../../api/kinds/gateway-api-gateway.js';
import type { BackendRef, ParentReference } from '../../api/kinds/gateway-api-common.js';
import { grantAllows, type ReferenceGrant } from '../../api/kinds/reference-grant.js';
import type { ServiceEntrySpec } from '../../api/kinds/service-entry.js';
import { serviceFqdn } from '../../proxyconfig/naming.js';
import { CODES, type Finding } from '../finding.js';
import { BUILTIN_GATEWAY_CLASSES, CLUSTER_DOMAIN, hostsIntersect, type Entry, type Snapshot } from '../snapshot.js';
import { hostOwners } from './registry.js';
import { ref, report } from './report.js';
import { GATEWAY_API_GROUP, ISTIO_NETWORKING_GROUP } from '../../api/groups.js';

interface RouteSpec {
  parentRefs?: ParentReference[];
  hostnames?: string[];
  rules?: Array<{ backendRefs?: BackendRef[] }>;
}

export function analyzeGatewayApi(snap: Snapshot): Finding[] {
  const findings: Finding[] = [];
  for (const gw of snap.of(GATEWAY_API_GROUP, 'Gateway')) {
    const cls = (gw.obj.spec as GatewaySpec | undefined)?.gatewayClassName;
    if (typeof cls === 'string' && !BUILTIN_GATEWAY_CLASSES.has(cls) && !snap.find(GATEWAY_API_GROUP, 'GatewayClass', '', cls)) {
      findings.push(report(gw, CODES.ReferencedResourceNotFound, 'Error', `Referenced gatewayclass not found: "${cls}"`, 'spec.gatewayClassName'));
    }
  }
  const grants = snap
    .of(GATEWAY_API_GROUP, 'ReferenceGrant')
    .map((e) => ({ ...e.obj, metadata: { ...e.obj.metadata, namespace: e.namespace } }) as ReferenceGrant);
  for (const kind of ['HTTPRoute', 'GRPCRoute', 'TLSRoute', 'TCPRoute']) {
    for (const route of snap.of(GATEWAY_API_GROUP, kind)) findings.push(...analyzeRoute(snap, route, grants));
  }
  findings.push(...negativeConditions(snap));
  return findings;
}

interface Condition {
  type?: unknown;
  status?: unknown;
  reason?: unknown;
  message?: unknown;
}

/** IST0171: Accepted, Programmed or ResolvedRefs False on a Gateway, or on an HTTPRoute's or GRPCRoute's parent. */
function negativeConditions(snap: Snapshot): Finding[] {
  const findings: Finding[] = [];
  const NEGATIVE = ['Accepted', 'Programmed', 'ResolvedRefs'];
  const check = (e: Entry, conditions: unknown) => {
    for (const c of (Array.isArray(conditions) ? conditions : []) as Condition[]) {
      if (!c || c.status !== 'False' || !NEGATIVE.includes(String(c.type))) continue;
      findings.push(
        report(
          e,
          CODES.NegativeConditionStatus,
          'Warning',
          `A condition with a negative status is present: type=${String(c.type)}, reason=${String(c.reason ?? '')}, message=${String(c.message ?? '')}.`,
        ),
      );
    }
  };
  for (const gw of snap.of(GATEWAY_API_GROUP, 'Gateway')) check(gw, (gw.obj.status as { conditions?: unknown } | undefined)?.conditions);
  for (const kind of ['HTTPRoute', 'GRPCRoute']) {
    for (const route of snap.of(GATEWAY_API_GROUP, kind)) {
      const parents = (route.obj.status as { parents?: Array<{ conditions?: unknown }> } | undefined)?.parents;
      for (const p of Array.isArray(parents) ? parents : []) check(route, p?.conditions);
    }
  }
  return findings;
}

function analyzeRoute(snap: Snapshot, route: Entry, grants: ReferenceGrant[]): Finding[] {
  const findings: Finding[] = [];
  const spec = route.obj.spec as RouteSpec | undefined;
  if (!spec) return findings;
  const parentGateways: Entry[] = [];
  (Array.isArray(spec.parentRefs) ? spec.parentRefs : []).forEach((p, i) => {
    if (!p || typeof p.name !== 'string') return;
    const group = p.group ?? GATEWAY_API_GROUP;
    const kind = p.kind ?? 'Gateway';
    const ns = p.namespace ?? route.namespace;
    const path = `spec.parentRefs[${i}]`;
    if (group === GATEWAY_API_GROUP && kind === 'Gateway') {
      const gw = snap.find(GATEWAY_API_GROUP, 'Gateway', ns, p.name);
      if (!gw) {
        findings.push(report(route, CODES.ReferencedResourceNotFound, 'Error', `Referenced parent Gateway not found: "${ref(ns, p.name)}"`, `${path}.name`));
        return;
      }
      parentGateways.push(gw);
      const listeners = (gw.obj.spec as GatewaySpec | undefined)?.listeners ?? [];
      if (p.sectionName !== undefined && !listeners.some((l) => l?.name === p.sectionName)) {
        findings.push(
          report(
            route,
            CODES.ReferencedResourceNotFound,
            'Error',
            `Referenced parent listener not found: "${ref(ns, p.name)}/${p.sectionName}"`,
            `${path}.sectionName`,
          ),
        );
      }
      const routeHosts = Array.isArray(spec.hostnames) ? spec.hostnames : [];
      const listenerHosts = listeners.map((l) => l?.hostname).filter((h): h is string => typeof h === 'string');
      if (
        routeHosts.length > 0 &&
        listenerHosts.length === listeners.length &&
        listenerHosts.length > 0 &&
        !routeHosts.some((rh) => listenerHosts.some((lh) => hostsIntersect(lh, rh)))
      ) {
        findings.push(
          report(
            route,
            CODES.NoMatchingListenerHostname,
            'Warning',
            `no hostnames matched parent hostname ${listenerHosts.map((h) => JSON.stringify(h)).join(', ')} of Gateway ${ref(ns, p.name)}`,
            'spec.hostnames',
          ),
        );
      }
    } else if (group === ISTIO_NETWORKING_GROUP && kind === 'ServiceEntry') {
      if (!snap.find(ISTIO_NETWORKING_GROUP, 'ServiceEntry', ns, p.name))
        findings.push(
          report(route, CODES.ReferencedResourceNotFound, 'Error', `Referenced parent ServiceEntry not found: "${ref(ns, p.name)}"`, `${path}.name`),
        );
    } else if (group === '' && kind === 'Service') {
      if (!snap.find('', 'Service', ns, p.name))
        findings.push(report(route, CODES.ReferencedResourceNotFound, 'Error', `Referenced parent Service not found: "${ref(ns, p.name)}"`, `${path}.name`));
    }
  });
  const serviceHosts = snap.serviceHosts();
  (Array.isArray(spec.rules) ? spec.rules : []).forEach((rule, i) => {
    (Array.isArray(rule?.backendRefs) ? rule.backendRefs : []).forEach((b, j) => {
      if (!b || typeof b.name !== 'string') return;
      const group = b.group ?? '';
      const kind = b.kind ?? 'Service';
      const path = `spec.rules[${i}].backendRefs[${j}]`;
      if (group === '' && kind === 'Service') {
        const ns = b.namespace ?? route.namespace;
        if (!serviceHosts.has(serviceFqdn(b.name, ns, CLUSTER_DOMAIN))) {
          findings.push(report(route, CODES.ReferencedResourceNotFound, 'Error', `Referenced backend Service not found: "${ref(ns, b.name)}"`, `${path}.name`));
        } else if (
          ns !== route.namespace &&
          !grantAllows(
            grants,
            { group: GATEWAY_API_GROUP, kind: route.kind, namespace: route.namespace },
            { group: '', kind: 'Service', namespace: ns, name: b.name },
          )
        ) {
          findings.push(
            report(
              route,
              CODES.ReferencedResourceNotFound,
              'Error',
              `Referenced backend Service not accessible: "${ref(ns, b.name)}" (missing a ReferenceGrant in namespace ${ns}?)`,
              `${path}.namespace`,
            ),
          );
        }
      } else if (group === ISTIO_NETWORKING_GROUP && kind === 'Hostname') {
        const owners = hostOwners(snap, b.name, route.namespace);
        if (owners.length === 0) {
          findings.push(report(route, CODES.ReferencedResourceNotFound, 'Error', `Referenced backend Hostname not found: "${b.name}"`, `${path}.name`));
        } else if (parentGateways.length > 0 && !owners.some((o) => o.kind === 'Service')) {
          const none = owners.find((o) => o.kind === 'ServiceEntry' && ((o.entry.obj.spec as ServiceEntrySpec).resolution ?? 'NONE') === 'NONE');
          if (none) {
            findings.push(
              report(
                route,
                CODES.EgressGatewayResolutionNone,
                'Error',
                `ServiceEntry ${ref(none.entry.namespace, none.entry.name)} has resolution NONE, so gateway ${ref(parentGateways[0]!.namespace, parentGateways[0]!.name)} would forward "${b.name}" to the original destination, which is the gateway itself (a forwarding loop); set resolution: DNS`,
                `${path}.name`,
              ),
            );
          }
        }
      }
    });
  });
  return findings;
}
