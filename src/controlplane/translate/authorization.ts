// AuthorizationPolicies → the proxy's ProxyConfig.authorization: the policies that select this proxy
// (selector, targetRefs Gateway, namespace-wide, or mesh-wide from the root namespace), in a stable order.
import type { KubeObject } from '../../api/object.js';
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
import { arr, compareStrings, rec, str, strArr, strMap, type Rec } from '../fields.js';
import { labelsMatch } from '../hosts.js';
import { meshSecurity } from './peer-authentication.js';
import { GATEWAY_API_GROUP, GATEWAY_NAME_LABEL, ISTIO_SECURITY_GROUP } from '../../api/groups.js';

/** Does `policy` select this proxy? */
function applies(policy: KubeObject, identity: ProxyIdentity, rootNamespace: string): boolean {
  const ns = policy.metadata.namespace ?? 'default';
  const spec = rec(policy.spec);
  const refs = arr(spec.targetRefs).map(rec);
  if (refs.length > 0) {
    // Only a Gateway API Gateway names a proxy; Service and ServiceEntry targets are for waypoints (not modelled).
    return (
      ns === identity.namespace &&
      refs.some((r) => str(r.kind) === 'Gateway' && str(r.group) === GATEWAY_API_GROUP && str(r.name) === identity.labels[GATEWAY_NAME_LABEL])
    );
  }
  if (ns !== identity.namespace && ns !== rootNamespace) return false;
  const sel = strMap(rec(spec.selector).matchLabels);
  return labelsMatch(sel, identity.labels);
}

function list(v: unknown): string[] | undefined {
  return Array.isArray(v) ? strArr(v) : undefined;
}

function put<T extends object>(o: T, k: string, v: readonly string[] | undefined): void {
  if (v !== undefined) (o as Record<string, unknown>)[k] = v;
}

function source(s: Rec): AuthorizationSource {
  const out: AuthorizationSource = {};
  for (const k of ['principals', 'notPrincipals', 'namespaces', 'notNamespaces', 'ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks'])
    put(out, k, list(s[k]));
  return out;
}

function operation(o: Rec): AuthorizationOperation {
  const out: AuthorizationOperation = {};
  for (const k of ['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths']) put(out, k, list(o[k]));
  // Ports are strings in Istio's API; numbers written in YAML are accepted as well.
  for (const k of ['ports', 'notPorts']) if (Array.isArray(o[k])) put(out, k, (o[k] as unknown[]).map(String));
  return out;
}

function rule(r: Rec): AuthorizationRule {
  const from = arr(r.from).map((f) => source(rec(rec(f).source)));
  const to = arr(r.to).map((t) => operation(rec(rec(t).operation)));
  const when: AuthorizationCondition[] = arr(r.when)
    .map(rec)
    .map((c) => ({
      key: str(c.key) ?? '',
      ...(Array.isArray(c.values) ? { values: strArr(c.values) } : {}),
      ...(Array.isArray(c.notValues) ? { notValues: strArr(c.notValues) } : {}),
    }));
  return { ...(from.length ? { from } : {}), ...(to.length ? { to } : {}), ...(when.length ? { when } : {}) };
}

/** The policies in force at this proxy; undefined when none applies. */
export function authorizationFor(snapshot: MeshSnapshot, identity: ProxyIdentity): AuthorizationConfig | undefined {
  const { rootNamespace } = meshSecurity(snapshot);
  const policies: AuthorizationPolicyRule[] = [];
  const sorted = [...snapshot.of(ISTIO_SECURITY_GROUP, 'AuthorizationPolicy')].sort((a, b) =>
    compareStrings(`${a.metadata.namespace ?? ''}/${a.metadata.name}`, `${b.metadata.namespace ?? ''}/${b.metadata.name}`),
  );
  for (const p of sorted) {
    const spec = rec(p.spec);
    const action = str(spec.action) ?? 'ALLOW';
    // CUSTOM is refused at admission; one stored before that is skipped rather than guessed at.
    if (action !== 'ALLOW' && action !== 'DENY' && action !== 'AUDIT') continue;
    if (!applies(p, identity, rootNamespace)) continue;
    const dryRun = p.metadata.annotations?.['istio.io/dry-run'] === 'true';
    policies.push({
      name: `ns[${p.metadata.namespace ?? 'default'}]-policy[${p.metadata.name}]`,
      action,
      ...(dryRun ? { dryRun } : {}),
      rules: arr(spec.rules).map((r) => rule(rec(r))),
    });
  }
  return policies.length > 0 ? { policies } : undefined;
}
