// Envoy's response flags (short names, as the access log prints them) and response code details.

export const ResponseFlag = {
  /** Downstream connection termination. */
  DC: 'DC',
  /** Failed local health check. */
  LH: 'LH',
  /** No healthy upstream host. */
  UH: 'UH',
  /** Upstream request timeout. */
  UT: 'UT',
  /** Connection local reset. */
  LR: 'LR',
  /** Upstream remote reset. */
  UR: 'UR',
  /** Upstream connection failure. */
  UF: 'UF',
  /** Upstream connection termination. */
  UC: 'UC',
  /** Upstream overflow (circuit breaking). */
  UO: 'UO',
  /** Upstream retry limit exceeded. */
  URX: 'URX',
  /** No route found. */
  NR: 'NR',
  /** Delay injected by fault injection. */
  DI: 'DI',
  /** Aborted by fault injection. */
  FI: 'FI',
  /** Rate limited. */
  RL: 'RL',
  /** Unauthorized external service. */
  UAEX: 'UAEX',
  /** Rate limit service error. */
  RLSE: 'RLSE',
  /** Stream idle timeout. */
  SI: 'SI',
  /** Invalid Envoy request headers. */
  IH: 'IH',
  /** Downstream protocol error. */
  DPE: 'DPE',
  /** Upstream max stream duration reached. */
  UMSDR: 'UMSDR',
  /** Response from cache filter. */
  RFCF: 'RFCF',
  /** No filter config found. */
  NFCF: 'NFCF',
  /** Duration timeout. */
  DT: 'DT',
  /** Upstream protocol error. */
  UPE: 'UPE',
  /** No cluster found. */
  NC: 'NC',
  /** Overload manager terminated. */
  OM: 'OM',
  /** DNS resolution failed. */
  DF: 'DF',
  /** Drop overload. */
  DO: 'DO',
} as const;

export type ResponseFlagName = (typeof ResponseFlag)[keyof typeof ResponseFlag];

/** Envoy's order for printing several flags (e.g. `UF,URX`). */
const FLAG_ORDER: readonly ResponseFlagName[] = [
  'LH',
  'UH',
  'UT',
  'LR',
  'UR',
  'UF',
  'UC',
  'UO',
  'NR',
  'DI',
  'FI',
  'RL',
  'UAEX',
  'RLSE',
  'DC',
  'URX',
  'SI',
  'IH',
  'DPE',
  'UMSDR',
  'RFCF',
  'NFCF',
  'DT',
  'UPE',
  'NC',
  'OM',
  'DF',
  'DO',
];
const FLAG_RANK = new Map<string, number>(FLAG_ORDER.map((f, i) => [f, i]));

/** `-` for none, else the flags joined by `,` in Envoy's order, without duplicates. */
export function formatResponseFlags(flags: readonly string[] | undefined): string {
  if (flags === undefined || flags.length === 0) return '-';
  if (flags.length === 1) return flags[0]!;
  const uniq = [...new Set(flags)];
  uniq.sort((a, b) => (FLAG_RANK.get(a) ?? 99) - (FLAG_RANK.get(b) ?? 99));
  return uniq.join(',');
}

/** Adds a flag to a rendered flags string (`-`, `UF`, …). */
export function addResponseFlag(current: string, flag: string): string {
  if (current === '-' || current === '') return flag;
  const parts = current.split(',');
  if (parts.includes(flag)) return current;
  parts.push(flag);
  return formatResponseFlags(parts);
}

/** Envoy's local-reply bodies (HTTP requests, and a CONNECT answered before its tunnel exists). */
export const LOCAL_REPLY_BODY = {
  NO_HEALTHY_UPSTREAM: 'no healthy upstream',
  TIMEOUT: 'upstream request timeout',
  FAULT: 'fault filter abort',
  /** Followed by the reset reason: `connection failure`, `dns resolution failure` … */
  RESET_PREFIX: 'upstream connect error or disconnect/reset before headers. reset reason: ',
} as const;

