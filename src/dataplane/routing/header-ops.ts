// Header set/add/remove for requests and responses, in Envoy's order: remove, then set, then add.

import type { HeaderOperations } from '../../proxyconfig/types.js';

import type { HeaderMap } from '../http/message.js';

export type { HeaderMap };

/**
 * Applies `ops` to `headers` in place. `set` overwrites, `add` appends a value (keeping existing
 * ones), `remove` deletes. Names are matched case-insensitively (stored lower-case).
 */
export function applyHeaderOps(headers: HeaderMap, ops?: HeaderOperations): void {
  if (ops === undefined) return;
  const remove = ops.remove;
  if (remove !== undefined) for (let i = 0; i < remove.length; i++) delete headers[lower(remove[i]!)];
  const set = ops.set;
  if (set !== undefined) for (const name in set) headers[lower(name)] = set[name]!;
  const add = ops.add;
  if (add !== undefined) {
    for (const name in add) {
      const key = lower(name);
      const cur = headers[key];
      const v = add[name]!;
      if (cur === undefined) headers[key] = v;
      else if (Array.isArray(cur)) cur.push(v);
      else headers[key] = [cur, v];
    }
  }
}

function lower(s: string): string {
  // Most configured names are already lower-case; skip the copy.
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) return s.toLowerCase();
  }
  return s;
}
