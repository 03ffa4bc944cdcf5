// gateway.networking.k8s.io Gateway: listeners of a gateway that the class's controller deploys.
import type { KubeObject } from '../object.js';
import type { IssueList } from '../field-issue.js';
import { FIELD_TREES } from '../schema/field-trees.gen.js';
import { checkPortNumber, requireList } from './common-rules.js';
import type { Condition } from './gateway-api-common.js';
import { arr, rec, str, type KindModule } from './kind-module.js';
import type { LabelSelectorSpec } from '../label-selector.js';
import { GATEWAY_API_GROUP } from '../groups.js';

export type FromNamespaces = 'All' | 'Same' | 'Selector' | 'None';

export interface RouteGroupKind {
  readonly group?: string;
  readonly kind: string;
}

export interface AllowedRoutes {
  readonly namespaces?: { readonly from?: FromNamespaces; readonly selector?: LabelSelectorSpec };
  readonly kinds?: readonly RouteGroupKind[];
}

/** A listener's certificateRef (or any reference to a Secret). */
export interface SecretObjectReference {
  readonly group?: string;
  readonly kind?: string;
  readonly name: string;
  readonly namespace?: string;
}

export interface Listener {
  readonly name: string;
  readonly hostname?: string;
  readonly port: number;
  /** HTTP | HTTPS | TLS | TCP | UDP (or an implementation-specific domain-prefixed protocol such as HBONE). */
  readonly protocol: string;
  readonly tls?: {
    readonly mode?: 'Terminate' | 'Passthrough';
    readonly certificateRefs?: readonly SecretObjectReference[];
    readonly options?: Readonly<Record<string, string>>;
  };
  readonly allowedRoutes?: AllowedRoutes;
}

export interface GatewayAddress {
  /** IPAddress (the default) | Hostname | a domain-prefixed type. */
  readonly type?: string;
  readonly value: string;
}

export interface GatewaySpec {
  readonly gatewayClassName: string;
  readonly listeners: readonly Listener[];
  readonly addresses?: readonly GatewayAddress[];
  readonly infrastructure?: { readonly labels?: Readonly<Record<string, string>>; readonly annotations?: Readonly<Record<string, string>> };
}

export interface ListenerStatus {
  readonly name: string;
  readonly supportedKinds: readonly { readonly group?: string; readonly kind: string }[];
  readonly attachedRoutes: number;
  readonly conditions: readonly Condition[];
}

export interface GatewayStatus {
  readonly addresses?: readonly { readonly type?: string; readonly value: string }[];
  readonly conditions?: readonly Condition[];
  readonly listeners?: readonly ListenerStatus[];
}

export type Gateway = KubeObject<GatewaySpec, GatewayStatus>;

/**
 * The schema defaults of allowedRoutes: routes from the Gateway's own namespace only; a kind's group
 * gateway.networking.k8s.io. No kinds means the listener's protocol decides (defaultRouteKinds).
 */
export function listenerAllowedRoutes(l: Listener): {
  readonly namespaces: { readonly from: FromNamespaces; readonly selector?: LabelSelectorSpec };
  readonly kinds: readonly Required<RouteGroupKind>[];
} {
  const a = l.allowedRoutes;
  return {
    namespaces: { ...a?.namespaces, from: a?.namespaces?.from ?? 'Same' },
    kinds: (a?.kinds ?? []).map((k) => ({ group: k.group ?? GATEWAY_API_GROUP, kind: k.kind })),
  };
}

/** The schema defaults of a certificateRef: core group, kind Secret, the Gateway's namespace. */
export function certificateRefDefaults(ref: SecretObjectReference, gatewayNamespace: string): Required<SecretObjectReference> {
  return { group: ref.group ?? '', kind: ref.kind ?? 'Secret', name: ref.name, namespace: ref.namespace ?? gatewayNamespace };
}

/** The schema default of an address's type: IPAddress. */
export function gatewayAddressType(a: GatewayAddress): string {
  return a.type ?? 'IPAddress';
}

/**
 * The route kinds a listener accepts when allowedRoutes.kinds is empty (from its protocol). UDP
 * has none: outpost serves no UDPRoute (and a UDP listener is not accepted).
 */
