// AuthorizationPolicy evaluation in the proxy (Envoy's RBAC filters as Istio configures them):
// DENY before ALLOW, no ALLOW policy means allow, AUDIT marks without deciding; per HTTP request or per TCP connection.
import net from 'node:net';
import type {
  AuthorizationCondition,
  AuthorizationConfig,
  AuthorizationOperation,
  AuthorizationPolicyRule,
  AuthorizationRule,
  AuthorizationSource,
} from '../../proxyconfig/types.js';
import { ConfigError } from '../routing/errors.js';
import { authorityHost } from '../../proxyconfig/authority.js';

/** What a request or connection offers to the policies. HTTP fields are absent on TCP connections. */
export interface AuthzAttributes {
  /** Peer principal (`td/ns/NS/sa/SA`) when the connection is mesh mTLS. */
  readonly principal: string | undefined;
  readonly sourceIp: string | undefined;
  readonly destinationIp: string | undefined;
  readonly destinationPort: number;
  readonly sni: string | undefined;
  readonly http?: {
    readonly host: string;
    readonly method: string;
    readonly path: string;
    header(name: string): string | undefined;
  };
}

export interface AuthzVerdict {
  readonly allowed: boolean;
  /** `rbac_access_denied_matched_policy[…]` when denied. */
  readonly details?: string;
  /** Envoy's shadow/log results, for the counters and the log hint. */
  readonly audited: boolean;
  /** The first matching AUDIT rule (`ns[…]-policy[…]-rule[…]`), when one matched. */
  readonly auditRule?: string;
  readonly shadowDenied: boolean;
}

const ALLOWED: AuthzVerdict = Object.freeze({ allowed: true, audited: false, shadowDenied: false });

export const RBAC_DENIED_BODY = 'RBAC: access denied';

/** Istio's string match: exact, `prefix*`, `*suffix`, `*` (any non-empty value). */
type Matcher = (v: string | undefined) => boolean;

function stringMatcher(pattern: string, ignoreCase: boolean): Matcher {
  const p = ignoreCase ? pattern.toLowerCase() : pattern;
  const norm = ignoreCase ? (v: string) => v.toLowerCase() : (v: string) => v;
  if (p === '*') return (v) => v !== undefined && v !== '';
  if (p.endsWith('*')) {
    const pre = p.slice(0, -1);
    return (v) => v !== undefined && norm(v).startsWith(pre);
  }
  if (p.startsWith('*')) {
    const suf = p.slice(1);
    return (v) => v !== undefined && norm(v).endsWith(suf);
  }
  return (v) => v !== undefined && norm(v) === p;
}

function anyOf(patterns: readonly string[], ignoreCase = false): Matcher {
  const ms = patterns.map((p) => stringMatcher(p, ignoreCase));
  return (v) => ms.some((m) => m(v));
}

function cidrMatcher(blocks: readonly string[], where: string): Matcher {
  const list = new net.BlockList();
  for (const b of blocks) {
    const slash = b.indexOf('/');
    const ip = slash < 0 ? b : b.slice(0, slash);
    const family = net.isIPv6(ip) ? 'ipv6' : net.isIPv4(ip) ? 'ipv4' : undefined;
    const prefix = slash < 0 ? (family === 'ipv6' ? 128 : 32) : Number(b.slice(slash + 1));
    if (family === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 'ipv6' ? 128 : 32)) {
      throw new ConfigError(`${where}: ${JSON.stringify(b)} is not an IP address or CIDR`);
    }
    list.addSubnet(ip, prefix, family);
  }
  return (v) => {
    if (v === undefined || v === '') return false;
    const ip = v.startsWith('::ffff:') && net.isIPv4(v.slice(7)) ? v.slice(7) : v;
    return list.check(ip, net.isIPv6(ip) ? 'ipv6' : 'ipv4');
  };
}

/**
 * A compiled check. `httpOnly` checks read request fields: on a TCP connection they give
 * `tcpValue` instead (false in ALLOW rules, true in DENY rules, as Istio builds them).
 */
type Check = (a: AuthzAttributes) => boolean;

