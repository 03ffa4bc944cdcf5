// StringMatch compiled once per config: exact, prefix, path-segment prefix (optionally case-insensitive) and RE2-style full-match regex.

import type { StringMatch } from '../../proxyconfig/types.js';
import { ConfigError } from './errors.js';

const KINDS: ReadonlySet<string> = new Set(['exact', 'prefix', 'pathPrefix', 'regex']);

/** A compiled StringMatch; `test` never allocates. */
export class StringMatcher {
  readonly kind: 'exact' | 'prefix' | 'pathPrefix' | 'regex';
  /** For `pathPrefix`, without trailing slashes (`/` becomes the empty string, which matches every path). */
  readonly value: string;
  readonly ignoreCase: boolean;
  readonly regex: RegExp | undefined;

  constructor(m: StringMatch, where: string) {
    if (!KINDS.has(m.kind)) throw new ConfigError(`${where}: unknown match kind ${JSON.stringify(m.kind)} (exact, prefix, pathPrefix or regex)`);
    this.kind = m.kind;
    if (m.kind === 'regex') {
      this.regex = compileRe2(m.value, where, true);
      this.value = m.value;
      this.ignoreCase = false;
    } else {
      if (typeof m.value !== 'string') throw new ConfigError(`${where}: ${m.kind} match needs a string value`);
      this.ignoreCase = m.ignoreCase === true;
      const v = m.kind === 'pathPrefix' ? trimTrailingSlashes(m.value) : m.value;
      this.value = this.ignoreCase ? v.toLowerCase() : v;
      this.regex = undefined;
    }
  }

  test(s: string): boolean {
    switch (this.kind) {
      case 'exact':
        return this.ignoreCase ? s.length === this.value.length && s.toLowerCase() === this.value : s === this.value;
      case 'prefix':
        if (!this.ignoreCase) return s.startsWith(this.value);
        return s.length >= this.value.length && s.slice(0, this.value.length).toLowerCase() === this.value;
      case 'pathPrefix': {
        // The prefix must end at a segment boundary: the end of the path or a `/` (Envoy's path_separated_prefix).
        const n = this.value.length;
        if (s.length > n && s.charCodeAt(n) !== 47 /* / */) return false;
        if (!this.ignoreCase) return s.startsWith(this.value);
        return s.length >= n && s.slice(0, n).toLowerCase() === this.value;
      }
      case 'regex':
        return this.regex!.test(s);
    }
  }
}

function trimTrailingSlashes(v: string): string {
  let end = v.length;
  while (end > 0 && v.charCodeAt(end - 1) === 47 /* / */) end--;
  return end === v.length ? v : v.slice(0, end);
}

// RE2 has no lookaround and no backreferences; JS would accept them and match differently from Envoy.
const BACKREFS: ReadonlyArray<[RegExp, string]> = [
  [/\\[1-9]/, 'backreferences are not supported (RE2)'],
  [/\\k</, 'named backreferences are not supported (RE2)'],
];
const UNSUPPORTED: ReadonlyArray<[RegExp, string]> = [
  [/\(\?<[=!]/, 'lookbehind is not supported (RE2)'],
  [/\(\?[=!]/, 'lookahead is not supported (RE2)'],
  [/\(\?>/, 'atomic groups are not supported (RE2)'],
  [/[*+?}]\+/, 'possessive quantifiers are not supported (RE2)'],
];

/**
 * Compiles an RE2 pattern to a JS RegExp, rejecting what RE2 rejects that JS would accept.
 * `fullMatch` anchors it (Envoy's safe_regex must match the whole value).
 * Handles RE2's `(?P<name>` groups and leading `(?i)`/`(?s)` flags.
 */
export function compileRe2(pattern: string, where: string, fullMatch: boolean, extraFlags = ''): RegExp {
  if (typeof pattern !== 'string') throw new ConfigError(`${where}: regex must be a string`);
  // Checks run on the pattern without escaped characters, so `\\1` or `\\(?=` are not misread.
  const noDoubleBackslash = pattern.replace(/\\\\/g, '');
  for (const [re, why] of BACKREFS) {
    if (re.test(noDoubleBackslash)) throw new ConfigError(`${where}: invalid regex ${JSON.stringify(pattern)}: ${why}`);
  }
  const unescaped = noDoubleBackslash.replace(/\\./g, '');
  for (const [re, why] of UNSUPPORTED) {
    if (re.test(unescaped)) throw new ConfigError(`${where}: invalid regex ${JSON.stringify(pattern)}: ${why}`);
  }
  let src = pattern.replace(/\(\?P</g, '(?<');
  let flags = extraFlags;
  const lead = /^\(\?([imsU]+)\)/.exec(src);
  if (lead) {
    for (const f of lead[1]!) {
      if (f === 'U') throw new ConfigError(`${where}: invalid regex ${JSON.stringify(pattern)}: flag U is not supported`);
      if (!flags.includes(f)) flags += f;
    }
    src = src.slice(lead[0].length);
  }
  if (/\(\?[a-zA-Z-]+[:)]/.test(src)) {
    throw new ConfigError(`${where}: invalid regex ${JSON.stringify(pattern)}: inline flags are only supported at the start`);
  }
  try {
    return new RegExp(fullMatch ? `^(?:${src})$` : src, flags);
  } catch (err) {
    throw new ConfigError(`${where}: invalid regex ${JSON.stringify(pattern)}: ${(err as Error).message}`);
  }
}
