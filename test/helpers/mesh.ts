// Start and stop a local mesh for a test the way a user does: `outpost up -d` on a temp state
// dir, every verb through bin/outpost, `outpost down` and cleanup in t.after.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const OUTPOST_BIN = fileURLToPath(new URL('../../bin/outpost', import.meta.url));

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
  /** Run inside this network namespace (a name under /run/netns the test made; test/helpers/netns.ts). */
  netns?: string;
}

/** Runs `outpost ARGS…` to completion (killed after timeoutMs, 60 s by default). */
export function runOutpost(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    // nsenter, not `ip netns exec`: the mount namespace stays the machine's, so the pod namespaces
    // outpost makes in there (bind mounts under /run/netns) are seen by every later command.
    const [file, argv] = opts.netns
      ? ['nsenter', [`--net=/run/netns/${opts.netns}`, process.execPath, OUTPOST_BIN, ...args]]
      : [process.execPath, [OUTPOST_BIN, ...args]];
    const child = spawn(file, argv, {
      cwd: opts.cwd,
      // Tests keep the loopback model unless they run inside a network namespace they made (test/helpers/netns.ts).
      env: { ...process.env, OUTPOST_POD_NETWORK: opts.netns ? 'netns' : 'loopback', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

export interface TestMesh {
  stateDir: string;
  /** `outpost ARGS… --state-dir DIR`. */
  outpost(args: string[], opts?: RunOptions): Promise<RunResult>;
  /** Like outpost(), but fails the test with the output when the exit code is not 0. */
  ok(args: string[], opts?: RunOptions): Promise<RunResult>;
  down(): Promise<RunResult>;
  up(extra?: string[]): Promise<RunResult>;
}

export interface TestContextLike {
  after(fn: () => Promise<void> | void): void;
}

export interface TestMeshOptions {
  hostsFile?: string;
  dnsServer?: string;
  /** Do not run `up -d` (a test that starts it itself). */
  noStart?: boolean;
  /** More flags for `up -d`. */
  upArgs?: string[];
  /** Run the mesh, and every command, inside this test-made network namespace, with pods in their own namespaces. */
  netns?: string;
}

export async function startTestMesh(t: TestContextLike, opts: TestMeshOptions = {}): Promise<TestMesh> {
  const stateDir = mkdtempSync(join(tmpdir(), 'outpost-mesh-'));
  const withDir = (args: string[]): string[] => {
    const i = args.indexOf('--');
    return i < 0 ? [...args, '--state-dir', stateDir] : [...args.slice(0, i), '--state-dir', stateDir, ...args.slice(i)];
  };
  const upArgs = (): string[] => [
    'up',
    '-d',
    ...(opts.hostsFile ? ['--hosts-file', opts.hostsFile] : []),
    ...(opts.dnsServer ? ['--dns-server', opts.dnsServer] : []),
    ...(opts.upArgs ?? []),
  ];
  const mesh: TestMesh = {
    stateDir,
    outpost: (args, o) => runOutpost(withDir(args), { netns: opts.netns, ...o }),
    ok: async (args, o) => {
      const r = await runOutpost(withDir(args), { netns: opts.netns, ...o });
      if (r.code !== 0) throw new Error(`outpost ${args.join(' ')} exited ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
      return r;
    },
    down: () => runOutpost(withDir(['down']), { netns: opts.netns }),
    up: async (extra = []) => {
      const r = await runOutpost(withDir([...upArgs(), ...extra]), { timeoutMs: 90_000, netns: opts.netns });
      if (r.code !== 0) throw new Error(`outpost up -d exited ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
      return r;
    },
  };
  t.after(async () => {
    await mesh.down();
    rmSync(stateDir, { recursive: true, force: true });
  });
  if (!opts.noStart) await mesh.up();
  return mesh;
}

/** Polls `check` (bounded: 100 tries, 100 ms apart) until it returns a value; throws with the last reason. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, tries = 100): Promise<T> {
  let last: unknown;
  for (let i = 0; i < tries; i++) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not reached after ${tries} tries${last ? `: ${String(last)}` : ''}`);
}
