// The JSONPath subset kubectl users write: `{.items[0].metadata.name}`, `{.spec.hosts[*]}`,
// `{.status.conditions[?(@.type=="Ready")].status}`, `{range .items[*]}{.metadata.name}{"\n"}{end}`.
// In api/ because both the CLI (-o jsonpath) and the API server (printer columns) evaluate it.

type Step =
  | { kind: 'field'; name: string }
  | { kind: 'index'; index: number }
  | { kind: 'all' }
  | { kind: 'filter'; path: Step[]; op: '==' | '!='; value: string | number | boolean }
  | { kind: 'exists'; path: Step[] };

export class JsonPathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JsonPathError';
  }
}

/** Parses `.a.b[0][*]['x'][?(@.t=="v")]` (a leading `$` or `@` is allowed). */
export function parsePath(expr: string): Step[] {
  const steps: Step[] = [];
  let i = 0;
  const s = expr.trim();
  if (s.startsWith('$') || s.startsWith('@')) i = 1;
  while (i < s.length) {
    const c = s[i];
    if (c === '.') {
      i++;
      const m = /^[A-Za-z0-9_\-/]+/.exec(s.slice(i));
      if (!m) {
        if (i >= s.length) break;
        throw new JsonPathError(`bad field at position ${i} of "${expr}"`);
      }
      steps.push({ kind: 'field', name: m[0] });
      i += m[0].length;
    } else if (c === '[') {
      const end = findClose(s, i);
      const inner = s.slice(i + 1, end).trim();
      i = end + 1;
      if (inner === '*') steps.push({ kind: 'all' });
      else if (/^-?\d+$/.test(inner)) steps.push({ kind: 'index', index: Number(inner) });
      else if (/^'.*'$|^".*"$/.test(inner)) steps.push({ kind: 'field', name: inner.slice(1, -1) });
      else if (inner.startsWith('?(') && inner.endsWith(')')) {
        const body = inner.slice(2, -1).trim();
        const m = /^(@[^=!]*?)\s*(==|!=)\s*(.+)$/.exec(body);
        if (m) {
          const raw = m[3]!.trim();
          const value = /^["'].*["']$/.test(raw) ? raw.slice(1, -1) : raw === 'true' ? true : raw === 'false' ? false : Number(raw);
          steps.push({ kind: 'filter', path: parsePath(m[1]!), op: m[2] as '==' | '!=', value });
        } else if (body.startsWith('@')) {
          steps.push({ kind: 'exists', path: parsePath(body) });
        } else throw new JsonPathError(`unsupported filter "${inner}" in "${expr}"`);
      } else throw new JsonPathError(`unsupported subscript "[${inner}]" in "${expr}"`);
    } else {
      throw new JsonPathError(`unexpected "${c}" at position ${i} of "${expr}"`);
    }
  }
  return steps;
}

function findClose(s: string, open: number): number {
  let depth = 0;
  let quote: string | undefined;
  for (let i = open; i < s.length; i++) {
    const c = s[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '[') depth++;
    else if (c === ']' && --depth === 0) return i;
  }
  throw new JsonPathError(`unclosed "[" in "${s}"`);
}

/** Every value the path selects (a `[*]` or filter fans out). */
export function evaluate(steps: readonly Step[], root: unknown): unknown[] {
  let current: unknown[] = [root];
  for (const step of steps) {
    const next: unknown[] = [];
    for (const v of current) {
      if (v === null || v === undefined) continue;
      switch (step.kind) {
        case 'field':
          if (typeof v === 'object' && !Array.isArray(v) && step.name in (v as object)) next.push((v as Record<string, unknown>)[step.name]);
          break;
        case 'index':
          if (Array.isArray(v)) {
            const idx = step.index < 0 ? v.length + step.index : step.index;
            if (idx >= 0 && idx < v.length) next.push(v[idx]);
          }
          break;
        case 'all':
          if (Array.isArray(v)) next.push(...v);
          else if (typeof v === 'object') next.push(...Object.values(v as object));
          break;
        case 'filter':
          if (Array.isArray(v)) {
            for (const item of v) {
              const got = evaluate(step.path, item)[0];
              const eq = got === step.value || (got !== undefined && String(got) === String(step.value));
              if (step.op === '==' ? eq : !eq) next.push(item);
            }
          }
          break;
        case 'exists':
          if (Array.isArray(v)) for (const item of v) if (evaluate(step.path, item).length > 0) next.push(item);
          break;
      }
    }
    current = next;
  }
  return current;
}

/** How kubectl prints one selected value: strings bare, everything else as JSON. */
export function valueText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === undefined || v === null) return '';
  return JSON.stringify(v);
}

/** Renders a `-o jsonpath=` template against a value. */
export function renderTemplate(template: string, data: unknown): string {
  const tokens = tokenize(template);
  let pos = 0;
  const run = (scope: unknown, until?: 'end'): string => {
    let out = '';
    while (pos < tokens.length) {
      const t = tokens[pos++]!;
      if (t.kind === 'text') out += t.text;
      else if (t.expr === 'end') {
        if (until === 'end') return out;
        throw new JsonPathError('"{end}" without "{range}"');
      } else if (t.expr.startsWith('range ')) {
        const items = evaluate(parsePath(t.expr.slice(6)), scope);
        const bodyStart = pos;
        if (items.length === 0) {
          skipToEnd();
          continue;
        }
        for (const item of items) {
          pos = bodyStart;
          out += run(item, 'end');
        }
      } else if (/^".*"$/.test(t.expr)) {
        out += JSON.parse(t.expr) as string;
      } else {
        out += evaluate(parsePath(t.expr), scope).map(valueText).join(' ');
      }
    }
    if (until === 'end') throw new JsonPathError('"{range}" without "{end}"');
    return out;
  };
  const skipToEnd = (): void => {
    let depth = 1;
    while (pos < tokens.length) {
      const t = tokens[pos++]!;
      if (t.kind === 'expr' && t.expr.startsWith('range ')) depth++;
      if (t.kind === 'expr' && t.expr === 'end' && --depth === 0) return;
    }
  };
  return run(data);
}

type Token = { kind: 'text'; text: string } | { kind: 'expr'; expr: string };

function tokenize(template: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < template.length) {
    const open = template.indexOf('{', i);
    if (open < 0) {
      out.push({ kind: 'text', text: template.slice(i) });
      break;
    }
    if (open > i) out.push({ kind: 'text', text: template.slice(i, open) });
    const close = template.indexOf('}', open);
    if (close < 0) throw new JsonPathError(`unclosed "{" in template "${template}"`);
    out.push({ kind: 'expr', expr: template.slice(open + 1, close).trim() });
    i = close + 1;
  }
  return out;
}
