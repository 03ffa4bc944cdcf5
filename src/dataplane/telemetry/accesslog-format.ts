// Envoy access-log format strings compiled once into segment arrays: Istio's default TEXT format
// (byte for byte), Istio's JSON encoding, and custom formats with the common command operators.

import type { AccessLogSettings } from '../../proxyconfig/types.js';
import { ConfigError } from '../routing/errors.js';
import { hostname } from 'node:os';
import { authorityHost, authorityPort } from '../../proxyconfig/authority.js';

/** One access-log record, filled in by the HTTP and TCP paths. Unknown fields stay undefined (`-`). */
export interface AccessLogEntry {
  /** Epoch ms when the request (TCP: the connection) started. */
  startTime: number;
  method?: string;
  /** The original path, before any rewrite. */
  path?: string;
  /** `HTTP/1.1`, `HTTP/2`; undefined for TCP. */
  protocol?: string;
  /** 0 when no response was sent (TCP, or the client left). */
  responseCode: number;
  /** `-` or short flags joined by commas (`UF,URX`). */
  responseFlags: string;
  responseCodeDetails?: string;
  connectionTerminationDetails?: string;
  upstreamTransportFailureReason?: string;
  bytesReceived: number;
  bytesSent: number;
  durationMs: number;
  upstreamServiceTimeMs?: number;
  /** A request header by lower-case name (`:authority` falls back to `host`). */
  requestHeader(name: string): string | undefined;
  responseHeader(name: string): string | undefined;
  /** `IP:port` of the endpoint used. */
  upstreamHost?: string;
  upstreamCluster?: string;
  upstreamLocalAddress?: string;
  downstreamLocalAddress: string;
  downstreamRemoteAddress: string;
  requestedServerName?: string;
  routeName?: string;
  /** The mTLS peer certificate's URI SAN (%DOWNSTREAM_PEER_URI_SAN%). */
  peerUriSan?: string;
  /** This proxy's own URI SAN on that connection (%DOWNSTREAM_LOCAL_URI_SAN%). */
  localUriSan?: string;
  /**
   * Envoy's dynamic metadata by filter namespace (%DYNAMIC_METADATA(ns:key)%): `envoy.common`
   * `access_log_hint` for a matched AUDIT policy, `outpost.ssrf_guard` `would_deny` in report-only mode.
   */
  dynamicMetadata?: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

/** Istio's default TEXT format (EnvoyTextLogFormat), Istio ≥ 1.24. */
export const ISTIO_DEFAULT_TEXT_FORMAT =
  '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% ' +
  '%RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% ' +
  '%BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" ' +
  '"%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW% %UPSTREAM_LOCAL_ADDRESS% ' +
  '%DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%\n';

/** Istio's JSON encoding (EnvoyJSONLogFormatIstio): key → operator, in Istio's order. */
export const ISTIO_DEFAULT_JSON_FORMAT: ReadonlyArray<readonly [string, string]> = [
  ['start_time', '%START_TIME%'],
  ['route_name', '%ROUTE_NAME%'],
  ['method', '%REQ(:METHOD)%'],
  ['path', '%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%'],
  ['protocol', '%PROTOCOL%'],
  ['response_code', '%RESPONSE_CODE%'],
  ['response_flags', '%RESPONSE_FLAGS%'],
  ['response_code_details', '%RESPONSE_CODE_DETAILS%'],
  ['connection_termination_details', '%CONNECTION_TERMINATION_DETAILS%'],
  ['bytes_received', '%BYTES_RECEIVED%'],
  ['bytes_sent', '%BYTES_SENT%'],
  ['duration', '%DURATION%'],
  ['upstream_service_time', '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%'],
  ['x_forwarded_for', '%REQ(X-FORWARDED-FOR)%'],
  ['user_agent', '%REQ(USER-AGENT)%'],
  ['request_id', '%REQ(X-REQUEST-ID)%'],
  ['authority', '%REQ(:AUTHORITY)%'],
  ['upstream_host', '%UPSTREAM_HOST%'],
  ['upstream_cluster', '%UPSTREAM_CLUSTER_RAW%'],
  ['upstream_local_address', '%UPSTREAM_LOCAL_ADDRESS%'],
  ['downstream_local_address', '%DOWNSTREAM_LOCAL_ADDRESS%'],
  ['downstream_remote_address', '%DOWNSTREAM_REMOTE_ADDRESS%'],
  ['requested_server_name', '%REQUESTED_SERVER_NAME%'],
  ['upstream_transport_failure_reason', '%UPSTREAM_TRANSPORT_FAILURE_REASON%'],
];

/** An operator's value: a string, a number, or undefined (printed `-`, or null in JSON). */
type Value = string | number | undefined;
type Getter = (e: AccessLogEntry) => Value;

interface OperatorSegment {
  readonly get: Getter;
  /** Writes the value straight into a buffer (see LineWriter), where that beats get(): START_TIME. */
  readonly put: ((e: AccessLogEntry, buf: Buffer, pos: number) => number) | undefined;
  /** `:N` truncation; 0 = none. */
  readonly maxLen: number;
  /** Renders as a JSON number when alone in a JSON value. */
  readonly numeric: boolean;
}

/** A compiled format: literal text between operators. */
type Segment = string | OperatorSegment;

const HOSTNAME = hostname();

const hostOf = (a: string | undefined): string | undefined => (a === undefined ? undefined : authorityHost(a));
const portOf = (a: string | undefined): string | undefined => (a === undefined ? undefined : authorityPort(a));

/** Operators without arguments. */
const SIMPLE: Record<string, { get: Getter; numeric?: boolean }> = {
  PROTOCOL: { get: (e) => e.protocol },
  RESPONSE_CODE: { get: (e) => e.responseCode, numeric: true },
  RESPONSE_FLAGS: { get: (e) => e.responseFlags || '-' },
  RESPONSE_CODE_DETAILS: { get: (e) => e.responseCodeDetails },
  CONNECTION_TERMINATION_DETAILS: { get: (e) => e.connectionTerminationDetails },
  UPSTREAM_TRANSPORT_FAILURE_REASON: { get: (e) => e.upstreamTransportFailureReason },
  BYTES_RECEIVED: { get: (e) => e.bytesReceived, numeric: true },
  BYTES_SENT: { get: (e) => e.bytesSent, numeric: true },
  DURATION: { get: (e) => Math.floor(e.durationMs), numeric: true },
  UPSTREAM_HOST: { get: (e) => e.upstreamHost },
  UPSTREAM_REMOTE_ADDRESS: { get: (e) => e.upstreamHost },
  UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT: { get: (e) => hostOf(e.upstreamHost) },
  // Istio sets no alt_stat_name by default, so both print the cluster's name.
  UPSTREAM_CLUSTER: { get: (e) => e.upstreamCluster },
  UPSTREAM_CLUSTER_RAW: { get: (e) => e.upstreamCluster },
  UPSTREAM_LOCAL_ADDRESS: { get: (e) => e.upstreamLocalAddress },
  UPSTREAM_LOCAL_ADDRESS_WITHOUT_PORT: { get: (e) => hostOf(e.upstreamLocalAddress) },
  UPSTREAM_LOCAL_PORT: { get: (e) => portOf(e.upstreamLocalAddress) },
  DOWNSTREAM_LOCAL_ADDRESS: { get: (e) => e.downstreamLocalAddress },
  DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT: { get: (e) => hostOf(e.downstreamLocalAddress) },
  DOWNSTREAM_LOCAL_PORT: { get: (e) => portOf(e.downstreamLocalAddress) },
  DOWNSTREAM_REMOTE_ADDRESS: { get: (e) => e.downstreamRemoteAddress },
  DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT: { get: (e) => hostOf(e.downstreamRemoteAddress) },
  DOWNSTREAM_REMOTE_PORT: { get: (e) => portOf(e.downstreamRemoteAddress) },
  DOWNSTREAM_DIRECT_REMOTE_ADDRESS: { get: (e) => e.downstreamRemoteAddress },
  DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT: { get: (e) => hostOf(e.downstreamRemoteAddress) },
  REQUESTED_SERVER_NAME: { get: (e) => e.requestedServerName },
  DOWNSTREAM_PEER_URI_SAN: { get: (e) => e.peerUriSan },
  DOWNSTREAM_LOCAL_URI_SAN: { get: (e) => e.localUriSan },
  ROUTE_NAME: { get: (e) => e.routeName },
  HOSTNAME: { get: () => HOSTNAME },
  RESPONSE_DURATION: { get: (e) => (e.upstreamServiceTimeMs === undefined ? undefined : Math.floor(e.upstreamServiceTimeMs)), numeric: true },
  UPSTREAM_SERVICE_TIME: { get: (e) => (e.upstreamServiceTimeMs === undefined ? undefined : Math.floor(e.upstreamServiceTimeMs)), numeric: true },
};

/** A request header, with the pseudo-headers taken from the entry's own fields. */
function requestHeaderGetter(name: string): Getter {
  switch (name) {
    case ':method':
      return (e) => e.method ?? e.requestHeader(':method');
    case ':path':
      return (e) => e.path ?? e.requestHeader(':path');
    // Envoy keeps the pre-rewrite path in x-envoy-original-path; the entry's `path` is that path.
    case 'x-envoy-original-path':
      return (e) => e.requestHeader('x-envoy-original-path') ?? e.path;
    case ':authority':
    case 'host':
      return (e) => e.requestHeader(':authority') ?? e.requestHeader('host');
    case ':scheme':
      return (e) => e.requestHeader(':scheme');
    default:
      return (e) => e.requestHeader(name);
  }
}

function responseHeaderGetter(name: string): Getter {
  if (name === 'x-envoy-upstream-service-time') {
    return (e) => e.responseHeader(name) ?? (e.upstreamServiceTimeMs === undefined ? undefined : String(Math.floor(e.upstreamServiceTimeMs)));
  }
  return (e) => e.responseHeader(name);
}

function headerOperator(args: string, where: string, getter: (name: string) => Getter): Getter {
  const q = args.indexOf('?');
  const main = (q < 0 ? args : args.slice(0, q)).trim().toLowerCase();
  const alt =
    q < 0
      ? undefined
      : args
          .slice(q + 1)
          .trim()
          .toLowerCase();
  if (main === '' || alt === '') throw new ConfigError(`${where}: empty header name`);
  const g = getter(main);
  if (alt === undefined) return g;
  // `:path` alone as the alternative after x-envoy-original-path: the entry's path is already the original.
  const ga = getter(alt);
  return (e) => {
    const v = g(e);
    return v === undefined || v === '' ? ga(e) : v;
  };
}

// ---------------------------------------------------------------------------------------------
// START_TIME

let lastSecond = -1;
let lastSecondPrefix = '';

/** `2024-11-07T14:35:52.428Z`, with the second's prefix cached between calls. */
export function formatIsoMillis(ms: number): string {
  const sec = Math.floor(ms / 1000);
  if (sec !== lastSecond) {
    lastSecond = sec;
    lastSecondPrefix = new Date(sec * 1000).toISOString().slice(0, 20);
  }
  const frac = ms - sec * 1000;
  const m = Math.floor(frac);
  return `${lastSecondPrefix}${m < 10 ? '00' : m < 100 ? '0' : ''}${m}Z`;
}

/** formatIsoMillis written into `buf` at `pos` (24 ASCII bytes); the end, or -1 without room. */
function putIsoMillis(ms: number, buf: Buffer, pos: number): number {
  if (pos + 24 > buf.length) return -1;
  const sec = Math.floor(ms / 1000);
  if (sec !== lastSecond) {
    lastSecond = sec;
    lastSecondPrefix = new Date(sec * 1000).toISOString().slice(0, 20);
  }
  const p = lastSecondPrefix;
  for (let i = 0; i < 20; i++) buf[pos + i] = p.charCodeAt(i);
  const m = Math.floor(ms - sec * 1000);
  buf[pos + 20] = 48 + Math.floor(m / 100);
  buf[pos + 21] = 48 + (Math.floor(m / 10) % 10);
  buf[pos + 22] = 48 + (m % 10);
  buf[pos + 23] = 90; /* Z */
  return pos + 24;
}

function pad(n: number, w: number): string {
  return String(n).padStart(w, '0');
}

/** Compiles a strftime-style START_TIME format (UTC): %Y %m %d %H %M %S %y %j %e %z %Z %s %T %F %b %a %%, %f %3f %6f %9f. */
function compileTimeFormat(fmt: string, where: string): (ms: number) => string {
  const parts: Array<string | ((d: Date, ms: number) => string)> = [];
  const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  let lit = '';
  for (let i = 0; i < fmt.length; i++) {
    const c = fmt[i]!;
    if (c !== '%' || i === fmt.length - 1) {
      lit += c;
      continue;
    }
    let spec = fmt[++i]!;
    let digits = 9;
    if (spec >= '1' && spec <= '9' && fmt[i + 1] === 'f') {
      digits = Number(spec);
      spec = fmt[++i]!;
    }
    let fn: ((d: Date, ms: number) => string) | undefined;
    switch (spec) {
      case 'Y':
        fn = (d) => pad(d.getUTCFullYear(), 4);
        break;
      case 'y':
        fn = (d) => pad(d.getUTCFullYear() % 100, 2);
        break;
      case 'm':
        fn = (d) => pad(d.getUTCMonth() + 1, 2);
        break;
      case 'd':
        fn = (d) => pad(d.getUTCDate(), 2);
        break;
      case 'e':
        fn = (d) => String(d.getUTCDate()).padStart(2, ' ');
        break;
      case 'H':
        fn = (d) => pad(d.getUTCHours(), 2);
        break;
      case 'M':
        fn = (d) => pad(d.getUTCMinutes(), 2);
        break;
      case 'S':
        fn = (d) => pad(d.getUTCSeconds(), 2);
        break;
      case 'j':
        fn = (d) => pad(Math.floor((d.getTime() - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000) + 1, 3);
        break;
      case 'z':
        fn = () => '+0000';
        break;
      case 'Z':
        fn = () => 'UTC';
        break;
      case 's':
        fn = (_d, ms) => String(Math.floor(ms / 1000));
        break;
      case 'T':
        fn = (d) => `${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}`;
        break;
      case 'F':
        fn = (d) => `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}`;
        break;
      case 'b':
        fn = (d) => MONTHS[d.getUTCMonth()]!;
        break;
      case 'a':
        fn = (d) => DAYS[d.getUTCDay()]!;
        break;
      case 'f': {
        const n = digits;
        fn = (_d, ms) => {
          const nanos = pad(Math.floor((((ms % 1000) + 1000) % 1000) * 1e6), 9);
          return nanos.slice(0, n);
        };
        break;
      }
      case '%':
        lit += '%';
        continue;
      default:
        throw new ConfigError(`${where}: unsupported START_TIME specifier %${spec}`);
    }
    if (lit !== '') parts.push(lit);
    lit = '';
    parts.push(fn);
  }
  if (lit !== '') parts.push(lit);
  return (ms) => {
    const d = new Date(ms);
    let out = '';
    for (const p of parts) out += typeof p === 'string' ? p : p(d, ms);
    return out;
  };
}

// ---------------------------------------------------------------------------------------------
// Parsing

const OPERATOR = /%([A-Z][A-Z0-9_]*)(?:\(([^)]*)\))?(?::(\d+))?%/g;

/** Compiles an Envoy format string into segments; throws ConfigError on an unknown operator. */
export function parseFormat(format: string, where = 'access log format'): Segment[] {
  const segs: Segment[] = [];
  let last = 0;
  OPERATOR.lastIndex = 0;
  for (let m = OPERATOR.exec(format); m !== null; m = OPERATOR.exec(format)) {
    if (m.index > last) segs.push(format.slice(last, m.index));
    last = m.index + m[0].length;
    segs.push(compileOperator(m[1]!, m[2], m[3] === undefined ? 0 : Number(m[3]), `${where}: ${m[0]}`));
  }
  if (last < format.length) segs.push(format.slice(last));
  // Merge adjacent literals.
  const out: Segment[] = [];
  for (const s of segs) {
    const prev = out[out.length - 1];
    if (typeof s === 'string' && typeof prev === 'string') out[out.length - 1] = prev + s;
    else out.push(s);
  }
  return out;
}

function compileOperator(name: string, args: string | undefined, maxLen: number, where: string): OperatorSegment {
  switch (name) {
    case 'REQ':
      if (args === undefined) throw new ConfigError(`${where}: REQ needs a header name`);
      return { get: headerOperator(args, where, requestHeaderGetter), put: undefined, maxLen, numeric: false };
    case 'RESP':
      if (args === undefined) throw new ConfigError(`${where}: RESP needs a header name`);
      return { get: headerOperator(args, where, responseHeaderGetter), put: undefined, maxLen, numeric: false };
    case 'TRAILER':
      if (args === undefined) throw new ConfigError(`${where}: TRAILER needs a header name`);
      return { get: headerOperator(args, where, responseHeaderGetter), put: undefined, maxLen, numeric: false };
    case 'DYNAMIC_METADATA': {
      if (args === undefined || args === '') throw new ConfigError(`${where}: DYNAMIC_METADATA needs a namespace`);
      const [ns, ...path] = args.split(':');
      const key = path.join(':');
      return {
        get: (e) => {
          const m = e.dynamicMetadata?.[ns!];
          if (m === undefined) return undefined;
          return key === '' ? JSON.stringify(m) : m[key];
        },
        put: undefined,
        maxLen,
        numeric: false,
      };
    }
    case 'START_TIME': {
      if (args === undefined || args === '') {
        return { get: (e) => formatIsoMillis(e.startTime), put: (e, buf, pos) => putIsoMillis(e.startTime, buf, pos), maxLen, numeric: false };
      }
      const f = compileTimeFormat(args, where);
      return { get: (e) => f(e.startTime), put: undefined, maxLen, numeric: false };
    }
    default: {
      const op = SIMPLE[name];
      if (op === undefined) throw new ConfigError(`${where}: unsupported access-log operator %${name}%`);
      if (args !== undefined) throw new ConfigError(`${where}: %${name}% takes no arguments`);
      return { get: op.get, put: undefined, maxLen, numeric: op.numeric === true };
    }
  }
}

function renderText(segs: readonly Segment[], e: AccessLogEntry): string {
  let out = '';
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i]!;
    if (typeof s === 'string') {
      out += s;
      continue;
    }
    const v = s.get(e);
    if (v === undefined || v === '') out += '-';
    else if (typeof v === 'number') out += v;
    else out += s.maxLen > 0 && v.length > s.maxLen ? v.slice(0, s.maxLen) : v;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Rendering straight into the logger's buffer
//
// The access log was ~14 % of the gateway's CPU under load: a line of ~40 pieces concatenated into
// a string (a rope of young objects), flattened and then UTF-8-encoded into the log's buffer. The
// TEXT renderer below writes each piece where it ends up: literals copied pre-encoded, ASCII
// values copied a character at a time (no call into the encoder for a 10-byte field), integers as
// digits. Nothing is allocated but what the entry's getters return.

/**
 * Writes an entry's whole line into `buf` from `pos` and returns where it ends, or -1 when the
 * line does not fit before buf's end (what was written is then garbage past `pos`).
 */
export type LineWriter = (e: AccessLogEntry, buf: Buffer, pos: number) => number;

/** `s` as UTF-8 at `pos`; the end, or -1 without room. */
function putString(buf: Buffer, pos: number, s: string): number {
  const n = s.length;
  // UTF-8 never takes fewer bytes than UTF-16 units.
  if (pos + n > buf.length) return -1;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) {
      const len = Buffer.byteLength(s);
      if (pos + len > buf.length) return -1;
      return pos + buf.write(s, pos, len, 'utf8');
    }
    buf[pos + i] = c;
  }
  return pos + n;
}

