// TokenRequest and TokenReview on outpost's API, with real HTTP: what `outpost controller` checks
// proxies' tokens with. Bound tokens die with their pod; audiences, signatures and expiry count.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startApiServer } from '../../../src/apiserver/server.js';
import { openSqliteStore } from '../../../src/store/sqlite.js';

test('service-account tokens: issued for an existing account, bound to a pod, reviewed by audience, dead with the pod', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-sa-tokens-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = openSqliteStore(join(dir, 'store.db'));
  t.after(() => store.close());
  const api = await startApiServer({ store, token: 'admin', tls: false });
  t.after(() => api.close());
  const post = async (path: string, body: unknown, auth = 'admin'): Promise<{ status: number; json: any }> => {
    const res = await fetch(`${api.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${auth}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, json: await res.json() };
  };
  store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'curl' } });
  store.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'curl', namespace: 'curl' } });
  const pod = store.create({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'curl-1', namespace: 'curl' },
    spec: { serviceAccountName: 'curl', containers: [{ name: 'c', image: 'i' }] },
  });
  const request = (spec: unknown, sa = 'curl') =>
    post(`/api/v1/namespaces/curl/serviceaccounts/${sa}/token`, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec });
  const review = (token: string, audiences?: string[]) =>
    post('/apis/authentication.k8s.io/v1/tokenreviews', {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: { token, ...(audiences ? { audiences } : {}) },
    });

  assert.equal((await post('/api/v1/namespaces/curl/serviceaccounts/curl/token', {}, 'wrong')).status, 401, 'the API still needs its own credential');
  assert.equal((await request({}, 'nobody')).status, 404);
  const short = await request({ expirationSeconds: 60 });
  assert.equal(short.status, 422);
  assert.match(short.json.message, /spec\.expirationSeconds.*less than 10 minutes/);

  const issued = await request({
    audiences: ['outpost'],
    expirationSeconds: 3600,
    boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'curl-1', uid: pod.metadata.uid },
  });
  assert.equal(issued.status, 201);
  const token = issued.json.status.token as string;
  assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'a JWT');
  assert.ok(Date.parse(issued.json.status.expirationTimestamp) > Date.now() + 3500_000);

  const ok = await review(token, ['outpost']);
  assert.equal(ok.json.status.authenticated, true);
  assert.equal(ok.json.status.user.username, 'system:serviceaccount:curl:curl');
  assert.deepEqual(ok.json.status.user.extra['authentication.kubernetes.io/pod-name'], ['curl-1']);
  assert.ok(ok.json.status.user.groups.includes('system:serviceaccounts:curl'));
  assert.deepEqual(ok.json.status.audiences, ['outpost']);

  assert.equal((await review(token, ['istio-ca'])).json.status.authenticated, false, 'another audience');
  const [h, p, s] = token.split('.');
  const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
  claims.sub = 'system:serviceaccount:kube-system:admin';
  const forged = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
  const bad = await review(forged, ['outpost']);
  assert.equal(bad.json.status.authenticated, false);
  assert.match(bad.json.status.error, /invalid signature/);

  // A pod of another service account cannot be bound to this one's token.
  store.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'other', namespace: 'curl' }, spec: { containers: [{ name: 'c', image: 'i' }] } });
  assert.equal((await request({ boundObjectRef: { kind: 'Pod', name: 'other' } })).status, 400);

  store.delete({ group: '', kind: 'Pod', namespace: 'curl', name: 'curl-1' });
  const gone = await review(token, ['outpost']);
  assert.equal(gone.json.status.authenticated, false, 'a bound token dies with its pod');
  assert.match(gone.json.status.error, /pod curl\/curl-1 has been deleted/);
});
