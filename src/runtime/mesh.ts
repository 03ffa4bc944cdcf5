// The local mesh in one process: store, Kubernetes API, control plane, workloads and the
// control endpoint, over one state directory.
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { describeObject, type KubeObject } from '../api/object.js';
import { startApiServer } from '../apiserver/server.js';
import type { LogOptions, LogSource } from '../apiserver/resources.js';
import { badRequest } from '../apiserver/status.js';
import { writeKubeconfig } from '../apiserver/kubeconfig.js';
import { ControlPlane } from '../controlplane/control-plane.js';
import { ADMIN_PORT } from './proxy-process.js';
import type { ProxyConfig, ProxyIdentity } from '../proxyconfig/types.js';
import { openSqliteStore } from '../store/sqlite.js';
import type { Store } from '../store/types.js';
import { AddressBook, subnetFor } from './addresses.js';
import { startControlServer, type ControlServer } from './control-server.js';
import {
  acquireUpLock,
  ensureStateDir,
  isOurProxy,
  isPidAlive,
  readDistributionPort,
  readEndpoint,
  readProxyPids,
  releaseUpLock,
  removeEndpoint,
  statePaths,
  upLockHolder,
  writeDistributionPort,
  writeEndpoint,
  type MeshEndpoint,
  type ProxyPidRecord,
  type StatePaths,
} from './state-dir.js';
import { probeRunningMesh } from './mesh-probe.js';
import { WorkloadManager, type ResolverOptions, type WorkloadInfo } from './workloads.js';
import { waitForSync, type SyncResult } from './sync.js';
import { loadExample, startExampleExternals } from './example.js';
import { readLogFile } from './log-file.js';
import { DEFAULT_LOG_ROTATION, startLogRotation, type LogRotationOptions } from './log-rotation.js';
import { processGroupFreeze } from './process-freeze.js';

/** Why NetworkPolicy is not enforced in the loopback model (the `up` line and every policy's status). */
const LOOPBACK_NOT_ENFORCED =
  "not enforced: pods share the machine's network (loopback model); NetworkPolicy needs pods in their own network namespaces (--pod-network netns, as root with nft)";

/** Istio's plain-text xDS port (15010), asked for first on the mesh's own loopback address. */
const DEFAULT_DISTRIBUTION_PORT = 15010;
import { privateUmask, securePrivateTree } from './private-state.js';
import { redactSecrets } from '../proxyconfig/redact.js';
import { startMeshIdentity, type MeshCaOptions } from './mesh-identity.js';
import { adminGet } from './pods/admin-client.js';
import { choosePodNetwork, type PodNetworkMode } from './pods/pod-network-mode.js';
import { NodeNetwork, nodeNetworkNames, pickFreePodSubnet, removeNodeNetwork } from './pods/node-network.js';
import { ClusterDns } from './pods/cluster-dns.js';
import { ServiceRouting } from './pods/service-routing.js';
import { EgressViewCollector } from './egress-view/collector.js';
import { startDashboardServer } from './egress-view/server.js';

export { probeRunningMesh };
import { SAIL_GROUP, SAIL_V1 } from '../api/groups.js';
import { NetworkPolicyEnforcer } from './pods/network-policy/enforcer.js';
import { nodeHostedPeers } from './pods/network-policy/node-peers.js';

export interface MeshOptions {
  stateDir: string;
  resolver?: ResolverOptions;
  log?: (line: string) => void;
  /** Objects created on the very first start (when the store is empty of them). */
  seedObjects?: KubeObject[];
  /** Run the example (`npm start`): apply examples/seed-istio-api and start the httpbin.org stand-in. */
  example?: boolean;
  /** Rotation of the log files under the state dir's logs/ (kubelet's defaults when absent). */
  logRotation?: LogRotationOptions;
  /** The `outpost up` that restarts this mesh when it crashes (recorded for `down`). */
  supervisorPid?: number;
  /** A plug-in CA and the workload certificate lifetime (default: the state dir's own root, 24 h). */
  ca?: MeshCaOptions;
  /** Pod model: netns (each pod a network namespace on outpost's bridge), loopback, or auto (netns where possible). Default loopback. */
  podNetwork?: PodNetworkMode;
  /** The egress dashboard's listener port on the mesh's loopback address (0: a free one), how often it collects, or false for none. */
  dashboard?: { port?: number; intervalMs?: number } | false;
}

