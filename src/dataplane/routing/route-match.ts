// Route matching compiled once per config: path, method, scheme, authority, headers, query parameters.

import type { Route, RouteMatch, HeaderMatch, QueryParamMatch } from '../../proxyconfig/types.js';
import { StringMatcher } from './string-match.js';
import { ConfigError } from './errors.js';

/** What routing reads from a request; the HTTP layer adapts its request object to this. */
export interface RequestView {
  /** Upper-case method. */
  readonly method: string;
  /** `:path`, with the query string. */
  readonly path: string;
  readonly authority: string;
  readonly scheme: 'http' | 'https';
  /** A header's value (several joined by `,`), by lower-case name. */
  header(name: string): string | undefined;
}

class HeaderCheck {
  constructor(
    readonly name: string,
    /** undefined: a presence check. */
    readonly matcher: StringMatcher | undefined,
    readonly present: boolean,
    readonly invert: boolean,
  ) {}

  test(req: RequestView): boolean {
    const v = req.header(this.name);
    if (this.matcher === undefined) return (v !== undefined) === this.present;
    // Envoy: an absent header fails a value match; invert flips the result either way.
    if (v === undefined) return this.invert;
    return this.matcher.test(v) !== this.invert;
  }
}

class QueryCheck {
  constructor(
    readonly name: string,
    readonly matcher: StringMatcher | undefined,
    readonly present: boolean,
  ) {}

  test(path: string, queryStart: number): boolean {
    const v = queryStart < 0 ? undefined : queryParam(path, queryStart + 1, this.name);
    if (this.matcher === undefined) return (v !== undefined) === this.present;
    return v !== undefined && this.matcher.test(v);
  }
}

/** A route with its match compiled; `matches` allocates only for case-insensitive or query checks. */
export class CompiledRoute {
  readonly route: Route;
  readonly #path: StringMatcher | undefined;
  /** Exact, path-segment prefix and regex path matches ignore the query string; a plain prefix sees the whole `:path` (Envoy). */
  readonly #pathWithoutQuery: boolean;
  readonly #method: StringMatcher | undefined;
  readonly #scheme: StringMatcher | undefined;
  readonly #authority: StringMatcher | undefined;
  readonly #headers: readonly HeaderCheck[];
  readonly #query: readonly QueryCheck[];

  constructor(route: Route, where: string) {
    this.route = route;
    const m: RouteMatch = route.match ?? {};
    this.#path = m.path ? new StringMatcher(m.path, `${where}.match.path`) : undefined;
    this.#pathWithoutQuery = m.path !== undefined && m.path.kind !== 'prefix';
    this.#method = m.method ? new StringMatcher(m.method, `${where}.match.method`) : undefined;
    this.#scheme = m.scheme ? new StringMatcher(m.scheme, `${where}.match.scheme`) : undefined;
    this.#authority = m.authority ? new StringMatcher(m.authority, `${where}.match.authority`) : undefined;
    this.#headers = (m.headers ?? []).map((h, i) => compileHeader(h, `${where}.match.headers[${i}]`));
    this.#query = (m.queryParams ?? []).map((q, i) => compileQuery(q, `${where}.match.queryParams[${i}]`));
  }

  matches(req: RequestView): boolean {
    const path = req.path;
    let q = -2;
    if (this.#path !== undefined) {
      if (this.#pathWithoutQuery) {
        q = path.indexOf('?');
        if (!this.#path.test(q < 0 ? path : path.slice(0, q))) return false;
      } else if (!this.#path.test(path)) return false;
    }
    if (this.#method !== undefined && !this.#method.test(req.method)) return false;
    if (this.#scheme !== undefined && !this.#scheme.test(req.scheme)) return false;
    if (this.#authority !== undefined && !this.#authority.test(req.authority)) return false;
    for (let i = 0; i < this.#headers.length; i++) if (!this.#headers[i]!.test(req)) return false;
    if (this.#query.length > 0) {
      if (q === -2) q = path.indexOf('?');
      for (let i = 0; i < this.#query.length; i++) if (!this.#query[i]!.test(path, q)) return false;
    }
    return true;
  }
}

function compileHeader(h: HeaderMatch, where: string): HeaderCheck {
  if (typeof h.name !== 'string' || h.name === '') throw new ConfigError(`${where}: header name is required`);
  const name = h.name.toLowerCase();
  if ('present' in h) return new HeaderCheck(name, undefined, h.present, false);
  return new HeaderCheck(name, new StringMatcher(h.match, where), true, h.invert === true);
}

function compileQuery(q: QueryParamMatch, where: string): QueryCheck {
  if (typeof q.name !== 'string' || q.name === '') throw new ConfigError(`${where}: query parameter name is required`);
  if ('present' in q) return new QueryCheck(q.name, undefined, q.present);
  return new QueryCheck(q.name, new StringMatcher(q.match, where), true);
}

/**
 * The first value of query parameter `name` in `path` from index `from`, undecoded as Envoy's
 * query matcher sees it; `''` for `?name` or `?name=`; undefined when absent.
 */
function queryParam(path: string, from: number, name: string): string | undefined {
  const end = path.length;
  let i = from;
  while (i <= end) {
    let amp = path.indexOf('&', i);
    if (amp < 0) amp = end;
    const hash = path.indexOf('#', i);
    const stop = hash >= 0 && hash < amp ? hash : amp;
    if (stop - i >= name.length && path.startsWith(name, i)) {
      const after = i + name.length;
      if (after === stop) return '';
      if (path.charCodeAt(after) === 61 /* = */) return path.slice(after + 1, stop);
    }
    if (stop !== amp) return undefined;
    i = amp + 1;
  }
  return undefined;
}
