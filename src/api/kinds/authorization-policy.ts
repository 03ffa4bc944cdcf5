// security.istio.io AuthorizationPolicy: allow/deny/audit rules for workloads, validated to what the proxies enforce.
import type { KubeObject } from '../object.js';
import type { IssueList } from '../field-issue.js';
import { FIELD_TREES } from '../schema/field-trees.gen.js';
import { checkLabels } from './common-rules.js';
import { arr, rec, str, type KindModule } from './kind-module.js';
import { isIP } from 'node:net';
import { GATEWAY_API_GROUP, ISTIO_NETWORKING_GROUP, ISTIO_SECURITY_GROUP } from '../groups.js';

/** `when` keys the proxies evaluate (besides `request.headers[<name>]`). */
export const SUPPORTED_CONDITION_KEYS: readonly string[] = [
  'source.ip',
  'remote.ip',
  'source.namespace',
  'source.principal',
  'destination.ip',
  'destination.port',
  'connection.sni',
];

const HEADER_KEY = /^request\.headers\[[^\]]+\]$/;
const IP_KEYS = new Set(['source.ip', 'remote.ip', 'destination.ip']);

function isCidr(v: string): boolean {
  const slash = v.indexOf('/');
  if (slash < 0) return isIP(v) !== 0;
  const fam = isIP(v.slice(0, slash));
  const bits = v.slice(slash + 1);
  return fam !== 0 && /^\d+$/.test(bits) && Number(bits) <= (fam === 6 ? 128 : 32);
}

function checkCidrs(v: unknown, path: (string | number)[], out: IssueList): void {
  arr(v).forEach((x, k) => {
    if (typeof x === 'string' && !isCidr(x)) out.invalid([...path, k], x, 'must be an IP address or CIDR (10.0.0.0/8)');
  });
}

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
  if (action === 'CUSTOM')
    out.invalid(['spec', 'action'], action, 'CUSTOM is not supported: outpost has no external authorization provider (use ALLOW, DENY or AUDIT)');
  if (action !== 'CUSTOM' && spec['provider']) out.forbidden(['spec', 'provider'], 'provider must only be set with the CUSTOM action');
  if (spec['selector'] && spec['targetRefs']) out.forbidden(['spec', 'targetRefs'], 'only one of selector or targetRefs can be set');
  checkLabels(rec(spec['selector'])['matchLabels'], ['spec', 'selector', 'matchLabels'], out);
  arr(spec['targetRefs']).forEach((r, i) => {
    const ref = rec(r);
    const kind = str(ref['kind']);
    const group = str(ref['group']) ?? '';
    const ok =
      (kind === 'Gateway' && group === GATEWAY_API_GROUP) ||
      (kind === 'Service' && group === '') ||
      (kind === 'ServiceEntry' && group === ISTIO_NETWORKING_GROUP);
    if (!ok)
      out.invalid(
        ['spec', 'targetRefs', i],
        `${group}/${kind ?? ''}`,
        'must be a Gateway (gateway.networking.k8s.io), a Service or a ServiceEntry (networking.istio.io)',
      );
    if (ref['namespace'] !== undefined && ref['namespace'] !== obj.metadata.namespace)
      out.forbidden(['spec', 'targetRefs', i, 'namespace'], "must be the policy's own namespace");
  });
  arr(spec['rules']).forEach((r, i) => {
    const rule = rec(r);
    for (const f of ['from', 'to', 'when'] as const) {
      if (Array.isArray(rule[f]) && (rule[f] as unknown[]).length === 0) out.required(['spec', 'rules', i, f], `${f} must not be an empty list when present`);
    }
    arr(rule['from']).forEach((f, j) => {
      const src = rec(rec(f)['source']);
      for (const k of ['requestPrincipals', 'notRequestPrincipals']) {
        if (src[k] !== undefined)
          out.forbidden(['spec', 'rules', i, 'from', j, 'source', k], `${k} needs request authentication (JWT), which outpost does not support`);
      }
      for (const k of ['ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks']) checkCidrs(src[k], ['spec', 'rules', i, 'from', j, 'source', k], out);
    });
    arr(rule['when']).forEach((w, j) => {
      const c = rec(w);
      const key = str(c['key']);
      if (!key) out.required(['spec', 'rules', i, 'when', j, 'key']);
      else if (key.startsWith('request.auth.'))
        out.invalid(['spec', 'rules', i, 'when', j, 'key'], key, 'request.auth.* needs request authentication (JWT), which outpost does not support');
      else if (!HEADER_KEY.test(key) && !SUPPORTED_CONDITION_KEYS.includes(key)) {
        out.invalid(['spec', 'rules', i, 'when', j, 'key'], key, `not supported; use request.headers[<name>], ${SUPPORTED_CONDITION_KEYS.join(', ')}`);
      } else if (IP_KEYS.has(key)) {
        checkCidrs(c['values'], ['spec', 'rules', i, 'when', j, 'values'], out);
        checkCidrs(c['notValues'], ['spec', 'rules', i, 'when', j, 'notValues'], out);
      }
      if (!c['values'] && !c['notValues']) out.required(['spec', 'rules', i, 'when', j, 'values'], 'values or notValues must be set');
    });
  });
}

export const authorizationPolicyKind: KindModule = {
  group: ISTIO_SECURITY_GROUP,
  kind: 'AuthorizationPolicy',
  fieldTree: FIELD_TREES['security.istio.io/AuthorizationPolicy'],
  validate,
};