export interface RunningMesh {
  endpoint: MeshEndpoint;
  paths: StatePaths;
  store: Store;
  workloads: WorkloadManager;
  /** Resolves when `stop()` finished (called by anyone, e.g. the control endpoint's shutdown). */
  stopped: Promise<void>;
  stop(): Promise<void>;
  /**
   * For a mesh process whose supervisor is gone: gives up the state dir (api.json, the lock, the
   * store) and leaves the proxies serving, as a crash would but tidily; the caller then exits.
   */
  abandon(): void;
}

export class MeshAlreadyRunningError extends Error {
  constructor(readonly endpoint: MeshEndpoint) {
    super(`a mesh is already running on this state dir (pid ${endpoint.pid}, API ${endpoint.url})`);
    this.name = 'MeshAlreadyRunningError';
  }
}

export class MeshStartingError extends Error {
  constructor(readonly pid: number) {
    super(`another outpost up (pid ${pid}) holds this state dir`);
    this.name = 'MeshStartingError';
  }
}

/**
 * Clears what a killed `up` left that is no use any more (a stale api.json, a dead lock holder's
 * lock, pid files of proxies that are gone) and returns the proxies it left that still run: the
 * next `up` adopts them, `down` stops them.
 */
export function cleanStaleState(paths: StatePaths, log: (line: string) => void): ProxyPidRecord[] {
  const ep = readEndpoint(paths);
  if (ep && !isPidAlive(ep.pid)) {
    log(`removing stale ${paths.api} (pid ${ep.pid} is gone)`);
    removeEndpoint(paths);
  }
  const alive: ProxyPidRecord[] = [];
  for (const rec of readProxyPids(paths)) {
    if (isOurProxy(rec)) alive.push(rec);
    else rmSync(rec.file, { force: true });
  }
  if (existsSync(paths.upLock) && upLockHolder(paths) === undefined) rmSync(paths.upLock, { force: true });
  return alive;
}

/**
 * Starts the control plane on the distribution port this state dir used before, so that proxies
 * which outlived a crashed control plane reconnect to the new one at the same URL. The first
 * start asks for Istio's plain-text xDS port on the mesh's own loopback address; a taken port
 * falls back to an ephemeral one (then running proxies are replaced, not adopted).
 */
async function startControlPlaneOnStablePort(paths: StatePaths, make: (port: number) => ControlPlane, log: (line: string) => void): Promise<ControlPlane> {
  const saved = readDistributionPort(paths);
  const preferred = saved ?? DEFAULT_DISTRIBUTION_PORT;
  let cp = make(preferred);
  try {
    await cp.start();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    await cp.stop().catch(() => undefined);
    if (saved !== undefined) log(`distribution port ${preferred} is taken; proxies still running from the previous start will be replaced`);
    cp = make(0);
    await cp.start();
  }
  writeDistributionPort(paths, Number(new URL(cp.distributionUrl).port));
  return cp;
}

/**
 * Opens and closes the state dir's store, so that `up` refuses a corrupt, read-only, full or locked
 * file with one line (StoreUnavailableError) before it starts anything.
 */
export function checkStore(paths: StatePaths): void {
  ensureStateDir(paths);
  openSqliteStore(paths.store, { checkMs: 0, busyTimeoutMs: 3000 }).close();
}

function readOrCreateToken(paths: StatePaths): string {
  if (existsSync(paths.token)) {
    const t = readFileSync(paths.token, 'utf8').trim();
    if (t) return t;
  }
  const token = randomBytes(24).toString('hex');
  writeFileSync(paths.token, token + '\n', { mode: 0o600 });
  return token;
}

