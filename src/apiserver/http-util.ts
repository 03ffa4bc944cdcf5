// Small HTTP helpers the API server shares: reading bodies, writing JSON and Status responses.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { findInvalidUtf8, findJsonTooDeep, formatBytes, MAX_INPUT_BYTES, MAX_NESTING_DEPTH } from '../api/input-limits.js';
import { HttpError, type Status } from './status.js';

function tooLarge(limit: number): HttpError {
  return new HttpError(
    413,
    'RequestEntityTooLarge',
    `Request entity too large: limit is ${limit} bytes (${formatBytes(limit)}); send fewer objects per request`,
  );
}

/** The body as text: valid UTF-8 or a 400 naming the first bad byte. */
export async function readBody(req: IncomingMessage, limit = MAX_INPUT_BYTES): Promise<string> {
  return bodyText(await readRawBody(req, limit));
}

export function bodyText(raw: Buffer): string {
  const bad = findInvalidUtf8(raw);
  if (bad) {
    throw new HttpError(
      400,
      'BadRequest',
      `the request body is not valid UTF-8: byte 0x${bad.byte.toString(16).padStart(2, '0')} at offset ${bad.offset} (line ${bad.line}, column ${bad.column})`,
    );
  }
  return raw.toString('utf8');
}

export async function readRawBody(req: IncomingMessage, limit = MAX_INPUT_BYTES): Promise<Buffer> {
  // Refuse a declared size before reading any of it (the server closes such a connection after the 413).
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') throw new HttpError(400, 'BadRequest', 'the request body is empty');
  // JSON.parse copes with any depth, but the code after it recurses: refuse, and say where.
  const deep = findJsonTooDeep(text);
  if (deep) {
    throw new HttpError(
      400,
      'BadRequest',
      `the request body nests deeper than ${MAX_NESTING_DEPTH} levels at line ${deep.line}, column ${deep.column}, under ${deep.path}`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, 'BadRequest', `the request body is not valid JSON: ${(err as Error).message}`);
  }
}

export function sendJson(res: ServerResponse, code: number, body: unknown, contentType = 'application/json', headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-cache, private', ...headers });
  res.end(text);
}

export function sendStatus(res: ServerResponse, err: HttpError): void {
  const status: Status = err.toStatus();
  sendJson(res, err.code, status);
}

/** `Warning: 299 - "text"` headers, which kubectl prints as `Warning: text`. */
export function warningHeaders(warnings: readonly string[]): string[] {
  return warnings.map((w) => `299 - ${JSON.stringify(w.replace(/[\r\n]+/g, ' '))}`);
}