/** A number as renderText prints it; integers as digits without a string. */
function putNumber(buf: Buffer, pos: number, v: number): number {
  if (!(v >= 0 && v <= 0xffffffff && Number.isInteger(v))) return putString(buf, pos, String(v));
  let digits = 1;
  for (let x = v; x >= 10; x = Math.floor(x / 10)) digits++;
  if (pos + digits > buf.length) return -1;
  let x = v;
  for (let i = pos + digits - 1; i >= pos; i--) {
    buf[i] = 48 + (x % 10);
    x = Math.floor(x / 10);
  }
  return pos + digits;
}

const DASH = 45;

/** Copies `bytes` to `pos`: a loop for a few, TypedArray#set (a copy by the engine) for more. */
function putBytes(buf: Buffer, pos: number, bytes: Uint8Array): number {
  const n = bytes.length;
  if (pos + n > buf.length) return -1;
  if (n > 24) buf.set(bytes, pos);
  else for (let i = 0; i < n; i++) buf[pos + i] = bytes[i]!;
  return pos + n;
}

/** Literals up to this many bytes are written by stores in the generated writer; longer ones by putBytes. */
const INLINE_LITERAL = 12;

/**
 * The TEXT writer, generated for the format: straight-line code with one call site per operator.
 * A loop over the operators made every `get` call megamorphic (some twenty getters through one call
 * site), and copied each literal with a call. The generated source holds only indices and byte
 * values, never text of the format; the getters and literals are passed in.
 */