/** What every mesh has from its first start: namespaces default and istio-system, and the `Istio` resource. */
export function defaultObjects(): KubeObject[] {
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'istio-system' } },
    {
      apiVersion: SAIL_V1,
      kind: 'Istio',
      metadata: { name: 'default' },
      // No meshConfig: access logs stay off until set, as in Istio.
      spec: { version: 'v1.24.3', namespace: 'istio-system', profile: 'default', updateStrategy: { type: 'InPlace' } },
    },
  ];
}

/** What a start created and what it found already there (and so left as the user has it). */
export interface EnsureResult {
  created: KubeObject[];
  leftAlone: KubeObject[];
}

function describe(obj: KubeObject): string {
  return describeObject(obj.kind, obj.metadata.namespace, obj.metadata.name);
}

/**
 * Creates the objects that are missing and never touches one that exists: a start option (the
 * defaults, `--example`) must not undo what a user changed since, such as the outbound policy.
 */
function ensureObjects(store: Store, objects: KubeObject[], log: (obj: KubeObject, line: string) => void): EnsureResult {
  const result: EnsureResult = { created: [], leftAlone: [] };
  for (const obj of objects) {
    const [group] = obj.apiVersion.includes('/') ? obj.apiVersion.split('/') : [''];
    const ref = { group: group ?? '', kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name };
    if (store.get(ref)) {
      result.leftAlone.push(obj);
      continue;
    }
    store.create(obj);
    result.created.push(obj);
    log(obj, `created ${describe(obj)}`);
  }
  return result;
}

/** `base`, where an object of the same kind, namespace and name in `over` takes its place (the example's `Istio`), then the rest of `over`. */
function overlay(base: KubeObject[], over: KubeObject[]): KubeObject[] {
  const key = (o: KubeObject): string => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
  const byKey = new Map(over.map((o) => [key(o), o]));
  const merged = base.map((o) => byKey.get(key(o)) ?? o);
  const used = new Set(merged.map(key));
  return [...merged, ...over.filter((o) => !used.has(key(o)))];
}

