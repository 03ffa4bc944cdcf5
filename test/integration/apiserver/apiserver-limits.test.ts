// Input limits on the API: a 100,000-deep JSON body is a 400 naming where (not a 500 "Maximum call
// stack size exceeded"), on create, batch apply, patch and server-side apply (YAML); invalid UTF-8
// is a 400 with its byte position; a body over the limit is a 413 naming it.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { MAX_INPUT_BYTES } from '../../../src/api/input-limits.js';
import { BATCH_APPLY_PATH } from '../../../src/apiserver/paths.js';
import { startTestApi, TOKEN } from './apiserver-helpers.js';

interface Reply {
  status: number;
  body: { kind?: string; reason?: string; message?: string; code?: number };
}

async function send(url: string, method: string, path: string, body: string | Buffer, contentType = 'application/json'): Promise<Reply> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': contentType },
    body: typeof body === 'string' ? body : new Uint8Array(body),
  });
  return { status: res.status, body: (await res.json()) as Reply['body'] };
}

const deepJson = (n: number): string => '{"a":'.repeat(n) + '1' + '}'.repeat(n);

test('a body nested 100,000 deep is a 400 naming line, column and path, wherever it is sent', async (t) => {
  const api = await startTestApi(t);
  const cm = `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "deep", "annotations": ${deepJson(100_000)}}}`;
  const cases: Array<[string, string, string, string]> = [
    ['POST', '/api/v1/namespaces/default/configmaps', cm, 'application/json'],
    ['POST', BATCH_APPLY_PATH, `{"items": [${cm}]}`, 'application/json'],
    ['PATCH', '/api/v1/namespaces/default/configmaps/deep', `{"metadata": {"labels": ${deepJson(100_000)}}}`, 'application/merge-patch+json'],
  ];
  for (const [method, path, body, type] of cases) {
    const r = await send(api.url, method, path, body, type);
    assert.equal(r.status, 400, `${method} ${path}: ${JSON.stringify(r.body).slice(0, 300)}`);
    assert.equal(r.body.kind, 'Status');
    assert.equal(r.body.reason, 'BadRequest');
    assert.match(
      r.body.message!,
      /^the request body nests deeper than 1000 levels at line 1, column \d+, under \$\.(items\[0\]\.)?metadata\.(annotations|labels)\.a\.a/,
    );
  }
  const yaml = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\n  annotations: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`;
  const ssa = await send(api.url, 'PATCH', '/api/v1/namespaces/default/configmaps/deep?fieldManager=test', yaml, 'application/apply-patch+yaml');
  assert.equal(ssa.status, 400);
  assert.match(ssa.body.message!, /nests deeper than 1000 levels at line 5, column \d+/);
  // Nothing was stored, and a normal document still goes through.
  const ok = await send(
    api.url,
    'POST',
    '/api/v1/namespaces/default/configmaps',
    '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fine"}, "data": {"k": "café ✓"}}',
  );
  assert.equal(ok.status, 201);
});

test('invalid UTF-8 in a body is a 400 with the byte, its offset and line:column', async (t) => {
  const api = await startTestApi(t);
  const body = Buffer.concat([
    Buffer.from('{"apiVersion": "v1", "kind": "ConfigMap",\n "metadata": {"name": "x"}, "data": {"k": "caf'),
    Buffer.from([0xe9]),
    Buffer.from('"}}'),
  ]);
  for (const [method, path, type] of [
    ['POST', '/api/v1/namespaces/default/configmaps', 'application/json'],
    ['POST', BATCH_APPLY_PATH, 'application/json'],
  ] as const) {
    const r = await send(api.url, method, path, path === BATCH_APPLY_PATH ? Buffer.concat([Buffer.from('{"items": ['), body, Buffer.from(']}')]) : body, type);
    assert.equal(r.status, 400);
    assert.match(r.body.message!, /^the request body is not valid UTF-8: byte 0xe9 at offset \d+ \(line 2, column 47\)$/);
  }
});

test('a body over the limit is a 413 that names the limit', async (t) => {
  const api = await startTestApi(t);
  const url = new URL(`${api.url}/api/v1/namespaces/default/configmaps`);
  const reply = await new Promise<Reply>((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json', 'Content-Length': MAX_INPUT_BYTES + 1 } },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) as Reply['body'] }));
      },
    );
    // The server answers before the body is sent; the connection then closes under the upload.
    req.on('error', (err) => (req.writableEnded ? undefined : reject(err)));
    req.write('{"apiVersion": "v1"');
  });
  assert.equal(reply.status, 413);
  assert.equal(reply.body.reason, 'RequestEntityTooLarge');
  assert.equal(reply.body.message, `Request entity too large: limit is ${MAX_INPUT_BYTES} bytes (32 MiB); send fewer objects per request`);
});
