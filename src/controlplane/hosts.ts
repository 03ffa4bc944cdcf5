// Host names as Istio compares them: exact names and left-most `*.` wildcards, and namespace-qualified host rules.

export const CLUSTER_DOMAIN = 'cluster.local';

export function isWildcard(host: string): boolean {
  return host.startsWith('*');
}

/** Does `pattern` (exact, `*.suffix` or `*`) cover `host`? A wildcard host is covered only by an equal or broader wildcard. */
export function hostMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase();
  const h = host.toLowerCase();
  if (p === '*') return true;
  if (p === h) return true;
  if (!p.startsWith('*')) return false;
  const suffix = p.slice(1); // `.example.com`
  if (h.startsWith('*')) return h.slice(1).endsWith(suffix) && h.length > p.length;
  return h.endsWith(suffix) && h.length > suffix.length;
}

/** Do two host patterns share at least one name? (Istio's bi-directional wildcard match.) */
export function hostsIntersect(a: string, b: string): boolean {
  return hostMatches(a, b) || hostMatches(b, a);
}

/** The narrower of two intersecting hosts. */
export function narrowerHost(a: string, b: string): string {
  if (hostMatches(a, b)) return b;
  return a;
}

/** Expands a short name the way Istio does for a rule in `namespace`: `foo` → `foo.<ns>.svc.cluster.local`. */
export function resolveShortName(host: string, namespace: string): string {
  if (host === '*' || host.includes('.')) return host.toLowerCase();
  return `${host.toLowerCase()}.${namespace}.svc.${CLUSTER_DOMAIN}`;
}

/** Is an object with this exportTo (empty = `*`) in `ownNamespace` visible from `fromNamespace`? */
export function isExportedTo(exportTo: readonly string[] | undefined, ownNamespace: string, fromNamespace: string): boolean {
  if (!exportTo || exportTo.length === 0) return true;
  for (const e of exportTo) {
    if (e === '*') return true;
    if (e === '.' && ownNamespace === fromNamespace) return true;
    if (e === fromNamespace) return true;
  }
  return false;
}

/**
 * A `[namespace/]host` rule (Gateway servers' hosts, Sidecar egress hosts). `*` namespaces
 * match any, `.` the rule owner's namespace, `~` none.
 */
export interface HostRule {
  readonly namespace: string;
  readonly host: string;
}

export function parseHostRule(rule: string, ownerNamespace: string): HostRule {
  const slash = rule.indexOf('/');
  if (slash < 0) return { namespace: '*', host: rule.toLowerCase() };
  let ns = rule.slice(0, slash);
  if (ns === '.') ns = ownerNamespace;
  return { namespace: ns, host: rule.slice(slash + 1).toLowerCase() };
}

export function ruleAllowsNamespace(rule: HostRule, namespace: string): boolean {
  if (rule.namespace === '~') return false;
  return rule.namespace === '*' || rule.namespace === namespace;
}

/** Does every label of the selector hold on `labels`? An empty selector matches everything. */
export function labelsMatch(selector: Readonly<Record<string, string>> | undefined, labels: Readonly<Record<string, string>> | undefined): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector)) {
    if ((labels ?? {})[k] !== v) return false;
  }
  return true;
}
