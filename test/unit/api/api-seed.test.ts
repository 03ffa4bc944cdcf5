// Every YAML document of the seed chapter (placeholders filled) validates clean; unfilled
// placeholders are errors that name the placeholder and where it is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadSources, formatLoadError } from '../../../src/api/load.js';
import { validateObject } from '../../../src/api/validate.js';

const SEED = 'test/fixtures/seed';

test('every seed document loads and validates without errors or warnings', async () => {
  const r = await loadSources({ paths: [SEED] });
  assert.deepEqual(r.errors.map(formatLoadError), []);
  assert.deepEqual(r.warnings.map(formatLoadError), []);
  const names = r.documents.map((d) => `${d.object.kind}/${d.object.metadata.name}`).sort();
  for (const expected of [
    'ServiceEntry/egress-se',
    'Gateway/egress-gw',
    'DestinationRule/egress-dr',
    'VirtualService/egress-vs',
    'Gateway/bookinfo-gateway',
    'HTTPRoute/bookinfo',
    'ServiceEntry/httpbin-ext',
    'Gateway/httpbin-egress-gateway',
    'HTTPRoute/direct-httpbin-to-egress-gateway',
    'HTTPRoute/forward-httpbin-from-egress-gateway',
    'ServiceAccount/curl',
    'Service/curl',
    'Deployment/curl',
    'Deployment/egressgw',
    'Service/egressgw',
    'Istio/default',
  ]) {
    assert.ok(names.includes(expected), `missing ${expected} in ${names.join(', ')}`);
  }
  for (const d of r.documents) assert.deepEqual(validateObject(d.object), [], `${d.file}#${d.index}`);
});

test('positions point at the field: the seed ServiceEntry resolution is at line 14, column 15', async () => {
  const r = await loadSources({ paths: [`${SEED}/http-se.yaml`] });
  const doc = r.documents[0]!;
  assert.deepEqual(doc.position('spec.resolution'), { file: `${SEED}/http-se.yaml`, line: 14, column: 15 });
  assert.deepEqual(doc.position('spec.ports[0].number'), { file: `${SEED}/http-se.yaml`, line: 10, column: 15 });
  assert.deepEqual(doc.position('spec.ports', 'key'), { file: `${SEED}/http-se.yaml`, line: 9, column: 3 });
  // A missing field falls back to its nearest ancestor's key.
  assert.deepEqual(doc.position('spec.endpoints[0].address'), { file: `${SEED}/http-se.yaml`, line: 6, column: 1 });
});

test('unfilled placeholders are errors naming the placeholder, with file:line:column; nothing loads', async () => {
  const r = await loadSources({ paths: ['test/fixtures/api/unfilled/http-gtw.yaml'] });
  assert.equal(r.documents.length, 0);
  assert.deepEqual(r.errors.map(formatLoadError), [
    'test/fixtures/api/unfilled/http-gtw.yaml:5:14: Gateway <gateway_namespace>/egress-gw: unfilled placeholder <gateway_namespace>: replace it with a real value',
    'test/fixtures/api/unfilled/http-gtw.yaml:8:12: Gateway <gateway_namespace>/egress-gw: unfilled placeholder <gateway_name>: replace it with a real value',
    'test/fixtures/api/unfilled/http-gtw.yaml:21:14: DestinationRule <gateway_namespace>/egress-dr: unfilled placeholder <gateway_namespace>: replace it with a real value',
    'test/fixtures/api/unfilled/http-gtw.yaml:23:9: DestinationRule <gateway_namespace>/egress-dr: unfilled placeholder <gateway_name>: replace it with a real value',
    'test/fixtures/api/unfilled/http-gtw.yaml:23:24: DestinationRule <gateway_namespace>/egress-dr: unfilled placeholder <gateway_namespace>: replace it with a real value',
  ]);
});

test('stdin, JSON and List kinds load with positions', async () => {
  const json = JSON.stringify(
    {
      apiVersion: 'v1',
      kind: 'List',
      items: [
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'curl' } },
        { apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: 'se' }, spec: { hosts: ['a.example.com'], resolution: 'DNZ' } },
      ],
    },
    null,
    2,
  );
  const r = await loadSources({ paths: ['-'], stdin: json, defaultNamespace: 'curl' });
  assert.deepEqual(r.errors.map(formatLoadError), [
    '<stdin>:22:23: ServiceEntry curl/se: spec.resolution: unsupported value "DNZ": supported values: "NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS"',
  ]);
  assert.equal(r.documents.length, 0, 'a file with any invalid document applies nothing');
  const ok = await loadSources({ paths: [], stdin: readFileSync(`${SEED}/http-se.yaml`, 'utf8') });
  assert.equal(ok.documents.length, 1);
  assert.equal(ok.documents[0]!.file, '<stdin>');
});

test('two documents with the same kind/namespace/name are an error at the second', async () => {
  const text = readFileSync(`${SEED}/http-se.yaml`, 'utf8');
  const r = await loadSources({ paths: [], stdin: `${text}---\n${text}` });
  assert.deepEqual(r.errors.map(formatLoadError), ['<stdin>:19:9: ServiceEntry curl/egress-se: duplicate resource: also defined at <stdin>:4:9']);
  // delete -f only names objects: the same one twice is no error.
  const named = await loadSources({ paths: [], stdin: `${text}---\n${text}`, allowDuplicates: true });
  assert.deepEqual(named.errors, []);
  assert.equal(named.documents.length, 2);
});

test('a missing path is an error naming it', async () => {
  const r = await loadSources({ paths: ['test/fixtures/api/does-not-exist.yaml'] });
  assert.deepEqual(r.errors.map(formatLoadError), ['test/fixtures/api/does-not-exist.yaml: no such file or directory']);
});
