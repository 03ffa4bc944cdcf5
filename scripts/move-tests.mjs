#!/usr/bin/env node
// Moves test/{unit,integration,e2e}/<file> into a subfolder per room (test/unit/dataplane/…), the
// room chosen by the file name's prefix, and fixes what points at the moved files: relative
// imports and URLs in test/, repo-relative mentions (conformance/, README.md), package.json's test
// globs. All or nothing: an unmapped file stops it before anything moves. `--dry-run` prints the
// plan. Run from the repository root on a clean tree (git mv keeps history).
//
//   node scripts/move-tests.mjs [--dry-run]
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = process.cwd();
const KINDS = ['unit', 'integration', 'e2e'];

/** File-name prefix → room (a folder of src/, or a whole-system subject for e2e). Longest prefix wins. */
const ROOMS = {
  unit: {
    'analyze-': 'analyze',
    'api-': 'api',
    'authority.': 'proxyconfig',
    'capture.': 'runtime',
    'cluster-': 'cluster',
    'egress-view.': 'runtime',
    'http2-': 'dataplane',
    'netpol-': 'runtime',
    'cli-': 'cli',
    'cp-': 'controlplane',
    'dp-': 'dataplane',
    'proxy-': 'dataplane',
    'mesh-': 'runtime',
    'pods-': 'runtime',
    'store-': 'store',
    'naming.': 'proxyconfig',
  },
  integration: {
    'apiserver-': 'apiserver',
    'ca-': 'controlplane',
    'cp-': 'controlplane',
    'dashboard-': 'runtime',
    'dp-': 'dataplane',
    'gwapi-': 'dataplane',
    'h1-': 'dataplane',
    'http2-': 'dataplane',
    'proxy-': 'dataplane',
    'socket-writes.': 'dataplane',
    'log-rotation.': 'runtime',
    'mesh-': 'runtime',
    'pods-': 'runtime',
    'store-': 'store',
    'upstream-': 'dataplane',
  },
  e2e: {
    'cli-': 'cli',
    'cluster-': 'cluster',
    'dashboard-': 'runtime',
    'netpol-': 'runtime',
    'flows-': 'flows',
    'kubectl-': 'apiserver',
    'mesh-': 'runtime',
    'pods-': 'runtime',
    'security-': 'runtime',
    'seed-': 'seed',
    'store-': 'store',
  },
};

const dryRun = process.argv.includes('--dry-run');
const rel = (p) => relative(ROOT, p).split('\\').join('/');

function roomOf(kind, file) {
  const prefixes = Object.keys(ROOMS[kind])
    .filter((p) => file.startsWith(p))
    .sort((a, b) => b.length - a.length);
  return prefixes.length ? ROOMS[kind][prefixes[0]] : undefined;
}

// ---- the plan: every .ts file directly in test/<kind>/ (tests and their child/helper modules)
const moves = new Map(); // absolute old path → absolute new path
const unmapped = [];
for (const kind of KINDS) {
  const dir = join(ROOT, 'test', kind);
  for (const f of readdirSync(dir)) {
    const from = join(dir, f);
    if (!f.endsWith('.ts') || !statSync(from).isFile()) continue;
    const room = roomOf(kind, f);
    if (!room) unmapped.push(`test/${kind}/${f}`);
    else moves.set(from, join(dir, room, f));
  }
}
if (unmapped.length) {
  console.error(`move-tests: no room for ${unmapped.join(', ')}: add its prefix to ROOMS; nothing was moved`);
  process.exit(1);
}
if (moves.size === 0) {
  console.error('move-tests: nothing to move (already moved?)');
  process.exit(1);
}

/** Where a path (a file, or a directory with or without a trailing slash) is after the move. */
function after(abs) {
  const asTs = abs.replace(/\.js$/, '.ts');
  return moves.get(abs) ?? (moves.has(asTs) ? moves.get(asTs).replace(/\.ts$/, '.js') : abs);
}

/** A relative specifier written in `file` (old place) → the one it needs at `file`'s new place. */
function respecify(fileOld, fileNew, spec) {
  const trailing = spec.endsWith('/') ? '/' : '';
  const target = after(resolve(dirname(fileOld), spec));
  let out = relative(dirname(fileNew), target).split('\\').join('/');
  if (!out.startsWith('.')) out = `./${out}`;
  if (out === './') out = '.';
  return out + (trailing && !out.endsWith('/') ? '/' : '');
}

// Relative paths in: import/export … from '…', import('…'), new URL('…' or `…${`, import.meta.url),
// join(import.meta.dirname, '…'). Template literals: the static prefix up to ${ is rewritten.
const SPEC = /(\bfrom\s+|\bimport\(\s*|\bnew URL\(\s*|join\(import\.meta\.dirname,\s*)(['"`])(\.\.?\/[^'"`$]*|\.\.?)(?=[$'"`])/g;

function rewriteFile(fileOld, fileNew, text) {
  return text.replace(SPEC, (m, lead, quote, spec) => {
    const next = respecify(fileOld, fileNew, spec);
    return next === spec ? m : `${lead}${quote}${next}`;
  });
}

function walk(dir, out = []) {
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (/\.(ts|mjs|js)$/.test(f)) out.push(p);
  }
  return out;
}

const plan = [...moves].map(([a, b]) => `${rel(a)} → ${rel(b)}`);
if (dryRun) {
  console.log(plan.join('\n'));
  process.exit(0);
}

// ---- 1. contents first (with old locations as keys), then the moves
const edits = new Map();
for (const file of walk(join(ROOT, 'test'))) {
  const text = readFileSync(file, 'utf8');
  const next = rewriteFile(file, moves.get(file) ?? file, text);
  if (next !== text) edits.set(file, next);
}
for (const [file, text] of edits) writeFileSync(file, text);
for (const [from, to] of moves) {
  execFileSync('mkdir', ['-p', dirname(to)]);
  execFileSync('git', ['mv', from, to], { cwd: ROOT });
}

// ---- 2. repo-relative mentions of the moved files (conformance's list, READMEs)
const mentions = [
  ...walk(join(ROOT, 'conformance')),
  ...walk(join(ROOT, 'bench')).filter((f) => !f.includes('/results/')),
  join(ROOT, 'README.md'),
  join(ROOT, 'bench', 'README.md'),
];
for (const file of mentions.filter((f) => existsSync(f))) {
  let text = readFileSync(file, 'utf8');
  const before = text;
  for (const [from, to] of moves) text = text.split(rel(from)).join(rel(to));
  if (text !== before) writeFileSync(file, text);
}

// ---- 3. package.json's test globs: one level of room folders (sh expands */, no globstar needed)
const pkgFile = join(ROOT, 'package.json');
const pkg = readFileSync(pkgFile, 'utf8');
const globbed = pkg.replace(/test\/(unit|integration|e2e)\/\*\.test\.ts/g, 'test/$1/*/*.test.ts');
writeFileSync(pkgFile, globbed);

console.log(
  `moved ${moves.size} files into ${new Set([...moves.values()].map((p) => rel(dirname(p)))).size} room folders; rewrote ${edits.size} files' relative paths`,
);
console.log('check: npx tsc -p test/tsconfig.json, then the tests near what moved');
