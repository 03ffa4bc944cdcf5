// AuthorizationPolicies → the proxy's ProxyConfig.authorization: the policies that select this proxy
// (selector, targetRefs Gateway, namespace-wide, or mesh-wide from the root namespace), in a stable order.
import type {
  AuthorizationCondition,
  AuthorizationConfig,
  AuthorizationOperation,
  AuthorizationPolicyRule,
  AuthorizationRule,
  AuthorizationSource,
  ProxyIdentity,
} from '../../proxyconfig/types.js';
import type { MeshSnapshot } from '../snapshot.js';
import { compareStrings } from '../sort-order.js';
import { labelsMatch } from '../hosts.js';
import { meshSecurity } from './peer-authentication.js';
import { GATEWAY_API_GROUP, GATEWAY_NAME_LABEL, ISTIO_SECURITY_GROUP } from '../../api/groups.js';
import { authorizationAction, type AuthorizationPolicy, type AuthorizationRule as AuthorizationRuleSpec } from '../../api/kinds/authorization-policy.js';

/** Does `policy` select this proxy? */
function applies(policy: AuthorizationPolicy, identity: ProxyIdentity, rootNamespace: string): boolean {
  const ns = policy.metadata.namespace ?? 'default';
  const refs = policy.spec?.targetRefs ?? [];
  if (refs.length > 0) {
    // Only a Gateway API Gateway names a proxy; Service and ServiceEntry targets are for waypoints (not modelled).
    return (
      ns === identity.namespace && refs.some((r) => r.kind === 'Gateway' && r.group === GATEWAY_API_GROUP && r.name === identity.labels[GATEWAY_NAME_LABEL])
    );
  }
  if (ns !== identity.namespace && ns !== rootNamespace) return false;
  return labelsMatch(policy.spec?.selector?.matchLabels ?? {}, identity.labels);
}

type Fields = Readonly<Record<string, readonly unknown[]>> | undefined;

const SOURCE_FIELDS = ['principals', 'notPrincipals', 'namespaces', 'notNamespaces', 'ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks'] as const;
const OPERATION_FIELDS = ['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths', 'ports', 'notPorts'] as const;

/** The listed fields that are set, as strings: ports are strings in Istio's API, numbers written in YAML are accepted as well. */
function pick<K extends string>(from: Fields, keys: readonly K[]): Partial<Record<K, string[]>> {
  const out: Partial<Record<K, string[]>> = {};
  for (const k of keys) {
    const v = from?.[k];
    if (v !== undefined) out[k] = v.map(String);
  }
  return out;
}

function rule(r: AuthorizationRuleSpec): AuthorizationRule {
  const from: AuthorizationSource[] = (r.from ?? []).map((f) => pick(f.source, SOURCE_FIELDS));
  const to: AuthorizationOperation[] = (r.to ?? []).map((t) => pick(t.operation, OPERATION_FIELDS));
  const when: AuthorizationCondition[] = (r.when ?? []).map((c) => ({
    key: c.key,
    ...(c.values ? { values: [...c.values] } : {}),
    ...(c.notValues ? { notValues: [...c.notValues] } : {}),
  }));
  return { ...(from.length ? { from } : {}), ...(to.length ? { to } : {}), ...(when.length ? { when } : {}) };
}

/** The policies in force at this proxy; undefined when none applies. */
export function authorizationFor(snapshot: MeshSnapshot, identity: ProxyIdentity): AuthorizationConfig | undefined {
  const { rootNamespace } = meshSecurity(snapshot);
  const policies: AuthorizationPolicyRule[] = [];
  const sorted = [...(snapshot.of(ISTIO_SECURITY_GROUP, 'AuthorizationPolicy') as readonly AuthorizationPolicy[])].sort((a, b) =>
    compareStrings(`${a.metadata.namespace ?? ''}/${a.metadata.name}`, `${b.metadata.namespace ?? ''}/${b.metadata.name}`),
  );
  for (const p of sorted) {
    const action = authorizationAction(p.spec);
    // CUSTOM is refused at admission; one stored before that is skipped rather than guessed at.
    if (action === 'CUSTOM') continue;
    if (!applies(p, identity, rootNamespace)) continue;
    const dryRun = p.metadata.annotations?.['istio.io/dry-run'] === 'true';
    policies.push({
      name: `ns[${p.metadata.namespace ?? 'default'}]-policy[${p.metadata.name}]`,
      action,
      ...(dryRun ? { dryRun } : {}),
      rules: (p.spec?.rules ?? []).map(rule),
    });
  }
  return policies.length > 0 ? { policies } : undefined;
}
