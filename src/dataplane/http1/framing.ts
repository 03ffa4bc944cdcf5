// HTTP/1.1 message framing checks (RFC 9112 §6) that llhttp leaves to us even in strict mode:
// it calls back with a request head before rejecting its Transfer-Encoding, accepts several Host
// headers and codings before `chunked`, and frames HTTP/1.0 messages with Transfer-Encoding.
// Each check runs only when the header it looks at is there: the common request pays a typeof.
import { RESPONSE_CODE_DETAILS as D } from '../telemetry/flags.js';
import type { HeaderMap } from '../routing/index.js';
import type { ParseError } from './llhttp.js';

/** What the codec answers for a malformed request: the status and Envoy's response code details. */
export interface CodecReject {
  readonly status: 400 | 408 | 431 | 501;
  readonly details: string;
}

const BAD: CodecReject = { status: 400, details: D.HTTP1_CODEC_ERROR };
const TE_BAD: CodecReject = { status: 400, details: D.HTTP1_INVALID_TRANSFER_ENCODING };
const TE_UNSUPPORTED: CodecReject = { status: 501, details: D.HTTP1_INVALID_TRANSFER_ENCODING };
const CL_AND_TE: CodecReject = { status: 400, details: D.HTTP1_CONTENT_LENGTH_AND_CHUNKED };
const TOO_LARGE: CodecReject = { status: 431, details: D.HEADERS_TOO_LARGE };

/**
 * A request body the codec stopped parsing (bad chunk framing): the Exchange answers it with
 * `reject` when no response has started, as Envoy's codec does, instead of a reset.
 */
export class DownstreamCodecError extends Error {
  constructor(readonly reject: CodecReject) {
    super(`malformed request body (${reject.details})`);
    this.name = 'DownstreamCodecError';
  }
}

/** The transfer codings of the IANA registry (RFC 9112 §7); any other is unknown (501). */
const KNOWN_CODINGS = new Set(['chunked', 'compress', 'deflate', 'gzip', 'x-compress', 'x-gzip']);

/**
 * Why a Transfer-Encoding field value (all its lines joined) cannot frame a message, or undefined
 * when it is exactly `chunked`. As Envoy, only `chunked` is decoded: a final coding other than
 * chunked is a framing error (400); an unknown coding, or codings before chunked that a proxy
 * would have to apply, are not implemented (501, RFC 9112 §6.1).
 */
export function transferEncodingReject(te: string | readonly string[]): CodecReject | undefined {
  const v = typeof te === 'string' ? te : te.join(',');
  if (v.length === 7 && v.toLowerCase() === 'chunked') return undefined;
  const codings = v.split(',').map((c) => c.split(';')[0]!.trim().toLowerCase());
  if (codings.some((c) => c !== '' && !KNOWN_CODINGS.has(c))) return TE_UNSUPPORTED;
  if (codings[codings.length - 1] !== 'chunked') return TE_BAD;
  return TE_UNSUPPORTED;
}

/**
 * A request head's framing problems that llhttp lets through: several Host lines (RFC 9112
 * §3.2: 400), a Transfer-Encoding that is not exactly chunked, or any Transfer-Encoding in an
 * HTTP/1.0 request (§6.1: its framing cannot be trusted).
 */
export function requestHeadReject(headers: HeaderMap, http10: boolean): CodecReject | undefined {
  const host = headers['host'];
  if (host !== undefined && typeof host !== 'string') return BAD;
  const te = headers['transfer-encoding'];
  if (te === undefined) return undefined;
  if (http10) return TE_BAD;
  return transferEncodingReject(te);
}

/**
 * requestHeadReject for a request node:http parsed (HTTP/1.1 over TLS): from its raw [name,
 * value, …] list, since node keeps only the first Host and hands the head over before llhttp
 * rejects a Transfer-Encoding.
 */
