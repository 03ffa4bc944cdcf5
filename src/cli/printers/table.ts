// Plain tables as kubectl and istioctl print them: upper-case headers, columns padded to the
// widest cell plus three spaces, no borders.

export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[], padding = 3): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]! + padding)))
      .join('')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}
