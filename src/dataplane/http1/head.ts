// Writing HTTP/1.1 heads as one latin1 string: header blocks are built by concatenation (V8 makes
// ropes of it; the socket flattens once when it writes), never through node:http's OutgoingMessage.
import type { HeaderMap } from '../routing/index.js';
import { addHeader } from '../http/message.js';
import { allocSmall } from '../slab.js';

/** Status reason phrases (RFC 9110), for status lines; others get "Unknown". */
export const REASONS: Readonly<Record<number, string>> = {
  100: 'Continue',
  101: 'Switching Protocols',
  102: 'Processing',
  103: 'Early Hints',
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  203: 'Non-Authoritative Information',
  204: 'No Content',
  205: 'Reset Content',
  206: 'Partial Content',
  207: 'Multi-Status',
  208: 'Already Reported',
  226: 'IM Used',
  300: 'Multiple Choices',
  301: 'Moved Permanently',
  302: 'Found',
  303: 'See Other',
  304: 'Not Modified',
  305: 'Use Proxy',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  411: 'Length Required',
  412: 'Precondition Failed',
  413: 'Payload Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  417: 'Expectation Failed',
  418: "I'm a Teapot",
  421: 'Misdirected Request',
  422: 'Unprocessable Entity',
  423: 'Locked',
  424: 'Failed Dependency',
  425: 'Too Early',
  426: 'Upgrade Required',
  428: 'Precondition Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  451: 'Unavailable For Legal Reasons',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
  506: 'Variant Also Negotiates',
  507: 'Insufficient Storage',
  508: 'Loop Detected',
  510: 'Not Extended',
  511: 'Network Authentication Required',
};

/** `HTTP/1.1 200 OK\r\n`, cached per status. */
const statusLines = new Map<number, string>();
export function statusLine(status: number): string {
  let l = statusLines.get(status);
  if (l === undefined) {
    l = `HTTP/1.1 ${status} ${REASONS[status] ?? 'Unknown'}\r\n`;
    statusLines.set(status, l);
  }
  return l;
}

/** A header name as a token (RFC 9110 §5.6.2), table-driven. */
const TOKEN = (() => {
  const t = new Uint8Array(128);
  const s = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  for (let i = 0; i < s.length; i++) t[s.charCodeAt(i)] = 1;
  return t;
})();

export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TOKEN[c] === 0) return false;
  }
  return true;
}

/** A header value that can be sent: HTAB, visible ASCII, obs-text; no CR, LF or NUL. */
export function isValidValue(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 32 && c !== 9) || c === 127 || c > 255) return false;
  }
  return true;
}

export class InvalidHeaderError extends Error {
  constructor(readonly header: string) {
    super(`invalid header ${JSON.stringify(header)}`);
    this.name = 'InvalidHeaderError';
  }
}

/**
 * `name: value\r\n` lines for `headers`, checked (throws InvalidHeaderError). Names are written as
 * stored (lower-case, as Envoy sends them); undefined values are skipped, arrays repeated.
 */
export function headerLines(headers: HeaderMap): string {
  let out = '';
  for (const name in headers) {
    const v = headers[name];
    if (v === undefined) continue;
    if (!isToken(name)) throw new InvalidHeaderError(name);
    if (typeof v === 'string') {
      if (!isValidValue(v)) throw new InvalidHeaderError(name);
      out += name + ': ' + v + '\r\n';
    } else {
      for (let i = 0; i < v.length; i++) {
        const x = v[i]!;
        if (!isValidValue(x)) throw new InvalidHeaderError(name);
        out += name + ': ' + x + '\r\n';
      }
    }
  }
  return out;
}

/**
 * A message head rendered straight into bytes: `first` (the request or status line, CRLF
 * included), `headers` as `name: value` lines, `extra` (more lines, CRLF included) and the blank
 * line, followed by `room` free bytes for a body to join the head in one write. The head's length
 * is `buf.length - room`. No head string: one built by concatenation was a rope of ~40 pieces,
 * flattened and then latin1-encoded into a buffer, twice per proxied request. Checked as
 * headerLines checks (throws InvalidHeaderError); `first` and `extra` are the caller's own.
 */
