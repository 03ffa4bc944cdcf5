// Services on the node (netns model), as kube-proxy and CoreDNS do them: a cluster IP from the
// service range for every ClusterIP Service, nft DNAT from cluster IP:port to a random ready
// endpoint, and the DNS records pods resolve (`<svc>.<ns>.svc.cluster.local`; headless → pod IPs).
import type { KubeObject } from '../../api/object.js';
import type { Pod } from '../../api/kinds/pod.js';
import type { Service } from '../../api/kinds/service.js';
import { kubeServices } from '../../controlplane/registry/kube-services.js';
import type { Store, WatchEvent } from '../../store/types.js';
import { CLUSTER_DOMAIN, type ClusterDns } from './cluster-dns.js';
import { sh, type NodeNetworkNames } from './node-network.js';
import { syncEndpointSlices } from './endpoint-slices.js';

const SERVICES_CHAIN = 'services';

export interface ServiceRoutingOptions {
  store: Store;
  names: NodeNetworkNames;
  dns: ClusterDns;
  log: (line: string) => void;
}

function isClusterIpService(spec: Record<string, unknown>): boolean {
  const type = spec.type ?? 'ClusterIP';
  return (type === 'ClusterIP' || type === 'NodePort' || type === 'LoadBalancer') && spec.clusterIP !== 'None';
}

export class ServiceRouting {
  private unwatch: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private lastRules = '';
  private stopped = false;

  constructor(private readonly opts: ServiceRoutingOptions) {}

  async start(): Promise<void> {
    const rev = this.opts.store.revision();
    await this.syncNow();
    this.unwatch = this.opts.store.watch(rev, (ev: WatchEvent) => {
      if (ev.object.kind === 'Service' || ev.object.kind === 'Pod') this.schedule();
    });
  }

  private schedule(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.syncNow(), 20);
  }

  private syncNow(): Promise<void> {
    this.running = this.running.then(() => this.sync()).catch((err: unknown) => this.opts.log(`services: ${(err as Error).message}`));
    return this.running;
  }

  /** Gives a cluster IP to each ClusterIP Service without one: the lowest free address of the service range. */
  private allocate(services: KubeObject[]): boolean {
    const base = this.opts.names.serviceSubnet.split('.').slice(0, 3).join('.');
    const used = new Set(
      services.map((s) => (s.spec as Record<string, unknown> | undefined)?.clusterIP).filter((ip): ip is string => typeof ip === 'string' && ip !== ''),
    );
    let changed = false;
    for (const svc of services) {
      const spec = (svc.spec ?? {}) as Record<string, unknown>;
      if (!isClusterIpService(spec) || (typeof spec.clusterIP === 'string' && spec.clusterIP !== '')) continue;
      let ip: string | undefined;
      for (let n = 1; n < 255 && !ip; n++) if (!used.has(`${base}.${n}`)) ip = `${base}.${n}`;
      if (!ip) {
        this.opts.log(`services: no cluster IP left in ${this.opts.names.serviceSubnet} for ${svc.metadata.namespace}/${svc.metadata.name}`);
        continue;
      }
      used.add(ip);
      try {
        this.opts.store.patch(
          { group: '', kind: 'Service', namespace: svc.metadata.namespace, name: svc.metadata.name },
          { spec: { clusterIP: ip, clusterIPs: [ip] } },
        );
        changed = true;
      } catch (err) {
        this.opts.log(`services: cannot give ${svc.metadata.namespace}/${svc.metadata.name} a cluster IP: ${(err as Error).message}`);
      }
    }
    return changed;
  }

  private async sync(): Promise<void> {
    if (this.stopped) return;
    const store = this.opts.store;
    let services = store.list({ group: '', kind: 'Service' }).items;
    if (this.allocate(services)) services = store.list({ group: '', kind: 'Service' }).items;
    const pods = store.list({ group: '', kind: 'Pod' }).items;
    const byNs = new Map<string, KubeObject[]>();
    for (const p of pods) {
      const ns = p.metadata.namespace ?? 'default';
      byNs.set(ns, [...(byNs.get(ns) ?? []), p]);
    }
    syncEndpointSlices(store, services, pods, this.opts.log);
    const mesh = kubeServices(services as readonly Service[], byNs as ReadonlyMap<string, readonly Pod[]>);
    const records = new Map<string, string[]>();
    const rules: string[] = [];
    for (const svc of services) {
      const spec = (svc.spec ?? {}) as Record<string, unknown>;
      const ns = svc.metadata.namespace ?? 'default';
      const fqdn = `${svc.metadata.name}.${ns}.svc.${CLUSTER_DOMAIN}`;
      const entry = mesh.find((m) => m.name === svc.metadata.name && m.namespace === ns);
      const endpoints = entry?.endpoints ?? [];
      if (spec.clusterIP === 'None') {
        records.set(
          fqdn,
          endpoints.map((e) => e.address),
        );
        continue;
      }
      const vip = typeof spec.clusterIP === 'string' && spec.clusterIP ? spec.clusterIP : undefined;
      if (!vip) continue;
      records.set(fqdn, [vip]);
      for (const p of (spec.ports ?? []) as { port?: number; protocol?: string }[]) {
        if (typeof p.port !== 'number') continue;
        const proto = (p.protocol ?? 'TCP').toLowerCase() === 'udp' ? 'udp' : 'tcp';
        const targets = endpoints.flatMap((e) => (e.ports.get(p.port!) !== undefined ? [`${e.address} . ${e.ports.get(p.port!)}`] : []));
        const match = `ip daddr ${vip} ${proto} dport ${p.port}`;
        // No ready endpoint: refused at once, as kube-proxy does.
        if (targets.length === 0)
          rules.push(`add rule inet ${this.opts.names.nftTable} ${SERVICES_CHAIN} ${match} ${proto === 'tcp' ? 'reject with tcp reset' : 'reject'}`);
        else
          rules.push(
            `add rule inet ${this.opts.names.nftTable} ${SERVICES_CHAIN} ${match} dnat ip to numgen random mod ${targets.length} map { ${targets.map((t, i) => `${i} : ${t}`).join(', ')} }`,
          );
      }
    }
    this.opts.dns.setRecords(records);
    const batch = [`flush chain inet ${this.opts.names.nftTable} ${SERVICES_CHAIN}`, ...rules].join('\n') + '\n';
    if (batch === this.lastRules || this.stopped) return;
    // One nft transaction: the chain is never seen half-written.
    await sh('nft', ['-f', '-'], batch);
    this.lastRules = batch;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unwatch?.();
    clearTimeout(this.timer);
    await this.running.catch(() => undefined);
  }
}
