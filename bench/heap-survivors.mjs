#!/usr/bin/env node
// `node bench/heap-survivors.mjs MAJOR.heapprofile ALL.heapprofile [--top 30]`: per allocation site
// (function and its caller), the bytes sampled under load and the share of them that survived the
// young generation (bench/lib/heap-sampling.mjs writes both profiles, from two runs of the same
// load). A request's objects should show ~0 %: a site near 100 % is kept alive by something.
import { readFileSync } from 'node:fs';

const argv = process.argv.slice(2);
const files = argv.filter((a) => a.endsWith('.heapprofile'));
if (files.length !== 2) {
  console.error('usage: node bench/heap-survivors.mjs MAJOR.heapprofile ALL.heapprofile [--top N]');
  process.exit(2);
}
const top = argv.includes('--top') ? Number(argv[argv.indexOf('--top') + 1]) : 30;

/** Self bytes per "function file:line < caller file:line". */
function bySite(file) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const sites = new Map();
  const frame = (f) => `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(dist|src)\//, '$1/')}:${f.lineNumber + 1}`;
  const walk = (node, caller) => {
    const here = frame(node.callFrame);
    if (node.selfSize > 0) {
      const key = caller === undefined ? here : `${here} < ${caller}`;
      sites.set(key, (sites.get(key) ?? 0) + node.selfSize);
    }
    for (const c of node.children) walk(c, here);
  };
  walk(profile.head, undefined);
  return sites;
}

const major = bySite(files[0]);
const all = bySite(files[1]);
const total = (m) => [...m.values()].reduce((a, b) => a + b, 0);
console.log(`sampled: ${(total(all) / 1048576).toFixed(1)} MB allocated, ${(total(major) / 1048576).toFixed(1)} MB of it survived the young generation`);
console.log('survived  allocated MB  site');
for (const [site, bytes] of [...all].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  const share = Math.min(100, (100 * (major.get(site) ?? 0)) / bytes);
  console.log(`${share.toFixed(0).padStart(7)} %  ${(bytes / 1048576).toFixed(2).padStart(12)}  ${site.slice(0, 160)}`);
}