export function renderHead(first: string, headers: HeaderMap, extra: string, room: number): Buffer {
  const buf = allocSmall(first.length + linesLength(headers) + extra.length + 2 + room);
  return endHead(buf, putLines(buf, putLatin1(buf, 0, first), headers), extra);
}

/**
 * renderHead for a request: `method target HTTP/1.1`, then `host: authority` and `headers`. The
 * parts are copied one by one: joined first, they would be a rope to flatten.
 */
export function renderRequestHead(method: string, target: string, authority: string, headers: HeaderMap, extra: string, room: number): Buffer {
  const buf = allocSmall(method.length + target.length + authority.length + 22 + linesLength(headers) + extra.length + room);
  let p = putLatin1(buf, 0, method);
  buf[p] = 32;
  p = putLatin1(buf, p + 1, target);
  p = putLatin1(buf, p, ' HTTP/1.1\r\nhost: ');
  p = putLatin1(buf, p, authority);
  buf[p] = 13;
  buf[p + 1] = 10;
  return endHead(buf, putLines(buf, p + 2, headers), extra);
}

/** The bytes `headers` take as lines. */
function linesLength(headers: HeaderMap): number {
  let n = 0;
  for (const name in headers) {
    const v = headers[name];
    if (v === undefined) continue;
    if (typeof v === 'string') n += name.length + v.length + 4;
    else for (let i = 0; i < v.length; i++) n += name.length + v[i]!.length + 4;
  }
  return n;
}

/** `headers` as checked lines from `p`; returns the end. */
function putLines(buf: Buffer, p: number, headers: HeaderMap): number {
  for (const name in headers) {
    const v = headers[name];
    if (v === undefined) continue;
    if (typeof v === 'string') p = putLine(buf, p, name, v);
    else for (let i = 0; i < v.length; i++) p = putLine(buf, p, name, v[i]!);
  }
  return p;
}

/** `extra` and the blank line from `p`. */
function endHead(buf: Buffer, p: number, extra: string): Buffer {
  p = putLatin1(buf, p, extra);
  buf[p] = 13;
  buf[p + 1] = 10;
  return buf;
}

/** Copies `s` (latin1, trusted) to `pos`; returns the end. A loop: a native call costs more than it copies for a few bytes. */
function putLatin1(buf: Buffer, pos: number, s: string): number {
  for (let i = 0; i < s.length; i++) buf[pos + i] = s.charCodeAt(i);
  return pos + s.length;
}

/** Values longer than this are checked and copied by native code rather than a loop. */
const NATIVE_COPY = 64;
/** A character isValidValue refuses (each one fits latin1 otherwise, so a latin1 write is exact). */
const BAD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
/**
 * The last long value found valid. A long value is mostly the same string request after request
 * (a gateway's XFCC is computed once per connection): comparing it with this one is a pointer
 * check, where the regular expression reads ~1 KB (~1 µs a request).
 */
let lastValidLong = '';

/** `name: value\r\n` at `pos`, the name checked as a token and the value as isValidValue does. */
function putLine(buf: Buffer, pos: number, name: string, value: string): number {
  const nl = name.length;
  if (nl === 0) throw new InvalidHeaderError(name);
  for (let i = 0; i < nl; i++) {
    const c = name.charCodeAt(i);
    if (c >= 128 || TOKEN[c] === 0) throw new InvalidHeaderError(name);
    buf[pos + i] = c;
  }
  pos += nl;
  buf[pos] = 58;
  buf[pos + 1] = 32;
  pos += 2;
  if (value.length > NATIVE_COPY) {
    // A long value (an XFCC with its certificate is ~1 KB): checked by one regular expression
    // and copied natively; a loop costs ~2.5 ns a character.
    if (value !== lastValidLong) {
      if (BAD_VALUE.test(value)) throw new InvalidHeaderError(name);
      lastValidLong = value;
    }
    buf.write(value, pos, 'latin1');
  } else {
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if ((c < 32 && c !== 9) || c === 127 || c > 255) throw new InvalidHeaderError(name);
      buf[pos + i] = c;
    }
  }
  pos += value.length;
  buf[pos] = 13;
  buf[pos + 1] = 10;
  return pos + 2;
}

