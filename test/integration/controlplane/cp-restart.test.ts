// The control plane is SIGKILLed and restarted under traffic: the seed's egress flow (curl sidecar →
// egress gateway → docs.redhat.com, Istio API) runs through two `outpost proxy --bootstrap`
// processes fed by a ControlPlane in its own process over a SQLite store. No request fails while
// the control plane is away; after the restart both proxies reconnect and ACK, and a change made
// through the store reaches them and shows in the traffic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeObject } from '../../../src/api/object.js';
import type { ProxyIdentity } from '../../../src/proxyconfig/types.js';
import type { ProxyStatusRow } from '../../../src/proxyconfig/distribution/protocol.js';
import { openSqliteStore } from '../../../src/store/sqlite.js';
import { subnetFor } from '../../../src/runtime/addresses.js';
import { loadObjects } from '../../fixtures/cp/load.js';
import { DOCS_HOST, startExternalServices } from '../../helpers/external.js';
import { freePort } from '../../helpers/proxy-harness.js';
import { fetchProxyStatus, spawnBootstrapProxy, spawnControlPlane, until, type BootstrapProxy, type ChildHandle } from '../../helpers/cp-harness.js';

const TOKEN = 'cp-restart-token';
const CLIENTS = 4;
/** Bounds on the traffic loop: it normally ends well before either. */
const MAX_REQUESTS = 30_000;
const MAX_TRAFFIC_MS = 90_000;
/** Pause between one client's requests, so the bounds cover a slow machine's restart. */
const PACE_MS = 5;
const MARKER = 'x-outpost-cp';

/** The fixtures as `kubectl apply` would send them (the store assigns uid, generation, timestamps). */
function strip(objs: KubeObject[]): KubeObject[] {
  return objs.map((o) => {
    const { uid: _u, generation: _g, creationTimestamp: _c, ...meta } = o.metadata;
    return { ...o, metadata: meta };
  });
}

/** The pods' IPs moved into this test's own /24, so parallel tests never share an address. */
function withPodIps(objs: KubeObject[], ips: Record<string, string>): KubeObject[] {
  return objs.map((o) => {
    const ip = o.kind === 'Pod' ? ips[o.metadata.name] : undefined;
    return ip ? { ...o, status: { ...(o.status as object), podIP: ip } } : o;
  });
}

interface Traffic {
  ok: number;
  /** Responses carrying the marker header the config change adds, and those without it. */
  marked: number;
  plain: number;
  failures: string[];
  total: number;
  stop: boolean;
}

/** The seed's egress-vs routes; `marker`: the gateway's route sets MARKER on the request and the response. */
function egressRoutes(marker: boolean): unknown[] {
  return [
    {
      match: [{ gateways: ['mesh'], port: 80 }],
      route: [{ destination: { host: 'egressgw.gw-ns.svc.cluster.local', subset: 'rh-docs', port: { number: 80 } }, weight: 100 }],
    },
    {
      match: [{ gateways: ['gw-ns/egress-gw'], port: 80 }],
      route: [{ destination: { host: DOCS_HOST, port: { number: 80 } }, weight: 100 }],
      ...(marker ? { headers: { request: { set: { [MARKER]: 'restarted' } }, response: { set: { [MARKER]: 'restarted' } } } } : {}),
    },
  ];
}

/** One GET through the sidecar as a forward proxy (absolute-form request line). */
function get(sidecarIp: string, agent: http.Agent | false): Promise<{ status: number; body: string; marker: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: sidecarIp, port: 15001, method: 'GET', path: `http://${DOCS_HOST}/en`, headers: { host: DOCS_HOST }, agent, timeout: 5000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, marker: res.headers[MARKER] as string | undefined }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer in 5 s')));
    req.on('error', reject);
    req.end();
  });
}

