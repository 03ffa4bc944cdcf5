// Istio's default TEXT access-log lines (EnvoyTextLogFormat) read back into fields, and a tail
// that reads only what was appended to a log file since the last read (and starts over after a
// rotation).
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

export interface AccessLogLine {
  /** Epoch ms of %START_TIME%. */
  time: number;
  method: string;
  path: string;
  protocol: string;
  code: number;
  flags: string;
  details: string;
  authority: string;
  upstreamHost: string;
  cluster: string;
  sni: string;
  route: string;
  durationMs: number;
  /** The line as the proxy wrote it. */
  line: string;
}

// [START] "METHOD PATH PROTO" CODE FLAGS DETAILS TERM "UTFR" RX TX DUR UST "XFF" "UA" "REQID" "AUTHORITY" "UPSTREAM" CLUSTER ULOCAL DLOCAL DREMOTE SNI ROUTE
const ISTIO_TEXT =
  /^\[(\S+)\] "(\S+) (\S+) (\S+)" (\d+) (\S+) (\S+) (\S+) "[^"]*" \d+ \d+ (\d+) \S+ "[^"]*" "[^"]*" "[^"]*" "([^"]*)" "([^"]*)" (\S+) \S+ \S+ \S+ (\S+) (\S+)$/;

export function parseAccessLogLine(line: string): AccessLogLine | undefined {
  const m = ISTIO_TEXT.exec(line);
  if (!m) return undefined;
  const time = Date.parse(m[1]!);
  if (Number.isNaN(time)) return undefined;
  return {
    time,
    method: m[2]!,
    path: m[3]!,
    protocol: m[4]!,
    code: Number(m[5]),
    flags: m[6]!,
    details: m[7]!,
    durationMs: Number(m[9]),
    authority: m[10]!,
    upstreamHost: m[11]!,
    cluster: m[12]!,
    sni: m[13]!,
    route: m[14]!,
    line,
  };
}

export type Problem = 'blocked' | 'denied' | 'failed';

/**
 * Why a request shows in the "latest problems" list: blocked by the outbound policy
 * (BlackHoleCluster, the block_all route), denied by authorization (403 RBAC), or failed (5xx, no
 * response, or a response flag); undefined for a request that went well.
 */
export function problemOf(l: AccessLogLine): Problem | undefined {
  if (l.cluster === 'BlackHoleCluster' || l.route === 'block_all') return 'blocked';
  if (l.code === 403 && l.details.startsWith('rbac_access_denied')) return 'denied';
  if (l.code >= 500 || (l.code === 0 && l.flags !== '-') || (l.flags !== '-' && l.flags !== '')) return 'failed';
  return undefined;
}

/** Reads what was appended to a file since the last call; starts over when the file shrank (rotated). */
export class LogTail {
  #offset = -1;
  #partial = '';

  constructor(
    readonly file: string,
    private readonly maxBytes = 1 << 20,
  ) {}

  /** Complete new lines. On the first call, only the last `maxBytes` of the file are read. */
  read(): string[] {
    let fd: number;
    try {
      fd = openSync(this.file, 'r');
    } catch {
      return [];
    }
    try {
      const size = fstatSync(fd).size;
      if (this.#offset < 0 || size < this.#offset) {
        this.#offset = Math.max(0, size - this.maxBytes);
        this.#partial = '';
      }
      const want = Math.min(size - this.#offset, this.maxBytes);
      if (want <= 0) return [];
      const buf = Buffer.alloc(want);
      const n = readSync(fd, buf, 0, want, this.#offset);
      this.#offset += n;
      const text = this.#partial + buf.subarray(0, n).toString('utf8');
      const lines = text.split('\n');
      this.#partial = lines.pop() ?? '';
      return lines.filter((l) => l.length > 0);
    } finally {
      closeSync(fd);
    }
  }
}
