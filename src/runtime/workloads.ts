// The WorkloadManager: watches the store and keeps the local mesh's processes and Pod objects
// in line with the config (gateway proxies, one sidecar per injected namespace, Pods).
import { readFileSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { KubeObject } from '../api/object.js';
import type { Store, WatchEvent } from '../store/types.js';
import type { AddressBook } from './addresses.js';
import { buildEvent } from './events.js';
import { ADMIN_PORT, ProxyProcess, bootstrapText, stopPid, type ProxyBootstrapFile } from './proxy-process.js';
import { isOurProxy, proxyPidFile, type ProxyPidRecord, type StatePaths } from './state-dir.js';
import { writeAdminToken } from './admin-token.js';
import type { MeshIdentity } from './mesh-identity.js';
import { serviceAccountOf, sidecarServiceAccount } from './workload-identities.js';
import type { NodeNetwork } from './pods/node-network.js';
import { podResolvConf } from './pods/cluster-dns.js';
import type { ContainerSpec } from './pods/container-process.js';
import { PodContainers, runsProcess, type PodToRun } from './pods/pod-containers.js';
import { VIRTUAL_OUTBOUND_PORT } from '../proxyconfig/naming.js';
import type { AdminAddress } from './pods/admin-client.js';
import type { ProxyConfig, ProxyIdentity } from '../proxyconfig/types.js';
import { AUTO_ALLOCATE_RANGE, AUTO_ALLOCATE_RANGE_V6, PROXY_GID } from '../proxyconfig/naming.js';
import { INBOUND_CAPTURE_ANNOTATION } from '../controlplane/registry/index.js';
import { addCaptureRoutes, applyCaptureRuleset, captureRuleset, parseCaptureAnnotations, podIPv6, type CaptureAnnotations } from './pods/capture.js';
import { MANAGED_BY_LABEL, planWorkloads, type PlannedPod, type PlannedProxy, type WorkloadPlan } from './workload-plan.js';
import { APPS_GROUP, SAIL_GROUP } from '../api/groups.js';

export interface ResolverOptions {
  /** `IP:PORT` of a DNS server every proxy asks for external hosts. */
  server?: string;
  /** A hosts file consulted before DNS. */
  hostsFile?: string;
}

export interface WorkloadManagerOptions {
  store: Store;
  paths: StatePaths;
  addresses: AddressBook;
  controlPlane: { url: string; token?: string };
  /** Issues each proxy its workload certificate (absent: proxies start without one). */
  identity?: MeshIdentity;
  resolver?: ResolverOptions;
  /** Proxies a previous `up` left running: adopted when started with the bootstrap we would write, else replaced. */
  leftovers?: ProxyPidRecord[];
  log: (line: string) => void;
  /** The pod network (netns model): every pod its own network namespace and address. Absent: loopback model. */
  network?: NodeNetwork;
  /** Netns model: runs once every planned pod has its network namespace, before any process of a new pod starts (NetworkPolicy goes in first). */
  beforePodsStart?: () => Promise<void>;
  /**
   * A proxy's config as the control plane gives it (netns model): the capture rules of a sidecar's pod
   * follow its config. Absent: sidecars do not capture.
   */
  configFor?: (identity: ProxyIdentity) => ProxyConfig;
}

/** A pod with its own network namespace, as NetworkPolicy enforcement sees it. */
export interface PodNetworkInfo {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  ip: string;
  netns: string;
  ports: { name?: string; port: number; protocol?: string }[];
  /** The namespace object itself: a new one (same name, recreated) has to get its rules again. */
  sandbox: object;
}

/** How long a replacement waits for the new proxy to be ready before replacing the next one. */
const REPLACE_READY_MS = 10_000;

/** What `outpost` shows about a running workload. */
export interface WorkloadInfo {
  key: string;
  role: 'router' | 'sidecar';
  namespace: string;
  workload: string;
  podName: string;
  proxyId: string;
  ip: string;
  ready: boolean;
  state: string;
  pid?: number;
  restarts: number;
  lastError?: string;
  logFile: string;
  adminUrl: string;
  admin: AdminAddress;
  /** The pod's network namespace (netns model). */
  netns?: string;
  labels: Record<string, string>;
}

interface Running {
  plan: PlannedProxy;
  proc: ProxyProcess;
  ip: string;
  netns?: string;
  identity: ProxyIdentity;
}

// Istio: its meshConfig.trustDomain is part of every workload's identity.
const WATCHED = new Set(['Namespace', 'Deployment', 'IstioRevision', 'Istio']);

/** On a Pod of the netns model: the network namespace its processes run in (`outpost exec` enters it). */
export const NETNS_ANNOTATION = 'outpost.dev/network-namespace';

/** The pod network's key for a pod (or a namespace's shared sidecar, pod name `sidecar`). */
export function sandboxKey(namespace: string, podName: string): string {
  return `${namespace}/${podName}`;
}

/** Short and hashed: a Unix socket path has at most 107 bytes. */
export function adminSocketPath(paths: StatePaths, key: string): string {
  return join(paths.runtime, `admin-${createHash('sha256').update(key).digest('hex').slice(0, 12)}.sock`);
}

export function logFileFor(paths: StatePaths, namespace: string, workload: string): string {
  return join(paths.logs, namespace, `${workload}.log`);
}

export class WorkloadManager {
  private readonly running = new Map<string, Running>();
  private plan: WorkloadPlan = { proxies: [], pods: [], warnings: [] };
  private unwatch: (() => void) | undefined;
  private reconcileTimer: NodeJS.Timeout | undefined;
  private reconciling: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly warned = new Set<string>();
  /** Leftover proxies by bootstrap file, until the first reconcile has claimed or stopped them. */
  private readonly leftovers: Map<string, ProxyPidRecord>;

  private readonly replaced = new Map<string, number>();
  /** Filled by one syncPods pass: pods and ready pods per Deployment. */
  private readonly readyCounts = new Map<string, { deployment: KubeObject; total: number; ready: number }>();

  /** App containers that run a command (netns model). */
  private readonly containers: PodContainers | undefined;
  /** The capture ruleset last applied per pod network key (netns model). */
  private readonly captureApplied = new Map<string, string>();
  /** Captured pods whose rules could not be written: their apps do not start (never fail open). */
  private readonly captureFailed = new Set<string>();
  private captureTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: WorkloadManagerOptions) {
    this.leftovers = new Map((opts.leftovers ?? []).map((r) => [r.bootstrap, r]));
    if (opts.network) this.containers = new PodContainers(opts.paths, () => this.syncPods(this.plan), opts.log);
  }

  async start(): Promise<void> {
    const rev = this.opts.store.revision();
    await this.containers?.stopLeftovers();
    await this.reconcileNow();
    await this.stopUnclaimedLeftovers();
    this.unwatch = this.opts.store.watch(rev, (ev: WatchEvent) => {
      if (WATCHED.has(ev.object.kind)) this.scheduleReconcile();
      else if (ev.type === 'DELETED' && ev.object.kind === 'Pod' && this.opts.network) this.replacePod(ev.object);
      // Capture rules follow each sidecar's config (its HTTP ports, inbound ports, the outbound policy).
      if (this.capturing) this.scheduleCaptureSync();
    });
  }

  /** Every planned proxy is ready (or timeoutMs passed). Returns the ones that are not. */
  async waitReady(timeoutMs: number): Promise<WorkloadInfo[]> {
    await this.reconciling;
    await Promise.all([...this.running.values()].map((r) => r.proc.waitReady(timeoutMs)));
    return this.list().filter((w) => !w.ready);
  }

  list(): WorkloadInfo[] {
    return [...this.running.values()].map((r) => this.info(r));
  }

  /** Netns model: every pod that has its network namespace now (Deployment replicas, gateways, namespaces' shared sidecar pods). */
  podNetworks(): PodNetworkInfo[] {
    const net = this.opts.network;
    if (!net) return [];
    const out = new Map<string, PodNetworkInfo>();
    const add = (namespace: string, name: string, labels: Record<string, string>, containers: readonly { ports?: unknown[] }[]): void => {
      const key = sandboxKey(namespace, name);
      const sb = net.sandbox(key);
      if (!sb || out.has(key)) return;
      const ports = containers
        .flatMap((c) => (c.ports ?? []) as { containerPort?: unknown; name?: unknown; protocol?: unknown }[])
        .filter((p) => typeof p.containerPort === 'number')
        .map((p) => ({
          port: p.containerPort as number,
          ...(typeof p.name === 'string' ? { name: p.name } : {}),
          ...(typeof p.protocol === 'string' ? { protocol: p.protocol } : {}),
        }));
      out.set(key, { namespace, name, labels, ip: sb.ip, netns: sb.netns, ports, sandbox: sb });
    };
    for (const pod of this.plan.pods) add(pod.deployment.metadata.namespace ?? 'default', pod.podName, pod.labels, pod.containers);
    for (const p of this.plan.proxies) add(p.namespace, p.podName, p.labels, []);
    return [...out.values()];
  }

  find(namespace: string, name?: string): WorkloadInfo | undefined {
    return this.list().find((w) => w.namespace === namespace && (name === undefined || w.workload === name));
  }

  /**
   * Which file holds a container's log of a Pod the mesh manages: a gateway pod's is its proxy's;
   * `istio-proxy` of an injected pod is the namespace's sidecar; an app container runs no
   * process here, so its log is empty. A string is the reason it cannot be read.
   */
  podLog(namespace: string, podName: string, container: string | undefined): { file?: string } | string | undefined {
    const pod = this.plan.pods.find((p) => (p.deployment.metadata.namespace ?? 'default') === namespace && p.podName === podName);
    if (!pod) return undefined;
    const names = pod.containers.map((c) => c.name);
    if (container === undefined && names.length > 1) {
      return `a container name must be specified for pod ${podName}, choose one of: [${names.join(' ')}]`;
    }
    const name = container ?? names[0];
    if (name === undefined || !names.includes(name)) return `container ${name ?? '""'} is not valid for pod ${podName}`;
    if (this.containers && name !== 'istio-proxy' && runsProcess(pod.containers.find((c) => c.name === name)!)) {
      return { file: this.containers.logFile(namespace, podName, name) };
    }
    const r = pod.proxyKey ? this.running.get(pod.proxyKey) : undefined;
    if (pod.proxyKey && (r?.plan.role === 'router' || name === 'istio-proxy')) {
      const [ns, , workload] = pod.proxyKey.split('/');
      return { file: r?.proc.opts.logFile ?? logFileFor(this.opts.paths, ns!, r?.plan.workload ?? workload ?? 'sidecar') };
    }
    return {};
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unwatch?.();
    clearTimeout(this.reconcileTimer);
    clearTimeout(this.captureTimer);
    await this.reconciling.catch(() => undefined);
    await Promise.all([...this.running.values()].map((r) => r.proc.stop()));
    await this.containers?.stopAll();
    // Pods stay in the store as not ready: the mesh is down, the config is not gone.
    for (const pod of this.plan.pods) this.writePodStatus(pod, false);
    this.running.clear();
  }

  private info(r: Running): WorkloadInfo {
    return {
      key: r.plan.key,
      role: r.plan.role,
      namespace: r.plan.namespace,
      workload: r.plan.workload,
      podName: r.plan.podName,
      proxyId: `${r.plan.podName}.${r.plan.namespace}`,
      ip: r.ip,
      ready: r.proc.state === 'ready',
      state: r.proc.state,
      pid: r.proc.pid,
      restarts: r.proc.restarts,
      lastError: r.proc.lastError,
      logFile: r.proc.opts.logFile,
      adminUrl: r.proc.adminUrl,
      admin: r.proc.opts.bootstrap.admin,
      ...(r.netns ? { netns: r.netns } : {}),
      labels: r.plan.labels,
    };
  }

  /** `kubectl delete pod`: as a ReplicaSet does, a new pod (new name, new processes) takes the slot. */
  private replacePod(deleted: KubeObject): void {
    const pod = this.plan.pods.find(
      (p) => p.podName === deleted.metadata.name && (p.deployment.metadata.namespace ?? 'default') === deleted.metadata.namespace,
    );
    if (!pod?.replica || this.stopped) return;
    this.replaced.set(pod.replica, (this.replaced.get(pod.replica) ?? 0) + 1);
    this.scheduleReconcile();
  }

  private scheduleReconcile(): void {
    if (this.stopped) return;
    clearTimeout(this.reconcileTimer);
    // Coalesce a burst of changes (one `apply` of many documents) into one pass.
    this.reconcileTimer = setTimeout(() => {
      void this.reconcileNow();
    }, 20);
  }

  private reconcileNow(): Promise<void> {
    this.reconciling = this.reconciling
      .then(() => this.reconcile())
      .catch((err: unknown) => {
        this.opts.log(`workloads: reconcile failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      });
    return this.reconciling;
  }

  private async reconcile(): Promise<void> {
    if (this.stopped) return;
    const store = this.opts.store;
    const namespaces = store.list({ group: '', kind: 'Namespace' }).items;
    const deployments = store.list({ group: APPS_GROUP, kind: 'Deployment' }).items;
    const revisions = store.list({ group: SAIL_GROUP, kind: 'IstioRevision' }).items;
    const netns = this.opts.network !== undefined;
    const plan = planWorkloads({ namespaces, deployments, revisions, sidecarPerPod: netns, replicaPods: netns, replaced: this.replaced });
    this.plan = plan;

    for (const w of plan.warnings) {
      const id = `${w.namespace}/${w.message}`;
      if (this.warned.has(id)) continue;
      this.warned.add(id);
      this.opts.log(`warning: ${w.message}`);
      const ns = namespaces.find((n) => n.metadata.name === w.namespace);
      if (ns) this.recordEvent(ns, 'Warning', w.reason, w.message);
    }

    const wanted = new Map(plan.proxies.map((p) => [p.key, p]));
    const stops: Promise<void>[] = [];
    for (const [key, r] of this.running) {
      const next = wanted.get(key);
      if (!next || next.fingerprint !== r.plan.fingerprint) {
        this.opts.log(`workloads: stopping ${key}`);
        this.running.delete(key);
        stops.push(
          r.proc.stop().then(() => {
            if (!this.running.has(key)) this.opts.identity?.identities.release(key);
          }),
        );
      }
    }
    await Promise.all(stops);
    await this.syncSandboxes(plan);
    if (this.opts.beforePodsStart) {
      try {
        await this.opts.beforePodsStart();
      } catch (err) {
        this.opts.log(`workloads: network policy: ${(err as Error).message}`);
      }
    }
    for (const p of plan.proxies) {
      if (this.running.has(p.key)) {
        // A changed service account or trust domain: the running proxy's files are re-issued in place.
        this.ensureIdentity(p, `${p.podName}.${p.namespace}`);
        continue;
      }
      try {
        await this.startProxy(p);
      } catch (err) {
        this.opts.log(`workloads: cannot start ${p.key}: ${(err as Error).message}`);
      }
    }
    // As Istio's init container: the pod's traffic is captured before its app starts.
    await this.syncCapture();
    await this.syncContainers(plan);
    this.syncPods(plan);
  }

  /** Sidecars capture their pod's traffic in the netns model. */
  private get capturing(): boolean {
    return this.opts.network !== undefined && this.opts.configFor !== undefined;
  }

  private scheduleCaptureSync(): void {
    if (this.stopped) return;
    clearTimeout(this.captureTimer);
    this.captureTimer = setTimeout(() => {
      this.reconciling = this.reconciling.then(() => this.syncCapture()).catch((err: unknown) => this.opts.log(`capture: ${(err as Error).message}`));
    }, 50);
  }

  /** Capture annotations of the pod a sidecar serves; a bad one is reported once and left out (capture stays whole). */
  private captureAnnotations(r: Running): CaptureAnnotations {
    const pod = this.plan.pods.find((p) => p.proxyKey === r.plan.key);
    try {
      return parseCaptureAnnotations(pod?.annotations ?? {});
    } catch (err) {
      const msg = `pod ${r.plan.namespace}/${r.plan.podName}: ${(err as Error).message}; capturing all traffic`;
      if (!this.warned.has(msg)) {
        this.warned.add(msg);
        this.opts.log(`warning: ${msg}`);
      }
      return { excludeOutboundPorts: [], excludeOutboundIPRanges: [], excludeInboundPorts: [] };
    }
  }

  /** Writes every captured pod's nftables table from its sidecar's config, where it changed. */
  private async syncCapture(): Promise<void> {
    const net = this.opts.network;
    const configFor = this.opts.configFor;
    if (!net || !configFor || this.stopped) return;
    const live = new Set<string>();
    for (const r of this.running.values()) {
      if (r.plan.role !== 'sidecar' || !r.netns) continue;
      const key = sandboxKey(r.plan.namespace, r.plan.podName);
      live.add(key);
      let cfg: ProxyConfig;
      try {
        cfg = configFor(r.identity);
      } catch (err) {
        this.opts.log(`capture: no config for ${r.identity.id}: ${(err as Error).message}`);
        continue;
      }
      if (!cfg.capture) continue;
      const rules = captureRuleset({
        capture: cfg.capture,
        podIP: r.ip,
        ...(r.identity.ip6 !== undefined ? { podIP6: r.identity.ip6 } : {}),
        localRanges: [AUTO_ALLOCATE_RANGE, ...(r.identity.ip6 !== undefined ? [AUTO_ALLOCATE_RANGE_V6] : []), net.names.serviceSubnet],
        policy: cfg.mesh.outboundTrafficPolicy,
        annotations: this.captureAnnotations(r),
      });
      if (this.captureApplied.get(key) === rules) continue;
      try {
        await applyCaptureRuleset(r.netns, rules);
        this.captureApplied.set(key, rules);
        this.captureFailed.delete(key);
      } catch (err) {
        this.captureFailed.add(key);
        this.opts.log(`capture: pod ${key}: ${(err as Error).message}; its containers are not started`);
      }
    }
    for (const key of this.captureApplied.keys()) if (!live.has(key)) this.captureApplied.delete(key);
  }

  /** Leftover proxies no workload wants any more (their Deployment went while the control plane was down). */
  private async stopUnclaimedLeftovers(): Promise<void> {
    const left = [...this.leftovers.values()];
    this.leftovers.clear();
    await Promise.all(
      left.map(async (rec) => {
        if (isOurProxy(rec)) {
          this.opts.log(`workloads: stopping proxy pid ${rec.pid} left from the previous run (${rec.bootstrap}): no workload wants it now`);
          await stopPid(rec.pid, 5000);
        }
        rmSync(rec.file, { force: true });
      }),
    );
  }

  /** Netns model: a network namespace for every planned pod and shared sidecar; gone pods' are removed. */
  private async syncSandboxes(plan: WorkloadPlan): Promise<void> {
    const net = this.opts.network;
    if (!net) return;
    const wanted = new Set([
      ...plan.pods.map((p) => sandboxKey(p.deployment.metadata.namespace ?? 'default', p.podName)),
      ...plan.proxies.map((p) => sandboxKey(p.namespace, p.podName)),
    ]);
    for (const key of net.keys()) {
      if (wanted.has(key)) continue;
      await this.containers?.stopPod(key);
      await net.removePod(key);
    }
    for (const key of wanted) {
      try {
        await net.ensurePod(key, podResolvConf(net.names.gateway, key.split('/')[0]!));
      } catch (err) {
        this.opts.log(`workloads: cannot create the network of pod ${key}: ${(err as Error).message}`);
      }
    }
  }

  private async syncContainers(plan: WorkloadPlan): Promise<void> {
    const net = this.opts.network;
    if (!net || !this.containers) return;
    const toRun: PodToRun[] = [];
    for (const pod of plan.pods) {
      const ns = pod.deployment.metadata.namespace ?? 'default';
      const key = sandboxKey(ns, pod.podName);
      const sb = net.sandbox(key);
      if (!sb || this.captureFailed.has(key)) continue;
      const spec = (pod.deployment.spec as { template?: { spec?: { restartPolicy?: string } } } | undefined)?.template?.spec;
      const sidecar =
        pod.proxyKey && this.plan.proxies.find((p) => p.key === pod.proxyKey)?.role === 'sidecar' ? `http://${sb.ip}:${VIRTUAL_OUTBOUND_PORT}` : undefined;
      toRun.push({
        key,
        namespace: ns,
        podName: pod.podName,
        netns: sb.netns,
        podIP: sb.ip,
        containers: pod.containers.filter((c) => c.name !== 'istio-proxy') as ContainerSpec[],
        restartPolicy: spec?.restartPolicy,
        ...(sidecar ? { sidecar } : {}),
        ...(sidecar && this.capturing ? { captured: true } : {}),
        noProxy: [net.names.gateway],
      });
    }
    await this.containers.sync(toRun);
  }

  private async startProxy(p: PlannedProxy): Promise<void> {
    const sandbox = this.opts.network?.sandbox(sandboxKey(p.namespace, p.podName));
    if (this.opts.network && !sandbox) throw new Error('the pod has no network namespace');
    const ip = sandbox?.ip ?? this.opts.addresses.addressOf(p.key.replace(/\/gateway\//, '/deployment/'));
    const capture = p.role === 'sidecar' && sandbox !== undefined && this.capturing;
    // A pod with an IPv6 address is captured for IPv6 too (Istio's ip6tables rules); an IPv4-only one is left as it is.
    const ip6 = capture ? await podIPv6(sandbox.netns) : undefined;
    const identity: ProxyIdentity = {
      id: `${p.podName}.${p.namespace}`,
      role: p.role,
      namespace: p.namespace,
      workload: p.workload,
      labels: p.labels,
      ip,
      ...(ip6 !== undefined ? { ip6 } : {}),
      ...(capture ? { capture: true } : {}),
    };
    // The sidecar listens on VIPs and cluster IPs: their ranges must be local in the pod before its first config.
    if (capture) await addCaptureRoutes(sandbox.netns, this.opts.network!.names.serviceSubnet, ip6 !== undefined);
    const identityDir = this.ensureIdentity(p, identity.id);
    const safeKey = p.key.replace(/\//g, '_');
    const tokenFile = writeAdminToken(this.opts.paths, safeKey);
    const bootstrap: ProxyBootstrapFile = {
      identity,
      // In a pod's namespace the admin port is on the pod's own 127.0.0.1; the node uses the socket.
      admin: sandbox
        ? { address: '127.0.0.1', port: ADMIN_PORT, tokenFile, socket: adminSocketPath(this.opts.paths, p.key) }
        : { address: ip, port: ADMIN_PORT, tokenFile },
      controlPlane: this.opts.controlPlane,
      ...(identityDir !== undefined ? { identityDir } : {}),
      // In a pod, the mesh's --dns-server may be out of reach (the node's 127.x): the node's DNS forwards to it.
      resolver: sandbox
        ? { server: `${this.opts.network!.names.gateway}:53`, ...(this.opts.resolver?.hostsFile ? { hostsFile: this.opts.resolver.hostsFile } : {}) }
        : this.opts.resolver && (this.opts.resolver.server || this.opts.resolver.hostsFile)
          ? { ...this.opts.resolver }
          : undefined,
    };
    const proc = new ProxyProcess({
      key: p.key,
      bootstrap,
      bootstrapFile: join(this.opts.paths.runtime, `${safeKey}.bootstrap.json`),
      logFile: logFileFor(this.opts.paths, p.namespace, p.workload),
      pidFile: proxyPidFile(this.opts.paths, safeKey),
      ...(sandbox ? { netns: sandbox.netns } : {}),
      // Istio runs the proxy as 1337 and captures everything else; the group alone keeps it root for its 0600 files.
      ...(capture ? { gid: PROXY_GID } : {}),
      log: this.opts.log,
      onReadyChange: () => {
        if (this.running.get(p.key)?.proc === proc) this.syncPods(this.plan);
      },
    });
    this.running.set(p.key, { plan: p, proc, ip, identity, ...(sandbox ? { netns: sandbox.netns } : {}) });
    const leftover = this.leftovers.get(proc.opts.bootstrapFile);
    this.leftovers.delete(proc.opts.bootstrapFile);
    if (leftover && isOurProxy(leftover)) {
      if (readText(proc.opts.bootstrapFile) === bootstrapText(bootstrap)) {
        // Started with exactly what we would start it with: keep it serving, no gap.
        this.opts.log(`workloads: adopting ${p.role} ${identity.id} on ${ip} (pid ${leftover.pid}, still serving from the previous run)`);
        await proc.adopt(leftover.pid);
        return;
      }
      // Its bootstrap differs (another --dns-server, say): replace it, one proxy at a time.
      this.opts.log(`workloads: replacing ${p.role} ${identity.id} (pid ${leftover.pid}): its bootstrap changed`);
      await stopPid(leftover.pid, 5000);
      proc.start();
      await proc.waitReady(REPLACE_READY_MS);
      return;
    }
    this.opts.log(`workloads: starting ${p.role} ${identity.id} on ${ip}`);
    proc.start();
  }

  /** Issues (or re-issues when its SPIFFE id changed) the proxy's certificate; returns its identity dir. */
  private ensureIdentity(p: PlannedProxy, proxyId: string): string | undefined {
    const identity = this.opts.identity;
    if (!identity) return undefined;
    const serviceAccount =
      p.role === 'router'
        ? serviceAccountOf(p.deployment)
        : sidecarServiceAccount(this.plan.pods.filter((pod) => pod.proxyKey === p.key).map((pod) => pod.deployment));
    try {
      return identity.identities.ensure(p.key, { namespace: p.namespace, serviceAccount, trustDomain: identity.trustDomain(), proxyId }).dir;
    } catch (err) {
      this.opts.log(`workloads: cannot issue a certificate for ${p.key}: ${(err as Error).message}`);
      return identity.identities.get(p.key)?.dir;
    }
  }

  /** Pods mirror Deployments; their IP and readiness come from the proxy that serves them. */
  private syncPods(plan: WorkloadPlan): void {
    if (this.stopped) return;
    const store = this.opts.store;
    const keep = new Set<string>();
    this.readyCounts.clear();
    for (const pod of plan.pods) {
      keep.add(`${pod.deployment.metadata.namespace}/${pod.podName}`);
      const r = pod.proxyKey ? this.running.get(pod.proxyKey) : undefined;
      const ready = pod.proxyKey ? r?.proc.state === 'ready' : true;
      const sandbox = this.opts.network?.sandbox(sandboxKey(pod.deployment.metadata.namespace ?? 'default', pod.podName));
      if (this.opts.network && !sandbox) continue;
      this.writePod(
        pod,
        sandbox?.ip ?? r?.ip ?? this.opts.addresses.addressOf(`${pod.deployment.metadata.namespace}/deployment/${pod.deployment.metadata.name}`),
        ready,
        sandbox?.netns,
      );
    }
    for (const existing of store.list({ group: '', kind: 'Pod', labelSelector: `${MANAGED_BY_LABEL}=outpost` }).items) {
      const id = `${existing.metadata.namespace}/${existing.metadata.name}`;
      if (!keep.has(id)) {
        try {
          store.delete({ group: '', kind: 'Pod', namespace: existing.metadata.namespace, name: existing.metadata.name });
        } catch {
          // Already gone (deleted with its Deployment).
        }
      }
    }
    for (const c of this.readyCounts.values()) this.writeDeploymentStatus(c.deployment, c.total, c.ready);
  }

  private writePod(pod: PlannedPod, ip: string, ready: boolean, netns?: string): void {
    const store = this.opts.store;
    const ns = pod.deployment.metadata.namespace ?? 'default';
    const ref = { group: '', kind: 'Pod', namespace: ns, name: pod.podName };
    let current = store.get(ref);
    if (!current) {
      const obj: KubeObject = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: pod.podName,
          namespace: ns,
          labels: { ...pod.labels, [MANAGED_BY_LABEL]: 'outpost' },
          annotations: netns
            ? { ...pod.annotations, [NETNS_ANNOTATION]: netns, ...(this.capturesInbound(pod) ? { [INBOUND_CAPTURE_ANNOTATION]: 'true' } : {}) }
            : Object.keys(pod.annotations).length
              ? pod.annotations
              : undefined,
          ownerReferences: pod.deployment.metadata.uid
            ? [
                {
                  apiVersion: 'apps/v1',
                  kind: 'Deployment',
                  name: pod.deployment.metadata.name,
                  uid: pod.deployment.metadata.uid,
                  controller: true,
                  blockOwnerDeletion: true,
                },
              ]
            : undefined,
        },
        spec: {
          containers: pod.containers,
          nodeName: 'outpost',
          // As Kubernetes fills it: the mesh identity peers expect of this pod (ISTIO_MUTUAL SANs).
          serviceAccountName: serviceAccountOf(pod.deployment),
        },
      };
      try {
        current = store.create(obj);
      } catch {
        current = store.get(ref);
        if (!current) return;
      }
    }
    const podReady = this.writePodStatus(pod, ready, ip, current);
    const uid = pod.deployment.metadata.uid ?? `${ns}/${pod.deployment.metadata.name}`;
    const counts = this.readyCounts.get(uid) ?? { deployment: pod.deployment, total: 0, ready: 0 };
    counts.total++;
    if (podReady) counts.ready++;
    this.readyCounts.set(uid, counts);
  }

  /** The pod's own sidecar captures its inbound traffic (auto mTLS toward it then applies). */
  private capturesInbound(pod: PlannedPod): boolean {
    return this.capturing && pod.proxyKey !== undefined && this.plan.proxies.find((p) => p.key === pod.proxyKey)?.role === 'sidecar';
  }

  /** Writes the Pod's status; returns whether the pod is ready. */
  private writePodStatus(pod: PlannedPod, proxyReady: boolean, ip?: string, current?: KubeObject): boolean {
    const store = this.opts.store;
    const ns = pod.deployment.metadata.namespace ?? 'default';
    const podKey = sandboxKey(ns, pod.podName);
    const proxyRestarts = pod.proxyKey ? (this.running.get(pod.proxyKey)?.proc.restarts ?? 0) : 0;
    // The proxy's container follows the proxy; an app container that runs a process follows it; one that runs nothing is ready.
    const isProxyContainer = (name: string): boolean =>
      name === 'istio-proxy' || (pod.proxyKey !== undefined && this.running.get(pod.proxyKey)?.plan.role === 'router');
    const states = pod.containers.map((c) => ({ name: c.name, own: isProxyContainer(c.name) ? undefined : this.containers?.state(podKey, c.name) }));
    const ready = proxyReady && states.every((c) => !c.own || c.own.ready);
    const ref = { group: '', kind: 'Pod', namespace: ns, name: pod.podName };
    const obj = current ?? store.get(ref);
    if (!obj) return false;
    const prev = (obj.status ?? {}) as { podIP?: string; startTime?: string; conditions?: { type: string; status: string; lastTransitionTime?: string }[] };
    const podIP = ip ?? prev.podIP;
    const readyStr = ready ? 'True' : 'False';
    const prevReady = prev.conditions?.find((c) => c.type === 'Ready');
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const since = prevReady?.status === readyStr ? (prevReady.lastTransitionTime ?? now) : now;
    const status = {
      phase: ready || podIP ? 'Running' : 'Pending',
      // The node's address: its bridge address when pods have their own networks.
      hostIP: podIP ? (this.opts.network?.names.gateway ?? podIP) : undefined,
      podIP,
      podIPs: podIP ? [{ ip: podIP }] : [],
      startTime: prev.startTime ?? now,
      conditions: [
        { type: 'Initialized', status: 'True', lastTransitionTime: prev.startTime ?? now },
        { type: 'Ready', status: readyStr, lastTransitionTime: since },
        { type: 'ContainersReady', status: readyStr, lastTransitionTime: since },
        { type: 'PodScheduled', status: 'True', lastTransitionTime: prev.startTime ?? now },
      ],
      containerStatuses: states.map(({ name, own }) =>
        own
          ? { name, ...own }
          : {
              name,
              ready: proxyReady,
              restartCount: isProxyContainer(name) ? proxyRestarts : 0,
              started: true,
              state: { running: { startedAt: prev.startTime ?? now } },
            },
      ),
    };
    if (JSON.stringify(stripTimes(obj.status)) === JSON.stringify(stripTimes(status))) return ready;
    try {
      store.updateStatus(ref, status);
    } catch (err) {
      this.opts.log(`workloads: cannot write status of pod ${ns}/${pod.podName}: ${(err as Error).message}`);
    }
    return ready;
  }

  private writeDeploymentStatus(deploy: KubeObject, total: number, n: number): void {
    const store = this.opts.store;
    const ref = { group: APPS_GROUP, kind: 'Deployment', namespace: deploy.metadata.namespace, name: deploy.metadata.name };
    const current = store.get(ref);
    if (!current) return;
    // Available as Kubernetes' default rolling update judges it: at most 25% (rounded down) unavailable.
    const ready = n >= total - Math.floor(total / 4);
    const prev = (current.status ?? {}) as Record<string, unknown>;
    const status = {
      observedGeneration: current.metadata.generation,
      replicas: total,
      updatedReplicas: total,
      readyReplicas: n,
      availableReplicas: n,
      ...(n < total ? { unavailableReplicas: total - n } : {}),
      conditions: [
        {
          type: 'Available',
          status: ready ? 'True' : 'False',
          reason: ready ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable',
          message: ready ? 'Deployment has minimum availability.' : 'Deployment does not have minimum availability.',
        },
      ],
    };
    if (JSON.stringify(prev) === JSON.stringify(status)) return;
    try {
      store.updateStatus(ref, status);
    } catch {
      // Deleted meanwhile.
    }
  }

  private recordEvent(obj: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): void {
    try {
      this.opts.store.create(buildEvent(obj, type, reason, message, 'outpost-injector'));
    } catch (err) {
      this.opts.log(`workloads: cannot record event: ${(err as Error).message}`);
    }
  }
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function stripTimes(status: unknown): unknown {
  return JSON.parse(JSON.stringify(status ?? {}, (k, v: unknown) => (k === 'lastTransitionTime' || k === 'startTime' || k === 'startedAt' ? undefined : v)));
}