function compileTextWriter(segs: readonly Segment[]): LineWriter {
  // The line is lits[0] ops[0] lits[1] ops[1] … lits[n]: a literal (maybe empty) around every operator.
  const lits: Uint8Array[] = [];
  const ops: OperatorSegment[] = [];
  let lit = '';
  for (const s of segs) {
    if (typeof s === 'string') {
      lit += s;
    } else {
      lits.push(Buffer.from(lit, 'utf8'));
      ops.push(s);
      lit = '';
    }
  }
  lits.push(Buffer.from(lit, 'utf8'));
  const literal = (i: number): string => {
    const b = lits[i]!;
    if (b.length === 0) return '';
    if (b.length > INLINE_LITERAL) return `pos = putBytes(buf, pos, L[${i}]); if (pos < 0) return -1;\n`;
    let code = `if (pos + ${b.length} > buf.length) return -1;\n`;
    for (let k = 0; k < b.length; k++) code += `buf[pos + ${k}] = ${b[k]};\n`;
    return code + `pos += ${b.length};\n`;
  };
  let head = '';
  let body = '';
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    body += literal(i);
    if (op.put !== undefined) {
      head += `const P${i} = O[${i}].put;\n`;
      body += `pos = P${i}(e, buf, pos); if (pos < 0) return -1;\n`;
      continue;
    }
    head += `const G${i} = O[${i}].get;\n`;
    const str = op.maxLen > 0 ? `v.length > ${op.maxLen} ? v.slice(0, ${op.maxLen}) : v` : 'v';
    // A long value seen on the last two lines of this operator (a cluster, route or server name, an
    // address) is copied from its bytes kept from then: one native copy, where the loop costs ~3.5 ns
    // a character. A value new on every line (a request id) only replaces the candidate.
    body +=
      `v = G${i}(e);\n` +
      `if (v === undefined || v === '') { if (pos >= buf.length) return -1; buf[pos++] = ${DASH}; }\n` +
      `else if (typeof v === 'number') { pos = putNumber(buf, pos, v); if (pos < 0) return -1; }\n` +
      `else if (v === K[${i}]) { pos = putBytes(buf, pos, B[${i}]); if (pos < 0) return -1; }\n` +
      `else { p0 = pos; pos = putString(buf, pos, ${str}); if (pos < 0) return -1;\n` +
      `  if (pos - p0 >= ${KEEP_MIN}) { if (v === C[${i}]) { K[${i}] = v; B[${i}] = keep(buf, p0, pos); } else C[${i}] = v; } }\n`;
  }
  body += literal(ops.length);
  const source = `'use strict';\n${head}return function writeLine(e, buf, pos) {\nlet v, p0;\n${body}return pos;\n};`;
  const kept = ops.map(() => '');
  const bytes = ops.map(() => EMPTY_BYTES);
  const candidates = ops.map(() => '');
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- generated from indices and byte values only (above)
  const make = new Function('O', 'L', 'K', 'B', 'C', 'keep', 'putBytes', 'putNumber', 'putString', source) as (
    o: readonly OperatorSegment[],
    l: readonly Uint8Array[],
    k: string[],
    b: Uint8Array[],
    c: string[],
    kp: typeof keep,
    pb: typeof putBytes,
    pn: typeof putNumber,
    ps: typeof putString,
  ) => LineWriter;
  return make(ops, lits, kept, bytes, candidates, keep, putBytes, putNumber, putString);
}

