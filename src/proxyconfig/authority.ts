// host[:port] as authorities, Host headers, socket addresses and flags write it (RFC 3986 §3.2.2):
// an IPv6 host is in brackets when a port may follow (`[::1]:8080`); an address with more than one
// colon and no brackets is a bare IPv6 address with no port (`::1`), never `::` port 1.
// The one parser for the control plane, the proxies, the runtime and the CLI. Allocation-free
// where it can be: the proxy calls it per request.

/** Index of the colon that starts the port, or -1 when there is none (`name`, `[v6]`, bare `::1`, `[v6` unclosed). */
export function portColon(a: string): number {
  if (a.charCodeAt(0) === 91 /* [ */) {
    const close = a.indexOf(']');
    return close > 0 && a.charCodeAt(close + 1) === 58 /* : */ ? close + 1 : -1;
  }
  // One pass (lastIndexOf is a call into the runtime): the only colon, or none.
  let c = -1;
  for (let i = 0; i < a.length; i++) {
    if (a.charCodeAt(i) !== 58) continue;
    if (c >= 0) return -1;
    c = i;
  }
  return c;
}

/** The host as written, IPv6 brackets kept: `[::1]:80` → `[::1]`, `a.com:80` → `a.com`, `::1` → `::1`. */
export function authorityHostPart(a: string): string {
  const c = portColon(a);
  return c < 0 ? a : a.slice(0, c);
}

/** The host without IPv6 brackets: `[::1]:80` → `::1`, `::1` → `::1`, `a.com:80` → `a.com`. */
export function authorityHost(a: string): string {
  const h = authorityHostPart(a);
  return h.length > 1 && h.charCodeAt(0) === 91 && h.charCodeAt(h.length - 1) === 93 /* ] */ ? h.slice(1, -1) : h;
}

/** The port as written after the colon (`''` for `host:`), undefined when there is none. */
export function authorityPort(a: string): string | undefined {
  const c = portColon(a);
  return c < 0 ? undefined : a.slice(c + 1);
}

/** Host (no brackets) and port, `defaultPort` when the port is absent, empty or not a number. */
export function splitHostPort(a: string, defaultPort: number): { host: string; port: number } {
  const p = authorityPort(a);
  return { host: authorityHost(a), port: (p === undefined ? 0 : Number(p)) || defaultPort };
}

/**
 * A `HOST:PORT` that must have its port (flags, bootstrap addresses): host without brackets and
 * a port in 0..65535; undefined when either is missing or malformed.
 */
export function parseHostPort(s: string): { host: string; port: number } | undefined {
  const p = authorityPort(s);
  if (p === undefined || !/^\d{1,5}$/.test(p)) return undefined;
  const port = Number(p);
  const host = authorityHost(s);
  return port <= 65535 && host !== '' ? { host, port } : undefined;
}

/** `host` and `port` as an authority: IPv6 in brackets. */
export function joinHostPort(host: string, port: number | string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
