// Cutting log text by lines, as `kubectl logs --tail` does.

/** The last `n` lines of a text (n < 0: all), as `kubectl logs --tail` cuts them. */
export function lastLines(text: string, n: number): string {
  if (n < 0) return text;
  if (n === 0) return '';
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  if (body === '') return '';
  const lines = body.split('\n');
  return lines.slice(-n).join('\n') + '\n';
}
