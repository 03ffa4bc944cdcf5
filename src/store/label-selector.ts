// Kubernetes label selectors: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`, comma-joined (AND).
import { StoreError } from './types.js';

export type Requirement = { key: string; op: 'in' | 'notin'; values: string[] } | { key: string; op: 'exists' | '!exists' };

export type LabelSelector = Requirement[];

const KEY = /^([a-z0-9A-Z.-]+\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function bad(selector: string, detail: string): StoreError {
  return new StoreError('BadRequest', `unable to parse requirement: ${detail} (in label selector "${selector}")`, 400);
}

/** Parses the whole selector; an empty string selects everything. Throws BadRequest (400) on bad syntax. */
export function parseLabelSelector(selector: string): LabelSelector {
  const out: Requirement[] = [];
  let i = 0;
  const s = selector;
  const skipWs = (): void => {
    while (i < s.length && /\s/.test(s[i]!)) i++;
  };
  const readToken = (): string => {
    skipWs();
    const start = i;
    while (i < s.length && !/[\s,()=!]/.test(s[i]!)) i++;
    return s.slice(start, i);
  };
  const checkKey = (key: string): void => {
    if (!KEY.test(key)) throw bad(s, `invalid label key "${key}"`);
  };
  const checkValue = (v: string): void => {
    if (v.length > 63 || !VALUE.test(v)) throw bad(s, `invalid label value: "${v}"`);
  };
  skipWs();
  if (i >= s.length) return out;
  for (;;) {
    skipWs();
    if (s[i] === '!') {
      i++;
      const key = readToken();
      checkKey(key);
      out.push({ key, op: '!exists' });
    } else {
      const key = readToken();
      if (!key) throw bad(s, `found '${s[i] ?? 'end of string'}', expected: identifier`);
      checkKey(key);
      skipWs();
      if (s.startsWith('==', i) || s.startsWith('!=', i) || s[i] === '=') {
        const op = s.startsWith('==', i) ? '==' : s.startsWith('!=', i) ? '!=' : '=';
        i += op.length;
        const value = readToken();
        checkValue(value);
        out.push({ key, op: op === '!=' ? 'notin' : 'in', values: [value] });
      } else if (/^(in|notin)\s*\(/.test(s.slice(i))) {
        const op = s.startsWith('notin', i) ? 'notin' : 'in';
        i += op.length;
        skipWs();
        i++; // '('
        const values: string[] = [];
        for (;;) {
          const v = readToken();
          checkValue(v);
          values.push(v);
          skipWs();
          if (s[i] === ',') {
            i++;
            continue;
          }
          if (s[i] === ')') {
            i++;
            break;
          }
          throw bad(s, `found '${s[i] ?? 'end of string'}', expected: ',' or ')'`);
        }
        out.push({ key, op, values });
      } else if (i >= s.length || s[i] === ',') {
        out.push({ key, op: 'exists' });
      } else {
        throw bad(s, `found '${s.slice(i)}', expected: in, notin, =, ==, !=, ',' or end of string`);
      }
    }
    skipWs();
    if (i >= s.length) return out;
    if (s[i] !== ',') throw bad(s, `found '${s[i]}', expected: ',' or end of string`);
    i++;
  }
}

export function matchesLabels(selector: LabelSelector, labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return selector.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    switch (r.op) {
      case 'exists':
        return has;
      case '!exists':
        return !has;
      case 'in':
        return has && r.values.includes(l[r.key]!);
      case 'notin':
        return !has || !r.values.includes(l[r.key]!);
    }
  });
}
