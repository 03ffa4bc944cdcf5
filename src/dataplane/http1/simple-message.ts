// The common HTTP/1.1 message, parsed in JS. node's llhttp binding costs ~2 µs a message on the
// request path (each header's name and value made into a string in C++, a MakeCallback for every
// event, the body copied into an ArrayBuffer of its own); a message that arrives whole in one read,
// framed by Content-Length or by nothing, is read here with two native calls (a latin1 string, one
// regular expression) instead. Anything else — a head split over reads, chunked or close-delimited
// framing, Upgrade, HTTP/1.0, several Content-Length or Connection lines, a byte llhttp could read
// differently — returns null, and the caller hands the bytes to llhttp as before. What is taken
// here is a subset of what llhttp accepts in strict mode, read as llhttp reads it
// (test/unit/dataplane/dp-http1-simple-message.test.ts checks both against each other).
import { HopScope, hopScope } from './head.js';
import type { HeaderMap } from '../http/message.js';

/**
 * A whole head: the start line, then `token ":" value CRLF` lines, then CRLF. The character
 * classes are llhttp's own for header names (tchar) and values (HTAB, SP to `~`, obs-text): a
 * name with whitespace before its colon, an obs-fold line or a bare CR or LF do not match. Each
 * class excludes CR, so the match is linear (no backtracking across lines).
 */
const HEADER_LINES = "(?:[!#$%&'*+.^_`|~0-9A-Za-z-]+:[\\t\\x20-\\x7e\\x80-\\xff]*\\r\\n)*\\r\\n$";
const RESPONSE_HEAD = new RegExp(`^HTTP/1\\.1 [1-9][0-9][0-9] [\\t\\x20-\\x7e]*\\r\\n${HEADER_LINES}`);
/**
 * Origin-form targets, and absolute-form http:// ones with a host name or address, an optional
 * port and a path (no userinfo), of URI characters only (RFC 3986).
 */
const REQUEST_HEAD = new RegExp(
  `^(?:GET|HEAD|POST|PUT|DELETE|OPTIONS|PATCH) (?:http://[A-Za-z0-9.-]+(?::[0-9]{1,5})?)?/[A-Za-z0-9\\-._~!$&'()*+,;=:@/?%]* HTTP/1\\.1\\r\\n${HEADER_LINES}`,
);

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

/** How much of a read is made a string to find a response's head in (a longer head is llhttp's). */
const RESPONSE_PEEK = 4096;

/**
 * The response that fills `buf` exactly (head and Content-Length body, nothing after), when
 * simple; else null. The result is shared: use it before the next call. A response to HEAD, 1xx,
 * 204 and 304 are not simple (their framing depends on more than the head).
 */
export function simpleResponse(buf: Buffer, maxHeadBytes: number): SimpleHead | null {
  const n = buf.length < RESPONSE_PEEK ? buf.length : RESPONSE_PEEK;
  const text = buf.toString('latin1', 0, n);
  const i = text.indexOf('\r\n\r\n');
  if (i < 0 || i + 4 > maxHeadBytes) return null;
  const head = i + 4 === n ? text : text.slice(0, i + 4);
  if (!RESPONSE_HEAD.test(head)) return null;
  const status = (head.charCodeAt(9) - 48) * 100 + (head.charCodeAt(10) - 48) * 10 + (head.charCodeAt(11) - 48);
  if (status < 200 || status === 204 || status === 304) return null;
  if (!readHeaders(head, head.indexOf('\r\n') + 2, true)) return null;
  if (out.bodyLength < 0 || i + 4 + out.bodyLength !== buf.length) return null;
  out.headEnd = i + 4;
  out.status = status;
  return out;
}

/**
 * The request that fills `buf` exactly and has no body (no Content-Length but 0, no
 * Transfer-Encoding), when simple; else null. The result is shared, as simpleResponse's.
 */
