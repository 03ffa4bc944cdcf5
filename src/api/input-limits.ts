// Limits on what the API and `outpost apply` accept, and the checks that find where input breaks
// them before a parser does: nesting depth (JSON and YAML, without recursion), invalid UTF-8, size.
import { isUtf8 } from 'node:buffer';

/** Deeper than any real resource; far below what recursive code (ours, the YAML parser's) survives. */
export const MAX_NESTING_DEPTH = 1000;
/** One request body or one file: a 5,000-document apply fits with room to spare. */
export const MAX_INPUT_BYTES = 32 * 1024 * 1024;

export interface InputPosition {
  /** Byte offset for UTF-8 problems, character offset for nesting. */
  offset: number;
  /** 1-based. */
  line: number;
  /** 1-based, in characters. */
  column: number;
}

export interface NestingProblem extends InputPosition {
  /** JSON only: where the too-deep node sits, `$.spec.a[0].b…` (abbreviated when long). */
  path?: string;
}

/** "32 MiB", "1 KiB", "300 bytes". */
export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

/** The first invalid UTF-8 sequence: its byte offset, line and column, and the byte; undefined when valid. */
export function findInvalidUtf8(buf: Uint8Array): (InputPosition & { byte: number }) | undefined {
  if (isUtf8(buf)) return undefined;
  let line = 1;
  let column = 1;
  let i = 0;
  while (i < buf.length) {
    const b = buf[i]!;
    let need = 0;
    let lo = 0x80;
    let hi = 0xbf;
    if (b < 0x80) need = 0;
    else if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0;
      if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90;
      if (b === 0xf4) hi = 0x8f;
    } else return { offset: i, line, column, byte: b };
    for (let k = 1; k <= need; k++) {
      const c = buf[i + k];
      const min = k === 1 ? lo : 0x80;
      const max = k === 1 ? hi : 0xbf;
      if (c === undefined || c < min || c > max) return { offset: i, line, column, byte: b };
    }
    if (b === 0x0a) {
      line++;
      column = 1;
    } else column++;
    i += need + 1;
  }
  return undefined;
}

function renderPath(segs: string[]): string {
  const shown = segs.length <= 12 ? segs : [...segs.slice(0, 6), `…(${segs.length - 10} more)…`, ...segs.slice(-4)];
  return `$${shown.join('')}`;
}

/**
 * Where JSON text first nests deeper than max (objects and arrays), found in one pass without
 * recursion and without parsing values; undefined when it does not.
 */
export function findJsonTooDeep(text: string, max = MAX_NESTING_DEPTH): NestingProblem | undefined {
  // Each open container: an array's current index, or an object's current key.
  const stack: Array<{ arr: boolean; index: number; key: string; expectKey: boolean }> = [];
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a) {
      line++;
      lineStart = i + 1;
    } else if (c === 0x22 /* " */) {
      const start = i;
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
      const top = stack[stack.length - 1];
      if (top && !top.arr && top.expectKey) {
        const raw = text.slice(start, i + 1);
        try {
          top.key = JSON.parse(raw) as string;
        } catch {
          top.key = raw.slice(1, -1);
        }
        top.expectKey = false;
      }
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (stack.length >= max) {
        const segs = stack.map((f) => (f.arr ? `[${f.index}]` : /^[A-Za-z_][\w-]*$/.test(f.key) ? `.${f.key}` : `[${JSON.stringify(f.key)}]`));
        return { offset: i, line, column: i - lineStart + 1, path: renderPath(segs) };
      }
      stack.push({ arr: c === 0x5b, index: 0, key: '', expectKey: c === 0x7b });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top?.arr) top.index++;
      else if (top) top.expectKey = true;
    }
  }
  return undefined;
}

/**
 * Where YAML text first nests deeper than max: block levels (indentation and `- ` chains) plus flow
 * levels (`[`, `{`), skipping comments, quoted scalars and block scalars. One pass, no recursion;
 * an estimate within a level or two, which is all a limit this far from real use needs.
 */
export function findYamlTooDeep(text: string, max = MAX_NESTING_DEPTH): NestingProblem | undefined {
  const lines = text.split('\n');
  let indents: number[] = [];
  let flow = 0;
  let quote: '"' | "'" | undefined;
  let blockScalarIndent: number | undefined;
  let offset = 0;
  for (let ln = 0; ln < lines.length; offset += lines[ln]!.length + 1, ln++) {
    const s = lines[ln]!;
    let indent = 0;
    while (indent < s.length && s[indent] === ' ') indent++;
    const blank = indent === s.length || s[indent] === '#' || s[indent] === '\r';
    if (blockScalarIndent !== undefined) {
      if (blank || indent > blockScalarIndent) continue;
      blockScalarIndent = undefined;
    }
    if (quote === undefined && flow === 0) {
      if (blank) continue;
      if (indent === 0 && (s.startsWith('---') || s.startsWith('...'))) {
        indents = [];
        continue;
      }
      while (indents.length > 0 && indents[indents.length - 1]! >= indent) indents.pop();
      indents.push(indent);
      let col = indent;
      // `- - - x`: each dash opens a sequence inside the previous one.
      while (s[col] === '-' && (s[col + 1] === ' ' || col + 1 === s.length)) {
        col += 2;
        while (s[col] === ' ') col++;
        indents.push(col);
        if (indents.length + flow > max) return { offset: offset + col, line: ln + 1, column: col + 1 };
      }
      if (indents.length > max) return { offset: offset + indent, line: ln + 1, column: indent + 1 };
    }
    let prev = ' ';
    for (let i = quote === undefined && flow === 0 ? indent : 0; i < s.length; i++) {
      const ch = s[i]!;
      if (quote === '"') {
        if (ch === '\\') i++;
        else if (ch === '"') quote = undefined;
      } else if (quote === "'") {
        if (ch === "'" && s[i + 1] === "'") i++;
        else if (ch === "'") quote = undefined;
      } else if (ch === '#' && (prev === ' ' || prev === '\t')) {
        break;
      } else if ((ch === '"' || ch === "'") && ' \t[{,:-?'.includes(prev)) {
        quote = ch;
      } else if (ch === '[' || ch === '{') {
        flow++;
        if (indents.length + flow > max) return { offset: offset + i, line: ln + 1, column: i + 1 };
      } else if ((ch === ']' || ch === '}') && flow > 0) {
        flow--;
      } else if ((ch === '|' || ch === '>') && flow === 0 && ' \t'.includes(prev) && /^[|>][-+0-9]*\s*(#.*)?\r?$/.test(s.slice(i))) {
        // A block scalar: the more-indented lines after it are text.
        blockScalarIndent = indent;
        break;
      }
      prev = ch;
    }
  }
  return undefined;
}
