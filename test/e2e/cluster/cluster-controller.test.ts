// `outpost controller` against a Kubernetes API with no local mesh: outpost's own API server runs
// alone as the cluster's API server (no cluster can be started here), and the controller talks to
// it only through client-node, as it would to a real one. The seed's Gateway API YAML goes in with
// kubectl; the deployer's objects appear; status becomes Programmed once a gateway pod is ready
// (the test plays kubelet); the controller resumes after a restart and relists after 410 Gone; two
// controllers elect one leader; pods admitted through the controller's injection webhook and started
// as the kubelet would (downward API env, projected token) get their config and carry the seed's traffic.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startApiServer } from '../../../src/apiserver/server.js';
import { writeKubeconfig } from '../../../src/apiserver/kubeconfig.js';
import { openSqliteStore } from '../../../src/store/sqlite.js';
import type { KubeObject } from '../../../src/api/object.js';
import { eventually, OUTPOST_BIN } from '../../helpers/mesh.js';
import { HTTPBIN_HOST, startExternalServices } from '../../helpers/external.js';
import { randomInt } from 'node:crypto';
import http2 from 'node:http2';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { randomUUID } from 'node:crypto';
import { applyJsonPatch } from '../../../src/apiserver/json-patch.js';
import { makeServingCert } from '../../../src/apiserver/serving-cert.js';
import { DISCOVERY_PATH, NDJSON } from '../../../src/proxyconfig/distribution/protocol.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const SEED = fileURLToPath(new URL('../../fixtures/seed/', import.meta.url));
const KUBECTL = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((p) => existsSync(p));
const skip = !existsSync(join(ROOT, 'dist', 'cli', 'main.js')) ? 'outpost is not built (run npx tsc -p tsconfig.json)' : false;

interface Controller {
  proc: ChildProcess;
  stderr: () => string;
  stop(): Promise<void>;
}

// Short leases, so a takeover happens within seconds.
const LEASE_FLAGS = ['--leader-elect-lease-duration', '3s', '--leader-elect-renew-deadline', '2s', '--leader-elect-retry-period', '300ms'];

function startController(kubeconfig: string, extra: string[] = []): Promise<Controller> {
  const proc = spawn(
    process.execPath,
    [
      OUTPOST_BIN,
      'controller',
      '--kubeconfig',
      kubeconfig,
      ...(extra.includes('--distribution-address') ? [] : ['--distribution-address', '127.0.0.1:0']),
      ...LEASE_FLAGS,
      ...extra,
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      // Short server-side watch timeouts, so a compacted position is found within seconds.
      env: { ...process.env, OUTPOST_WATCH_TIMEOUT_SECONDS: '2' },
    },
  );
  let err = '';
  proc.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
      proc.once('exit', () => resolve());
      proc.kill('SIGTERM');
    });
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('controller ready')) resolve({ proc, stderr: () => err, stop });
    });
    proc.once('exit', (code) => reject(new Error(`controller exited (${code}) before it was ready:\n${err}`)));
  });
}

interface ClusterApi {
  dir: string;
  store: ReturnType<typeof openSqliteStore>;
  api: Awaited<ReturnType<typeof startApiServer>>;
  token: string;
  kubeconfig: string;
}

/** outpost's API server alone, as the cluster's API server, with a kubeconfig for it; all removed after the test. */
async function startClusterApi(t: { after: (fn: () => unknown) => void }, opts: { historyLimit?: number } = {}): Promise<ClusterApi> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-cluster-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = openSqliteStore(join(dir, 'store.db'), opts.historyLimit !== undefined ? { historyLimit: opts.historyLimit } : {});
  t.after(() => store.close());
  const token = 'cluster-test-token';
  const api = await startApiServer({ store, token });
  t.after(() => api.close());
  const kubeconfig = join(dir, 'kubeconfig');
  writeKubeconfig(kubeconfig, { url: api.url, token });
  return { dir, store, api, token, kubeconfig };
}

function condition(obj: KubeObject | undefined, type: string): { status?: string; reason?: string; message?: string } | undefined {
  const conds = ((obj?.status as { conditions?: { type: string }[] } | undefined)?.conditions ?? []) as { type: string; status?: string; reason?: string }[];
  return conds.find((c) => c.type === type);
}