export async function startMesh(opts: MeshOptions): Promise<RunningMesh> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`));
  const paths = statePaths(opts.stateDir);
  privateUmask();
  ensureStateDir(paths);
  const narrowed = securePrivateTree(paths.dir);
  if (narrowed > 0) log(`state dir ${paths.dir}: made ${narrowed} file(s) and dir(s) private to their owner (0600/0700)`);
  const live = await probeRunningMesh(paths);
  if (live) throw new MeshAlreadyRunningError(live);
  // One `up` per state dir, even when two start at the same moment (neither sees the other's api.json yet).
  const holder = acquireUpLock(paths);
  if (holder !== undefined) {
    const ep = await probeRunningMesh(paths);
    if (ep) throw new MeshAlreadyRunningError(ep);
    throw new MeshStartingError(holder);
  }
  let token: string, addresses: AddressBook, host: string, loopbackHost: string, store: Store, leftovers: ProxyPidRecord[];
  try {
    leftovers = cleanStaleState(paths, log);
    token = readOrCreateToken(paths);
    addresses = new AddressBook(paths.addresses, subnetFor(paths.dir));
    host = addresses.meshAddress();
    loopbackHost = host;
    // The API answers 503 from then on; the log says so once, when it happens.
    store = openSqliteStore(paths.store, { onFailure: (e) => log(`store: ${e.message}`) });
  } catch (err) {
    releaseUpLock(paths);
    throw err;
  }
  const cleanups: (() => Promise<void> | void)[] = [() => releaseUpLock(paths), () => store.close()];
  let network: NodeNetwork | undefined;
  const unwind = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) {
      try {
        await c();
      } catch (err) {
        log(`shutdown: ${(err as Error).message}`);
      }
    }
  };
  try {
    // A proxy's log is emptied with its process group held still (no access-log line lost); the
    // workloads exist later, hence the late binding.
    let proxiesRef: WorkloadManager | undefined;
    const rotation = startLogRotation(paths.logs, opts.logRotation ?? DEFAULT_LOG_ROTATION, log, (file) => {
      const pid = proxiesRef?.list().find((w) => w.logFile === file)?.pid;
      return pid !== undefined && pid > 0 ? processGroupFreeze(pid) : undefined;
    });
    cleanups.push(() => rotation.stop());
    const example = opts.example ? await loadExample() : [];
    const fromExample = new Set(example);
    // The example's objects are created on a first start (its Istio resource in place of the
    // default one); on a later start each one exists and is left exactly as the user has it.
    const ensured = ensureObjects(store, overlay([...defaultObjects(), ...(opts.seedObjects ?? [])], example), (obj, line) =>
      log(fromExample.has(obj) ? `example: ${line}` : line),
    );
    const exampleLeftAlone = ensured.leftAlone.filter((o) => fromExample.has(o)).map(describe);
    const notes =
      exampleLeftAlone.length > 0
        ? [`example: left ${exampleLeftAlone.length} object(s) that already existed as they are: ${exampleLeftAlone.join(', ')}`]
        : [];
    for (const n of notes) log(n);
    let names = nodeNetworkNames(paths.dir);
    if ((await choosePodNetwork(opts.podNetwork ?? 'loopback', log)) === 'netns') {
      network = new NodeNetwork(names);
      cleanups.push(() => network!.teardown());
      // A crashed control plane's bridge, table and the pods still running in their namespaces are
      // kept (their proxies are adopted below, as in the loopback model); otherwise all goes first.
      if (!(await network.adopt(log))) {
        for (const what of await removeNodeNetwork(names)) log(`removed ${what} left over from a previous run`);
        // A /24 no other mesh's bridge here has.
        names = await pickFreePodSubnet(paths.dir, names);
        network = new NodeNetwork(names);
        await network.setup();
      }
      // The node's address on the bridge: pods reach the API and the control plane there.
      host = names.gateway;
      log(
        `pods: network namespaces on bridge ${names.bridge}, pod addresses from ${names.podSubnet}, node ${names.gateway}; injected pods' traffic captured by their sidecars`,
      );
    } else {
      // The loopback model now: a netns mesh's leftovers go.
      for (const what of await removeNodeNetwork(names)) log(`removed ${what} left over from a previous run`);
      // One line at start (the log, and `up`'s summary): policies are stored and shown, not enforced.
      notes.push(`NetworkPolicy: ${LOOPBACK_NOT_ENFORCED}`);
      log(notes[notes.length - 1]!);
    }
    let resolver = opts.resolver;
    if (opts.example) {
      // The stand-in for the external host lives on the node (its bridge address, when pods have their own network).
      const externals = await startExampleExternals(paths.dir, network ? host : addresses.addressOf('external/httpbin.org'));
      cleanups.push(async () => {
        for (const s of externals.servers) await s.close();
      });
      if (resolver?.hostsFile)
        log(`example: using your hosts file ${resolver.hostsFile}; add "${externals.servers[0]!.host} httpbin.org" to it for the stand-in`);
      else resolver = { ...resolver, hostsFile: externals.hostsFile };
    }
    // Workloads start after the API; kubectl logs asks them through this late binding.
    let workloadsRef: WorkloadManager | undefined;
    const api = await startApiServer({ store, host, port: 0, token, logsFor: (ns, pod, o) => podLogs(workloadsRef, ns, pod, o) });
    cleanups.push(() => api.close());
    const meshIdentity = startMeshIdentity({ paths, store, ...(opts.ca ? { ca: opts.ca } : {}), log });
    cleanups.push(() => meshIdentity.identities.stop());
    // Late binding: the control plane's certificate rotates after it exists.
    let controlPlaneRef: ControlPlane | undefined;
    const distributionTls = meshIdentity.distributionTls((cert, key) => controlPlaneRef?.setDistributionCertificate(cert, key));
    // The SSRF guard's view of the mesh: its networks, and its control endpoints as they come up.
    const guardNetworks = network
      ? [
          { cidr: `198.18.0.0/16`, reason: 'pod_network' },
          { cidr: `198.19.0.0/16`, reason: 'service_network' },
        ]
      : [{ cidr: `${addresses.meshAddress().replace(/\.\d+$/, '.0')}/24`, reason: 'mesh_network' }];
    const controlEndpoints = [api.url, api.httpsUrl].flatMap((u) => controlEndpointOf(u));
    const ssrfGuard = { networks: guardNetworks, controlEndpoints, adminPorts: [ADMIN_PORT] };
    // Late binding: a captured pod's rules are written before its sidecar gets each config (netns model).
    let captureRef: WorkloadManager | undefined;
    const beforeSend = network ? (identity: ProxyIdentity, cfg: ProxyConfig) => captureRef?.captureBeforeConfig(identity, cfg) ?? Promise.resolve() : undefined;
    const controlPlane = await startControlPlaneOnStablePort(
      paths,
      (port) => (controlPlaneRef = new ControlPlane({ store, host, port, token, log, distributionTls, ssrfGuard, ...(beforeSend ? { beforeSend } : {}) })),
      log,
    );
    cleanups.push(() => controlPlane.stop());
    // Late binding: the workloads call it before a new pod's processes start; it asks them for the pods.
    let policyRef: NetworkPolicyEnforcer | undefined;
    const workloads = new WorkloadManager({
      store,
      paths,
      addresses,
      // No token: each proxy authenticates to distribution with its own workload certificate.
      controlPlane: { url: controlPlane.distributionUrl },
      identity: meshIdentity,
      resolver,
      leftovers,
      log,
      ...(network
        ? { network, beforePodsStart: () => policyRef?.sync() ?? Promise.resolve(), configFor: (identity: ProxyIdentity) => controlPlane.configFor(identity) }
        : {}),
    });
    captureRef = workloads;
    const distributionPort = Number(new URL(controlPlane.distributionUrl).port);
    const policies = (policyRef = new NetworkPolicyEnforcer(
      network
        ? {
            store,
            log,
            names: network.names,
            pods: () => workloads.podNetworks(),
            nodePeers: () => nodeHostedPeers(network!.names.gateway, distributionPort, istioNamespace(store)),
          }
        : { store, log, unavailable: LOOPBACK_NOT_ENFORCED },
    ));
    await policies.start();
    cleanups.push(() => policies.stop());
    if (network) {
      // Services' cluster IPs and names for pods: DNS on the node's bridge address.
      const dns = new ClusterDns({ address: host, upstream: resolver?.server, hostsFile: resolver?.hostsFile });
      await dns.start();
      cleanups.push(() => dns.close());
      const services = new ServiceRouting({ store, names: network.names, dns, log });
      await services.start();
      cleanups.push(() => services.stop());
    }
    await workloads.start();
    workloadsRef = workloads;
    proxiesRef = workloads;
    cleanups.push(() => workloads.stop());

    let stopping: Promise<void> | undefined;
    let resolveStopped!: () => void;
    const stopped = new Promise<void>((r) => (resolveStopped = r));
    const stop = (): Promise<void> => {
      stopping ??= (async () => {
        log('stopping the mesh');
        removeEndpoint(paths, process.pid);
        await unwind();
        resolveStopped();
      })();
      return stopping;
    };

    // The dashboard listens on the mesh's loopback address even when pods have their own network:
    // pods never reach it, and its cookie-based sessions stay out of the Kubernetes API's origin.
    const dashboard =
      opts.dashboard === false
        ? undefined
        : await startDashboardServer({
            host: loopbackHost,
            port: opts.dashboard?.port ?? 0,
            token,
            collector: (() => {
              const c = new EgressViewCollector(
                { store, workloads: () => workloads.list(), proxyStatus: () => controlPlane.proxyStatus(), log },
                { intervalMs: opts.dashboard?.intervalMs },
              );
              cleanups.push(() => c.stop());
              return c;
            })(),
            proxyConfig: async (id) => {
              const found = (await proxyConfigOf(controlPlane, workloads.list(), id)) as { config: unknown; dump?: { version?: string } } | undefined;
              return found && { id, config: found.config, dumpVersion: found.dump?.version };
            },
            log,
          });
    if (dashboard) cleanups.push(() => dashboard.close());

    const control: ControlServer = await startControlServer({
      host,
      token,
      handlers: {
        workloads: () => workloads.list(),
        proxyStatus: () => controlPlane.proxyStatus(),
        proxyConfig: async (id) => proxyConfigOf(controlPlane, workloads.list(), id),
        waitReady: async (ns, timeoutMs) => {
          const notReady = await workloads.waitReady(timeoutMs);
          return { notReady: notReady.filter((w) => ns === undefined || w.namespace === ns) };
        },
        waitSynced: (timeoutMs): Promise<SyncResult> => waitForSync(store, controlPlane, workloads, timeoutMs),
        dashboardLogin: () => (dashboard ? { url: dashboard.url, login: dashboard.loginLink() } : undefined),
        // Let the 202 reach the caller before the endpoint closes.
        shutdown: () => void setTimeout(() => void stop(), 20),
      },
    });
    cleanups.push(() => control.close());
    controlPlane.setSsrfGuardContext({
      ...ssrfGuard,
      controlEndpoints: [...controlEndpoints, ...controlEndpointOf(controlPlane.distributionUrl), ...controlEndpointOf(control.url)],
    });

    writeKubeconfig(paths.kubeconfig, { url: api.httpsUrl ?? api.url, token, ...(api.caPem ? { caPem: api.caPem } : {}) });
    const endpoint: MeshEndpoint = {
      url: api.url,
      token,
      controlUrl: control.url,
      ...(dashboard ? { dashboardUrl: dashboard.url } : {}),
      pid: process.pid,
      stateDir: paths.dir,
      startedAt: new Date().toISOString(),
      ...(opts.supervisorPid ? { supervisorPid: opts.supervisorPid } : {}),
      ...(notes.length ? { notes } : {}),
    };
    writeEndpoint(paths, endpoint);
    log(`mesh up: API ${api.url}, control ${control.url}${dashboard ? `, dashboard ${dashboard.url}` : ''}, state dir ${paths.dir}`);
    const abandon = (): void => {
      removeEndpoint(paths, process.pid);
      releaseUpLock(paths);
      try {
        store.close();
      } catch {
        // Closed already.
      }
    };
    return { endpoint, paths, store, workloads, stopped, stop, abandon };
  } catch (err) {
    await unwind();
    throw err;
  }
}

