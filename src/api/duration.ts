// Durations, the one parser: Go's grammar (time.ParseDuration), which Istio's fields, the Gateway
// API's (GEP-2257 is a subset) and kubelet's flags all accept; and ages as kubectl prints them.
// In api/ because validation, the control plane, the CLI printers and the API server's Tables need it.

const UNIT_MS: Readonly<Record<string, number>> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 1e-3, µs: 1e-3, ns: 1e-6 };
const TERM = /(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/y;

/**
 * `1h2m3.5s`, `250ms`, `10s` to milliseconds (rounded); undefined unless the whole text is one or
 * more number+unit terms (h, m, s, ms, us, µs, ns). No sign, no bare number.
 */
export function parseDuration(text: string): number | undefined {
  if (text.length === 0) return undefined;
  TERM.lastIndex = 0;
  let total = 0;
  while (TERM.lastIndex < text.length) {
    const m = TERM.exec(text);
    if (!m) return undefined;
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
  }
  return Math.round(total);
}

export function isDuration(text: string): boolean {
  return parseDuration(text) !== undefined;
}

/** A duration field of a spec: a duration string, or a number of seconds; undefined when absent or malformed. */
export function durationMs(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value * 1000 : undefined;
  return typeof value === 'string' ? parseDuration(value) : undefined;
}

// ---- ages, as kubectl prints them (its HumanDuration): 45s, 3m33s, 17m, 5h12m, 3d4h, 120d, 2y30d.

export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const dy = Math.floor(hours / 24) % 365;
    return dy === 0 ? `${Math.floor(hours / 24 / 365)}y` : `${Math.floor(hours / 24 / 365)}y${dy}d`;
  }
  return `${Math.floor(hours / 24 / 365)}y`;
}

/** Age of a timestamp now; `<unknown>` when absent, as kubectl prints. */
export function ageOf(timestamp: string | undefined, now = Date.now()): string {
  if (!timestamp) return '<unknown>';
  const t = Date.parse(timestamp);
  if (Number.isNaN(t)) return '<unknown>';
  return humanDuration(now - t);
}
