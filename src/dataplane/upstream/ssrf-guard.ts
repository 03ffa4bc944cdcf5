// The SSRF guard: PassthroughCluster and DNS-resolved clusters never connect to the mesh's own
// control addresses, proxies' admin ports, loopback, link-local, unspecified, multicast or the pod
// and service networks, unless a ServiceEntry names the address or the host (SsrfGuardSettings).
// Decided from config alone, on the address about to be dialled (DNS rebinding safe).
import net from 'node:net';
import type { Cluster, SsrfGuardSettings } from '../../proxyconfig/types.js';
import { ConfigError } from '../routing/errors.js';
import { upstreamHostOf, type UpstreamTarget } from './endpoints.js';

/** Response flag of a denied connection (Envoy has none for this; outpost's own, see README). */
export const SSRF_FLAG = 'SSRF';
export const SSRF_DENIED_BODY = 'SSRF guard: destination denied';

export interface SsrfVerdict {
  /** Why the destination is in a denied set: `loopback`, `link_local`, `proxy_admin`, `control_plane`, … */
  readonly reason: string;
  /** False in REPORT_ONLY mode: the connection goes ahead, the verdict is only logged and counted. */
  readonly enforced: boolean;
}

/** `%RESPONSE_CODE_DETAILS%` of a denial. */
export function ssrfDetails(v: SsrfVerdict): string {
  return `ssrf_guard_denied{${v.reason}}`;
}

/** The eight 16-bit groups of an IPv6 address, or undefined when it is not one. */
function groups6(a: string): number[] | undefined {
  if (!net.isIPv6(a)) return undefined;
  let s = a;
  const tail: number[] = [];
  const dotted = /:(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted !== null) {
    const o = dotted[1]!.split('.').map(Number);
    tail.push((o[0]! << 8) | o[1]!, (o[2]! << 8) | o[3]!);
    s = s.slice(0, dotted.index + 1) + (s.endsWith('::' + dotted[1]) ? ':' : '');
    if (s.endsWith(':') && !s.endsWith('::')) s = s.slice(0, -1);
  }
  const [head, rest] = s.includes('::') ? (s.split('::') as [string, string]) : [s, undefined];
  const h = head === '' ? [] : head.split(':').map((x) => parseInt(x, 16));
  const r = rest === undefined || rest === '' ? [] : rest.split(':').map((x) => parseInt(x, 16));
  const fill = 8 - tail.length - h.length - r.length;
  if (rest === undefined && fill !== 0) return undefined;
  return [...h, ...new Array<number>(Math.max(0, fill)).fill(0), ...r, ...tail];
}

/** The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:127.0.0.1`, `::ffff:7f00:1`), else the address, lower-case. */
export function normalizeAddress(address: string): string {
  let a = address.toLowerCase();
  if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1);
  const pct = a.indexOf('%');
  if (pct >= 0) a = a.slice(0, pct);
  const g = groups6(a);
  if (g === undefined || g.length !== 8) return a;
  if (g[0] !== 0 || g[1] !== 0 || g[2] !== 0 || g[3] !== 0 || g[4] !== 0 || g[5] !== 0xffff) return a;
  return `${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}`;
}

function family(ip: string): 'ipv4' | 'ipv6' | undefined {
  return net.isIPv4(ip) ? 'ipv4' : net.isIPv6(ip) ? 'ipv6' : undefined;
}

function parseCidr(c: string, where: string): { ip: string; prefix: number; fam: 'ipv4' | 'ipv6' } {
  if (typeof c !== 'string') throw new ConfigError(`${where}: must be an IP address or CIDR`);
  const slash = c.indexOf('/');
  const ip = normalizeAddress(slash < 0 ? c : c.slice(0, slash));
  const fam = family(ip);
  const max = fam === 'ipv6' ? 128 : 32;
  const prefix = slash < 0 ? max : Number(c.slice(slash + 1));
  if (fam === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > max) {
    throw new ConfigError(`${where}: ${JSON.stringify(c)} is not an IP address or CIDR`);
  }
  return { ip, prefix, fam };
}

function hostMatches(pattern: string, host: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1));
  return pattern === host;
}

/** A config's guard, compiled once (a bad entry is a NACK). */
export class SsrfGuard {
  readonly enforcing: boolean;
  readonly #allow = new net.BlockList();
  readonly #ranges: Array<{ list: net.BlockList; reason: string }> = [];
  readonly #endpoints = new Map<string, string>();
  readonly #adminPorts: ReadonlySet<number>;
  readonly #exactHosts = new Set<string>();
  readonly #wildHosts: string[] = [];

