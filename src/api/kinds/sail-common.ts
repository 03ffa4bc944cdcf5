// Shared parts of the sailoperator.io kinds (Istio, IstioRevision, IstioCNI): versions and Helm values.
import type { IssueList } from '../field-issue.js';
import type { FieldNode } from '../schema/field-node.js';
import { checkDns1123Label } from '../names.js';
import { rec } from './kind-module.js';

export interface MeshConfigValues {
  readonly accessLogFile?: string;
  readonly accessLogEncoding?: 'TEXT' | 'JSON';
  readonly accessLogFormat?: string;
  readonly outboundTrafficPolicy?: { readonly mode?: 'ALLOW_ANY' | 'REGISTRY_ONLY' };
  readonly defaultConfig?: Readonly<Record<string, unknown>>;
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

export interface SailCondition { readonly type: string; readonly status: 'True' | 'False' | 'Unknown'; readonly reason?: string; readonly message?: string; readonly lastTransitionTime?: string }

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

/** The mesh config block of a values object, with Istio's defaults (access log off, ALLOW_ANY, TEXT). */
export function meshConfigFromValues(values: SailValues | undefined): Required<Pick<MeshConfigValues, 'accessLogFile' | 'accessLogEncoding' | 'accessLogFormat'>> & { outboundTrafficPolicyMode: 'ALLOW_ANY' | 'REGISTRY_ONLY' } {
  const mc = rec(values?.meshConfig) as MeshConfigValues;
  return {
    accessLogFile: mc.accessLogFile ?? '',
    accessLogEncoding: mc.accessLogEncoding ?? 'TEXT',
    accessLogFormat: mc.accessLogFormat ?? '',
    outboundTrafficPolicyMode: mc.outboundTrafficPolicy?.mode ?? 'ALLOW_ANY',
  };
}
