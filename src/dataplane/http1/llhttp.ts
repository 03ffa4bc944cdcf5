// Node's own HTTP/1 parser (llhttp, compiled into node) used directly on raw sockets, without
// node:http's IncomingMessage/ServerResponse layer: the request path of a proxy needs the parsed
// head as a flat array and the body bytes, nothing more. The binding is node's internal API
// (`_http_common`), loaded and checked in ../node-internals.ts with the request path's other internals.
import { requireHttpParser } from '../node-internals.js';

/** The callbacks llhttp calls while `execute` runs (indices into the parser object). */
export interface LlhttpParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  /** Parses `data`; returns the bytes consumed or an Error with `code` (HPE_…), `bytesParsed`, `reason`. */
  execute(data: Buffer): number | ParseError;
  /** Signals EOF (for close-delimited bodies); returns an Error when the message was incomplete. */
  finish(): undefined | ParseError;
  /** Frees the native parser's per-message state; call when the connection closes. */
  close(): void;
  free(): void;
  remove(): void;
  pause(): void;
  resume(): void;
  /**
   * Reads the stream handle (a socket's `_handle`) directly in C++: no JS Buffer and no 'data'
   * event per read; results come through kOnExecute(ret). node:http's server does the same.
   */
  consume(handle: object): void;
  /** Gives the handle's reads back to the socket. */
  unconsume(): void;
  /** A copy of the bytes of the read being parsed (in consume mode). */
  getCurrentBuffer(): Buffer;
  [key: number]: unknown;
}

export interface ParseError extends Error {
  code: string;
  bytesParsed: number;
  reason?: string;
}

interface ParserClass {
  new (): LlhttpParser;
  readonly REQUEST: number;
  readonly RESPONSE: number;
  readonly kOnMessageBegin: number;
  readonly kOnHeaders: number;
  readonly kOnHeadersComplete: number;
  readonly kOnBody: number;
  readonly kOnMessageComplete: number;
  readonly kOnExecute: number;
  readonly kLenientNone: number;
}

const common = requireHttpParser() as unknown as { HTTPParser: ParserClass; methods: string[] };

export const HTTPParser: ParserClass = common.HTTPParser;
/** llhttp's method numbers → names (`methods[n]`). */
export const METHODS: readonly string[] = common.methods;

/**
 * onHeadersComplete(versionMajor, versionMinor, rawHeaders, method, url, statusCode,
 * statusMessage, upgrade, shouldKeepAlive): rawHeaders is [name, value, name, value, …] with the
 * names as received. Return 1 from it to tell llhttp the message has no body (a response to HEAD).
 * Headers longer than one `execute` chunk arrive first through kOnHeaders (then rawHeaders and url
 * are undefined in onHeadersComplete): collect them there.
 */
export type OnHeadersComplete = (
  versionMajor: number,
  versionMinor: number,
  rawHeaders: string[] | undefined,
  method: number,
  url: string | undefined,
  statusCode: number,
  statusMessage: string | undefined,
  upgrade: boolean,
  shouldKeepAlive: boolean,
) => number | void;

/** Called at the first byte of each message. */
export const kOnMessageBegin = HTTPParser.kOnMessageBegin;
export const kOnHeaders = HTTPParser.kOnHeaders;
export const kOnHeadersComplete = HTTPParser.kOnHeadersComplete;
export const kOnBody = HTTPParser.kOnBody;
export const kOnMessageComplete = HTTPParser.kOnMessageComplete;
/** In consume mode: called after each read with execute's result (bytes parsed, or the error). */
export const kOnExecute = HTTPParser.kOnExecute;

/** A parser for requests (`HTTPParser.REQUEST`) or responses, limited to `maxHeaderSize` bytes of head. */
export function newParser(type: number, maxHeaderSize: number): LlhttpParser {
  const p = new HTTPParser();
  p.initialize(type, {}, maxHeaderSize, HTTPParser.kLenientNone);
  return p;
}
