// VirtualService rules that can never be used (IST0130) and matches an earlier rule already takes
// (IST0131), found as Istio's validation does: equal matches, a catch-all rule before others, and
// URI prefixes that an earlier prefix with the same other conditions covers.
import type { VirtualServiceSpec } from '../../api/kinds/virtual-service.js';
import { CODES, type Finding } from '../finding.js';
import type { Entry, Snapshot } from '../snapshot.js';
import { report } from './report.js';
import { ISTIO_NETWORKING_GROUP } from '../../api/groups.js';

type Rec = Record<string, unknown>;

export function analyzeVirtualServiceRules(snap: Snapshot): Finding[] {
  const findings: Finding[] = [];
  for (const vs of snap.of(ISTIO_NETWORKING_GROUP, 'VirtualService')) {
    const spec = vs.obj.spec as VirtualServiceSpec | undefined;
    if (!spec) continue;
    for (const field of ['http', 'tcp', 'tls'] as const) {
      const routes = spec[field];
      if (Array.isArray(routes)) findings.push(...unreachableRules(vs, field, routes as readonly unknown[]));
    }
  }
  return findings;
}

/** `"name"` for a named HTTP rule or match, else `#index` (TCP and TLS rules have no names). */
function label(x: unknown, index: number, named: boolean): string {
  const name = named && x && typeof x === 'object' ? (x as Rec)['name'] : undefined;
  return typeof name === 'string' && name !== '' ? JSON.stringify(name) : `#${index}`;
}

/** A match's routing content, independent of key order and of its name. */
function canonical(x: unknown, dropName: boolean): string {
  if (Array.isArray(x)) return `[${x.map((v) => canonical(v, false)).join(',')}]`;
  if (x && typeof x === 'object') {
    const keys = Object.keys(x)
      .filter((k) => !(dropName && k === 'name') && (x as Rec)[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((x as Rec)[k], false)}`).join(',')}}`;
  }
  return JSON.stringify(x);
}

interface PrefixMatch {
  rule: string;
  match: string;
  prefix: string;
  port: unknown;
  method: string;
  authority: string;
  headers: Map<string, string>;
  query: Map<string, string>;
  withoutHeaders: Map<string, string>;
}

function exactOrPrefix(m: unknown): string {
  const r = m && typeof m === 'object' ? (m as Rec) : {};
  if (typeof r['exact'] === 'string' && r['exact'] !== '') return `exact:${r['exact']}`;
  if (typeof r['prefix'] === 'string' && r['prefix'] !== '') return `prefix:${r['prefix']}`;
  return '';
}

function conditionMap(x: unknown): Map<string, string> {
  const out = new Map<string, string>();
  if (x && typeof x === 'object') for (const [k, v] of Object.entries(x)) out.set(k, exactOrPrefix(v));
  return out;
}

function prefixMatch(match: Rec, rule: string, matchLabel: string): PrefixMatch | undefined {
  const uri = match['uri'] as Rec | undefined;
  const prefix = uri && typeof uri['prefix'] === 'string' ? uri['prefix'] : '';
  if (!prefix) return undefined;
  return {
    rule,
    match: matchLabel,
    prefix,
    port: match['port'],
    // Istio's validation treats a match without a method as GET for this comparison.
    method: exactOrPrefix(match['method']) || 'exact:GET',
    authority: exactOrPrefix(match['authority']),
    headers: conditionMap(match['headers']),
    query: conditionMap(match['queryParams']),
    withoutHeaders: conditionMap(match['withoutHeaders']),
  };
}

/** Every request `later` matches, `earlier` matches too (the same test as Istio's, prefix strings included). */
function covers(earlier: PrefixMatch, later: PrefixMatch): boolean {
  if (!later.prefix.startsWith(earlier.prefix) || later.port !== earlier.port) return false;
  const within = (a: string, b: string) => a === b || a.startsWith(b);
  if (!within(earlier.method, later.method) || !within(earlier.authority, later.authority)) return false;
  for (const [a, b] of [
    [earlier.headers, later.headers],
    [earlier.query, later.query],
    [earlier.withoutHeaders, later.withoutHeaders],
  ] as const) {
    if (a.size !== b.size) return false;
    for (const [k, v] of a) {
      const w = b.get(k);
      if (w === undefined || !within(v, w)) return false;
    }
  }
  return true;
}

function unreachableRules(vs: Entry, field: 'http' | 'tcp' | 'tls', routes: readonly unknown[]): Finding[] {
  const findings: Finding[] = [];
  const named = field === 'http';
  const unused = (i: number, rule: string, reason: string) =>
    findings.push(report(vs, CODES.VirtualServiceUnreachableRule, 'Warning', `VirtualService rule ${rule} not used (${reason}).`, `spec.${field}[${i}]`));
  const ineffective = (i: number, rule: string, match: string, dup: string) =>
    findings.push(
      report(
        vs,
        CODES.VirtualServiceIneffectiveMatch,
        'Info',
        `VirtualService rule ${rule} match ${match} is not used (duplicate/overlapping match in rule ${dup}).`,
        `spec.${field}[${i}]`,
      ),
    );
  const seen = new Map<string, number>();
  let catchAll = -1;
  const prefixes: Array<PrefixMatch & { index: number }> = [];
  routes.forEach((route, i) => {
    if (!route || typeof route !== 'object') return;
    const rule = label(route, i, named);
    const matches = (route as Rec)['match'];
    if (!Array.isArray(matches) || matches.length === 0) {
      if (catchAll >= 0) unused(i, rule, 'only the last rule can have no matches');
      catchAll = i;
      return;
    }
    if (catchAll >= 0) {
      unused(i, rule, 'route without matches defined before');
      return;
    }
    let duplicates = 0;
    matches.forEach((m, j) => {
      const key = canonical(m, named);
      const dup = seen.get(key);
      if (dup !== undefined) {
        ineffective(i, rule, label(m, j, named), label(routes[dup], dup, named));
        duplicates++;
        return;
      }
      seen.set(key, i);
      if (named && m && typeof m === 'object') {
        const p = prefixMatch(m as Rec, rule, label(m, j, true));
        if (p) prefixes.push({ ...p, index: i });
      }
    });
    if (duplicates === matches.length) unused(i, rule, 'all matches used by prior rules');
  });
  for (let a = 0; a < prefixes.length; a++) {
    for (let b = a + 1; b < prefixes.length; b++) {
      const earlier = prefixes[a]!;
      const later = prefixes[b]!;
      if (later.prefix === earlier.prefix || !covers(earlier, later)) continue;
      ineffective(later.index, later.rule, `${later.match} of prefix ${later.prefix}`, `${earlier.match} of prefix ${earlier.prefix} on ${earlier.rule}`);
    }
  }
  return findings;
}
