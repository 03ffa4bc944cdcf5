// The common HTTP/1.1 message, parsed in JS. node's llhttp binding costs ~2 µs a message on the
// request path (each header's name and value made into a string in C++, a MakeCallback for every
// event, the body copied into an ArrayBuffer of its own); a message that arrives whole in one read,
// framed by Content-Length or by nothing, is read here in one pass over its bytes instead, with one
// native call (the head as a latin1 string, to slice values from). Anything else — a head split
// over reads, chunked or close-delimited framing, Upgrade, HTTP/1.0, several Content-Length or
// Connection lines, a byte llhttp could read differently — returns null, and the caller hands the
// bytes to llhttp as before. What is taken here is a subset of what llhttp accepts in strict mode,
// read as llhttp reads it (test/unit/dataplane/dp-http1-simple-message.test.ts checks both against
// each other).
import { HopScope, hopScope } from './head.js';
import { latin1 } from '../node-internals.js';
import { addHeader, type HeaderMap } from '../http/message.js';

/** A byte class: 1 for the bytes in `ranges` and `chars`. */
function byteClass(ranges: readonly (readonly [number, number])[], chars = ''): Uint8Array {
  const t = new Uint8Array(256);
  for (const [lo, hi] of ranges) t.fill(1, lo, hi + 1);
  for (let i = 0; i < chars.length; i++) t[chars.charCodeAt(i)] = 1;
  return t;
}
const ALNUM: readonly (readonly [number, number])[] = [
  [0x30, 0x39],
  [0x41, 0x5a],
  [0x61, 0x7a],
];
// llhttp's character classes.
/** Header names (tchar): a name with whitespace before its colon does not match. */
const TCHAR = byteClass(ALNUM, "!#$%&'*+.^_`|~-");
/** Header values: HTAB, SP to `~`, obs-text (no CR, LF or other control byte: no obs-fold). */
const VALUE = byteClass([
  [0x09, 0x09],
  [0x20, 0x7e],
  [0x80, 0xff],
]);
/** A status line's reason phrase: HTAB, SP to `~`. */
const REASON = byteClass([
  [0x09, 0x09],
  [0x20, 0x7e],
]);
/** A target's path and query: URI characters (RFC 3986), no fragment. */
const URI = byteClass(ALNUM, "-._~!$&'()*+,;=:@/?%");
/** An absolute-form target's host: a name or an IPv4 address (no userinfo, no IP literal). */
const HOST = byteClass(ALNUM, '.-');
/** Each byte lower-cased (ASCII letters only). */
const LOWER = Uint8Array.from({ length: 256 }, (_, c) => (c >= 0x41 && c <= 0x5a ? c + 32 : c));

/** The methods taken here, each a literal (an interned string). */
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'];

/** What a simple message's head says, as the codec would make it of llhttp's onHeadersComplete. */
export interface SimpleHead {
  /** The response's status (responses). */
  status: number;
  /** The request's method and target (requests). */
  method: string;
  url: string;
  /**
   * By lower-case name, a repeated name an array in arrival order, values without their
   * surrounding SP and HTAB: headerMapFromRaw's map for a request, endToEndHeaderMap's (without
   * the connection's own headers) for a response.
   */
  headers: HeaderMap;
  /** False when a Connection header says close. */
  keepAlive: boolean;
  /** The body's length (Content-Length), 0 without one. */
  bodyLength: number;
  /** Where the head ends in the buffer (after its CRLF CRLF). */
  headEnd: number;
}

/** Filled by the parse functions (one message at a time on this thread). */
const out: SimpleHead = { status: 0, method: '', url: '', headers: {}, keepAlive: true, bodyLength: 0, headEnd: 0 };

/** How much of a read is scanned for a response's head (a longer head is llhttp's). */
const RESPONSE_PEEK = 4096;

/** `buf` from `p` holds `word` (ASCII). */
function bytesAre(buf: Buffer, p: number, word: string): boolean {
  for (let i = 0; i < word.length; i++) if (buf[p + i] !== word.charCodeAt(i)) return false;
  return true;
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 48 && c <= 57;
}

/**
 * The response that fills the first `n` bytes of `buf` exactly (head and Content-Length body,
 * nothing after), when simple; else null. The result is shared: use it before the next call. A
 * response to HEAD, 1xx, 204 and 304 are not simple (their framing depends on more than the head).
 * (`n` lets a reader pass its shared read buffer without a Buffer view per read.)
 */
