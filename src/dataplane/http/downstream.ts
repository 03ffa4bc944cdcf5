// The contract between a listener's HTTP codec and the Exchange: one request received and its
// response, whatever the wire (outpost's own HTTP/1.x and HTTP/2 codecs, plain or TLS).
// The Exchange reads and writes only through this, so the request path carries no
// IncomingMessage, ServerResponse or stream objects.
import type { Socket } from 'node:net';
import type { BodySink, BodySource, HeaderMap } from './message.js';

export interface Downstream extends BodySource {
  /** Upper-case method. */
  readonly method: string;
  /** The request target as received (origin-form path, absolute-form URL, or authority for CONNECT). */
  readonly url: string;
  /** Request headers by lower-case name; a repeated header is an array. No pseudo-headers. */
  readonly headers: HeaderMap;
  /** `:authority` (h2) or Host (h1); '' when absent. */
  readonly authority: string;
  /** As logged in %PROTOCOL%. */
  readonly protocol: 'HTTP/1.0' | 'HTTP/1.1' | 'HTTP/2';
  /** An HTTP/1 request line with a major version other than 1 (answered 400 by the Exchange). */
  readonly badVersion: boolean;
  readonly isH2: boolean;
  /** The connection is TLS (the request's scheme is https). */
  readonly encrypted: boolean;
  /** The connection's socket (the TCP or TLS socket), for addresses; null when already gone. */
  readonly socket: Socket | null;

  // ---- request body

  /** The request announced a body (content-length > 0, chunked, or an h2 stream not ended with the headers). */
  readonly hasBody: boolean;
  /** The whole request (body included) has been received. */
  readonly requestComplete: boolean;
  /** Starts delivering the body to `sink` (once). Chunks already received are delivered first. */
  readBody(sink: BodySink): void;
  pauseBody(): void;
  resumeBody(): void;
  /** Reads and drops the rest of the body (after a local reply), so the connection can be reused. */
  discardBody(): void;

  // ---- response

  readonly headersSent: boolean;
  /** end() was called: the whole response has been handed to the connection. */
  readonly ended: boolean;
  /**
   * Sends the status line and headers (lower-case names; arrays become repeated lines). Hop-by-hop
   * headers are the caller's business; framing (content-length or chunked, connection) is the
   * codec's. Throws, sending nothing, when a header name or value cannot be sent.
   */
  writeHead(status: number, headers: HeaderMap): void;
  /** Writes body bytes; false when the connection's buffer is full (wait for onDrain). */
  write(chunk: Buffer): boolean;
  /** Calls `cb` once when the buffer has drained after write returned false (or the stream closed). */
  onDrain(cb: () => void): void;
  /** Ends the response, with a last chunk and trailers when given (trailers only where the framing allows). */
  end(chunk?: Buffer, trailers?: HeaderMap): void;
  /** Aborts the response: HTTP/1 closes the connection, HTTP/2 resets the stream (INTERNAL_ERROR). */
  reset(): void;
  /**
   * Calls `cb` once when this request is over: the response was ended and handed over, or the
   * connection/stream closed before that. The Exchange logs the request from it.
   */
  onClose(cb: () => void): void;
}
