// The node's pod network: a bridge outpost owns, one network namespace per pod joined to it by a
// veth pair, and an nftables table that forwards and masquerades pod traffic. Every name carries
// the mesh's id, so `outpost down` and the next `up` find a crashed mesh's leftovers.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface NodeNetworkNames {
  /** 6 hex digits from the state dir: tells this mesh's bridge, namespaces and table from another's. */
  id: string;
  bridge: string;
  /** Prefix of every pod network namespace (`ip netns list`). */
  netnsPrefix: string;
  nftTable: string;
  /** 198.18.<n>.0/24: the pods; the node is .1 on the bridge. */
  podSubnet: string;
  /** 198.19.<n>.0/24: Services' cluster IPs (exist only as DNAT rules). */
  serviceSubnet: string;
  gateway: string;
}

/** The state dir's record of the /24 its pods got (pickFreePodSubnet); absent: the hash's choice. */
const SUBNET_FILE = 'pod-subnet';

function persistedSubnet(stateDir: string): number | undefined {
  try {
    const n = Number(readFileSync(join(stateDir, SUBNET_FILE), 'utf8').trim());
    return Number.isInteger(n) && n >= 0 && n < 256 ? n : undefined;
  } catch {
    return undefined;
  }
}

export function nodeNetworkNames(stateDir: string): NodeNetworkNames {
  const h = createHash('sha256').update(`outpost-pods:${stateDir}`).digest();
  const id = h.subarray(0, 3).toString('hex');
  return namesFor(id, persistedSubnet(stateDir) ?? h[3]!);
}

function namesFor(id: string, n: number): NodeNetworkNames {
  return {
    id,
    bridge: `opbr${id}`,
    netnsPrefix: `outpost-${id}-`,
    nftTable: `outpost-${id}`,
    podSubnet: `198.18.${n}.0/24`,
    serviceSubnet: `198.19.${n}.0/24`,
    gateway: `198.18.${n}.1`,
  };
}

/** Third octets of 198.18.x.0/24 networks some interface or route here already uses (another mesh's bridge). */
async function usedPodSubnets(): Promise<Set<number>> {
  const used = new Set<number>();
  const grab = (text: string): void => {
    for (const m of text.matchAll(/\b198\.18\.(\d{1,3})\.\d{1,3}/g)) used.add(Number(m[1]));
  };
  grab(await sh('ip', ['-4', '-o', 'addr', 'show']).catch(() => ''));
  grab(await sh('ip', ['-4', 'route', 'show']).catch(() => ''));
  return used;
}

/**
 * A pod subnet no other network here uses: the hash's choice when free, else the next free /24
 * (recorded in the state dir, so later `up`s and `down` agree). Two meshes can no longer collide.
 */
export async function pickFreePodSubnet(stateDir: string, names: NodeNetworkNames): Promise<NodeNetworkNames> {
  const used = await usedPodSubnets();
  const start = Number(names.podSubnet.split('.')[2]);
  for (let i = 0; i < 256; i++) {
    const n = (start + i) % 256;
    if (used.has(n)) continue;
    writeFileSync(join(stateDir, SUBNET_FILE), `${n}\n`);
    return namesFor(names.id, n);
  }
  throw new PodNetworkError(`no free /24 left in 198.18.0.0/16 for the pod network`);
}

export class PodNetworkError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PodNetworkError';
  }
}

/** Runs a command of iproute2/nftables; a failure names the command and says what it printed. */
export async function sh(cmd: string, args: string[], input?: string): Promise<string> {
  try {
    if (input !== undefined) {
      return await new Promise<string>((resolve, reject) => {
        const child = execFile(cmd, args, (err, stdout, stderr) => (err ? reject(Object.assign(err, { stderr })) : resolve(stdout)));
        child.stdin?.end(input);
      });
    }
    return (await run(cmd, args)).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new PodNetworkError(`${cmd} ${args.join(' ')}: ${(e.stderr || e.message).trim().split('\n')[0]}`);
  }
}

async function quiet(cmd: string, args: string[]): Promise<void> {
  await sh(cmd, args).catch(() => undefined);
}

/** The /etc/netns/<name>/ directory `ip netns exec` bind-mounts over /etc (resolv.conf, hosts). */
function netnsEtc(netns: string): string {
  return `/etc/netns/${netns}`;
}

export interface PodSandbox {
  netns: string;
  ip: string;
  hostVeth: string;
}

