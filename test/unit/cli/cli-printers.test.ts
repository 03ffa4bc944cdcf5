import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveKindName } from '../../../src/api/kinds.js';
import type { KubeObject } from '../../../src/api/object.js';
import { humanDuration } from '../../../src/api/duration.js';
import { formatDescribe, titleCase } from '../../../src/cli/printers/describe.js';
import { renderTemplate } from '../../../src/api/jsonpath.js';
import { formatResourceTable } from '../../../src/cli/printers/resource-table.js';
import { lastLines } from '../../../src/cli/printers/lines.js';
import { parseLabelArgs } from '../../../src/cli/label-args.js';

test('ages print as kubectl prints them', () => {
  const cases: [number, string][] = [
    [0, '0s'],
    [45_000, '45s'],
    [119_000, '119s'],
    [213_000, '3m33s'],
    [300_000, '5m'],
    [17 * 60_000, '17m'],
    [(5 * 60 + 12) * 60_000, '5h12m'],
    [30 * 3600_000, '30h'],
    [(3 * 24 + 4) * 3600_000, '3d4h'],
    [120 * 24 * 3600_000, '120d'],
    [(2 * 365 + 30) * 24 * 3600_000, '2y30d'],
    [9 * 365 * 24 * 3600_000, '9y'],
  ];
  for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, `${ms} ms`);
});

test('istiorevisions print the seed columns: NAME TYPE READY STATUS IN USE VERSION AGE', () => {
  const info = resolveKindName('istiorevisions.sailoperator.io')!;
  const rev: KubeObject = {
    apiVersion: 'sailoperator.io/v1',
    kind: 'IstioRevision',
    metadata: { name: 'default', creationTimestamp: new Date(Date.now() - 213_000).toISOString() },
    spec: { type: 'Local', version: 'v1.24.3' },
    status: {
      state: 'Healthy',
      conditions: [
        { type: 'Ready', status: 'True' },
        { type: 'InUse', status: 'True' },
      ],
    },
  };
  const out = formatResourceTable(info, [rev]);
  const [header, row] = out.trimEnd().split('\n');
  assert.deepEqual(header!.split(/\s{2,}/), ['NAME', 'TYPE', 'READY', 'STATUS', 'IN USE', 'VERSION', 'AGE']);
  assert.deepEqual(row!.split(/\s{2,}/), ['default', 'Local', 'True', 'Healthy', 'True', 'v1.24.3', '3m33s']);
});

test("jsonpath templates: the seed's CURL_POD and ranges", () => {
  const list = { items: [{ metadata: { name: 'curl-abc' } }, { metadata: { name: 'curl-def' } }] };
  assert.equal(renderTemplate('{.items[0].metadata.name}', list), 'curl-abc');
  assert.equal(renderTemplate('{range .items[*]}{.metadata.name}{"\\n"}{end}', list), 'curl-abc\ncurl-def\n');
  const gw = {
    status: {
      conditions: [
        { type: 'Accepted', status: 'True' },
        { type: 'Programmed', status: 'False' },
      ],
    },
  };
  assert.equal(renderTemplate('{.status.conditions[?(@.type=="Programmed")].status}', gw), 'False');
});

test('describe titles fields and lists conditions', () => {
  assert.equal(titleCase('creationTimestamp'), 'Creation Timestamp');
  assert.equal(titleCase('lastTransitionTime'), 'Last Transition Time');
  const out = formatDescribe(
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: 'gw', namespace: 'egress-gateway' },
      spec: { gatewayClassName: 'istio' },
      status: { conditions: [{ type: 'Programmed', status: 'True', reason: 'Programmed' }] },
    },
    [],
  );
  assert.match(out, /^Name:\s+gw$/m);
  assert.match(out, /^Namespace:\s+egress-gateway$/m);
  assert.match(out, /^ {4}Type:\s+Programmed$/m);
  assert.match(out, /^Events:\s+<none>$/m);
});

test('logs --tail cuts the last lines', () => {
  assert.equal(lastLines('a\nb\nc\n', 1), 'c\n');
  assert.equal(lastLines('a\nb\nc\n', 2), 'b\nc\n');
  assert.equal(lastLines('a\nb\nc\n', -1), 'a\nb\nc\n');
  assert.equal(lastLines('', 1), '');
});

test('label arguments: set, remove, and bad keys', () => {
  assert.deepEqual(parseLabelArgs(['istio-injection=enabled', 'old-']), { set: { 'istio-injection': 'enabled' }, remove: ['old'] });
  assert.deepEqual(parseLabelArgs(['istio.io/rev=default']).set, { 'istio.io/rev': 'default' });
  assert.throws(() => parseLabelArgs(['=x']), /invalid label spec/);
  assert.throws(() => parseLabelArgs(['a=b c']), /invalid label value/);
});
