// Header hygiene between hops: hop-by-hop headers never cross the proxy (RFC 9110 §7.6.1).
import type { IncomingHttpHeaders } from 'node:http';
import type { HeaderMap } from '../routing/index.js';
import { HopScope, hopScope } from '../http1/head.js';

/** Headers dropped when forwarding a request: the connection-scoped ones and te, host, expect, proxy-authorization. */
export function isHopByHop(name: string): boolean {
  return hopScope(name) !== HopScope.EndToEnd;
}

/**
 * The request headers to send upstream: a copy of the downstream ones without hop-by-hop and
 * pseudo headers (and without the names the Connection header lists).
 */
export function upstreamRequestHeaders(src: IncomingHttpHeaders): HeaderMap {
  const out: HeaderMap = {};
  const conn = src['connection'];
  for (const name in src) {
    if (name.charCodeAt(0) === 58 /* : */ || isHopByHop(name)) continue;
    out[name] = src[name];
  }
  if (typeof conn === 'string' && conn.includes(',')) {
    for (const n of conn.split(',')) delete out[n.trim().toLowerCase()];
  } else if (typeof conn === 'string' && conn !== 'keep-alive' && conn !== 'close') {
    delete out[conn.trim().toLowerCase()];
  }
  return out;
}

/** Strips hop-by-hop headers from an upstream response in place. */
export function cleanResponseHeaders(h: HeaderMap): void {
  const conn = h['connection'];
  if (typeof conn === 'string' && conn !== 'keep-alive' && conn !== 'close') {
    for (const n of conn.split(',')) delete h[n.trim().toLowerCase()];
  }
  delete h['connection'];
  delete h['keep-alive'];
  delete h['proxy-connection'];
  delete h['transfer-encoding'];
  delete h['upgrade'];
  delete h['http2-settings'];
  delete h['trailer'];
}

/** One header value as a string (repeated values joined by `,`). */
export function headerValue(v: string | string[] | undefined): string | undefined {
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : v.join(',');
}