/** Ends every process still inside a pod's namespace (a crashed mesh's containers), so none outlives it. */
async function killNetnsProcesses(netns: string): Promise<void> {
  const pids = await sh('ip', ['netns', 'pids', netns]).catch(() => '');
  for (const pid of pids
    .split('\n')
    .map(Number)
    .filter((p) => Number.isInteger(p) && p > 1)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
}

/** Removes every namespace (and what runs in it), the bridge and the table a mesh with these names made (running or crashed). */
export async function removeNodeNetwork(names: NodeNetworkNames): Promise<string[]> {
  const removed: string[] = [];
  const list = await sh('ip', ['netns', 'list']).catch(() => '');
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0];
    if (!name?.startsWith(names.netnsPrefix)) continue;
    await killNetnsProcesses(name);
    await quiet('ip', ['netns', 'del', name]);
    rmSync(netnsEtc(name), { recursive: true, force: true });
    removed.push(`netns ${name}`);
  }
  const links = await sh('ip', ['-o', 'link', 'show', 'dev', names.bridge]).catch(() => '');
  if (links) {
    await quiet('ip', ['link', 'del', names.bridge]);
    removed.push(`bridge ${names.bridge}`);
  }
  const tables = await sh('nft', ['list', 'tables']).catch(() => '');
  if (tables.split('\n').some((l) => l.trim() === `table inet ${names.nftTable}`)) {
    await quiet('nft', ['delete', 'table', 'inet', names.nftTable]);
    removed.push(`nft table inet ${names.nftTable}`);
  }
  return removed;
}

/**
 * The node side: set up once per `up`, a sandbox (netns + veth + address) per pod, torn down
 * by `down`. Pod slots are .2–.254 of the pod subnet.
 */
export class NodeNetwork {
  private readonly slots = new Map<string, number>();
  private readonly sandboxes = new Map<string, PodSandbox>();
  private readonly pending = new Map<string, Promise<PodSandbox>>();

  constructor(readonly names: NodeNetworkNames) {}

  /**
   * After a crashed control plane: keeps the bridge, the table and every pod namespace something
   * still runs in (its proxy, its containers), each under its pod's key and address, so that the
   * proxies there are adopted; namespaces nothing runs in go. False when there is no whole node
   * network to keep (then the caller removes what is left and sets up afresh).
   */
  async adopt(log: (line: string) => void): Promise<boolean> {
    const { bridge, nftTable, netnsPrefix, id } = this.names;
    const hasBridge = (await sh('ip', ['-o', 'link', 'show', 'dev', bridge]).catch(() => '')) !== '';
    const tables = await sh('nft', ['list', 'tables']).catch(() => '');
    if (!hasBridge || !tables.split('\n').some((l) => l.trim() === `table inet ${nftTable}`)) return false;
    // The pod's key is the alias of its host-side veth (set by createPod): it outlives the process that set it.
    const aliases = new Map<string, string>();
    try {
      for (const l of JSON.parse(await sh('ip', ['-j', 'link', 'show', 'master', bridge])) as { ifname?: string; ifalias?: string }[]) {
        if (l.ifname && l.ifalias) aliases.set(l.ifname, l.ifalias);
      }
    } catch {
      // No JSON: nothing can be matched to its pod, every namespace goes below.
    }
    const base = this.names.gateway.split('.').slice(0, 3).join('.');
    const list = await sh('ip', ['netns', 'list']).catch(() => '');
    for (const name of list.split('\n').map((l) => l.split(' ')[0] ?? '')) {
      if (!name.startsWith(netnsPrefix)) continue;
      const slot = Number(name.slice(netnsPrefix.length));
      const hostVeth = `vop${id}${slot.toString(16)}`;
      const key = aliases.get(hostVeth);
      const busy = (await sh('ip', ['netns', 'pids', name]).catch(() => '')).trim() !== '';
      if (Number.isInteger(slot) && slot >= 2 && slot < 255 && key !== undefined && busy && !this.sandboxes.has(key)) {
        this.slots.set(key, slot);
        this.sandboxes.set(key, { netns: name, ip: `${base}.${slot}`, hostVeth });
        log(`pods: keeping the network namespace ${name} of pod ${key} (${base}.${slot}): its processes still run`);
        continue;
      }
      await killNetnsProcesses(name);
      await quiet('ip', ['netns', 'del', name]);
      rmSync(netnsEtc(name), { recursive: true, force: true });
      log(`removed netns ${name} left over from a previous run`);
    }
    // Per network namespace, as in setup (a reboot of the namespace would have lost the bridge too).
    writeFileSync('/proc/sys/net/ipv4/ip_forward', '1\n');
    log(`pods: kept bridge ${bridge} and nft table inet ${nftTable} from the previous run`);
    return true;
  }

