// Path rewrites and redirect locations, as Envoy's prefix_rewrite/regex_rewrite and redirect actions.

import type { Route, Rewrite, RedirectAction } from '../../proxyconfig/types.js';
import type { RequestView } from './route-match.js';
import { compileRe2 } from './string-match.js';
import { splitAuthority } from './route-table.js';

interface CompiledRegexRewrite {
  readonly re: RegExp;
  /** RE2's `\1` turned into JS's `$1`. */
  readonly substitution: string;
}

// Keyed by the Rewrite object of the config, so the request path never compiles a regex.
const regexRewrites = new WeakMap<Rewrite, CompiledRegexRewrite>();

/** Compiles a rewrite's regex at config time; throws ConfigError. */
export function precompileRewrite(rw: Rewrite, where: string): void {
  if (rw.regex === undefined || regexRewrites.has(rw)) return;
  const re = compileRe2(rw.regex.pattern, `${where}.regex.pattern`, false, 'g');
  const substitution = rw.regex.substitution.replace(/\$/g, '$$$$').replace(/\\(\d)/g, '$$$1');
  regexRewrites.set(rw, { re, substitution });
}

/**
 * The upstream path for `path` (with its query). `pathPrefix` replaces the matched prefix under a
 * prefix match and the whole path otherwise; `fullPath` replaces the path; `regex` substitutes
 * every match in the path. The query string is kept.
 */
export function rewritePath(path: string, route: Route, rewrite: Rewrite): string {
  const q = path.indexOf('?');
  const p = q < 0 ? path : path.slice(0, q);
  const query = q < 0 ? '' : path.slice(q);
  if (rewrite.fullPath !== undefined) return rewrite.fullPath + query;
  if (rewrite.pathPrefix !== undefined) {
    const m = route.match?.path;
    if (m !== undefined && m.kind === 'prefix' && p.length >= m.value.length) {
      return rewrite.pathPrefix + path.slice(m.value.length);
    }
    if (m !== undefined && m.kind === 'pathPrefix') return replaceSegmentPrefix(path, m.value, rewrite.pathPrefix);
    return rewrite.pathPrefix + query;
  }
  if (rewrite.regex !== undefined) {
    let c = regexRewrites.get(rewrite);
    if (c === undefined) {
      precompileRewrite(rewrite, `route ${route.name ?? '-'} rewrite`);
      c = regexRewrites.get(rewrite)!;
    }
    return p.replace(c.re, c.substitution) + query;
  }
  return path;
}

/**
 * The Location of a redirect. The host replaces the request's host (and drops its port); `port`
 * replaces the port; a scheme change drops the new scheme's default port. `path` replaces the
 * path (keeping the query unless it has its own); `prefixRewrite` replaces the matched prefix.
 */
export function redirectLocation(req: RequestView, route: Route, r: RedirectAction): string {
  const scheme = r.scheme ?? req.scheme;
  const { host: reqHost, withPort } = splitAuthority(req.authority.toLowerCase());
  let host = r.host ?? reqHost;
  let port: string | undefined = r.host === undefined && withPort !== undefined ? withPort.slice(reqHost.length + 1) : undefined;
  // A host redirect may carry its own port.
  if (r.host !== undefined) {
    const split = splitAuthority(r.host);
    if (split.withPort !== undefined) {
      host = split.host;
      port = split.withPort.slice(split.host.length + 1);
    }
  }
  if (r.port !== undefined) port = String(r.port);
  if (port !== undefined && ((scheme === 'http' && port === '80') || (scheme === 'https' && port === '443'))) port = undefined;
  if (r.port === undefined && r.scheme !== undefined && r.scheme !== req.scheme) {
    // Envoy drops the old default port when switching schemes (http:80 → https).
    if (port === '80' || port === '443') port = undefined;
  }

  const path = req.path;
  const q = path.indexOf('?');
  const query = q < 0 ? '' : path.slice(q);
  let newPath: string;
  if (r.path !== undefined) newPath = r.path.includes('?') ? r.path : r.path + query;
  else if (r.prefixRewrite !== undefined) {
    const m = route.match?.path;
    if (m !== undefined && m.kind === 'prefix') newPath = r.prefixRewrite + path.slice(Math.min(m.value.length, path.length));
    else if (m !== undefined && m.kind === 'pathPrefix') newPath = replaceSegmentPrefix(path, m.value, r.prefixRewrite);
    else newPath = r.prefixRewrite + query;
  } else newPath = path;
  return `${scheme}://${host}${port === undefined ? '' : `:${port}`}${newPath}`;
}

/**
 * Gateway API ReplacePrefixMatch under a segment prefix (`pathPrefix`): the matched segments are
 * replaced, and the joint never doubles or loses its slash (`/foo/bar` with `/foo` → `/` gives `/bar`).
 */
function replaceSegmentPrefix(path: string, matched: string, replacement: string): string {
  const rest = path.slice(Math.min(matched.replace(/\/+$/, '').length, path.length));
  let out: string;
  if (replacement.endsWith('/') && rest.startsWith('/')) out = replacement + rest.slice(1);
  else out = replacement + rest;
  return out === '' || out[0] === '?' ? `/${out}` : out;
}
