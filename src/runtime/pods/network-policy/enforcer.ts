// Keeps NetworkPolicy enforced: on any change of policies, pods, namespaces or Services the rules
// are recompiled, and each pod whose table changed gets it in one `nft -f` transaction inside its
// network namespace (conntrack keeps established connections: replies and allowed connections in
// flight go on). Each policy's status says whether it is enforced, and where it cannot be, why.
import type { KubeObject } from '../../../api/object.js';
import type { Store, WatchEvent } from '../../../store/types.js';
import { sh, type NodeNetworkNames } from '../node-network.js';
import { compileNetworkPolicies, nodeRuleset, type PolicyPod } from './compile.js';

const GROUP = 'networking.k8s.io';
const KIND = 'NetworkPolicy';
const WATCHED = new Set(['NetworkPolicy', 'Namespace', 'Pod', 'Service', 'Deployment']);

/** A pod whose namespace gets rules: `sandbox` is the namespace object (a recreated one is new). */
export type EnforcedPod = PolicyPod & { netns: string; sandbox: object };

export interface NetworkPolicyEnforcerOptions {
  store: Store;
  log: (line: string) => void;
  /** Why policies cannot be enforced here: nothing is applied, every policy's status says so. */
  unavailable?: string;
  /** Netns model: the node network's names (the node's forward chains go in its table). */
  names?: NodeNetworkNames;
  /** Netns model: the pods that have their own network namespace now. */
  pods?: () => EnforcedPod[];
  /** Services the node hosts, as pods other pods' policies can name (cluster DNS, the control plane). */
  nodePeers?: () => PolicyPod[];
}

interface Condition {
  type: string;
  status: 'True' | 'False';
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime: string;
}

export class NetworkPolicyEnforcer {
  private unwatch: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;
  /** What each pod namespace holds now (by its sandbox object: a recreated namespace starts empty). */
  private applied = new WeakMap<object, string>();
  private lastNode = '';
  /** Pods (ns/name) whose rules could not be applied, with why. */
  private readonly failed = new Map<string, string>();

  constructor(private readonly opts: NetworkPolicyEnforcerOptions) {}

  async start(): Promise<void> {
    const rev = this.opts.store.revision();
    await this.sync();
    this.unwatch = this.opts.store.watch(rev, (ev: WatchEvent) => {
      if (WATCHED.has(ev.object.kind)) this.schedule();
    });
  }

  private schedule(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    // Coalesce a burst (one `apply` of many documents).
    this.timer = setTimeout(() => void this.sync(), 20);
  }

  /** Recompiles and applies now (serialized with any pass under way); the workloads call it before new pods' processes start. */
  sync(): Promise<void> {
    this.running = this.running.then(() => this.pass()).catch((err: unknown) => this.opts.log(`network policy: ${(err as Error).message}`));
    return this.running;
  }

  private async pass(): Promise<void> {
    if (this.stopped) return;
    const store = this.opts.store;
    const policies = store.list({ group: GROUP, kind: KIND }).items;
    if (this.opts.unavailable !== undefined || !this.opts.pods || !this.opts.names) {
      this.writeStatuses(policies, () => ({ enforced: false, message: this.opts.unavailable ?? 'pods have no network namespaces' }));
      return;
    }
    const names = this.opts.names;
    const enforced = this.opts.pods();
    const namespaces = store.list({ group: '', kind: 'Namespace' }).items.map((n) => ({ name: n.metadata.name, labels: n.metadata.labels ?? {} }));
    const result = compileNetworkPolicies({
      policies,
      pods: [...enforced, ...(this.opts.nodePeers?.() ?? [])],
      namespaces,
      nodeAddress: names.gateway,
      serviceSubnet: names.serviceSubnet,
    });
    const node = nodeRuleset(names.nftTable, result);
    if (node !== this.lastNode) {
      try {
        await sh('nft', ['-f', '-'], node);
        this.lastNode = node;
        this.failed.delete('(node)');
      } catch (err) {
        this.noteFailure('(node)', `the node's forward chains: ${(err as Error).message}`);
      }
    }
    const live = new Set<string>();
    for (const pod of enforced) {
      const id = `${pod.namespace}/${pod.name}`;
      live.add(id);
      const rules = result.pods.get(id);
      if (!rules || this.applied.get(pod.sandbox) === rules.ruleset || this.stopped) continue;
      try {
        await sh('ip', ['netns', 'exec', pod.netns, 'nft', '-f', '-'], rules.ruleset);
        this.applied.set(pod.sandbox, rules.ruleset);
        if (this.failed.delete(id)) this.opts.log(`network policy: rules of pod ${id} applied`);
      } catch (err) {
        this.noteFailure(id, (err as Error).message);
      }
    }
    for (const id of [...this.failed.keys()]) if (id !== '(node)' && !live.has(id)) this.failed.delete(id);
    const nodeFailure = this.failed.get('(node)');
    this.writeStatuses(policies, (p) => {
      const id = `${p.metadata.namespace ?? 'default'}/${p.metadata.name}`;
      const pods = result.selected.get(id) ?? [];
      const bad = pods.filter((x) => this.failed.has(x));
      if (nodeFailure) return { enforced: false, message: `cannot program the node: ${nodeFailure}` };
      if (bad.length) return { enforced: false, message: `cannot apply the rules in pod(s) ${bad.join(', ')}: ${this.failed.get(bad[0]!)}` };
      return { enforced: true, message: `enforced with nftables in the network namespace of each selected pod (${pods.length} now)` };
    });
  }

  private noteFailure(id: string, why: string): void {
    if (this.failed.get(id) !== why) this.opts.log(`network policy: cannot apply the rules of ${id === '(node)' ? 'the node' : `pod ${id}`}: ${why}`);
    this.failed.set(id, why);
  }

  /** The Enforced condition of each policy, written only when it changes. */
  private writeStatuses(policies: KubeObject[], state: (p: KubeObject) => { enforced: boolean; message: string }): void {
    for (const p of policies) {
      if (this.stopped) return;
      const { enforced, message } = state(p);
      const current = ((p.status as { conditions?: Condition[] } | undefined)?.conditions ?? []).find((c) => c.type === 'Enforced');
      const status = enforced ? 'True' : 'False';
      if (current && current.status === status && current.message === message && current.observedGeneration === p.metadata.generation) continue;
      const condition: Condition = {
        type: 'Enforced',
        status,
        reason: enforced ? 'Enforced' : 'NotEnforced',
        message,
        ...(p.metadata.generation !== undefined ? { observedGeneration: p.metadata.generation } : {}),
        lastTransitionTime: current && current.status === status ? current.lastTransitionTime : new Date().toISOString(),
      };
      try {
        this.opts.store.updateStatus({ group: GROUP, kind: KIND, namespace: p.metadata.namespace, name: p.metadata.name }, { conditions: [condition] });
      } catch {
        // Deleted meanwhile: the next pass has one policy fewer.
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unwatch?.();
    clearTimeout(this.timer);
    await this.running.catch(() => undefined);
  }
}