/** Values at least this long are kept as bytes when they repeat (shorter ones cost less to copy than to compare). */
const KEEP_MIN = 16;
const EMPTY_BYTES = new Uint8Array(0);

/** A copy of `buf` from `a` to `b`. */
function keep(buf: Buffer, a: number, b: number): Uint8Array {
  return Uint8Array.prototype.slice.call(buf, a, b);
}

/** A line renderer as a LineWriter: the string is built, then encoded (JSON lines). */
function writerOf(render: (e: AccessLogEntry) => string): LineWriter {
  return (e, buf, pos) => putString(buf, pos, render(e));
}

/** A JSON field's value: a number or null for a lone operator, a string otherwise. */
function renderJsonValue(segs: readonly Segment[], e: AccessLogEntry): string {
  if (segs.length === 1 && typeof segs[0] !== 'string') {
    const s = segs[0]!;
    const v = s.get(e);
    if (v === undefined || v === '') return 'null';
    if (typeof v === 'number') return s.numeric && Number.isFinite(v) ? String(v) : JSON.stringify(String(v));
    return JSON.stringify(s.maxLen > 0 && v.length > s.maxLen ? v.slice(0, s.maxLen) : v);
  }
  return JSON.stringify(renderText(segs, e));
}

/**
 * Compiles the access-log line renderer for the mesh settings: the default TEXT format, Istio's
 * JSON, or a custom format (TEXT: an Envoy format string; JSON: a JSON object of key → format).
 * Every line ends with `\n`. Throws ConfigError for a bad format.
 */