export function simpleRequest(buf: Buffer, maxHeadBytes: number): SimpleHead | null {
  // Without a body the head is the whole read: it ends with the read. (The shape then also
  // proves that this CRLF CRLF is the first: a header line cannot be empty.)
  const n = buf.length;
  if (n < 20 || n > maxHeadBytes || buf[n - 1] !== 10 || buf[n - 2] !== 13 || buf[n - 3] !== 10 || buf[n - 4] !== 13) return null;
  const head = buf.toString('latin1', 0, n);
  if (!REQUEST_HEAD.test(head)) return null;
  const sp1 = head.indexOf(' ');
  const lineEnd = head.indexOf('\r\n');
  if (!readHeaders(head, lineEnd + 2, false) || out.bodyLength > 0) return null;
  out.bodyLength = 0;
  out.headEnd = n;
  out.method = head.slice(0, sp1);
  out.url = head.slice(sp1 + 1, lineEnd - 9);
  return out;
}

/**
 * The header lines of a head that matched its shape, from `from`, into out.headers,
 * out.keepAlive and out.bodyLength (-1 without Content-Length); `endToEnd` leaves the connection's
 * own headers out. False
 * for what llhttp frames or reads in ways this path does not follow.
 */
function readHeaders(head: string, from: number, endToEnd: boolean): boolean {
  // Names are tokens (ASCII): lower-cased all at once, sliced from here; values from `head`.
  const lower = head.toLowerCase();
  const h: HeaderMap = {};
  let keepAlive = true;
  let bodyLength = -1;
  let connection = false;
  // The common names seen so far (nameAt's bits): a first one is stored without looking it up.
  let seen = 0;
  const end = head.length - 2;
  let a = from;
  while (a < end) {
    const colon = head.indexOf(':', a);
    const eol = head.indexOf('\r', colon);
    // The value without leading and trailing SP / HTAB (llhttp's OWS; not String#trim, which
    // also strips NBSP, an obs-text byte here).
    let v0 = colon + 1;
    let v1 = eol;
    while (v0 < v1 && isOws(head.charCodeAt(v0))) v0++;
    while (v1 > v0 && isOws(head.charCodeAt(v1 - 1))) v1--;
    const name = nameAt(lower, a, colon - a);
    a = eol + 2;
    switch (hopScope(name)) {
      case HopScope.Connection:
        if (name === 'connection') {
          // Only `close` or `keep-alive`, once: a list may name headers or upgrade, llhttp's to read.
          if (connection) return false;
          connection = true;
          if (eqLower(lower, v0, v1, 'close')) keepAlive = false;
          else if (!eqLower(lower, v0, v1, 'keep-alive')) return false;
        } else if (name === 'transfer-encoding' || name === 'upgrade' || name === 'proxy-connection') {
          return false; // framing and keep-alive llhttp decides
        }
        if (endToEnd) continue;
        break;
      case HopScope.EndToEnd:
        if (name === 'content-length') {
          if (bodyLength >= 0 || v1 === v0 || v1 - v0 > 15) return false;
          for (let j = v0; j < v1; j++) {
            const c = head.charCodeAt(j);
            if (c < 48 || c > 57) return false;
          }
          bodyLength = Number(head.slice(v0, v1));
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
    const cur = h[name];
    if (cur === undefined) h[name] = value;
    else if (typeof cur === 'string') h[name] = [cur, value];
    else cur.push(value);
  }
  out.headers = h;
  out.keepAlive = keepAlive;
  out.bodyLength = bodyLength;
  return true;
}

function isOws(c: number): boolean {
  return c === 32 || c === 9;
}

/** `s` from `a` to `b` (already lower-cased) is `word`. */
function eqLower(s: string, a: number, b: number, word: string): boolean {
  return b - a === word.length && s.startsWith(word, a);
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
 * The lower-case name at `a` in `lower`: a literal for the common names (an object key V8 has
 * interned already; a fresh slice must be looked up in its string table when used as one), with
 * its bit in nameBit.
 */
function nameAt(lower: string, a: number, len: number): string {
  const candidates = COMMON_BY_LENGTH[len];
  if (candidates !== undefined) {
    for (let i = 0; i < candidates.length; i++) {
      const [name, bit] = candidates[i]!;
      if (lower.startsWith(name, a)) {
        nameBit = bit;
        return name;
      }
    }
  }
  nameBit = 0;
  return lower.slice(a, a + len);
}
