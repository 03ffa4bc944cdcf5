// Route tables compiled once per config: virtual-host selection by authority with Envoy's domain
// precedence, then the first matching route of that virtual host.

import type { RouteTable, VirtualHost, Route } from '../../proxyconfig/types.js';
import { CompiledRoute, type RequestView } from './route-match.js';
import { ConfigError } from './errors.js';
import { precompileRewrite } from './rewrite.js';
import { portColon } from '../../proxyconfig/authority.js';

export interface CompiledVirtualHost {
  readonly name: string;
  readonly vhost: VirtualHost;
  /** The first route whose match holds, or undefined (404 NR). */
  match(req: RequestView): Route | undefined;
}

export interface CompiledRouteTable {
  readonly name: string;
  /**
   * The virtual host for an authority (`host`, `host:port`, `[v6]:port`; any case). `port` is the
   * destination port, used for `host:port` domains when the authority carries none.
   */
  findVirtualHost(authority: string, port?: number): CompiledVirtualHost | undefined;
}

class VirtualHostMatcher implements CompiledVirtualHost {
  readonly name: string;
  readonly vhost: VirtualHost;
  readonly #routes: readonly CompiledRoute[];

  constructor(vhost: VirtualHost, where: string) {
    this.name = vhost.name;
    this.vhost = vhost;
    this.#routes = (vhost.routes ?? []).map((r, i) => {
      const rw = `${where}.routes[${i}]${r.name ? ` (${r.name})` : ''}`;
      if (r.action?.kind === 'forward' && r.action.rewrite) precompileRewrite(r.action.rewrite, `${rw}.action.rewrite`);
      if (r.action === undefined) throw new ConfigError(`${rw}: action is required`);
      return new CompiledRoute(r, rw);
    });
  }

  match(req: RequestView): Route | undefined {
    const routes = this.#routes;
    for (let i = 0; i < routes.length; i++) if (routes[i]!.matches(req)) return routes[i]!.route;
    return undefined;
  }
}

interface Wildcard {
  /** The literal part: `.example.com` for `*.example.com`, `foo.` for `foo.*`. */
  readonly fixed: string;
  readonly vh: VirtualHostMatcher;
}

/** Lookups cached per authority, bounded so hostile Host headers cannot grow memory. */
const AUTHORITY_CACHE_MAX = 1024;

class RouteTableMatcher implements CompiledRouteTable {
  readonly name: string;
  readonly #exact = new Map<string, VirtualHostMatcher>();
  /** `*.suffix` domains, longest suffix first. */
  readonly #suffixes: Wildcard[] = [];
  /** `prefix*` domains, longest prefix first. */
  readonly #prefixes: Wildcard[] = [];
  #any: VirtualHostMatcher | undefined;
  /** Lookups by port (-1: none), then authority: no `authority + port` key string made and hashed per request. */
  readonly #cache = new Map<number, Map<string, VirtualHostMatcher | null>>();
  #cached = 0;

  constructor(t: RouteTable) {
    if (typeof t?.name !== 'string') throw new ConfigError('route table: name is required');
    this.name = t.name;
    const seen = new Map<string, string>();
    (t.virtualHosts ?? []).forEach((vhost, i) => {
      const where = `route table ${JSON.stringify(t.name)} virtualHosts[${i}] (${vhost.name})`;
      const vh = new VirtualHostMatcher(vhost, where);
      for (const raw of vhost.domains ?? []) {
        const d = raw.toLowerCase();
        const prev = seen.get(d);
        // Envoy refuses a config where one domain is in two virtual hosts.
        if (prev !== undefined) {
          throw new ConfigError(`${where}: domain ${JSON.stringify(raw)} is already used by virtual host ${JSON.stringify(prev)}`);
        }
        seen.set(d, vhost.name);
        if (d === '*') this.#any = vh;
        else if (d.startsWith('*')) {
          if (d.length === 1 || d.indexOf('*', 1) >= 0) throw new ConfigError(`${where}: bad domain ${JSON.stringify(raw)}`);
          this.#suffixes.push({ fixed: d.slice(1), vh });
        } else if (d.endsWith('*')) {
          if (d.indexOf('*') !== d.length - 1) throw new ConfigError(`${where}: bad domain ${JSON.stringify(raw)}`);
          this.#prefixes.push({ fixed: d.slice(0, -1), vh });
        } else if (d.includes('*')) {
          throw new ConfigError(`${where}: bad domain ${JSON.stringify(raw)}: a wildcard must be the first or last character`);
        } else this.#exact.set(d, vh);
      }
    });
    // Stable sort: equal lengths keep config order.
    this.#suffixes.sort((a, b) => b.fixed.length - a.fixed.length);
    this.#prefixes.sort((a, b) => b.fixed.length - a.fixed.length);
  }

  findVirtualHost(authority: string, port?: number): CompiledVirtualHost | undefined {
    const p = port ?? -1;
    let byAuthority = this.#cache.get(p);
    const hit = byAuthority?.get(authority);
    if (hit !== undefined) return hit ?? undefined;
    const found = this.#lookup(authority, port);
    if (this.#cached >= AUTHORITY_CACHE_MAX) {
      this.#cache.clear();
      this.#cached = 0;
      byAuthority = undefined;
    }
    if (byAuthority === undefined) this.#cache.set(p, (byAuthority = new Map()));
    byAuthority.set(authority, found ?? null);
    this.#cached++;
    return found;
  }

  #lookup(authority: string, port: number | undefined): VirtualHostMatcher | undefined {
    const a = authority.toLowerCase();
    const { host, withPort } = splitAuthority(a, port);
    // Each precedence step tries `host:port` before the bare host: a domain with a port is more
    // specific, and a domain without one matches any port.
    if (withPort !== undefined) {
      const e = this.#exact.get(withPort);
      if (e !== undefined) return e;
    }
    const e = this.#exact.get(host);
    if (e !== undefined) return e;
    // Exact domains beat wildcards; the longest `*.suffix` beats a shorter one, as in Envoy.
    for (const w of this.#suffixes) {
      if (withPort !== undefined && withPort.length > w.fixed.length && withPort.endsWith(w.fixed)) return w.vh;
      // The wildcard stands for at least one character.
      if (host.length > w.fixed.length && host.endsWith(w.fixed)) return w.vh;
    }
    for (const w of this.#prefixes) {
      if (withPort !== undefined && withPort.length > w.fixed.length && withPort.startsWith(w.fixed)) return w.vh;
      if (host.length > w.fixed.length && host.startsWith(w.fixed)) return w.vh;
    }
    return this.#any;
  }
}

/** Splits a lower-cased authority into the host (IPv6 keeps its brackets) and `host:port` when a port is known. */
export function splitAuthority(a: string, port?: number): { host: string; withPort: string | undefined } {
  const colon = portColon(a);
  const host = colon < 0 ? a : a.slice(0, colon);
  if (colon >= 0 && colon < a.length - 1) return { host, withPort: a };
  if (port !== undefined) return { host, withPort: `${host}:${port}` };
  return { host, withPort: undefined };
}

/** Compiles a route table; throws ConfigError naming the virtual host, route and field at fault. */
export function compileRouteTable(t: RouteTable): CompiledRouteTable {
  return new RouteTableMatcher(t);
}