/** %RESPONSE_CODE_DETAILS% values as Envoy sets them. */
export const RESPONSE_CODE_DETAILS = {
  VIA_UPSTREAM: 'via_upstream',
  ROUTE_NOT_FOUND: 'route_not_found',
  CLUSTER_NOT_FOUND: 'cluster_not_found',
  NO_HEALTHY_UPSTREAM: 'no_healthy_upstream',
  DIRECT_RESPONSE: 'direct_response',
  RESPONSE_TIMEOUT: 'response_timeout',
  UPSTREAM_PER_TRY_TIMEOUT: 'upstream_per_try_timeout',
  UPSTREAM_CONNECTION_FAILURE: 'upstream_reset_before_response_started{connection_failure}',
  UPSTREAM_CONNECTION_TERMINATION: 'upstream_reset_before_response_started{connection_termination}',
  UPSTREAM_REMOTE_RESET: 'upstream_reset_before_response_started{remote_reset}',
  UPSTREAM_OVERFLOW: 'upstream_reset_before_response_started{overflow}',
  UPSTREAM_PROTOCOL_ERROR: 'upstream_reset_before_response_started{protocol_error}',
  UPSTREAM_RESET_AFTER_RESPONSE_STARTED: 'upstream_reset_after_response_started{remote_reset}',
  UPSTREAM_RESET_AFTER_RESPONSE_STARTED_PROTOCOL_ERROR: 'upstream_reset_after_response_started{protocol_error}',
  /** Connection-pool overflow (maxConnections/http1MaxPendingRequests reached). */
  OVERFLOW: 'overflow',
  UPSTREAM_MAX_STREAM_DURATION_REACHED: 'upstream_max_stream_duration_reached',
  FAULT_ABORT: 'fault_filter_abort',
  DNS_RESOLUTION_FAILED: 'dns_resolution_failed',
  DOWNSTREAM_REMOTE_DISCONNECT: 'downstream_remote_disconnect',
  DOWNSTREAM_LOCAL_DISCONNECT: 'downstream_local_disconnect',
  /** Request headers took too long (request_headers_timeout). */
  REQUEST_HEADERS_TIMEOUT: 'request_header_timeout',
  REQUEST_OVERALL_TIMEOUT: 'request_overall_timeout',
  STREAM_IDLE_TIMEOUT: 'stream_idle_timeout',
  /** 431: headers larger than max_request_headers_kb. */
  HEADERS_TOO_LARGE: 'http1.headers_too_large',
  /** 400 from the HTTP/1 codec; Envoy's form is `http1.codec_error` with the parser's reason. */
  HTTP1_CODEC_ERROR: 'http1.codec_error',
  HTTP1_INVALID_METHOD: 'http1.invalid_method',
  /** A Transfer-Encoding other than `chunked` (400 or 501). */
  HTTP1_INVALID_TRANSFER_ENCODING: 'http1.invalid_transfer_encoding',
  /** Content-Length and Transfer-Encoding in one request. */
  HTTP1_CONTENT_LENGTH_AND_CHUNKED: 'http1.content_length_and_chunked_not_allowed',
  HTTP1_INVALID_URL: 'http1.invalid_url',
  HTTP2_CODEC_ERROR: 'http2.codec_error',
  MISSING_HOST_HEADER: 'missing_host_header',
  INVALID_AUTHORITY: 'http.invalid_authority',
  /** Upstream response too large or malformed. */
  UPSTREAM_RESPONSE_HEADERS_INVALID: 'upstream_reset_before_response_started{protocol_error}',
  /** TCP proxy / filter chain not found for a connection. */
  FILTER_CHAIN_NOT_FOUND: 'filter_chain_not_found',
  /** Downstream closed before the upstream answered. */
  DOWNSTREAM_RESET: 'downstream_remote_disconnect',
} as const;
