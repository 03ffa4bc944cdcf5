// The WorkloadManager: watches the store and keeps the local mesh's processes and Pod objects
// in line with the config (gateway proxies, one sidecar per injected namespace, Pods).
import { readFileSync, rmSync } from 'node:fs';
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
import { MANAGED_BY_LABEL, planWorkloads, type PlannedPod, type PlannedProxy, type WorkloadPlan } from './workload-plan.js';

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
  labels: Record<string, string>;
}

interface Running {
  plan: PlannedProxy;
  proc: ProxyProcess;
  ip: string;
}

// Istio: its meshConfig.trustDomain is part of every workload's identity.
const WATCHED = new Set(['Namespace', 'Deployment', 'IstioRevision', 'Istio']);

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

  constructor(private readonly opts: WorkloadManagerOptions) {
    this.leftovers = new Map((opts.leftovers ?? []).map((r) => [r.bootstrap, r]));
  }

  async start(): Promise<void> {
    const rev = this.opts.store.revision();
    await this.reconcileNow();
    await this.stopUnclaimedLeftovers();
    this.unwatch = this.opts.store.watch(rev, (ev: WatchEvent) => {
      if (WATCHED.has(ev.object.kind)) this.scheduleReconcile();
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
    await this.reconciling.catch(() => undefined);
    await Promise.all([...this.running.values()].map((r) => r.proc.stop()));
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
      labels: r.plan.labels,
    };
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
    this.reconciling = this.reconciling.then(() => this.reconcile()).catch((err: unknown) => {
      this.opts.log(`workloads: reconcile failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    });
    return this.reconciling;
  }

  private async reconcile(): Promise<void> {
    if (this.stopped) return;
    const store = this.opts.store;
    const namespaces = store.list({ group: '', kind: 'Namespace' }).items;
    const deployments = store.list({ group: 'apps', kind: 'Deployment' }).items;
    const revisions = store.list({ group: 'sailoperator.io', kind: 'IstioRevision' }).items;
    const plan = planWorkloads({ namespaces, deployments, revisions });
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
        stops.push(r.proc.stop().then(() => { if (!this.running.has(key)) this.opts.identity?.identities.release(key); }));
      }
    }
    await Promise.all(stops);
    for (const p of plan.proxies) {
      if (this.running.has(p.key)) {
        // A changed service account or trust domain: the running proxy's files are re-issued in place.
        this.ensureIdentity(p, `${p.podName}.${p.namespace}`);
        continue;
      }
      await this.startProxy(p);
    }
    this.syncPods(plan);
  }

  /** Leftover proxies no workload wants any more (their Deployment went while the control plane was down). */
  private async stopUnclaimedLeftovers(): Promise<void> {
    const left = [...this.leftovers.values()];
    this.leftovers.clear();
    await Promise.all(left.map(async (rec) => {
      if (isOurProxy(rec)) {
        this.opts.log(`workloads: stopping proxy pid ${rec.pid} left from the previous run (${rec.bootstrap}): no workload wants it now`);
        await stopPid(rec.pid, 5000);
      }
      rmSync(rec.file, { force: true });
    }));
  }

  private async startProxy(p: PlannedProxy): Promise<void> {
    const ip = this.opts.addresses.addressOf(p.key.replace(/\/gateway\//, '/deployment/'));
    const identity = {
      id: `${p.podName}.${p.namespace}`,
      role: p.role,
      namespace: p.namespace,
      workload: p.workload,
      labels: p.labels,
      ip,
    };
    const identityDir = this.ensureIdentity(p, identity.id);
    const safeKey = p.key.replace(/\//g, '_');
    const bootstrap: ProxyBootstrapFile = {
      identity,
      admin: { address: ip, port: ADMIN_PORT, tokenFile: writeAdminToken(this.opts.paths, safeKey) },
      controlPlane: this.opts.controlPlane,
      ...(identityDir !== undefined ? { identityDir } : {}),
      resolver: this.opts.resolver && (this.opts.resolver.server || this.opts.resolver.hostsFile) ? { ...this.opts.resolver } : undefined,
    };
    const proc = new ProxyProcess({
      key: p.key,
      bootstrap,
      bootstrapFile: join(this.opts.paths.runtime, `${safeKey}.bootstrap.json`),
      logFile: logFileFor(this.opts.paths, p.namespace, p.workload),
      pidFile: proxyPidFile(this.opts.paths, safeKey),
      log: this.opts.log,
      onReadyChange: () => {
        if (this.running.get(p.key)?.proc === proc) this.syncPods(this.plan);
      },
    });
    this.running.set(p.key, { plan: p, proc, ip });
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
    const serviceAccount = p.role === 'router'
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
    for (const pod of plan.pods) {
      keep.add(`${pod.deployment.metadata.namespace}/${pod.podName}`);
      const r = pod.proxyKey ? this.running.get(pod.proxyKey) : undefined;
      const ready = pod.proxyKey ? r?.proc.state === 'ready' : true;
      this.writePod(pod, r?.ip ?? this.opts.addresses.addressOf(`${pod.deployment.metadata.namespace}/deployment/${pod.deployment.metadata.name}`), ready);
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
  }

  private writePod(pod: PlannedPod, ip: string, ready: boolean): void {
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
          annotations: Object.keys(pod.annotations).length ? pod.annotations : undefined,
          ownerReferences: pod.deployment.metadata.uid
            ? [{ apiVersion: 'apps/v1', kind: 'Deployment', name: pod.deployment.metadata.name, uid: pod.deployment.metadata.uid, controller: true, blockOwnerDeletion: true }]
            : undefined,
        },
        spec: {
          containers: pod.containers,
          nodeName: 'outpost',
        },
      };
      try {
        current = store.create(obj);
      } catch {
        current = store.get(ref);
        if (!current) return;
      }
    }
    this.writePodStatus(pod, ready, ip, current);
    this.writeDeploymentStatus(pod.deployment, ready);
  }

  private writePodStatus(pod: PlannedPod, ready: boolean, ip?: string, current?: KubeObject): void {
    const store = this.opts.store;
    const ns = pod.deployment.metadata.namespace ?? 'default';
    const ref = { group: '', kind: 'Pod', namespace: ns, name: pod.podName };
    const obj = current ?? store.get(ref);
    if (!obj) return;
    const prev = (obj.status ?? {}) as { podIP?: string; startTime?: string; conditions?: { type: string; status: string; lastTransitionTime?: string }[] };
    const podIP = ip ?? prev.podIP;
    const readyStr = ready ? 'True' : 'False';
    const prevReady = prev.conditions?.find((c) => c.type === 'Ready');
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const since = prevReady?.status === readyStr ? prevReady.lastTransitionTime ?? now : now;
    const status = {
      phase: ready || podIP ? 'Running' : 'Pending',
      hostIP: podIP,
      podIP,
      podIPs: podIP ? [{ ip: podIP }] : [],
      startTime: prev.startTime ?? now,
      conditions: [
        { type: 'Initialized', status: 'True', lastTransitionTime: prev.startTime ?? now },
        { type: 'Ready', status: readyStr, lastTransitionTime: since },
        { type: 'ContainersReady', status: readyStr, lastTransitionTime: since },
        { type: 'PodScheduled', status: 'True', lastTransitionTime: prev.startTime ?? now },
      ],
      containerStatuses: pod.containers.map(({ name }) => ({ name, ready, restartCount: 0, started: true, state: { running: { startedAt: prev.startTime ?? now } } })),
    };
    if (JSON.stringify(stripTimes(obj.status)) === JSON.stringify(stripTimes(status))) return;
    try {
      store.updateStatus(ref, status);
    } catch (err) {
      this.opts.log(`workloads: cannot write status of pod ${ns}/${pod.podName}: ${(err as Error).message}`);
    }
  }

  private writeDeploymentStatus(deploy: KubeObject, ready: boolean): void {
    const store = this.opts.store;
    const ref = { group: 'apps', kind: 'Deployment', namespace: deploy.metadata.namespace, name: deploy.metadata.name };
    const current = store.get(ref);
    if (!current) return;
    const n = ready ? 1 : 0;
    const prev = (current.status ?? {}) as Record<string, unknown>;
    const status = {
      observedGeneration: current.metadata.generation,
      replicas: 1,
      updatedReplicas: 1,
      readyReplicas: n,
      availableReplicas: n,
      ...(n ? {} : { unavailableReplicas: 1 }),
      conditions: [{ type: 'Available', status: ready ? 'True' : 'False', reason: ready ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable', message: ready ? 'Deployment has minimum availability.' : 'Deployment does not have minimum availability.' }],
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