export function compileAccessLogFormat(settings: Pick<AccessLogSettings, 'encoding' | 'format'>): (e: AccessLogEntry) => string {
  return compileAccessLog(settings).render;
}

/**
 * The compiled format both ways: `render` returns the line as a string, `write` puts it straight
 * into a buffer (what the logger uses). Byte for byte the same line. Throws ConfigError for a bad format.
 */
export function compileAccessLog(settings: Pick<AccessLogSettings, 'encoding' | 'format'>): { render: (e: AccessLogEntry) => string; write: LineWriter } {
  const render = compileRenderer(settings);
  if (settings.encoding === 'JSON') return { render: render.fn, write: writerOf(render.fn) };
  return { render: render.fn, write: compileTextWriter(render.segs!) };
}

function compileRenderer(settings: Pick<AccessLogSettings, 'encoding' | 'format'>): { fn: (e: AccessLogEntry) => string; segs?: readonly Segment[] } {
  if (settings.encoding === 'JSON') {
    let fields: Array<readonly [string, string]>;
    if (settings.format === undefined || settings.format.trim() === '') fields = [...ISTIO_DEFAULT_JSON_FORMAT];
    else {
      let obj: unknown;
      try {
        obj = JSON.parse(settings.format);
      } catch (err) {
        throw new ConfigError(`access log format: JSON encoding needs a JSON object of key → format: ${(err as Error).message}`);
      }
      if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
        throw new ConfigError('access log format: JSON encoding needs a JSON object of key → format');
      }
      fields = Object.entries(obj as Record<string, unknown>).map(([k, v]) => {
        if (typeof v !== 'string') throw new ConfigError(`access log format: key ${JSON.stringify(k)}: value must be a format string`);
        return [k, v] as const;
      });
    }
    const compiled = fields.map(([k, f]) => ({ prefix: JSON.stringify(k) + ':', segs: parseFormat(f, `access log format key ${JSON.stringify(k)}`) }));
    return {
      fn: (e) => {
        let out = '{';
        for (let i = 0; i < compiled.length; i++) {
          const c = compiled[i]!;
          if (i > 0) out += ',';
          out += c.prefix;
          out += renderJsonValue(c.segs, e);
        }
        return out + '}\n';
      },
    };
  }
  let format = settings.format === undefined || settings.format === '' ? ISTIO_DEFAULT_TEXT_FORMAT : settings.format;
  // Istio appends the newline a custom format lacks.
  if (!format.endsWith('\n')) format += '\n';
  const segs = parseFormat(format);
  return { fn: (e) => renderText(segs, e), segs };
}