export function defaultRouteKinds(protocol: string): readonly Required<RouteGroupKind>[] {
  const g = GATEWAY_API_GROUP;
  switch (protocol) {
    case 'HTTP':
    case 'HTTPS':
      return [
        { group: g, kind: 'HTTPRoute' },
        { group: g, kind: 'GRPCRoute' },
      ];
    case 'TLS':
      return [{ group: g, kind: 'TLSRoute' }];
    case 'TCP':
      return [{ group: g, kind: 'TCPRoute' }];
    default:
      return [];
  }
}

function validate(obj: KubeObject, out: IssueList): void {
  const spec = rec(obj.spec);
  if (!spec['gatewayClassName']) out.required(['spec', 'gatewayClassName']);
  if (!requireList(spec['listeners'], ['spec', 'listeners'], out, 'at least one listener')) return;
  const names = new Map<string, number>();
  const combos = new Map<string, number>();
  arr(spec['listeners']).forEach((l, i) => {
    const listener = rec(l);
    const base = ['spec', 'listeners', i];
    checkPortNumber(listener['port'], [...base, 'port'], out);
    const name = str(listener['name']);
    if (name !== undefined) {
      if (names.has(name)) out.duplicate([...base, 'name'], name, 'Listener name must be unique within the Gateway');
      names.set(name, i);
    }
    const protocol = str(listener['protocol']) ?? '';
    const combo = `${String(listener['port'])}/${protocol}/${str(listener['hostname']) ?? ''}`;
    if (combos.has(combo)) out.duplicate([...base], name ?? combo, 'Combination of port, protocol and hostname must be unique for each listener');
    combos.set(combo, i);
    if ((protocol === 'TCP' || protocol === 'UDP') && listener['hostname'] !== undefined)
      out.forbidden([...base, 'hostname'], `hostname must not be specified for protocols ['TCP', 'UDP']`);
    const tls = listener['tls'];
    if ((protocol === 'HTTP' || protocol === 'TCP' || protocol === 'UDP') && tls !== undefined && tls !== null)
      out.forbidden([...base, 'tls'], `tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']`);
    if (protocol === 'HTTPS' && (tls === undefined || tls === null)) out.required([...base, 'tls'], `tls must be specified for protocols ['HTTPS', 'TLS']`);
    if (protocol === 'TLS' && (tls === undefined || tls === null)) out.required([...base, 'tls'], `tls must be specified for protocols ['HTTPS', 'TLS']`);
    const t = rec(tls);
    if ((str(t['mode']) ?? 'Terminate') === 'Terminate' && tls && arr(t['certificateRefs']).length === 0 && Object.keys(rec(t['options'])).length === 0) {
      out.required([...base, 'tls', 'certificateRefs'], 'certificateRefs or options must be specified when mode is Terminate');
    }
    if (protocol === 'HTTPS' && str(t['mode']) === 'Passthrough')
      out.invalid([...base, 'tls', 'mode'], 'Passthrough', 'Passthrough needs protocol TLS, not HTTPS');
    const ns = rec(rec(listener['allowedRoutes'])['namespaces']);
    if (ns['from'] === 'Selector' && !ns['selector'])
      out.required([...base, 'allowedRoutes', 'namespaces', 'selector'], "selector must be specified when from is set to 'Selector'");
  });
}

function schemaDefaults(obj: KubeObject): KubeObject {
  const spec = rec(obj.spec);
  if (!Array.isArray(spec['listeners'])) return obj;
  const listeners = spec['listeners'].map((l) => {
    if (!l || typeof l !== 'object') return l;
    const listener = l as Record<string, unknown>;
    const ar = rec(listener['allowedRoutes']);
    const ns = rec(ar['namespaces']);
    return { ...listener, allowedRoutes: { ...ar, namespaces: { from: 'Same', ...ns } } };
  });
  return { ...obj, spec: { ...spec, listeners } };
}

export const gatewayApiGatewayKind: KindModule = {
  group: GATEWAY_API_GROUP,
  kind: 'Gateway',
  fieldTree: FIELD_TREES['gateway.networking.k8s.io/Gateway'],
  specRequired: true,
  validate,
  schemaDefaults,
};
