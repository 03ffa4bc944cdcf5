// Reads Prometheus text exposition (what a proxy's /stats/prometheus serves) into samples, and
// estimates quantiles from histogram buckets the way PromQL's histogram_quantile does.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/g;

function unescape(v: string): string {
  return v.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c));
}

/** Samples of the metrics whose names pass `want` (comments and other metrics are skipped). */
export function parsePrometheus(text: string, want: (name: string) => boolean = () => true): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m || !want(m[1]!)) continue;
    const labels: Record<string, string> = {};
    if (m[2]) for (const l of m[2].matchAll(LABEL)) labels[l[1]!] = unescape(l[2]!);
    const value = m[3] === '+Inf' ? Infinity : Number(m[3]);
    if (Number.isNaN(value)) continue;
    out.push({ name: m[1]!, labels, value });
  }
  return out;
}

/** Cumulative buckets by upper bound (`le`), +Inf last. */
export type Buckets = Map<number, number>;

export function addBuckets(into: Buckets, le: number, count: number): void {
  into.set(le, (into.get(le) ?? 0) + count);
}

/**
 * The q-quantile of cumulative buckets: linear interpolation inside the bucket that holds the
 * rank (histogram_quantile); the highest finite bound when the rank falls in +Inf. Undefined
 * when there are no observations.
 */
export function histogramQuantile(q: number, buckets: Buckets): number | undefined {
  const sorted = [...buckets.entries()].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, count] of sorted) {
    if (count >= rank) {
      if (le === Infinity) return prevLe;
      if (count === prevCount) return le;
      return prevLe + (le - prevLe) * ((rank - prevCount) / (count - prevCount));
    }
    prevLe = le;
    prevCount = count;
  }
  return prevLe;
}