/** An http(s) URL's `ip:port` as an SSRF guard control endpoint (none for a name or no URL). */
function controlEndpointOf(url: string | undefined): { address: string; port: number; reason: string }[] {
  if (url === undefined) return [];
  try {
    const u = new URL(url);
    const address = u.hostname.replace(/^\[|\]$/g, '');
    const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
    return isIP(address) !== 0 ? [{ address, port, reason: 'control_plane' }] : [];
  } catch {
    return [];
  }
}

/** The control plane's namespace: the Istio resource's spec.namespace (Sail's default istio-system). */
function istioNamespace(store: Store): string {
  const ns = (store.list({ group: SAIL_GROUP, kind: 'Istio' }).items[0]?.spec as { namespace?: unknown } | undefined)?.namespace;
  return typeof ns === 'string' && ns ? ns : 'istio-system';
}

function podLogs(workloads: WorkloadManager | undefined, ns: string, pod: string, opts: LogOptions): LogSource | undefined {
  const found = workloads?.podLog(ns, pod, opts.container);
  if (found === undefined) return undefined;
  if (typeof found === 'string') throw badRequest(found);
  if (!found.file) return '';
  return readLogFile(found.file, { tailLines: opts.tailLines, follow: opts.follow, signal: opts.signal });
}

async function proxyConfigOf(controlPlane: ControlPlane, workloads: WorkloadInfo[], id: string): Promise<unknown | undefined> {
  const w = workloads.find((x) => x.proxyId === id);
  if (!w) return undefined;
  const identity = { id: w.proxyId, role: w.role, namespace: w.namespace, workload: w.workload, labels: w.labels, ip: w.ip };
  const config = controlPlane.configFor(identity);
  let dump: unknown;
  try {
    const res = await adminGet(w.admin, '/config_dump', 3000);
    dump = res.status === 200 ? JSON.parse(res.body) : undefined;
  } catch {
    dump = undefined;
  }
  // `outpost proxy-config` shows what the proxy holds, keys redacted as in its config_dump.
  return { workload: w, config: redactSecrets(config), dump };
}
