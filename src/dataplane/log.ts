// Component log: one Envoy-style line per event on stderr (`[2024-11-07T14:35:52.428Z][info] …`).

export type LogLevel = 'debug' | 'info' | 'warning' | 'error';

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warning: 2, error: 3 };
let threshold: LogLevel = (process.env.OUTPOST_LOG_LEVEL as LogLevel | undefined) ?? 'info';
let sink: (line: string) => void = (line) => {
  process.stderr.write(line);
};

export function setLogLevel(level: LogLevel): void {
  threshold = level;
}

export function logLevel(): LogLevel {
  return threshold;
}

export function isLogLevel(s: string): s is LogLevel {
  return s in ORDER;
}

/** Tests capture component logs with this. */
export function setLogSink(fn: (line: string) => void): void {
  sink = fn;
}

export function log(level: LogLevel, message: string): void {
  if (ORDER[level] < ORDER[threshold]) return;
  sink(`[${new Date().toISOString()}][${level}] ${message}\n`);
}