test(
  'outpost controller programs the seed Gateway API egress against a Kubernetes API, resumes after a restart, relists after 410',
  { skip, timeout: 180_000 },
  async (t) => {
    // A short event history, so that churn compacts a watcher's position away (410 Gone).
    const { store, kubeconfig } = await startClusterApi(t, { historyLimit: 40 });
    // The controller's own namespace, where its Lease lives.
    store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'istio-system' } });

    let controller = await startController(kubeconfig);
    t.after(() => controller.stop());

    const kubectl = (...args: string[]): Promise<string> =>
      new Promise((resolve, reject) =>
        execFile(KUBECTL!, args, { env: { ...process.env, KUBECONFIG: kubeconfig }, timeout: 60_000 }, (err, stdout, stderr) =>
          err ? reject(new Error(`kubectl ${args.join(' ')}: ${stderr}`)) : resolve(stdout),
        ),
      );
    const get = (group: string, kind: string, namespace: string | undefined, name: string): KubeObject | undefined =>
      store.get({ group, kind, ...(namespace ? { namespace } : {}), name });

    // The seed's Gateway API egress (§3.3), applied as a user would. Without kubectl, the same objects straight into the cluster's store.
    store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'egress-gateway' } });
    if (KUBECTL) await kubectl('apply', '-n', 'egress-gateway', '-f', join(SEED, 'egress-gateway-cr.yaml'));
    else {
      const docs = parseAllDocuments(readFileSync(join(SEED, 'egress-gateway-cr.yaml'), 'utf8')).map((d) => d.toJS() as KubeObject);
      store.apply(docs.map((d) => ({ ...d, metadata: { ...d.metadata, namespace: 'egress-gateway' } })));
    }

    // The deployer's objects, owned by the Gateway.
    const gw = await eventually('the Gateway is stored', async () => get('gateway.networking.k8s.io', 'Gateway', 'egress-gateway', 'httpbin-egress-gateway'));
    for (const [group, kind] of [
      ['apps', 'Deployment'],
      ['', 'Service'],
      ['', 'ServiceAccount'],
    ] as const) {
      const obj = await eventually(`the deployer's ${kind}`, async () => get(group, kind, 'egress-gateway', 'httpbin-egress-gateway-istio'));
      assert.equal(obj.metadata.ownerReferences?.[0]?.uid, gw.metadata.uid, `${kind} is owned by the Gateway`);
    }
    await eventually('Accepted=True, Programmed=False while no gateway pod is ready', async () => {
      const g = get('gateway.networking.k8s.io', 'Gateway', 'egress-gateway', 'httpbin-egress-gateway');
      return condition(g, 'Accepted')?.status === 'True' && condition(g, 'Programmed')?.status === 'False' ? true : undefined;
    });

    // Play kubelet: a ready pod of the gateway's Deployment.
    const deployment = get('apps', 'Deployment', 'egress-gateway', 'httpbin-egress-gateway-istio')!;
    const podLabels = (deployment.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
    const pod = store.create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'httpbin-egress-gateway-istio-abc12', namespace: 'egress-gateway', labels: podLabels },
      spec: { containers: [{ name: 'istio-proxy', image: 'outpost' }] },
    });
    store.updateStatus(
      { group: '', kind: 'Pod', namespace: 'egress-gateway', name: pod.metadata.name },
      {
        phase: 'Running',
        podIP: '10.244.0.7',
        conditions: [{ type: 'Ready', status: 'True' }],
      },
    );
    const programmed = await eventually('Programmed=True with the pod ready', async () => {
      const g = get('gateway.networking.k8s.io', 'Gateway', 'egress-gateway', 'httpbin-egress-gateway');
      return condition(g, 'Programmed')?.status === 'True' ? g : undefined;
    });
    assert.match(
      condition(programmed, 'Programmed')!.message!,
      /assigned to service\(s\) httpbin-egress-gateway-istio\.egress-gateway\.svc\.cluster\.local:80/,
    );
    const route = await eventually('the HTTPRoute to the gateway has an accepted parent', async () => {
      const r = get('gateway.networking.k8s.io', 'HTTPRoute', 'egress-gateway', 'forward-httpbin-from-egress-gateway');
      const parents = (r?.status as { parents?: { conditions?: { type: string; status: string }[] }[] } | undefined)?.parents ?? [];
      return parents.some((p) => p.conditions?.some((c) => c.type === 'Accepted' && c.status === 'True')) ? r : undefined;
    });
    assert.ok(route);
    if (KUBECTL)
      assert.match(
        await kubectl('get', 'gateway', '-n', 'egress-gateway'),
        /httpbin-egress-gateway\s+istio\s+httpbin-egress-gateway-istio\.egress-gateway\.svc\.cluster\.local\s+True/,
      );

    // Restart: what changed while the controller was down is reconciled when it comes back.
    await controller.stop();
    store.delete({ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'egress-gateway', name: 'httpbin-egress-gateway' });
    // Our API server's garbage collection removed the owned objects; the deployer must not bring them back.
    store.apply([
      {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'Gateway',
        metadata: { name: 'second', namespace: 'egress-gateway' },
        spec: { gatewayClassName: 'istio', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] },
      },
    ]);
    controller = await startController(kubeconfig);
    await eventually('the restarted controller deploys the Gateway created while it was down', async () =>
      get('apps', 'Deployment', 'egress-gateway', 'second-istio'),
    );
    assert.equal(get('apps', 'Deployment', 'egress-gateway', 'httpbin-egress-gateway-istio'), undefined);

    // 410 Gone: churn in a kind the controller does not watch compacts the history past its watches'
    // positions; when those watches end (2 s), resuming them fails with 410 and the reflectors list again.
    const churn = Array.from({ length: 60 }, (_, i) => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `churn-${i}`, namespace: 'egress-gateway' },
      data: { i: String(i) },
    }));
    for (const cm of churn) store.apply([cm]);
    await eventually('a reflector lists again after 410 Gone', async () => (/410 Gone\); listing again/.test(controller.stderr()) ? true : undefined));
    // Still live after the relist: a new Gateway is deployed.
    store.apply([
      {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'Gateway',
        metadata: { name: 'third', namespace: 'egress-gateway' },
        spec: { gatewayClassName: 'istio', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] },
      },
    ]);
    await eventually('the controller keeps working after relisting', async () => get('apps', 'Deployment', 'egress-gateway', 'third-istio'));
    assert.doesNotMatch(controller.stderr(), /\n\s+at /, 'no stack traces in the controller log');
  },
);

