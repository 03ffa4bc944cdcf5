// The distribution protocol, shaped like xDS over one HTTP/2 stream of newline-delimited JSON messages.
//
//   proxy → control plane: subscribe{identity}, then ack{version, nonce} or nack{nonce, error} per config
//   control plane → proxy: config{version, nonce, config} whenever the proxy's config changes
//
// A stale ack/nack (an older nonce) is ignored, as in xDS.
import type { ProxyConfig, ProxyIdentity } from '../types.js';

export const DISCOVERY_PATH = '/v1/discovery';
export const PROXY_STATUS_PATH = '/v1/proxy-status';
export const NDJSON = 'application/x-ndjson';

export type ClientMessage =
  | { type: 'subscribe'; identity: ProxyIdentity }
  | { type: 'ack'; version: string; nonce: string }
  | { type: 'nack'; version?: string; nonce: string; error: string };

export interface ConfigMessage {
  type: 'config';
  version: string;
  nonce: string;
  config: ProxyConfig;
}

export type ServerMessage = ConfigMessage;

/** Splits a byte stream into JSON lines; a bad line is reported, not thrown. */
export class LineDecoder {
  private buffer = '';

  constructor(
    private readonly onMessage: (msg: unknown) => void,
    private readonly onError: (err: Error) => void,
  ) {}

  push(chunk: Buffer | string): void {
    this.buffer += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    let nl = this.buffer.indexOf('\n');
    while (nl >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (line) {
        let msg: unknown;
        try {
          msg = JSON.parse(line);
        } catch (err) {
          this.onError(new Error(`malformed message: ${(err as Error).message}`));
          nl = this.buffer.indexOf('\n');
          continue;
        }
        this.onMessage(msg);
      }
      nl = this.buffer.indexOf('\n');
    }
  }
}

export function encode(msg: ClientMessage | ServerMessage): string {
  return `${JSON.stringify(msg)}\n`;
}

/** One row of `outpost proxy-status`. */
export interface ProxyStatusRow {
  id: string;
  role: string;
  namespace: string;
  workload: string;
  /** Version last sent ('' before the first). */
  sentVersion: string;
  /** Version last ACKed ('' before the first). */
  ackedVersion: string;
  nackError?: string;
  connectedAt: string;
  /** The proxy has ACKed the config the control plane holds for it now. */
  synced: boolean;
}

export function isValidIdentity(v: unknown): v is ProxyIdentity {
  const i = v as ProxyIdentity;
  return (
    Boolean(i) &&
    typeof i.id === 'string' &&
    i.id.length > 0 &&
    (i.role === 'sidecar' || i.role === 'router') &&
    typeof i.namespace === 'string' &&
    typeof i.workload === 'string' &&
    typeof i.labels === 'object' &&
    i.labels !== null
  );
}