export function simpleResponse(buf: Buffer, maxHeadBytes: number, n: number = buf.length): SimpleHead | null {
  let limit = n < RESPONSE_PEEK ? n : RESPONSE_PEEK;
  if (limit > maxHeadBytes) limit = maxHeadBytes;
  // `HTTP/1.1 `, three digits (the first 1-9), SP, a reason, CRLF.
  if (limit < 17 || !bytesAre(buf, 0, 'HTTP/1.1 ') || buf[12] !== 32) return null;
  const d0 = buf[9]!;
  const d1 = buf[10]!;
  const d2 = buf[11]!;
  if (d0 < 49 || d0 > 57 || !isDigit(d1) || !isDigit(d2)) return null;
  const status = (d0 - 48) * 100 + (d1 - 48) * 10 + (d2 - 48);
  if (status < 200 || status === 204 || status === 304) return null;
  let p = 13;
  while (p < limit && REASON[buf[p]!] === 1) p++;
  if (p + 1 >= limit || buf[p] !== 13 || buf[p + 1] !== 10) return null;
  const headEnd = readHeaders(buf, latin1(buf, 0, limit), p + 2, limit, true);
  if (headEnd < 0 || out.bodyLength < 0 || headEnd + out.bodyLength !== n) return null;
  out.headEnd = headEnd;
  out.status = status;
  return out;
}

/**
 * The request that fills the first `n` bytes of `buf` exactly and has no body (no Content-Length
 * but 0, no Transfer-Encoding), when simple; else null. The result is shared, as simpleResponse's.
 */
export function simpleRequest(buf: Buffer, maxHeadBytes: number, n: number = buf.length): SimpleHead | null {
  // Without a body the head is the whole read: it ends with the read.
  if (n < 20 || n > maxHeadBytes || buf[n - 1] !== 10 || buf[n - 2] !== 13 || buf[n - 3] !== 10 || buf[n - 4] !== 13) return null;
  const method = methodAt(buf);
  if (method === undefined) return null;
  const t = method.length + 1;
  const targetEnd = targetEndAt(buf, t, n);
  if (targetEnd < 0 || !bytesAre(buf, targetEnd, ' HTTP/1.1\r\n')) return null;
  const head = latin1(buf, 0, n);
  if (readHeaders(buf, head, targetEnd + 11, n, false) !== n || out.bodyLength > 0) return null;
  out.bodyLength = 0;
  out.headEnd = n;
  out.method = method;
  out.url = head.slice(t, targetEnd);
  return out;
}

/** The method `buf` starts with, followed by SP, as a literal; undefined for another one. */
function methodAt(buf: Buffer): string | undefined {
  const c = buf[0];
  for (let i = 0; i < METHODS.length; i++) {
    const m = METHODS[i]!;
    if (m.charCodeAt(0) === c && buf[m.length] === 32 && bytesAre(buf, 0, m)) return m;
  }
  return undefined;
}

/**
 * Where the request target at `p` ends (at its SP), or -1: origin form, or absolute form
 * `http://host[:port]/…` with a host name or address and a port of 1-5 digits.
 */
function targetEndAt(buf: Buffer, p: number, n: number): number {
  if (buf[p] !== 47 /* / */) {
    if (!bytesAre(buf, p, 'http://')) return -1;
    p += 7;
    const host = p;
    while (p < n && HOST[buf[p]!] === 1) p++;
    if (p === host) return -1;
    if (buf[p] === 58 /* : */) {
      const port = ++p;
      while (p < n && isDigit(buf[p])) p++;
      if (p === port || p - port > 5) return -1;
    }
    if (buf[p] !== 47) return -1;
  }
  while (p < n && URI[buf[p]!] === 1) p++;
  return p < n && buf[p] === 32 ? p : -1;
}

/**
 * The header lines from `from` up to `limit`, read from the bytes of `buf` (`head` holds the
 * same bytes as a string, to slice values from), into out.headers, out.keepAlive and
 * out.bodyLength (-1 without Content-Length); `endToEnd` leaves the connection's own headers out.
 * Returns where the head ends (after its blank line), or -1 for a line of another shape or for
 * what llhttp frames or reads in ways this path does not follow.
 */
