// Control-plane figures: translation time and memory for one proxy with 10,000 ServiceEntries and 1,000 VirtualServices,
// and the time from an apply to the last of 50 connected proxies ACKing it.
// Run: node --expose-gc --import tsx bench/controlplane.ts [--ses 10000] [--vss 1000] [--proxies 50] [--rounds 5] [--only translation|propagation]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeObject } from '../src/api/object.js';
import type { ProxyIdentity } from '../src/proxyconfig/types.js';
import { snapshotFromObjects } from '../src/controlplane/snapshot.js';
import { translate } from '../src/controlplane/translate/index.js';
import { ControlPlane } from '../src/controlplane/control-plane.js';
import { ConfigClient } from '../src/proxyconfig/distribution/client.js';
import { openSqliteStore } from '../src/store/sqlite.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}
const SES = arg('ses', 10_000);
const VSS = arg('vss', 1_000);
const PROXIES = arg('proxies', 50);
const ROUNDS = arg('rounds', 5);

const gc = (globalThis as { gc?: () => void }).gc;
const mb = (n: number) => `${(n / 1048576).toFixed(0)} MB`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function meshObjects(ses: number, vss: number): KubeObject[] {
  const objs: KubeObject[] = [
    {
      apiVersion: 'sailoperator.io/v1',
      kind: 'Istio',
      metadata: { name: 'default' },
      spec: { version: 'v1.24.3', values: { meshConfig: { accessLogFile: '/dev/stdout' } } },
    },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'curl', labels: { 'istio-injection': 'enabled' } } },
  ];
  for (let i = 0; i < ses; i++) {
    objs.push({
      apiVersion: 'networking.istio.io/v1',
      kind: 'ServiceEntry',
      metadata: { name: `se-${i}`, namespace: `team-${i % 20}` },
      spec: {
        hosts: [`svc-${i}.example.com`],
        ports: [
          { number: 80, name: 'http', protocol: 'HTTP' },
          { number: 443, name: 'tls', protocol: 'TLS' },
        ],
        resolution: 'DNS',
        location: 'MESH_EXTERNAL',
      },
    });
  }
  for (let i = 0; i < vss; i++) {
    objs.push({
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: `vs-${i}`, namespace: `team-${i % 20}` },
      spec: {
        hosts: [`svc-${i}.example.com`],
        http: [
          {
            name: 'api',
            match: [{ uri: { prefix: '/api' }, headers: { 'x-canary': { exact: 'yes' } } }],
            route: [
              { destination: { host: `svc-${i}.example.com`, port: { number: 80 } }, weight: 90 },
              { destination: { host: `svc-${(i + 1) % ses}.example.com`, port: { number: 80 } }, weight: 10 },
            ],
            timeout: '3s',
          },
          { route: [{ destination: { host: `svc-${i}.example.com` } }], retries: { attempts: 3, perTryTimeout: '1s' } },
        ],
      },
    });
  }
  return objs;
}