export function rawRequestHeadReject(raw: readonly string[], http10: boolean): CodecReject | undefined {
  let hosts = 0;
  let te: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host') hosts++;
    else if (isTransferEncodingName(name)) te = te === undefined ? raw[i + 1]! : `${te},${raw[i + 1]!}`;
  }
  if (hosts > 1) return BAD;
  if (te === undefined) return undefined;
  if (http10) return TE_BAD;
  return transferEncodingReject(te);
}

/** The answer for an error llhttp returned from parsing a request. */
export function parseErrorReject(e: ParseError): CodecReject {
  if (e.code === 'HPE_HEADER_OVERFLOW') return TOO_LARGE;
  // llhttp's reasons: "Content-Length can't be present with Transfer-Encoding" and the reverse.
  if (e.reason !== undefined && e.reason.includes("can't be present with")) return CL_AND_TE;
  if (e.code === 'HPE_INVALID_TRANSFER_ENCODING') return TE_BAD;
  return BAD;
}

/**
 * For a response head (raw [name, value, …]): a reason it cannot be relayed, as Envoy's codec
 * refuses it (then 502 UPE): a Transfer-Encoding other than `chunked` (llhttp would read such a
 * body up to the connection's close, RFC 9112 §6.3), or one in an HTTP/1.0 response. Several
 * Content-Lengths and Content-Length with Transfer-Encoding are llhttp's own errors.
 */
export function responseHeadReject(raw: readonly string[], http10: boolean): string | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    if (!isTransferEncodingName(raw[i]!)) continue;
    if (http10) return 'transfer-encoding in an HTTP/1.0 response';
    // Several Transfer-Encoding lines are llhttp's error unless each is a coding before chunked.
    if (transferEncodingReject(raw[i + 1]!) !== undefined) return `unsupported transfer-encoding ${JSON.stringify(raw[i + 1])}`;
  }
  return undefined;
}

const TE_NAME = 'transfer-encoding';

/** Case-insensitive `transfer-encoding`, without allocating. */
function isTransferEncodingName(name: string): boolean {
  if (name.length !== 17) return false;
  for (let i = 0; i < 17; i++) {
    const c = name.charCodeAt(i);
    if ((c >= 65 && c <= 90 ? c + 32 : c) !== TE_NAME.charCodeAt(i)) return false;
  }
  return true;
}

/** An absolute-form request target (`http://host:port/path?q`) split into its parts. */
export interface AbsoluteForm {
  /** host[:port], without userinfo. */
  readonly authority: string;
  /** The origin-form path (`/` when the URL has none). */
  readonly path: string;
  readonly https: boolean;
}

/** The last target absoluteForm split: a forward-proxy request's target is asked for by the codec, the listener and the exchange in turn. */
let lastUrl = '';
let lastForm: AbsoluteForm | undefined;

/** The parts of an absolute-form target; undefined for origin-form (`/…`), `*` and others. */
export function absoluteForm(url: string): AbsoluteForm | undefined {
  if (url === lastUrl) return lastForm;
  const form = splitAbsoluteForm(url);
  lastUrl = url;
  lastForm = form;
  return form;
}

function splitAbsoluteForm(url: string): AbsoluteForm | undefined {
  const c = url.charCodeAt(0);
  if (c !== 104 && c !== 72 /* h, H */) return undefined;
  const lower = url.length > 8 ? url.slice(0, 8).toLowerCase() : url.toLowerCase();
  const scheme = lower.startsWith('http://') ? 7 : lower.startsWith('https://') ? 8 : 0;
  if (scheme === 0) return undefined;
  let end = url.length;
  for (let i = scheme; i < url.length; i++) {
    const ch = url.charCodeAt(i);
    if (ch === 47 /* / */ || ch === 63 /* ? */ || ch === 35 /* # */) {
      end = i;
      break;
    }
  }
  let authority = url.slice(scheme, end);
  const at = authority.lastIndexOf('@');
  if (at >= 0) authority = authority.slice(at + 1);
  const rest = url.slice(end);
  const path = rest === '' ? '/' : rest.charCodeAt(0) === 47 ? rest : '/' + rest;
  return { authority, path, https: scheme === 8 };
}