function readHeaders(buf: Buffer, head: string, from: number, limit: number, endToEnd: boolean): number {
  const h: HeaderMap = {};
  let keepAlive = true;
  let bodyLength = -1;
  let connection = false;
  // The common names seen so far (nameAt's bits): a first one is stored without looking it up.
  let seen = 0;
  let p = from;
  for (;;) {
    if (p + 1 >= limit) return -1;
    if (buf[p] === 13) {
      if (buf[p + 1] !== 10) return -1;
      p += 2;
      break;
    }
    // The name: tchar up to the colon, noting an upper-case letter.
    const a = p;
    let upper = false;
    while (p < limit) {
      const c = buf[p]!;
      if (TCHAR[c] === 0) break;
      if (LOWER[c] !== c) upper = true;
      p++;
    }
    if (p === a || p >= limit || buf[p] !== 58 /* : */) return -1;
    const colon = p++;
    // The value without leading and trailing SP / HTAB (llhttp's OWS; not String#trim, which
    // also strips NBSP, an obs-text byte here), then CRLF.
    while (p < limit && (buf[p] === 32 || buf[p] === 9)) p++;
    const v0 = p;
    let v1 = p;
    while (p < limit) {
      const c = buf[p]!;
      if (VALUE[c] === 0) break;
      p++;
      if (c !== 32 && c !== 9) v1 = p;
    }
    if (p + 1 >= limit || buf[p] !== 13 || buf[p + 1] !== 10) return -1;
    p += 2;
    const name = nameAt(buf, head, a, colon, upper);
    switch (hopScope(name)) {
      case HopScope.Connection:
        if (name === 'connection') {
          // Only `close` or `keep-alive`, once: a list may name headers or upgrade, llhttp's to read.
          if (connection) return -1;
          connection = true;
          if (wordAt(buf, v0, v1, 'close')) keepAlive = false;
          else if (!wordAt(buf, v0, v1, 'keep-alive')) return -1;
        } else if (name === 'transfer-encoding' || name === 'upgrade' || name === 'proxy-connection') {
          return -1; // framing and keep-alive llhttp decides
        }
        if (endToEnd) continue;
        break;
      case HopScope.EndToEnd:
        if (name === 'content-length') {
          if (bodyLength >= 0 || v1 === v0 || v1 - v0 > 15) return -1;
          let len = 0;
          for (let j = v0; j < v1; j++) {
            const c = buf[j]!;
            if (c < 48 || c > 57) return -1;
            len = len * 10 + (c - 48);
          }
          bodyLength = len;
        }
        break;
    }
    const value = head.slice(v0, v1);
    const bit = nameBit;
    if (bit !== 0 && (seen & bit) === 0) {
      seen |= bit;
      h[name] = value;
      continue;
    }
    addHeader(h, name, value);
  }
  out.headers = h;
  out.keepAlive = keepAlive;
  out.bodyLength = bodyLength;
  return p;
}

/** The bytes from `a` to `b`, lower-cased, are `word` (lower-case). */
function wordAt(buf: Buffer, a: number, b: number, word: string): boolean {
  if (b - a !== word.length) return false;
  for (let i = 0; i < word.length; i++) if (LOWER[buf[a + i]!] !== word.charCodeAt(i)) return false;
  return true;
}

/** Header names common enough to be keyed by a literal, each with its bit for readHeaders' `seen`. */
const COMMON_NAMES = [
  'host',
  'date',
  'server',
  'accept',
  'user-agent',
  'connection',
  'content-type',
  'x-request-id',
  'content-length',
  'x-forwarded-for',
  'accept-encoding',
  'x-forwarded-proto',
];
/** COMMON_NAMES by length: [name, bit] pairs. */
const COMMON_BY_LENGTH: (readonly [string, number])[][] = [];
COMMON_NAMES.forEach((name, i) => (COMMON_BY_LENGTH[name.length] ??= []).push([name, 1 << i]));

/** The bit of the common name nameAt found last, 0 for another name. */
let nameBit = 0;

/**
 * The lower-case name from `a` to `colon`: a literal for the common names (an object key V8 has
 * interned already; a fresh slice must be looked up in its string table when used as one), with
 * its bit in nameBit; else sliced from `head`.
 */
function nameAt(buf: Buffer, head: string, a: number, colon: number, upper: boolean): string {
  const candidates = COMMON_BY_LENGTH[colon - a];
  if (candidates !== undefined) {
    for (let i = 0; i < candidates.length; i++) {
      const [name, bit] = candidates[i]!;
      if (wordAt(buf, a, colon, name)) {
        nameBit = bit;
        return name;
      }
    }
  }
  nameBit = 0;
  const name = head.slice(a, colon);
  return upper ? name.toLowerCase() : name;
}
