// Distribution over real HTTP/2 sockets: subscribe, ACK/NACK, bad token, server restart while the client keeps its config.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ProxyConfig, ProxyIdentity } from '../../../src/proxyconfig/types.js';
import { DistributionServer } from '../../../src/controlplane/distribution/server.js';
import { ConfigClient } from '../../../src/proxyconfig/distribution/client.js';
import { snapshotFromObjects, type MeshSnapshot } from '../../../src/controlplane/snapshot.js';
import { translate } from '../../../src/controlplane/translate/index.js';
import { loadObjects } from '../../fixtures/cp/load.js';

const TOKEN = 'test-token';
const curl: ProxyIdentity = { id: 'curl-1.curl', role: 'sidecar', namespace: 'curl', workload: 'curl', ip: '127.0.1.2', labels: { app: 'curl' } };

/** Polls a condition until it holds (bounded), for state the server keeps. */
async function until(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function makeServer(state: { snapshot: MeshSnapshot }, port = 0): DistributionServer {
  return new DistributionServer({ port, token: TOKEN, configFor: (id) => translate(state.snapshot, id) });
}

test('a proxy gets its config, ACKs it, and gets each change; the server tracks sent and ACKed versions', async (t) => {
  const state = { snapshot: snapshotFromObjects(loadObjects('mesh-base')) };
  const server = makeServer(state);
  await server.start();
  t.after(() => server.stop());
  const got: ProxyConfig[] = [];
  let notify: (() => void) | undefined;
  const client = new ConfigClient({
    url: server.url,
    token: TOKEN,
    identity: curl,
    onConfig: async (cfg) => {
      got.push(cfg);
      notify?.();
    },
  });
  const next = () => new Promise<void>((r) => (notify = r));
  let first = next();
  client.start();
  t.after(() => client.stop());
  await first;
  assert.equal(got[0]!.proxy.id, 'curl-1.curl');
  await until('ack', () => server.status()[0]?.ackedVersion === got[0]!.version);
  assert.equal(server.status()[0]!.synced, true);

  // Nothing changed: a push sends nothing.
  server.push();
  assert.equal(server.status()[0]!.sentVersion, got[0]!.version);

  first = next();
  state.snapshot = snapshotFromObjects(loadObjects('mesh-base', 'seed-istio-api'));
  server.push();
  await first;
  assert.notEqual(got[1]!.version, got[0]!.version);
  assert.ok(got[1]!.clusters.some((c) => c.name === 'outbound|80||docs.redhat.com'));
  await until('second ack', () => server.status()[0]?.ackedVersion === got[1]!.version);
  assert.equal(client.version, got[1]!.version);
});

test('a config the proxy cannot apply is NACKed with its reason; the next good one is ACKed', async (t) => {
  const state = { snapshot: snapshotFromObjects(loadObjects('mesh-base')) };
  const server = makeServer(state);
  await server.start();
  t.after(() => server.stop());
  let reject = true;
  const applied: string[] = [];
  const client = new ConfigClient({
    url: server.url,
    token: TOKEN,
    identity: curl,
    onConfig: async (cfg) => {
      if (reject) throw new Error('listener 0.0.0.0_80: port in use');
      applied.push(cfg.version);
    },
  });
  client.start();
  t.after(() => client.stop());
  await until('nack', () => server.status()[0]?.nackError !== undefined);
  const row = server.status()[0]!;
  assert.equal(row.nackError, 'listener 0.0.0.0_80: port in use');
  assert.equal(row.ackedVersion, '');
  assert.equal(row.synced, false);
  assert.equal(client.version, '', 'the rejected config was not taken');

  reject = false;
  state.snapshot = snapshotFromObjects(loadObjects('mesh-base', 'seed-istio-api'));
  server.push();
  await until('ack after nack', () => server.status()[0]?.ackedVersion === server.status()[0]?.sentVersion);
  assert.equal(server.status()[0]!.nackError, undefined);
  assert.deepEqual(applied, [server.status()[0]!.sentVersion]);
});

test('a wrong token gets no config', async (t) => {
  const state = { snapshot: snapshotFromObjects(loadObjects('mesh-base')) };
  const server = makeServer(state);
  await server.start();
  t.after(() => server.stop());
  const res = await fetch(`${server.url}/v1/proxy-status`).catch((e: Error) => e);
  // fetch speaks HTTP/1.1; the server is HTTP/2 only, so use the client to prove the point.
  assert.ok(res instanceof Error || res.status >= 400);
  let configs = 0;
  const logs: string[] = [];
  const client = new ConfigClient({
    url: server.url,
    token: 'wrong',
    identity: curl,
    onConfig: async () => {
      configs++;
    },
    log: (l) => logs.push(l),
    minBackoffMs: 20,
    maxBackoffMs: 40,
  });
  client.start();
  t.after(() => client.stop());
  await until('401 seen twice (it retries)', () => logs.filter((l) => l.includes('401')).length >= 2);
  assert.equal(configs, 0);
  assert.deepEqual(server.status(), []);
});

test('the control plane goes away and comes back: the client keeps its config, reconnects with backoff, and re-ACKs', async (t) => {
  const state = { snapshot: snapshotFromObjects(loadObjects('mesh-base', 'seed-istio-api')) };
  let server = makeServer(state);
  await server.start();
  const port = Number(new URL(server.url).port);
  t.after(() => server.stop());
  const states: string[] = [];
  let applies = 0;
  let onState: ((s: string) => void) | undefined;
  const client = new ConfigClient({
    url: server.url,
    token: TOKEN,
    identity: curl,
    minBackoffMs: 20,
    maxBackoffMs: 200,
    onConfig: async () => {
      applies++;
    },
    onState: (s) => {
      states.push(s);
      onState?.(s);
    },
  });
  client.start();
  t.after(() => client.stop());
  await until('first ack', () => server.status()[0]?.ackedVersion !== undefined && server.status()[0]!.ackedVersion !== '');
  const version = client.version;

  const down = new Promise<void>((r) => (onState = (s) => s === 'disconnected' && r()));
  await server.stop();
  await down;
  assert.equal(client.version, version, 'the last good config stays while the server is away');

  server = makeServer(state, port);
  const up = new Promise<void>((r) => (onState = (s) => s === 'connected' && r()));
  await server.start();
  await up;
  await until('re-ack after restart', () => server.status()[0]?.ackedVersion === version);
  assert.equal(applies, 1, 'the same version is not applied twice');
  assert.deepEqual(states.slice(0, 3), ['connected', 'disconnected', 'connected']);
});

test('beforeSend: a config reaches its proxy only once its preparation settled; a newer one overtakes a waiting one', async (t) => {
  const state = { snapshot: snapshotFromObjects(loadObjects('mesh-base')) };
  const prepared: string[] = [];
  const releases: (() => void)[] = [];
  const logs: string[] = [];
  let fail = false;
  const server = new DistributionServer({
    port: 0,
    token: TOKEN,
    configFor: (id) => translate(state.snapshot, id),
    log: (l) => logs.push(l),
    beforeSend: async (identity, cfg) => {
      assert.equal(identity.id, curl.id);
      prepared.push(cfg.version);
      await new Promise<void>((r) => releases.push(r));
      if (fail) throw new Error('nft: cannot write');
    },
  });
  await server.start();
  t.after(() => server.stop());
  const got: string[] = [];
  const client = new ConfigClient({
    url: server.url,
    token: TOKEN,
    identity: curl,
    onConfig: async (cfg) => {
      got.push(cfg.version);
    },
  });
  client.start();
  t.after(() => client.stop());
  await until('the first preparation', () => prepared.length === 1);
  assert.equal(server.status()[0]!.sentVersion, '', 'nothing sent while it is prepared');
  assert.equal(server.status()[0]!.synced, false);
  releases.shift()!();
  await until('the first config acked', () => server.status()[0]?.ackedVersion === prepared[0]);
  assert.deepEqual(got, [prepared[0]]);

  // Two changes while the first is being prepared: the second is prepared after it, and only it is sent.
  state.snapshot = snapshotFromObjects(loadObjects('mesh-base', 'seed-istio-api'));
  server.push();
  await until('the second preparation', () => prepared.length === 2);
  state.snapshot = snapshotFromObjects(loadObjects('mesh-base'));
  server.push();
  // Back to the config the proxy has: still prepared again (the pod's rules follow), nothing new sent.
  releases.shift()!();
  await until('the third preparation', () => prepared.length === 3);
  assert.equal(prepared[2], prepared[0]);
  assert.equal(server.status()[0]!.sentVersion, prepared[0], 'the overtaken config was not sent');
  releases.shift()!();
  await until('synced', () => server.status()[0]?.synced === true);
  assert.deepEqual(got, [prepared[0]]);

  // A preparation that fails is logged; the config goes out anyway (the proxy is not held back).
  fail = true;
  state.snapshot = snapshotFromObjects(loadObjects('mesh-base', 'seed-istio-api'));
  server.push();
  await until('the fourth preparation', () => prepared.length === 4);
  releases.shift()!();
  await until('the fourth config acked', () => server.status()[0]?.ackedVersion === prepared[3]);
  assert.deepEqual(got, [prepared[0], prepared[3]]);
  assert.ok(logs.some((l) => l.includes(`before sending ${prepared[3]} to curl-1.curl: nft: cannot write`)));
});