  async setup(): Promise<void> {
    const { bridge, gateway, podSubnet, nftTable } = this.names;
    await sh('ip', ['link', 'add', bridge, 'type', 'bridge']);
    await sh('ip', ['addr', 'add', `${gateway}/24`, 'dev', bridge]);
    await sh('ip', ['link', 'set', bridge, 'up']);
    // Per network namespace: on a test's namespace this changes only that namespace.
    writeFileSync('/proc/sys/net/ipv4/ip_forward', '1\n');
    // Pod traffic leaving the node is masqueraded; traffic between pods and to the node stays as is.
    await sh(
      'nft',
      ['-f', '-'],
      [
        `table inet ${nftTable} {`,
        '  chain forward {',
        '    type filter hook forward priority filter; policy accept;',
        '  }',
        // Cluster IPs: rewritten (src/runtime/pods/service-routing.ts) for pods (prerouting) and the node (output).
        '  chain services {',
        '  }',
        '  chain prerouting {',
        '    type nat hook prerouting priority dstnat; policy accept;',
        '    jump services',
        '  }',
        '  chain output {',
        '    type nat hook output priority -100; policy accept;',
        '    jump services',
        '  }',
        '  chain postrouting {',
        '    type nat hook postrouting priority srcnat; policy accept;',
        `    ip saddr ${podSubnet} oifname != "${bridge}" masquerade`,
        // A pod's reply to a cluster IP connection would go straight back over the bridge, past the
        // un-DNAT: through the node it comes instead (kube-proxy's masquerade-all, without br_netfilter).
        `    ct status dnat oifname "${bridge}" masquerade`,
        '  }',
        '}',
      ].join('\n') + '\n',
    );
  }

  keys(): string[] {
    return [...this.sandboxes.keys()];
  }

  sandbox(key: string): PodSandbox | undefined {
    return this.sandboxes.get(key);
  }

  /** A pod's network namespace, created on first use (idempotent per key). */
  ensurePod(key: string, resolvConf?: string): Promise<PodSandbox> {
    const have = this.sandboxes.get(key);
    if (have) return Promise.resolve(have);
    let p = this.pending.get(key);
    if (!p) {
      p = this.createPod(key, resolvConf).finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    return p;
  }

  private allocate(key: string): number {
    const used = new Set(this.slots.values());
    for (let n = 2; n < 255; n++) {
      if (!used.has(n)) {
        this.slots.set(key, n);
        return n;
      }
    }
    throw new PodNetworkError(`no free pod address left in ${this.names.podSubnet} (253 pods at most)`);
  }

  private async createPod(key: string, resolvConf?: string): Promise<PodSandbox> {
    const slot = this.allocate(key);
    const base = this.names.gateway.split('.').slice(0, 3).join('.');
    const ip = `${base}.${slot}`;
    const netns = `${this.names.netnsPrefix}${slot}`;
    const hostVeth = `vop${this.names.id}${slot.toString(16)}`;
    try {
      // A namespace left by a crash under the same name goes first.
      await quiet('ip', ['netns', 'del', netns]);
      if (resolvConf !== undefined) {
        mkdirSync(netnsEtc(netns), { recursive: true });
        writeFileSync(`${netnsEtc(netns)}/resolv.conf`, resolvConf);
      }
      await sh('ip', ['netns', 'add', netns]);
      await sh('ip', ['link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
      await sh('ip', ['link', 'set', hostVeth, 'master', this.names.bridge]);
      // The pod's key, found again by adopt() after a crash of the control plane.
      await sh('ip', ['link', 'set', hostVeth, 'alias', key]);
      await sh('ip', ['link', 'set', hostVeth, 'up']);
      const inPod = (args: string[]): Promise<string> => sh('ip', ['-n', netns, ...args]);
      await inPod(['link', 'set', 'lo', 'up']);
      await inPod(['addr', 'add', `${ip}/24`, 'dev', 'eth0']);
      await inPod(['link', 'set', 'eth0', 'up']);
      await inPod(['route', 'add', 'default', 'via', this.names.gateway]);
    } catch (err) {
      this.slots.delete(key);
      await quiet('ip', ['netns', 'del', netns]);
      throw err;
    }
    const sb = { netns, ip, hostVeth };
    this.sandboxes.set(key, sb);
    return sb;
  }

  /** Deletes a pod's namespace (its processes must be gone); the veth pair goes with it. */
  async removePod(key: string): Promise<void> {
    const sb = this.sandboxes.get(key);
    if (!sb) return;
    this.sandboxes.delete(key);
    this.slots.delete(key);
    await killNetnsProcesses(sb.netns);
    await quiet('ip', ['netns', 'del', sb.netns]);
    rmSync(netnsEtc(sb.netns), { recursive: true, force: true });
  }

  async teardown(): Promise<void> {
    this.sandboxes.clear();
    this.slots.clear();
    await removeNodeNetwork(this.names);
  }
}