test('two controllers: one leads and writes; when it goes, the other takes over', { skip, timeout: 180_000 }, async (t) => {
  const { store, kubeconfig } = await startClusterApi(t);
  store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'istio-system' } });
  store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'egress-gateway' } });

  const a = await startController(kubeconfig);
  t.after(() => a.stop());
  const b = await startController(kubeconfig);
  t.after(() => b.stop());
  const holder = (): string | undefined =>
    (
      store.get({ group: 'coordination.k8s.io', kind: 'Lease', namespace: 'istio-system', name: 'outpost-controller' })?.spec as
        { holderIdentity?: string } | undefined
    )?.holderIdentity || undefined;
  const leaderLine = /leader election: (\S+) became the leader/;
  const first = await eventually('one controller leads', async () => holder());
  // The Lease is written before the winner logs it.
  await eventually('the leader says so', async () => (leaderLine.test(a.stderr()) || leaderLine.test(b.stderr()) ? true : undefined));
  const [leader, follower] = leaderLine.exec(a.stderr())?.[1] === first ? [a, b] : [b, a];
  assert.equal(leaderLine.exec(leader.stderr())?.[1], first, 'the Lease names the controller that says it leads');
  assert.doesNotMatch(follower.stderr(), leaderLine, 'only one leads');

  const gateway = (name: string) => ({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name, namespace: 'egress-gateway' },
    spec: { gatewayClassName: 'istio', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] },
  });
  store.apply([gateway('one')]);
  await eventually('the leader deploys', async () => store.get({ group: 'apps', kind: 'Deployment', namespace: 'egress-gateway', name: 'one-istio' }));
  assert.doesNotMatch(follower.stderr(), /deployer: created/, 'the follower writes nothing');

  // The leader goes (it gives the Lease up as it stops); the follower takes over and writes.
  await leader.stop();
  const second = await eventually('the other controller takes over', async () => {
    const h = holder();
    return h && h !== first ? h : undefined;
  });
  await eventually('the new leader says so', async () => (leaderLine.exec(follower.stderr())?.[1] === second ? true : undefined));
  store.apply([gateway('two')]);
  await eventually('the new leader deploys', async () => store.get({ group: 'apps', kind: 'Deployment', namespace: 'egress-gateway', name: 'two-istio' }));
  const lease = store.get({ group: 'coordination.k8s.io', kind: 'Lease', namespace: 'istio-system', name: 'outpost-controller' })!;
  assert.ok(((lease.spec as { leaseTransitions?: number }).leaseTransitions ?? 0) >= 0);
});

