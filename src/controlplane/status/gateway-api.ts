// Gateway API status as Istio writes it: GatewayClass, Gateway (Accepted/Programmed, addresses, listeners), route parents.
// Reads the old status through the kinds' types (GatewayClassStatus, GatewayStatus, RouteStatus) and keeps what it does not own.
import { serviceFqdn } from '../../proxyconfig/naming.js';
import type { MeshSnapshot } from '../snapshot.js';
import { registryFor } from '../registry/index.js';
import type { GatewayInfo, RouteInfo } from '../translate/gateway-api.js';
import { mergeConditions } from './conditions.js';
import { GATEWAY_API_V1 } from '../../api/groups.js';
import { ISTIO_GATEWAY_CONTROLLER, type GatewayClass } from '../../api/kinds/gateway-class.js';
import type { GatewayStatus } from '../../api/kinds/gateway-api-gateway.js';
import type { RouteStatus } from '../../api/kinds/gateway-api-common.js';

/**
 * A stored status, or one of its lists, as the kind's type says. Statuses are not validated (any
 * controller may write one): a status that is not an object, or a list that is not a list, is none.
 */
function stored<T extends object>(v: T | undefined): Partial<T> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : {};
}
function storedList<T>(v: readonly T[] | undefined): readonly Partial<T>[] {
  return Array.isArray(v) ? v.map((x: unknown) => stored(x as T & object)) : [];
}

export const GATEWAY_CLASS_DESCRIPTION = 'The default Istio GatewayClass';

export function defaultGatewayClass(): GatewayClass {
  return {
    apiVersion: GATEWAY_API_V1,
    kind: 'GatewayClass',
    metadata: { name: 'istio' },
    spec: { controllerName: ISTIO_GATEWAY_CONTROLLER, description: GATEWAY_CLASS_DESCRIPTION },
  };
}

export function gatewayClassStatus(gc: GatewayClass, now: string): unknown {
  const generation = gc.metadata.generation ?? 1;
  const old = stored(gc.status);
  return {
    ...old,
    conditions: mergeConditions(
      old.conditions,
      [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'Handled by Istio controller', observedGeneration: generation }],
      now,
    ),
  };
}

/** "a", "a and b", "a, b, and c". */
export function humanJoin(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  if (items.length === 2) return `${items[0]} and ${items[1]}`;
  return `${items.slice(0, -1).join(', ')}, and ${items[items.length - 1]}`;
}

export interface GatewayProgramming {
  /** The fronting Service exists. */
  readonly serviceExists: boolean;
  /** At least one gateway pod is Running and Ready. */
  readonly ready: boolean;
  readonly fqdn: string;
}

export function gatewayProgramming(snapshot: MeshSnapshot, info: GatewayInfo): GatewayProgramming {
  const fqdn = serviceFqdn(info.serviceName, info.serviceNamespace);
  const svc = snapshot.get('', 'Service', info.serviceNamespace, info.serviceName);
  const registered = registryFor(snapshot).lookup(fqdn, info.serviceNamespace);
  return { serviceExists: Boolean(svc), ready: Boolean(registered && registered.endpoints.length > 0), fqdn };
}

/** The Gateway's whole status: conditions, addresses (once ready, never removed), listeners. */
export function gatewayStatus(info: GatewayInfo, programming: GatewayProgramming, now: string): Record<string, unknown> {
  const gw = info.gateway;
  const generation = gw.metadata.generation ?? 1;
  const old = stored<GatewayStatus>(gw.status);
  const valid = info.listeners.filter((l) => l.valid);
  const accepted = info.unsupportedAddress
    ? { type: 'Accepted', status: 'False', reason: 'UnsupportedAddress', message: info.unsupportedAddress }
    : valid.length === info.listeners.length
      ? { type: 'Accepted', status: 'True', reason: 'Accepted', message: 'Resource accepted' }
      : valid.length > 0
        ? { type: 'Accepted', status: 'True', reason: 'ListenersNotValid', message: "One or more of the Gateway's listeners are invalid" }
        : { type: 'Accepted', status: 'False', reason: 'ListenersNotValid', message: "None of the Gateway's listeners are valid" };
  const ports = [...new Set(info.listeners.map((l) => l.port))];
  const assigned = humanJoin(ports.map((p) => `${programming.fqdn}:${p}`));
  const programmed = info.unsupportedAddress
    ? { type: 'Programmed', status: 'False', reason: 'Invalid', message: `Gateway is not accepted: ${info.unsupportedAddress}` }
    : !programming.serviceExists
      ? {
          type: 'Programmed',
          status: 'False',
          reason: 'AddressNotAssigned',
          message: `Failed to assign to any requested addresses: hostname "${programming.fqdn}" not found`,
        }
      : programming.ready
        ? { type: 'Programmed', status: 'True', reason: 'Programmed', message: `Resource programmed, assigned to service(s) ${assigned}` }
        : {
            type: 'Programmed',
            status: 'False',
            reason: 'AddressNotAssigned',
            message: `Assigned to service(s) ${assigned}, but failed to assign to all requested addresses: no instances found for hostname "${programming.fqdn}"`,
          };
  const addresses = programming.ready ? [{ type: 'Hostname', value: programming.fqdn }] : storedList(old.addresses);
  const oldListeners = storedList(old.listeners);
  return {
    ...old,
    ...(addresses.length ? { addresses } : {}),
    conditions: mergeConditions(
      old.conditions,
      [
        { ...accepted, observedGeneration: generation },
        { ...programmed, observedGeneration: generation },
      ],
      now,
    ),
    listeners: info.listeners.map((l) => ({
      name: l.name,
      supportedKinds: l.supportedKinds,
      attachedRoutes: l.attachedRoutes,
      conditions: mergeConditions(
        oldListeners.find((o) => o.name === l.name)?.conditions,
        l.conditions.map((c) => ({ ...c, observedGeneration: generation })),
        now,
      ),
    })),
  };
}

/** Route status: our parent entries replaced, other controllers' entries kept. */
export function routeStatus(info: RouteInfo, now: string): Record<string, unknown> {
  const route = info.route;
  const generation = route.metadata.generation ?? 1;
  const old = stored<RouteStatus>(route.status);
  const oldParents = storedList(old.parents);
  const sameRef = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  const ours = info.parents.map((p) => ({
    parentRef: p.parentRef,
    controllerName: ISTIO_GATEWAY_CONTROLLER,
    conditions: mergeConditions(
      oldParents.find((o) => o.controllerName === ISTIO_GATEWAY_CONTROLLER && sameRef(o.parentRef, p.parentRef))?.conditions,
      p.conditions.map((c) => ({ ...c, observedGeneration: generation })),
      now,
    ),
  }));
  const others = oldParents.filter((o) => o.controllerName !== ISTIO_GATEWAY_CONTROLLER);
  return { ...old, parents: [...others, ...ours] };
}