function pair(
  yes: readonly string[] | undefined,
  no: readonly string[] | undefined,
  m: (p: readonly string[]) => Matcher,
  get: (a: AuthzAttributes) => string | undefined,
): Check | undefined {
  const y = yes !== undefined ? m(yes) : undefined;
  const n = no !== undefined ? m(no) : undefined;
  if (y === undefined && n === undefined) return undefined;
  return (a) => {
    const v = get(a);
    return (y === undefined || y(v)) && (n === undefined || !n(v));
  };
}

function httpOnly(check: Check | undefined, tcpValue: boolean): Check | undefined {
  if (check === undefined) return undefined;
  return (a) => (a.http === undefined ? tcpValue : check(a));
}

function namespaceOf(principal: string | undefined): string | undefined {
  if (principal === undefined) return undefined;
  const parts = principal.split('/');
  return parts[1] === 'ns' ? parts[2] : undefined;
}

function pathOnly(p: string): string {
  const q = p.indexOf('?');
  return q < 0 ? p : p.slice(0, q);
}

function sourceCheck(s: AuthorizationSource, where: string): Check[] {
  const out: Array<Check | undefined> = [
    pair(
      s.principals,
      s.notPrincipals,
      (p) => anyOf(p),
      (a) => a.principal,
    ),
    pair(
      s.namespaces,
      s.notNamespaces,
      (p) => anyOf(p),
      (a) => namespaceOf(a.principal),
    ),
    pair(
      s.ipBlocks,
      s.notIpBlocks,
      (p) => cidrMatcher(p, `${where}.ipBlocks`),
      (a) => a.sourceIp,
    ),
    pair(
      s.remoteIpBlocks,
      s.notRemoteIpBlocks,
      (p) => cidrMatcher(p, `${where}.remoteIpBlocks`),
      (a) => a.sourceIp,
    ),
  ];
  return out.filter((c): c is Check => c !== undefined);
}

function operationCheck(o: AuthorizationOperation, deny: boolean): Check[] {
  const out: Array<Check | undefined> = [
    httpOnly(
      pair(
        o.hosts,
        o.notHosts,
        (p) => anyOf(p, true),
        (a) => (a.http === undefined ? undefined : authorityHost(a.http.host)),
      ),
      deny,
    ),
    pair(
      o.ports,
      o.notPorts,
      (p) => anyOf(p),
      (a) => String(a.destinationPort),
    ),
    httpOnly(
      pair(
        o.methods,
        o.notMethods,
        (p) => anyOf(p),
        (a) => a.http?.method,
      ),
      deny,
    ),
    httpOnly(
      pair(
        o.paths,
        o.notPaths,
        (p) => anyOf(p),
        (a) => (a.http === undefined ? undefined : pathOnly(a.http.path)),
      ),
      deny,
    ),
  ];
  return out.filter((c): c is Check => c !== undefined);
}

const HEADER_KEY = /^request\.headers\[([^\]]+)\]$/;

function conditionCheck(c: AuthorizationCondition, deny: boolean, where: string): Check {
  let get: (a: AuthzAttributes) => string | undefined;
  let ipKey = false;
  let http = false;
  const h = HEADER_KEY.exec(c.key);
  if (h !== null) {
    const name = h[1]!.toLowerCase();
    get = (a) => a.http?.header(name);
    http = true;
  } else {
    switch (c.key) {
      case 'source.ip':
      case 'remote.ip':
        get = (a) => a.sourceIp;
        ipKey = true;
        break;
      case 'destination.ip':
        get = (a) => a.destinationIp;
        ipKey = true;
        break;
      case 'source.namespace':
        get = (a) => namespaceOf(a.principal);
        break;
      case 'source.principal':
        get = (a) => a.principal;
        break;
      case 'destination.port':
        get = (a) => String(a.destinationPort);
        break;
      case 'connection.sni':
        get = (a) => a.sni;
        break;
      default:
        throw new ConfigError(`${where}: condition key ${JSON.stringify(c.key)} is not supported`);
    }
  }
  const check = pair(c.values, c.notValues, (p) => (ipKey ? cidrMatcher(p, where) : anyOf(p)), get) ?? (() => true);
  return http ? httpOnly(check, deny)! : check;
}

interface CompiledRule {
  readonly name: string;
  /** Alternatives ORed; each alternative's checks ANDed. Empty outer list: always. */
  readonly from: readonly (readonly Check[])[];
  readonly to: readonly (readonly Check[])[];
  readonly when: readonly Check[];
}