/** A proxy process started as the pod's container would be: env from the downward API, a projected token, the labels file. */
function startPodProxy(
  role: 'router' | 'sidecar',
  env: Record<string, string>,
  hostsFile: string,
): { proc: ChildProcess; out: () => string; err: () => string; stop(): Promise<void> } {
  const proc = spawn(process.execPath, [OUTPOST_BIN, 'proxy', role, '--hosts-file', hostsFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env['PATH'] ?? '', ...env },
  });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  return {
    proc,
    out: () => out,
    err: () => err,
    stop: () =>
      new Promise((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

test(
  "proxies started as the controller's pods would be get their own config with their service-account tokens and carry the seed's traffic",
  { skip, timeout: 180_000 },
  async (t) => {
    const ext = await startExternalServices();
    t.after(() => ext.close());
    const { dir, store, api, token, kubeconfig } = await startClusterApi(t);
    for (const name of ['istio-system', 'egress-gateway', 'curl'])
      store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, ...(name === 'curl' ? { labels: { 'istio-injection': 'enabled' } } : {}) } });
    store.apply([
      {
        apiVersion: 'sailoperator.io/v1',
        kind: 'Istio',
        metadata: { name: 'default' },
        spec: { namespace: 'istio-system', values: { meshConfig: { accessLogFile: '/dev/stdout' } } },
      },
    ]);
    // The injection webhook's certificate, as `outpost install` makes it (a kubernetes.io/tls Secret mounted in the controller).
    const certDir = join(dir, 'webhook');
    mkdirSync(certDir);
    const webhookCert = makeServingCert(['127.0.0.1']);
    writeFileSync(join(certDir, 'tls.crt'), webhookCert.certPem);
    writeFileSync(join(certDir, 'tls.key'), webhookCert.keyPem, { mode: 0o600 });
    const distributionPort = await freePort();
    // Distribution over TLS with the same certificate, as `outpost install` sets it up; injected proxies trust it.
    const distributionUrl = `https://127.0.0.1:${distributionPort}`;
    const controller = await startController(kubeconfig, [
      '--distribution-address',
      `127.0.0.1:${distributionPort}`,
      '--distribution-cert-dir',
      certDir,
      '--webhook-address',
      '127.0.0.1:0',
      '--webhook-cert-dir',
      certDir,
      '--proxy-image',
      'outpost:test',
      '--controller-url',
      distributionUrl,
    ]);
    t.after(() => controller.stop());
    const webhookUrl = await eventually('the webhook URL', async () => /injection webhook on (\S+)/.exec(controller.stderr())?.[1]);

    const apiPost = async (path: string, body: unknown): Promise<Record<string, any>> => {
      const res = await fetch(`${api.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const json = (await res.json()) as Record<string, any>;
      assert.ok(res.ok, `POST ${path}: ${res.status} ${JSON.stringify(json)}`);
      return json;
    };
    /** The API server's call to the mutating webhook (HTTPS, trusting the caBundle). */
    const admit = (pod: KubeObject): Promise<any> =>
      new Promise((resolve, reject) => {
        const body = JSON.stringify({
          apiVersion: 'admission.k8s.io/v1',
          kind: 'AdmissionReview',
          request: { uid: randomUUID(), kind: { group: '', version: 'v1', kind: 'Pod' }, namespace: pod.metadata.namespace, operation: 'CREATE', object: pod },
        });
        const req = httpsRequest(webhookUrl, { method: 'POST', ca: webhookCert.certPem, headers: { 'content-type': 'application/json' } }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(JSON.parse(text)));
        });
        req.on('error', reject);
        req.end(body);
      });
    // Play API server + kubelet: admit the pod through the webhook, store it Running and Ready, and
    // start its istio-proxy container as the kubelet would: env from the downward API, the projected
    // token (TokenRequest, audience from the volume) and the labels file under a host directory.
    const a = randomInt(2, 250);
    const runPod = async (pod: KubeObject, ip: string): Promise<{ env: Record<string, string>; proxy: ReturnType<typeof startPodProxy> }> => {
      const review = await admit(pod);
      assert.equal(review.response.allowed, true);
      assert.equal(review.response.patchType, 'JSONPatch', 'the webhook injects this pod');
      const admitted = applyJsonPatch(pod, JSON.parse(Buffer.from(review.response.patch, 'base64').toString())) as KubeObject;
      const ns = admitted.metadata.namespace!;
      const name = admitted.metadata.name;
      const stored = store.create(admitted);
      store.updateStatus({ group: '', kind: 'Pod', namespace: ns, name }, { phase: 'Running', podIP: ip, conditions: [{ type: 'Ready', status: 'True' }] });
      const spec = admitted.spec as any;
      const container = spec.containers.find((c: any) => c.name === 'istio-proxy');
      const podDir = join(dir, name);
      const mounts = new Map<string, string>();
      for (const m of container.volumeMounts) {
        const vol = spec.volumes.find((v: any) => v.name === m.name);
        const hostDir = join(podDir, m.name);
        mkdirSync(hostDir, { recursive: true });
        mounts.set(m.mountPath, hostDir);
        for (const src of vol.projected?.sources ?? []) {
          const sat = src.serviceAccountToken;
          const tr = await apiPost(`/api/v1/namespaces/${ns}/serviceaccounts/${spec.serviceAccountName}/token`, {
            apiVersion: 'authentication.k8s.io/v1',
            kind: 'TokenRequest',
            spec: {
              audiences: [sat.audience],
              expirationSeconds: sat.expirationSeconds,
              boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name, uid: stored.metadata.uid },
            },
          });
          writeFileSync(join(hostDir, sat.path), tr.status.token, { mode: 0o600 });
        }
        for (const item of vol.downwardAPI?.items ?? []) {
          const labels = item.fieldRef.fieldPath === 'metadata.labels' ? (admitted.metadata.labels ?? {}) : (admitted.metadata.annotations ?? {});
          writeFileSync(
            join(hostDir, item.path),
            Object.entries(labels)
              .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
              .join('\n') + '\n',
          );
        }
      }
      const fields: Record<string, string> = {
        'metadata.name': name,
        'metadata.namespace': ns,
        'status.podIP': ip,
        'spec.serviceAccountName': spec.serviceAccountName,
      };
      const env: Record<string, string> = { OUTPOST_ADMIN_PORT: '0' };
      for (const e of container.env) {
        let value: string = e.value ?? fields[e.valueFrom.fieldRef.fieldPath];
        for (const [mountPath, hostDir] of mounts) if (value.startsWith(`${mountPath}/`)) value = hostDir + value.slice(mountPath.length);
        env[e.name] = value;
      }
      assert.deepEqual(container.args.slice(0, 1), ['proxy']);
      const proxy = startPodProxy(container.args[1], env, ext.hostsFile);
      t.after(() => proxy.stop());
      return { env, proxy };
    };

    // The seed's Gateway API egress; the deployer makes the gateway's Deployment and ServiceAccount.
    store.apply([
      {
        apiVersion: 'networking.istio.io/v1',
        kind: 'ServiceEntry',
        metadata: { name: 'httpbin-ext', namespace: 'egress-gateway' },
        spec: { hosts: [HTTPBIN_HOST], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], location: 'MESH_EXTERNAL', resolution: 'DNS' },
      },
      {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'Gateway',
        metadata: { name: 'httpbin-egress-gateway', namespace: 'egress-gateway', annotations: { 'networking.istio.io/service-type': 'ClusterIP' } },
        spec: {
          gatewayClassName: 'istio',
          listeners: [{ name: 'http', hostname: HTTPBIN_HOST, port: 80, protocol: 'HTTP', allowedRoutes: { namespaces: { from: 'Same' } } }],
        },
      },
      {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: { name: 'direct-httpbin-to-egress-gateway', namespace: 'egress-gateway' },
        spec: {
          parentRefs: [{ kind: 'ServiceEntry', group: 'networking.istio.io', name: 'httpbin-ext' }],
          rules: [{ backendRefs: [{ name: 'httpbin-egress-gateway-istio', port: 80 }] }],
        },
      },
      {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: { name: 'forward-httpbin-from-egress-gateway', namespace: 'egress-gateway' },
        spec: {
          parentRefs: [{ name: 'httpbin-egress-gateway' }],
          hostnames: [HTTPBIN_HOST],
          rules: [{ backendRefs: [{ kind: 'Hostname', group: 'networking.istio.io', name: HTTPBIN_HOST, port: 80 }] }],
        },
      },
    ]);
    const deployment = await eventually("the deployer's Deployment", async () =>
      store.get({ group: 'apps', kind: 'Deployment', namespace: 'egress-gateway', name: 'httpbin-egress-gateway-istio' }),
    );
    await eventually("the deployer's ServiceAccount", async () =>
      store.get({ group: '', kind: 'ServiceAccount', namespace: 'egress-gateway', name: 'httpbin-egress-gateway-istio' }),
    );
    const template = (deployment.spec as any).template;
    assert.deepEqual(template.spec.containers[0].args, ['proxy', 'router'], 'the gateway container runs `outpost proxy router`');
    const gwIp = `127.91.${a}.2`;
    const { env: gwEnv, proxy: gateway } = await runPod(
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: 'httpbin-egress-gateway-istio-6d8b9c7f5d-q7x2k',
          namespace: 'egress-gateway',
          labels: template.metadata.labels,
          annotations: template.metadata.annotations,
        },
        spec: template.spec,
      },
      gwIp,
    );

    store.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'curl', namespace: 'curl' } });
    const curlIp = `127.91.${a}.3`;
    const { env: curlEnv } = await runPod(
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'curl-5b7d8f9c6d-m4n8p', namespace: 'curl', labels: { app: 'curl' } },
        spec: { serviceAccountName: 'curl', containers: [{ name: 'curl', image: 'curl', command: ['/bin/sleep', 'infinity'] }] },
      },
      curlIp,
    );

    await eventually('the Gateway is Programmed', async () =>
      condition(store.get({ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'egress-gateway', name: 'httpbin-egress-gateway' }), 'Programmed')
        ?.status === 'True'
        ? true
        : undefined,
    );
    // The seed's request from the curl pod, through its sidecar and the egress gateway.
    const body = await eventually('curl through the sidecar and the gateway', async () => {
      const r = await new Promise<{ code: number; stdout: string }>((resolve) =>
        execFile('curl', ['-sS', '--max-time', '5', '-x', `http://${curlIp}:15001`, `http://${HTTPBIN_HOST}/get`], (err, stdout) =>
          resolve({ code: err ? 1 : 0, stdout }),
        ),
      );
      return r.code === 0 && r.stdout.includes('"url"') ? r.stdout : undefined;
    });
    assert.equal(JSON.parse(body).url, `http://${HTTPBIN_HOST}/get`);
    const line = await eventually('the gateway logs the request', async () =>
      gateway
        .out()
        .split('\n')
        .find((l) => l.includes('outbound|80||httpbin.org')),
    );
    assert.match(line, /"GET \/get HTTP\/2" 200 /, 'sidecar → gateway is HTTP/2, as the seed shows');

    // A proxy may subscribe only as its own pod: the curl pod's token claiming the gateway is refused.
    const session = http2.connect(distributionUrl, { ca: webhookCert.certPem });
    t.after(() => session.close());
    const refused = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const stream = session.request({
        ':method': 'POST',
        ':path': DISCOVERY_PATH,
        'content-type': NDJSON,
        authorization: `Bearer ${readFileSync(curlEnv.OUTPOST_TOKEN_FILE!, 'utf8')}`,
      });
      let status = 0;
      let text = '';
      stream.on('response', (h) => (status = Number(h[':status'])));
      stream.on('data', (c: Buffer) => (text += c.toString()));
      stream.on('end', () => resolve({ status, body: text }));
      stream.on('error', reject);
      stream.end(
        JSON.stringify({
          type: 'subscribe',
          identity: {
            id: gwEnv.POD_NAME + '.egress-gateway',
            role: 'router',
            namespace: 'egress-gateway',
            workload: 'httpbin-egress-gateway-istio',
            labels: template.metadata.labels,
          },
        }) + '\n',
      );
    });
    assert.equal(refused.status, 403, refused.body);
    assert.match(refused.body, /namespace curl, not egress-gateway/);
  },
);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}
