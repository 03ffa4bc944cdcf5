// A network namespace a test makes for itself (the "node"): a mesh with pods in their own
// namespaces runs in there, so no bridge, namespace or nft rule touches the machine's network.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface TestNetns {
  name: string;
  /** Runs a command inside the namespace (nsenter, the machine's mount namespace); resolves with its output. */
  run(cmd: string, args: string[], timeoutMs?: number): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Deletes the namespace (after the mesh in it is down). */
  remove(): void;
}

/** Why netns tests cannot run here, or undefined (root with `ip` and `nft`). */
export function netnsSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  for (const tool of ['ip', 'nft', 'nsenter']) {
    try {
      execFileSync(tool, ['-V'], { stdio: 'ignore' });
    } catch {
      return `needs ${tool}`;
    }
  }
  return undefined;
}

export function makeTestNetns(): TestNetns {
  const name = `outpost-test-${randomBytes(3).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', name]);
  execFileSync('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  return {
    name,
    run: (cmd, args, timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        const child = spawn('nsenter', [`--net=/run/netns/${name}`, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        child.on('error', reject);
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code: code ?? 1, stdout, stderr });
        });
      }),
    remove: () => {
      try {
        execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
      } catch {
        // Already gone.
      }
    },
  };
}
