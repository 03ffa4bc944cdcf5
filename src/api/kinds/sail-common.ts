// Shared parts of the sailoperator.io kinds (Istio, IstioRevision, IstioCNI): versions and Helm values.
import type { IssueList } from '../field-issue.js';
import type { FieldNode } from '../schema/field-node.js';
import { checkDns1123Label } from '../names.js';
import { rec } from './kind-module.js';

export interface MeshConfigValues {
  readonly accessLogFile?: string;
  readonly accessLogEncoding?: 'TEXT' | 'JSON';
  readonly accessLogFormat?: string;
  readonly outboundTrafficPolicy?: { readonly mode?: 'ALLOW_ANY' | 'REGISTRY_ONLY' | 'ALLOW_ANY_DYNAMIC_DNS' };
  /** Istio's ProxyConfig defaults; outpost reads its own dnsResolutionTimeout there. */
  readonly defaultConfig?: Readonly<Record<string, unknown>>;
  readonly trustDomain?: string;
  readonly rootNamespace?: string;
  readonly enableAutoMtls?: boolean;
  /** outpost's own settings: `ssrfGuard` ENFORCE (default), REPORT_ONLY or DISABLED. */
  readonly outpost?: { readonly ssrfGuard?: 'ENFORCE' | 'REPORT_ONLY' | 'DISABLED' };
  readonly [field: string]: unknown;
}

export interface SailValues {
  readonly meshConfig?: MeshConfigValues;
  readonly global?: Readonly<Record<string, unknown>>;
  readonly pilot?: Readonly<Record<string, unknown>>;
  readonly [field: string]: unknown;
}

export interface SailCondition {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason?: string;
  readonly message?: string;
  readonly lastTransitionTime?: string;
}

/** The control-plane version outpost reports when a resource asks for `default` or gives none. */
export const DEFAULT_ISTIO_VERSION = 'v1.24.3';

export const VALUES_TREE: FieldNode = {
  o: 1,
  p: {
    meshConfig: {
      o: 1,
      p: {
        accessLogFile: 's',
        accessLogEncoding: ['e', 'TEXT', 'JSON'],
        accessLogFormat: 's',
        outboundTrafficPolicy: { p: { mode: ['e', 'ALLOW_ANY', 'REGISTRY_ONLY', 'ALLOW_ANY_DYNAMIC_DNS'] } },
        defaultConfig: '*',
        // outpost's own mesh settings (not Istio's): the SSRF guard in every proxy.
        outpost: { p: { ssrfGuard: ['e', 'ENFORCE', 'REPORT_ONLY', 'DISABLED'] } },
      },
    },
    global: '*',
    pilot: '*',
  },
};

export function checkVersion(v: unknown, path: (string | number)[], out: IssueList): void {
  if (typeof v !== 'string') return;
  if (v !== 'default' && v !== 'latest' && !/^v\d+\.\d+(\.\d+)?(-[0-9A-Za-z.-]+)?$/.test(v) && !/^v\d+\.\d+-latest$/.test(v)) {
    out.invalid(path, v, 'must be "default", "latest" or a version such as "v1.24.3"');
  }
}

export function checkNamespaceField(v: unknown, path: (string | number)[], out: IssueList): void {
  if (typeof v !== 'string') return;
  const err = checkDns1123Label(v);
  if (err) out.invalid(path, v, err);
}

/** The mesh config the control plane acts on, Istio's defaults applied. */
export interface EffectiveMeshConfig {
  /** '' : access logs off. */
  readonly accessLogFile: string;
  readonly accessLogEncoding: 'TEXT' | 'JSON';
  /** '' : the default format. */
  readonly accessLogFormat: string;
  /** ALLOW_ANY_DYNAMIC_DNS behaves as ALLOW_ANY here. */
  readonly outboundTrafficPolicyMode: 'ALLOW_ANY' | 'REGISTRY_ONLY';
  readonly trustDomain: string;
  readonly rootNamespace: string;
  readonly enableAutoMtls: boolean;
  /** defaultConfig.dnsResolutionTimeout as written (outpost's field of Istio's ProxyConfig), validated on apply. */
  readonly dnsResolutionTimeout: unknown;
}

/** The mesh config block of a values object, with Istio's defaults (access log off, ALLOW_ANY, TEXT, cluster.local, istio-system, auto mTLS on). */
export function meshConfigFromValues(values: SailValues | undefined): EffectiveMeshConfig {
  const mc = rec(values?.meshConfig) as MeshConfigValues;
  return {
    accessLogFile: typeof mc.accessLogFile === 'string' ? mc.accessLogFile : '',
    accessLogEncoding: mc.accessLogEncoding === 'JSON' ? 'JSON' : 'TEXT',
    accessLogFormat: typeof mc.accessLogFormat === 'string' ? mc.accessLogFormat : '',
    outboundTrafficPolicyMode: rec(mc.outboundTrafficPolicy)['mode'] === 'REGISTRY_ONLY' ? 'REGISTRY_ONLY' : 'ALLOW_ANY',
    trustDomain: typeof mc.trustDomain === 'string' ? mc.trustDomain : 'cluster.local',
    rootNamespace: typeof mc.rootNamespace === 'string' ? mc.rootNamespace : 'istio-system',
    enableAutoMtls: mc.enableAutoMtls !== false,
    dnsResolutionTimeout: rec(mc.defaultConfig)['dnsResolutionTimeout'],
  };
}
