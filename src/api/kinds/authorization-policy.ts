// security.istio.io AuthorizationPolicy: allow/deny rules for workloads (modelled and validated only).
import type { KubeObject } from '../object.js';
import type { IssueList } from '../field-issue.js';
import { FIELD_TREES } from '../schema/field-trees.gen.js';
import { checkLabels } from './common-rules.js';
import { arr, rec, str, type KindModule } from './kind-module.js';

export type AuthorizationAction = 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';

export interface AuthorizationRule {
  readonly from?: readonly { readonly source?: Readonly<Record<string, readonly string[]>> }[];
  readonly to?: readonly { readonly operation?: Readonly<Record<string, readonly string[]>> }[];
  readonly when?: readonly { readonly key: string; readonly values?: readonly string[]; readonly notValues?: readonly string[] }[];
}

export interface AuthorizationPolicySpec {
  readonly selector?: { readonly matchLabels?: Readonly<Record<string, string>> };
  readonly targetRefs?: readonly { readonly group?: string; readonly kind: string; readonly name: string }[];
  readonly action?: AuthorizationAction;
  readonly provider?: { readonly name?: string };
  readonly rules?: readonly AuthorizationRule[];
}

export type AuthorizationPolicy = KubeObject<AuthorizationPolicySpec>;

/** Istio's default action is ALLOW. */
export function authorizationAction(spec: AuthorizationPolicySpec | undefined): AuthorizationAction {
  return spec?.action ?? 'ALLOW';
}

function validate(obj: KubeObject, out: IssueList): void {
  const spec = rec(obj.spec);
  const action = str(spec['action']) ?? 'ALLOW';
  if (action === 'CUSTOM' && !rec(spec['provider'])['name']) out.required(['spec', 'provider', 'name'], 'CUSTOM action needs a provider');
  if (action !== 'CUSTOM' && spec['provider']) out.forbidden(['spec', 'provider'], 'provider must only be set with the CUSTOM action');
  if (spec['selector'] && spec['targetRefs']) out.forbidden(['spec', 'targetRefs'], 'only one of selector or targetRefs can be set');
  checkLabels(rec(spec['selector'])['matchLabels'], ['spec', 'selector', 'matchLabels'], out);
  arr(spec['rules']).forEach((r, i) => {
    const rule = rec(r);
    for (const f of ['from', 'to', 'when'] as const) {
      if (Array.isArray(rule[f]) && (rule[f] as unknown[]).length === 0) out.required(['spec', 'rules', i, f], `${f} must not be an empty list when present`);
    }
    arr(rule['when']).forEach((w, j) => {
      const c = rec(w);
      if (!c['key']) out.required(['spec', 'rules', i, 'when', j, 'key']);
      if (!c['values'] && !c['notValues']) out.required(['spec', 'rules', i, 'when', j, 'values'], 'values or notValues must be set');
    });
  });
}

export const authorizationPolicyKind: KindModule = {
  group: 'security.istio.io',
  kind: 'AuthorizationPolicy',
  fieldTree: FIELD_TREES['security.istio.io/AuthorizationPolicy'],
  validate,
};
