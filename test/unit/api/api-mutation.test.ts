// Random mutations of the seed's documents (drop a field, change a type, insert garbage) never
// throw: every failure is a validation error with a position. Seeded PRNG: the same runs every time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { loadSources, parseText, type LoadError } from '../../../src/api/load.js';
import { validateObject } from '../../../src/api/validate.js';
import { seededRandom } from '../../helpers/rng.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every container path in the value (objects and arrays), so a mutation can pick one. */
function containers(v: Json, path: Array<string | number> = [], out: Array<Array<string | number>> = []): Array<Array<string | number>> {
  if (v && typeof v === 'object') {
    out.push(path);
    if (Array.isArray(v)) v.forEach((x, i) => containers(x, [...path, i], out));
    else for (const [k, x] of Object.entries(v)) containers(x, [...path, k], out);
  }
  return out;
}

function at(v: Json, path: Array<string | number>): Json {
  let cur: Json = v;
  for (const s of path) cur = (cur as Record<string | number, Json>)[s]!;
  return cur;
}

const GARBAGE: Json[] = [
  null,
  true,
  false,
  0,
  -1,
  70000,
  1.5,
  '',
  '*',
  'DNZ',
  '<gateway_name>',
  'a/b/c',
  '../..',
  [],
  [1, 'x'],
  {},
  { x: { y: [null] } },
  'x'.repeat(300),
];

function mutate(doc: Json, rnd: () => number): Json {
  const copy = structuredClone(doc);
  const spots = containers(copy);
  const path = spots[Math.floor(rnd() * spots.length)]!;
  const target = at(copy, path) as Record<string | number, Json>;
  const keys = Object.keys(target);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const op = Math.floor(rnd() * 3);
  if (op === 0 && keys.length > 0) {
    const k = pick(keys);
    if (Array.isArray(target)) target.splice(Number(k), 1);
    else delete target[k];
  } else if (op === 1 && keys.length > 0) {
    target[pick(keys)] = structuredClone(pick(GARBAGE));
  } else if (Array.isArray(target)) {
    target.push(structuredClone(pick(GARBAGE)));
  } else {
    target[pick(['garbage', 'spec', 'metadata', 'hosts', 'ports', 'number', 'name', 'kind', 'apiVersion'])] = structuredClone(pick(GARBAGE));
  }
  return copy;
}

test('400 seeded mutations of the seed documents: no exception, every error has a position', async () => {
  const seed = await loadSources({ paths: ['test/fixtures/seed'] });
  assert.equal(seed.errors.length, 0);
  const docs = seed.documents.map((d) => d.object as unknown as Json);
  const rnd = seededRandom(20241107);
  let failures = 0;
  for (let i = 0; i < 400; i++) {
    let doc: Json = docs[i % docs.length]!;
    const rounds = 1 + Math.floor(rnd() * 3);
    for (let r = 0; r < rounds; r++) doc = mutate(doc, rnd);
    // Direct validation of the value never throws and never hides an internal failure.
    const issues = validateObject(doc);
    for (const issue of issues) assert.ok(!issue.message.startsWith('could not be validated'), `internal failure on mutation ${i}: ${issue.message}`);
    const errors: LoadError[] = [];
    const text = stringify(doc);
    const loaded = parseText('mutant.yaml', text, errors);
    for (const e of errors) {
      assert.ok(e.line >= 1 && e.column >= 1, `no position for ${JSON.stringify(e)} in mutation ${i}`);
      assert.ok(e.message.length > 0);
    }
    if (errors.length > 0) {
      failures++;
      assert.equal(loaded.length, 0);
    } else {
      assert.equal(issues.filter((x) => x.severity === 'error').length, 0, `mutation ${i}: validateObject and the loader disagree`);
    }
  }
  // The mutations are mostly harmful: most must be caught.
  assert.ok(failures > 200, `only ${failures} of 400 mutations were rejected`);
});
