// Small HTTP helpers the API server shares: reading bodies, writing JSON and Status responses.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError, type Status } from './status.js';

const MAX_BODY_BYTES = 32 * 1024 * 1024;

export async function readBody(req: IncomingMessage): Promise<string> {
  return (await readRawBody(req)).toString('utf8');
}

export async function readRawBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'RequestEntityTooLarge', `the request body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') throw new HttpError(400, 'BadRequest', 'the request body is empty');
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