function benchTranslation(): void {
  const identity: ProxyIdentity = { id: 'curl-1.curl', role: 'sidecar', namespace: 'curl', workload: 'curl', ip: '127.0.1.2', labels: { app: 'curl' } };
  const times: number[] = [];
  const snapshotTimes: number[] = [];
  const translateTimes: number[] = [];
  const cpuTimes: number[] = [];
  const secondTimes: number[] = [];
  let peak = 0;
  let clusters = 0;
  for (let r = 0; r < ROUNDS; r++) {
    // Fresh objects each round, handed over without a copy: what the control plane does with the store's reads.
    const objects = meshObjects(SES, VSS);
    gc?.();
    const before = process.memoryUsage();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const snapshot = snapshotFromObjects(objects, '0', false);
    const t1 = performance.now();
    const cfg = translate(snapshot, identity);
    const dt = performance.now() - t0;
    const cpu = process.cpuUsage(c0);
    cpuTimes.push((cpu.user + cpu.system) / 1000);
    snapshotTimes.push(t1 - t0);
    translateTimes.push(performance.now() - t1);
    const after = process.memoryUsage();
    times.push(dt);
    peak = Math.max(peak, after.rss, before.rss);
    // The next proxy of the same snapshot (the control plane translates one config per connected proxy).
    const t2 = performance.now();
    translate(snapshot, { ...identity, id: 'curl-2.curl', ip: '127.0.1.3' });
    secondTimes.push(performance.now() - t2);
    peak = Math.max(peak, process.memoryUsage().rss);
    clusters = cfg.clusters.length;
    if (r === 0)
      console.log(
        `config: ${cfg.listeners.length} listeners, ${cfg.routeTables.reduce((n, t) => n + t.virtualHosts.length, 0)} virtual hosts, ${clusters} clusters, ${(JSON.stringify(cfg).length / 1048576).toFixed(1)} MB as JSON`,
      );
  }
  console.log(`next proxy of the same snapshot: median ${median(secondTimes).toFixed(0)} ms, min ${Math.min(...secondTimes).toFixed(0)}`);
  console.log(
    `translation (${SES} ServiceEntries, ${VSS} VirtualServices, one sidecar; snapshot + registry + translate): median ${median(times).toFixed(0)} ms, min ${Math.min(...times).toFixed(0)}, max ${Math.max(...times).toFixed(0)} over ${ROUNDS} rounds (of which snapshot (freeze, no copy) median ${median(snapshotTimes).toFixed(0)} ms, translate incl. registry median ${median(translateTimes).toFixed(0)} ms; process CPU median ${median(cpuTimes).toFixed(0)} ms, GC threads included); peak RSS ${mb(peak)} (goal < 1 s, < 300 MB)`,
  );
}

async function benchPropagation(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-cp-'));
  const store = openSqliteStore(join(dir, 'store.db'), { synchronous: 'NORMAL' });
  const cp = new ControlPlane({ store, token: 'bench' });
  const clients: ConfigClient[] = [];
  try {
    store.apply(meshObjects(200, 20));
    await cp.start();
    for (let i = 0; i < PROXIES; i++) {
      const c = new ConfigClient({
        url: cp.distributionUrl,
        token: 'bench',
        identity: { id: `p-${i}.curl`, role: 'sidecar', namespace: 'curl', workload: `w-${i % 5}`, ip: `127.0.1.${i + 2}`, labels: { app: `w-${i % 5}` } },
        onConfig: async () => undefined,
      });
      c.start();
      clients.push(c);
    }
    const allSynced = () => {
      const rows = cp.proxyStatus();
      return rows.length === PROXIES && rows.every((r) => r.synced);
    };
    const wait = async (cond: () => boolean, limitMs: number) => {
      const deadline = Date.now() + limitMs;
      while (!cond()) {
        if (Date.now() > deadline) throw new Error('timed out');
        await new Promise((r) => setTimeout(r, 2));
      }
    };
    await wait(allSynced, 30_000);
    const samples: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      await wait(() => allSynced() && cp.revision() === store.revision(), 30_000);
      const before = new Map(cp.proxyStatus().map((row) => [row.id, row.ackedVersion]));
      const t0 = performance.now();
      store.apply([
        {
          apiVersion: 'networking.istio.io/v1',
          kind: 'ServiceEntry',
          metadata: { name: `bench-${r}`, namespace: 'curl' },
          spec: { hosts: [`bench-${r}.example.com`], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], resolution: 'DNS' },
        },
      ]);
      await wait(() => {
        const rows = cp.proxyStatus();
        return rows.length === PROXIES && rows.every((row) => row.ackedVersion !== before.get(row.id) && row.synced);
      }, 30_000);
      samples.push(performance.now() - t0);
    }
    console.log(
      `propagation (apply → last of ${PROXIES} proxies ACKed, debounce 100 ms): median ${median(samples).toFixed(0)} ms, min ${Math.min(...samples).toFixed(0)}, max ${Math.max(...samples).toFixed(0)} over ${ROUNDS} rounds (goal < 2 s)`,
    );
  } finally {
    await Promise.all(clients.map((c) => c.stop()));
    await cp.stop();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const onlyAt = process.argv.indexOf('--only');
const only = onlyAt >= 0 ? process.argv[onlyAt + 1] : undefined;
if (only !== 'propagation') benchTranslation();
if (only !== 'translation') await benchPropagation();
