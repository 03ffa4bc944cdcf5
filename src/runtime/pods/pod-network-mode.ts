// Which pod model the mesh runs: `netns` (each pod its own network namespace on outpost's
// bridge) or `loopback` (each workload a 127.x address); `auto` takes netns where it can.
import { randomBytes } from 'node:crypto';
import { PodNetworkError, sh } from './node-network.js';

export type PodNetworkMode = 'auto' | 'netns' | 'loopback';
export const POD_NETWORK_MODES: readonly PodNetworkMode[] = ['auto', 'netns', 'loopback'];

/** Why pods cannot get their own network namespaces here, or undefined when they can. */
export async function netnsUnavailable(): Promise<string | undefined> {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'creating network namespaces needs root (CAP_NET_ADMIN)';
  for (const tool of ['ip', 'nft']) {
    try {
      await sh(tool, ['-V']);
    } catch {
      return `${tool} is not installed (${tool === 'ip' ? 'iproute2' : 'nftables'} package)`;
    }
  }
  // Try for real: a namespace and a veth pair, removed at once.
  const probe = `outpost-probe-${randomBytes(3).toString('hex')}`;
  try {
    await sh('ip', ['netns', 'add', probe]);
    await sh('ip', ['-n', probe, 'link', 'add', 'p0', 'type', 'veth', 'peer', 'name', 'p1']);
    await sh('nft', ['list', 'tables']);
  } catch (err) {
    return `cannot create network namespaces here: ${(err as Error).message}`;
  } finally {
    await sh('ip', ['netns', 'del', probe]).catch(() => undefined);
  }
  return undefined;
}

/** The model to run: netns or loopback; `auto` logs one line when it falls back. */
export async function choosePodNetwork(mode: PodNetworkMode, log: (line: string) => void): Promise<'netns' | 'loopback'> {
  if (mode === 'loopback') return 'loopback';
  const why = await netnsUnavailable();
  if (why === undefined) return 'netns';
  if (mode === 'netns') throw new PodNetworkError(`--pod-network=netns: ${why}`);
  log(`pods share the loopback (one 127.x address each), not network namespaces: ${why}; no traffic capture (apps reach their sidecar through http_proxy)`);
  return 'loopback';
}