interface CompiledPolicy {
  readonly action: 'ALLOW' | 'DENY' | 'AUDIT';
  readonly dryRun: boolean;
  readonly rules: readonly CompiledRule[];
}

function allHold(checks: readonly Check[], a: AuthzAttributes): boolean {
  for (const c of checks) if (!c(a)) return false;
  return true;
}

function ruleMatches(r: CompiledRule, a: AuthzAttributes): boolean {
  if (r.from.length > 0 && !r.from.some((cs) => allHold(cs, a))) return false;
  if (r.to.length > 0 && !r.to.some((cs) => allHold(cs, a))) return false;
  return allHold(r.when, a);
}

function compileRule(p: AuthorizationPolicyRule, r: AuthorizationRule, i: number, where: string): CompiledRule {
  const deny = p.action === 'DENY';
  const w = `${where}.rules[${i}]`;
  return {
    name: `${p.name}-rule[${i}]`,
    from: (r.from ?? []).map((s, j) => sourceCheck(s, `${w}.from[${j}]`)),
    to: (r.to ?? []).map((o) => operationCheck(o, deny)),
    when: (r.when ?? []).map((c, j) => conditionCheck(c, deny, `${w}.when[${j}]`)),
  };
}

/**
 * The access log's dynamic metadata for a matched AUDIT rule: Envoy's RBAC filter with action LOG
 * (what Istio makes of AUDIT) sets `envoy.common` `access_log_hint`; outpost adds the rule's name.
 */
export function auditMetadata(v: AuthzVerdict): Record<string, Record<string, string>> | undefined {
  if (!v.audited) return undefined;
  return { 'envoy.common': { access_log_hint: 'true' }, ...(v.auditRule !== undefined ? { 'outpost.rbac': { audit_policy: v.auditRule } } : {}) };
}

/** A config's policies, compiled once per config (errors are a NACK). */
export class Authorizer {
  readonly #deny: CompiledPolicy[] = [];
  readonly #allow: CompiledPolicy[] = [];
  readonly #audit: CompiledPolicy[] = [];

  constructor(cfg: AuthorizationConfig, where = 'authorization') {
    if (!Array.isArray(cfg.policies)) throw new ConfigError(`${where}.policies: must be an array`);
    cfg.policies.forEach((p, i) => {
      const pw = `${where}.policies[${i}] (${p.name})`;
      if (p.action !== 'ALLOW' && p.action !== 'DENY' && p.action !== 'AUDIT') throw new ConfigError(`${pw}: action must be ALLOW, DENY or AUDIT`);
      const compiled: CompiledPolicy = {
        action: p.action,
        dryRun: p.dryRun === true,
        rules: ((p.rules as readonly AuthorizationRule[] | undefined) ?? []).map((r: AuthorizationRule, j: number) => compileRule(p, r, j, pw)),
      };
      (p.action === 'DENY' ? this.#deny : p.action === 'ALLOW' ? this.#allow : this.#audit).push(compiled);
    });
  }

  /** Istio's order: DENY, then ALLOW (none enforced: allow); AUDIT alongside. */
  evaluate(a: AuthzAttributes): AuthzVerdict {
    let audited = false;
    let auditRule: string | undefined;
    for (const p of this.#audit) {
      const r = p.rules.find((x) => ruleMatches(x, a));
      if (r !== undefined) {
        audited = true;
        auditRule = r.name;
        break;
      }
    }
    const withAudit = <T extends AuthzVerdict>(v: T): T => (auditRule === undefined ? v : { ...v, auditRule });
    let shadowDenied = false;
    for (const p of this.#deny) {
      for (const r of p.rules) {
        if (!ruleMatches(r, a)) continue;
        if (p.dryRun) {
          shadowDenied = true;
          break;
        }
        return withAudit({ allowed: false, details: `rbac_access_denied_matched_policy[${r.name}]`, audited, shadowDenied });
      }
    }
    const enforced = this.#allow.filter((p) => !p.dryRun);
    if (enforced.length === 0) return audited || shadowDenied ? withAudit({ allowed: true, audited, shadowDenied }) : ALLOWED;
    for (const p of enforced) for (const r of p.rules) if (ruleMatches(r, a)) return withAudit({ allowed: true, audited, shadowDenied });
    return withAudit({ allowed: false, details: 'rbac_access_denied_matched_policy[none]', audited, shadowDenied });
  }
}
