// Routing: the compiled, pure part of the HTTP path (virtual hosts, routes, rewrites, redirects, headers).

export { ConfigError } from './errors.js';
export type { RequestView } from './route-match.js';
export { compileRouteTable, splitAuthority } from './route-table.js';
export type { CompiledRouteTable, CompiledVirtualHost } from './route-table.js';
export { pickWeighted } from './weighted.js';
export { rewritePath, redirectLocation, precompileRewrite } from './rewrite.js';
export { applyHeaderOps } from './header-ops.js';
export type { HeaderMap } from './header-ops.js';
export { compileRe2, StringMatcher } from './string-match.js';