  constructor(s: SsrfGuardSettings, where = 'mesh.ssrfGuard') {
    if (s.mode !== 'ENFORCE' && s.mode !== 'REPORT_ONLY') throw new ConfigError(`${where}.mode: must be ENFORCE or REPORT_ONLY`);
    if (!Array.isArray(s.denyRanges)) throw new ConfigError(`${where}.denyRanges: must be an array`);
    this.enforcing = s.mode === 'ENFORCE';
    (s.allowAddresses ?? []).forEach((c, i) => {
      const p = parseCidr(c, `${where}.allowAddresses[${i}]`);
      this.#allow.addSubnet(p.ip, p.prefix, p.fam);
    });
    s.denyRanges.forEach((r, i) => {
      const p = parseCidr(r.cidr, `${where}.denyRanges[${i}].cidr`);
      if (typeof r.reason !== 'string' || !/^[a-z0-9_]+$/.test(r.reason))
        throw new ConfigError(`${where}.denyRanges[${i}].reason: must be lower-case letters, digits and _`);
      const list = new net.BlockList();
      list.addSubnet(p.ip, p.prefix, p.fam);
      this.#ranges.push({ list, reason: r.reason });
    });
    (s.denyEndpoints ?? []).forEach((e, i) => {
      const ip = normalizeAddress(String(e.address));
      if (family(ip) === undefined || !Number.isInteger(e.port)) throw new ConfigError(`${where}.denyEndpoints[${i}]: needs an IP address and a port`);
      this.#endpoints.set(`${ip}|${e.port}`, e.reason);
    });
    this.#adminPorts = new Set(s.adminPorts ?? []);
    for (const h of s.allowHosts ?? []) {
      const l = h.toLowerCase();
      if (l.startsWith('*')) this.#wildHosts.push(l);
      else this.#exactHosts.add(l);
    }
  }

  /** Whether connections of this cluster are checked: the ones whose addresses come from DNS or the request. */
  static applies(c: Cluster): boolean {
    return c.type !== 'STATIC';
  }

  /** Verdicts by endpoint object: a DNS cluster's endpoints live across requests (fresh ones for ORIGINAL_DST). */
  readonly #memo = new WeakMap<UpstreamTarget, SsrfVerdict | null>();

  /** The verdict for dialling `t`; undefined: allowed. */
  check(t: UpstreamTarget): SsrfVerdict | undefined {
    const hit = this.#memo.get(t);
    if (hit !== undefined) return hit ?? undefined;
    const v = this.#decide(t);
    this.#memo.set(t, v ?? null);
    return v;
  }

  #decide(t: UpstreamTarget): SsrfVerdict | undefined {
    const ip = normalizeAddress(t.address);
    const fam = family(ip);
    if (fam === undefined) return undefined;
    if (this.#allow.check(ip, fam)) return undefined;
    const ep = this.#endpoints.get(`${ip}|${t.port}`);
    if (ep !== undefined) return { reason: ep, enforced: this.enforcing };
    let reason: string | undefined;
    for (const r of this.#ranges)
      if (r.list.check(ip, fam)) {
        reason = r.reason;
        break;
      }
    if (reason === undefined) return undefined;
    if (this.#adminPorts.has(t.port)) return { reason: 'proxy_admin', enforced: this.enforcing };
    if (t.hostname !== undefined && this.#hostAllowed(t.hostname)) return undefined;
    return { reason, enforced: this.enforcing };
  }

  #hostAllowed(host: string): boolean {
    let h = host.toLowerCase();
    if (h.endsWith('.')) h = h.slice(0, -1);
    if (this.#exactHosts.has(h)) return true;
    return this.#wildHosts.some((w) => hostMatches(w, h));
  }
}

/** The access log's dynamic metadata for a report-only verdict. */
export function wouldDenyMetadata(v: SsrfVerdict): Record<string, Record<string, string>> {
  return { 'outpost.ssrf_guard': { would_deny: v.reason } };
}

/** Report-only verdicts already written to the component log (one line per destination and reason, bounded). */
const reported = new Set<string>();

/** One component-log line per destination that report-only mode would have denied. */
export function reportWouldDeny(v: SsrfVerdict, t: UpstreamTarget, cluster: string, logLine: (line: string) => void): void {
  const key = `${v.reason}|${upstreamHostOf(t)}|${t.hostname ?? ''}`;
  if (reported.has(key) || reported.size >= 1000) return;
  reported.add(key);
  logLine(`ssrf guard (report-only): would deny ${t.hostname !== undefined ? `${t.hostname} at ` : ''}${upstreamHostOf(t)} (${v.reason}) via ${cluster}`);
}