/** CLIENTS loops of requests until `stop` or a bound; one client opens a new connection each time. */
function runTraffic(sidecarIp: string, traffic: Traffic): Promise<void> {
  const started = Date.now();
  const client = async (agent: http.Agent | false): Promise<void> => {
    while (!traffic.stop && traffic.total < MAX_REQUESTS && Date.now() - started < MAX_TRAFFIC_MS) {
      traffic.total++;
      const at = Date.now() - started;
      try {
        const r = await get(sidecarIp, agent);
        if (r.status === 200 && r.body.includes('docs stand-in')) {
          traffic.ok++;
          if (r.marker === 'restarted') traffic.marked++;
          else traffic.plain++;
        } else {
          traffic.failures.push(`${at} ms: ${r.status} ${r.body.slice(0, 200)}`);
        }
      } catch (err) {
        traffic.failures.push(`${at} ms: ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, PACE_MS));
    }
  };
  const agents = Array.from({ length: CLIENTS - 1 }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
  return Promise.all([...agents.map((a) => client(a)), client(false)]).then(() => {
    for (const a of agents) a.destroy();
  });
}

test(
  'the control plane is SIGKILLed and restarted under traffic: no request fails, proxies re-ACK, a later change arrives',
  { timeout: 150_000 },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'cp-restart-'));
    const children: ChildHandle[] = [];
    /** Spawns still starting: cleanup waits for them so none is left running. */
    const starting: Promise<unknown>[] = [];
    const ext = await startExternalServices();
    const dbPath = join(dir, 'store.db');
    const store = openSqliteStore(dbPath, { pollMs: 20 });
    const traffic: Traffic = { ok: 0, marked: 0, plain: 0, failures: [], total: 0, stop: false };
    let loop: Promise<void> | undefined;
    t.after(async () => {
      traffic.stop = true;
      await loop;
      await Promise.allSettled(starting);
      for (const c of children) await c.kill();
      store.close();
      await ext.close();
      rmSync(dir, { recursive: true, force: true });
    });

    const subnet = subnetFor(dir);
    const sidecarIp = `${subnet}.2`;
    const gatewayIp = `${subnet}.3`;
    store.apply(
      withPodIps(strip(loadObjects('mesh-base', 'seed-istio-api')), {
        'curl-5b8f9c7d6-abcde': sidecarIp,
        'egressgw-7d9c8b6f5-xyz12': gatewayIp,
      }),
    );

    const port = await freePort();
    const cp1 = await spawnControlPlane(dbPath, port, TOKEN);
    children.push(cp1);
    const url = cp1.url;
    assert.equal(url, `http://127.0.0.1:${port}`);

    const identities: ProxyIdentity[] = [
      { id: 'curl-5b8f9c7d6-abcde.curl', role: 'sidecar', namespace: 'curl', workload: 'curl', labels: { app: 'curl' }, ip: sidecarIp },
      {
        id: 'egressgw-7d9c8b6f5-xyz12.gw-ns',
        role: 'router',
        namespace: 'gw-ns',
        workload: 'egressgw',
        labels: { istio: 'egressgw', app: 'egressgw' },
        ip: gatewayIp,
      },
    ];
    const proxies = await Promise.all(
      identities.map(async (identity) => {
        const p = spawnBootstrapProxy(
          {
            identity,
            admin: { address: identity.ip!, port: 15000 },
            controlPlane: { url, token: TOKEN },
            resolver: { hostsFile: ext.hostsFile },
          },
          join(dir, `${identity.workload}.bootstrap.json`),
        );
        // Registered as soon as it exists, so a failing sibling does not leak it.
        starting.push(
          p.then(
            (h) => children.push(h),
            () => undefined,
          ),
        );
        return p;
      }),
    );
    const [sidecar, gateway] = proxies as [BootstrapProxy, BootstrapProxy];
    const logs = (): string => children.map((c) => `--- ${c.name}\n${c.stderr().slice(-3000)}`).join('\n');

    /** Both proxies listed by the control plane at `cpUrl`, each synced on the version its own admin reports. */
    const bothSynced = async (cpUrl: string): Promise<ProxyStatusRow[] | undefined> => {
      const rows = await fetchProxyStatus(cpUrl, TOKEN);
      if (rows.length !== 2) return undefined;
      for (const [i, p] of [sidecar, gateway].entries()) {
        const row = rows.find((r) => r.id === identities[i]!.id);
        if (!row?.synced || row.ackedVersion !== (await p.configVersion())) return undefined;
      }
      return rows;
    };
    const before = await until('both proxies synced on the first control plane', () => bothSynced(url), 15_000, logs);

    const t0 = Date.now();
    const phases: string[] = [];
    const phase = (name: string): void => {
      phases.push(`${name} +${Date.now() - t0} ms`);
    };
    loop = runTraffic(sidecarIp, traffic);
    const served = (n: number, what: string): Promise<number> =>
      until(
        `${n} requests served (${what})`,
        () => traffic.ok >= n && traffic.ok,
        20_000,
        () => `ok ${traffic.ok}, failures ${traffic.failures.slice(0, 5).join('; ')}\n${logs()}`,
      );
    await served(100, 'before the kill');

    /** Kill -9 (no goodbye on the distribution stream) and wait until each proxy has seen the connection drop. */
    const killControlPlane = async (cp: ChildHandle): Promise<void> => {
      const marks = proxies.map((p) => p.mark());
      const killed = await cp.kill();
      phase('killed');
      assert.equal(killed.signal, 'SIGKILL');
      await Promise.all(proxies.map((p, i) => p.waitForLog(/control plane \S+: disconnected/, marks[i]!, 'noticed the control plane is gone')));
      await assert.rejects(fetchProxyStatus(url, TOKEN), 'nothing answers on the distribution URL while the control plane is down');
    };
    /** A new control plane on the same port and store; resolves once both proxies have reconnected and re-ACKed. */
    const restartControlPlane = async (): Promise<{ cp: ChildHandle; rows: ProxyStatusRow[]; marks: number[] }> => {
      const marks = proxies.map((p) => p.mark());
      const cp = await spawnControlPlane(dbPath, port, TOKEN);
      children.push(cp);
      phase('restarted');
      assert.equal(cp.url, url, 'the restarted control plane listens on the same URL');
      await Promise.all(proxies.map((p, i) => p.waitForLog(/control plane \S+: connected/, marks[i]!, 'reconnected', 15_000)));
      phase('reconnected');
      return { cp, rows: await until('both proxies re-ACKed on the restarted control plane', () => bothSynced(url), 15_000, logs), marks };
    };
    const versionOf = (rows: ProxyStatusRow[], i: number): string => rows.find((r) => r.id === identities[i]!.id)!.ackedVersion;
    const setMarkerRoute = (on: boolean): void => {
      store.patch({ group: 'networking.istio.io', kind: 'VirtualService', namespace: 'curl', name: 'egress-vs' }, { spec: { http: egressRoutes(on) } });
    };

    // 1. Killed and restarted with the store unchanged: traffic never notices.
    await killControlPlane(cp1);
    const okAtKill = traffic.ok;
    // The proxies keep serving on their last good config (and keep retrying with backoff).
    await served(okAtKill + 200, 'while the control plane is down');
    assert.ok(
      proxies.every((p) => p.exit() === undefined),
      `a proxy exited while the control plane was away\n${logs()}`,
    );
    const restarted = await restartControlPlane();
    for (const i of [0, 1]) {
      // Same store, same content, same version: nothing re-applied.
      assert.equal(versionOf(restarted.rows, i), versionOf(before, i), `${identities[i]!.id}: version after the restart`);
      assert.doesNotMatch(proxies[i]!.since(restarted.marks[i]!), /config \S+ applied/, `${proxies[i]!.name} re-applied an unchanged config`);
    }
    await served(traffic.ok + 100, 'after the restart');

    // 2. A change through the store after the restart: the gateway's route now sets a header both ways.
    const changeMark = gateway.mark();
    const seenBefore = ext.seen[DOCS_HOST]!.length;
    setMarkerRoute(true);
    const changed = await until(
      'the gateway ACKs the changed config',
      async () => {
        const rows = await bothSynced(url);
        return rows && versionOf(rows, 1) !== versionOf(before, 1) && rows;
      },
      15_000,
      logs,
    );
    await gateway.waitForLog(/config \S+ applied/, changeMark, 'applied the change');
    await until(
      '50 responses carry the new header',
      () => traffic.marked >= 50,
      15_000,
      () => `marked ${traffic.marked}, ok ${traffic.ok}\n${logs()}`,
    );
    assert.ok(
      ext.seen[DOCS_HOST]!.slice(seenBefore).some((r) => r.headers[MARKER] === 'restarted'),
      'docs.redhat.com saw the header the gateway now sets',
    );

    // 3. A change made while the control plane is down arrives when it comes back.
    await killControlPlane(restarted.cp);
    setMarkerRoute(false);
    const markedWhileDown = traffic.marked;
    await served(traffic.ok + 100, 'on the last good config while the control plane is down');
    assert.ok(traffic.marked >= markedWhileDown + 50, 'the gateway keeps its last config (with the header) until the control plane is back');
    assert.equal(await gateway.configVersion(), versionOf(changed, 1));
    const back = await restartControlPlane();
    // Translation is a pure function of the content: the route as it was gives the first version again.
    assert.equal(versionOf(back.rows, 1), versionOf(before, 1), 'the gateway is back on its original config');
    assert.match(gateway.since(back.marks[1]!), /config \S+ applied/);
    const plainAtBack = traffic.plain;
    await until(
      '50 responses without the header',
      () => traffic.plain >= plainAtBack + 50,
      15_000,
      () => `plain ${traffic.plain}\n${logs()}`,
    );

    traffic.stop = true;
    await loop;
    assert.deepEqual(traffic.failures.slice(0, 20), [], `${traffic.failures.length} of ${traffic.total} requests failed`);
    assert.ok(traffic.total < MAX_REQUESTS, "the phases finished inside the traffic loop's bounds");
    assert.equal(traffic.ok, traffic.total);
    for (const p of proxies) {
      assert.equal(p.exit(), undefined, `${p.name} is still running`);
      assert.doesNotMatch(p.stderr(), /uncaught|unhandled/i, `${p.name} logged an uncaught error`);
    }
    phase('done');
    t.diagnostic(`requests: ${traffic.total} (${okAtKill} before the first kill, ${traffic.marked} with the header); ${phases.join(', ')}`);
  },
);
