// HTTP/2's rules for fields (RFC 9113 §8.2): what makes a received field malformed, and the
// fields of a HeaderMap to send. The HPACK decoder applies the rules as it decodes, once per
// literal string: a field from the static table is well formed, and one from the dynamic table
// was judged when it entered.
import type { HeaderMap } from '../http/message.js';
import { HopScope, hopScope } from '../http1/head.js';

/** Connection-specific fields: malformed in HTTP/2 (§8.2.2), dropped when sending. */
export const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings']);

/** Lower-case token characters only (§8.2.1: upper case is malformed). */
function validName(n: string): boolean {
  if (n.length === 0) return false;
  for (let i = 0; i < n.length; i++) {
    const c = n.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || (c >= 65 && c <= 90) || c === 58 /* : */) return false;
  }
  return true;
}

/** No NUL, CR or LF (§8.2.1). */
function validValue(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 0 || c === 10 || c === 13) return false;
  }
  return true;
}

/**
 * A received field as §8.2 allows it: a pseudo-header (whose name the message's reader checks) or
 * a lower-case token name that is not connection-specific, with a value without NUL, CR or LF.
 */
export function fieldOk(name: string, value: string): boolean {
  return (name.charCodeAt(0) === 58 || (validName(name) && !connectionSpecific(name))) && validValue(value);
}

/**
 * CONNECTION_SPECIFIC.has(name) without hashing a freshly decoded name: head.ts's switch on the
 * name's length knows the same names as connection headers, and `trailer` besides.
 */
function connectionSpecific(name: string): boolean {
  return hopScope(name) === HopScope.Connection && name !== 'trailer';
}

/** The name of the first field fieldOk refuses (for the error that says which), or undefined. */
export function firstMalformed(names: readonly string[], values: readonly string[]): string | undefined {
  for (let i = 0; i < names.length; i++) if (!fieldOk(names[i]!, values[i]!)) return names[i];
  return undefined;
}

/**
 * A HeaderMap's name as HTTP/2 sends it: itself when it is a lower-case token (what our parsers
 * make), lower-cased when it has upper case; undefined for a name that is not a token (or a pseudo-header).
 */
function sendableName(name: string): string | undefined {
  let upper = false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 58 /* : */) return undefined;
    if (c >= 65 && c <= 90) upper = true;
  }
  return name.length === 0 ? undefined : upper ? name.toLowerCase() : name;
}

/** Fields of a HeaderMap to send: connection-specific ones dropped; throws on a value that cannot be sent. */
export function outgoingFields(out: string[], headers: HeaderMap): void {
  for (const name in headers) {
    const v = headers[name];
    if (v === undefined) continue;
    const n = sendableName(name);
    if (n === undefined) {
      if (name.charCodeAt(0) === 58) continue;
      throw new TypeError(`invalid header name ${JSON.stringify(name)}`);
    }
    if (connectionSpecific(n)) continue;
    if (typeof v === 'string') {
      if (!validValue(v)) throw new TypeError(`invalid value of header ${JSON.stringify(name)}`);
      out.push(n, v);
    } else if (Array.isArray(v)) {
      for (const x of v) {
        const s = String(x);
        if (!validValue(s)) throw new TypeError(`invalid value of header ${JSON.stringify(name)}`);
        out.push(n, s);
      }
    } else out.push(n, String(v));
  }
}