/** The IMF-fixdate for the Date header, recomputed at most once a second. */
let dateSecond = -1;
let dateValue = '';
export function httpDate(): string {
  const now = Date.now();
  const s = Math.floor(now / 1000);
  if (s !== dateSecond) {
    dateSecond = s;
    dateValue = new Date(now).toUTCString();
  }
  return dateValue;
}

/**
 * Headers from a raw [name, value, …] array (as llhttp gives them) into a map by lower-case name;
 * a repeated name becomes an array in arrival order.
 */
export function headerMapFromRaw(raw: readonly string[]): HeaderMap {
  const h: HeaderMap = {};
  for (let i = 0; i < raw.length; i += 2) {
    addHeader(h, lowerName(raw[i]!), raw[i + 1]!);
  }
  return h;
}

/** What a header name is to a proxy: end-to-end, or scoped to one hop. */
export enum HopScope {
  EndToEnd = 0,
  /** Describes one connection (RFC 9110 §7.6.1): connection, keep-alive, proxy-connection, transfer-encoding, upgrade, http2-settings, trailer. */
  Connection = 1,
  /** A request header a proxy does not forward either: te, host (it becomes the request line's authority), expect, proxy-authorization. */
  RequestHop = 2,
}

/**
 * A header name's scope. A switch on the length, not a Set: it runs for every header of every
 * request and response, and comparing a name with the literals of its length costs less than
 * hashing it.
 */
export function hopScope(name: string): HopScope {
  switch (name.length) {
    case 2:
      return name === 'te' ? HopScope.RequestHop : HopScope.EndToEnd;
    case 4:
      return name === 'host' ? HopScope.RequestHop : HopScope.EndToEnd;
    case 6:
      return name === 'expect' ? HopScope.RequestHop : HopScope.EndToEnd;
    case 7:
      return name === 'upgrade' || name === 'trailer' ? HopScope.Connection : HopScope.EndToEnd;
    case 10:
      return name === 'connection' || name === 'keep-alive' ? HopScope.Connection : HopScope.EndToEnd;
    case 14:
      return name === 'http2-settings' ? HopScope.Connection : HopScope.EndToEnd;
    case 16:
      return name === 'proxy-connection' ? HopScope.Connection : HopScope.EndToEnd;
    case 17:
      return name === 'transfer-encoding' ? HopScope.Connection : HopScope.EndToEnd;
    case 19:
      return name === 'proxy-authorization' ? HopScope.RequestHop : HopScope.EndToEnd;
    default:
      return HopScope.EndToEnd;
  }
}

/**
 * headerMapFromRaw without the connection-specific headers (and the names a Connection header
 * lists): a response head ready to relay. Built without them rather than stripped after, so the
 * map keeps its fast shape (deleting properties turns an object into a slow dictionary).
 */
export function endToEndHeaderMap(raw: readonly string[]): HeaderMap {
  const h: HeaderMap = {};
  let listed: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = lowerName(raw[i]!);
    const v = raw[i + 1]!;
    if (hopScope(name) === HopScope.Connection) {
      if (name === 'connection' && v !== 'keep-alive' && v !== 'close') listed = listed === undefined ? v : `${listed},${v}`;
      continue;
    }
    addHeader(h, name, v);
  }
  if (listed !== undefined) {
    for (const token of listed.split(',')) {
      const n = token.trim().toLowerCase();
      if (n !== '' && n !== 'keep-alive' && n !== 'close') delete h[n];
    }
  }
  return h;
}

/** Lower-cases a header name, without a copy when it already is (the common case). */
export function lowerName(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) return s.toLowerCase();
  }
  return s;
}
