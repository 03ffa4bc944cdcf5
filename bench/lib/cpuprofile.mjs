// Reads a V8 .cpuprofile (node --cpu-prof) and ranks functions by self and inclusive time,
// mapping dist/*.js positions back to src/*.ts through the compiler's source maps.

import { readFileSync, existsSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';
import { relative } from 'node:path';

const maps = new Map();

function sourceMapFor(file) {
  if (maps.has(file)) return maps.get(file);
  let map;
  try {
    if (existsSync(`${file}.map`)) map = new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')));
  } catch {
    map = undefined;
  }
  maps.set(file, map);
  return map;
}

/** `src/dataplane/x.ts:123` for a dist position, else the script's own url:line (1-based). */
function location(callFrame, repo) {
  const { url, lineNumber, columnNumber } = callFrame;
  if (!url) return '(native)';
  if (url.startsWith('file://')) {
    const file = fileURLToPath(url);
    const map = sourceMapFor(file);
    const entry = map?.findEntry(lineNumber, columnNumber);
    if (entry && entry.originalSource) {
      const src = entry.originalSource.startsWith('file://') ? fileURLToPath(entry.originalSource) : new URL(entry.originalSource, url).pathname;
      return `${relative(repo, src)}:${entry.originalLine + 1}`;
    }
    return `${relative(repo, file)}:${lineNumber + 1}`;
  }
  return `${url}:${lineNumber + 1}`;
}

/**
 * Ranks the profile: [{ name, where, selfMs, selfPct, totalMs, totalPct }], by self time.
 * window: [fromUs, toUs] on the monotonic clock (process.hrtime in µs, which V8's profile
 * timestamps share) keeps only the samples taken under load, not start-up and shutdown.
 * Percentages are of the busy time: samples in (idle) are counted apart.
 */
export function analyzeProfile(file, repo, window) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const keyOf = new Map();
  const info = new Map();
  for (const n of prof.nodes) {
    const where = location(n.callFrame, repo);
    const name = n.callFrame.functionName || '(anonymous)';
    const key = `${name} ${where}`;
    keyOf.set(n.id, key);
    if (!info.has(key)) info.set(key, { name, where, self: 0, total: 0 });
  }
  let all = 0;
  let idle = 0;
  let t = prof.startTime;
  for (let i = 0; i < prof.samples.length; i++) {
    const dt = prof.timeDeltas[i] ?? 0;
    t += dt;
    if (window && (t < window[0] || t > window[1])) continue;
    const id = prof.samples[i];
    if (byId.get(id).callFrame.functionName === '(idle)') {
      idle += dt;
      continue;
    }
    all += dt;
    info.get(keyOf.get(id)).self += dt;
    const seen = new Set();
    for (let cur = id, depth = 0; cur !== undefined && depth < 500; cur = parent.get(cur), depth++) {
      const k = keyOf.get(cur);
      if (!seen.has(k)) {
        seen.add(k);
        info.get(k).total += dt;
      }
    }
  }
  const rows = [...info.values()].map((r) => ({
    name: r.name,
    where: r.where,
    selfMs: r.self / 1000,
    selfPct: (100 * r.self) / all,
    totalMs: r.total / 1000,
    totalPct: (100 * r.total) / all,
  }));
  return { totalMs: all / 1000, idleMs: idle / 1000, rows };
}

/** Self time summed per source file (src/…, node:…, native). */
export function byFile(rows) {
  const m = new Map();
  for (const r of rows) {
    const f = r.where.replace(/:\d+$/, '');
    m.set(f, (m.get(f) ?? 0) + r.selfPct);
  }
  return [...m.entries()].sort((a, b) => b[1] - a[1]);
}
