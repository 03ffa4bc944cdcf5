// A network namespace a test makes for itself (the "node"): a mesh with pods in their own
// namespaces runs in there, so no bridge, namespace or nft rule touches the machine's network.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startTestMesh, type TestContextLike, type TestMesh, type TestMeshOptions } from './mesh.js';

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

/** The "outside" inside a test namespace: a stand-in for httpbin.org on an address of a veth pair there (no dummy devices here). */
export interface NetnsExternal {
  address: string;
  hostsFile: string;
  /** Requests httpbin.org got: method, path, Host, peer address. */
  seen: { method: string; url: string; host: string; remoteAddress: string }[];
  close(): Promise<void>;
}

const STAND_IN = fileURLToPath(new URL('../../dist/runtime/httpbin-stand-in.js', import.meta.url));

export async function startNetnsExternal(ns: TestNetns, address = '203.0.113.10'): Promise<NetnsExternal> {
  // TEST-NET-3 on one end of a veth pair: an address of the node that is not the pods' bridge.
  execFileSync('ip', ['-n', ns.name, 'link', 'add', 'ext0', 'type', 'veth', 'peer', 'name', 'ext1']);
  execFileSync('ip', ['-n', ns.name, 'addr', 'add', `${address}/24`, 'dev', 'ext0']);
  execFileSync('ip', ['-n', ns.name, 'link', 'set', 'ext0', 'up']);
  execFileSync('ip', ['-n', ns.name, 'link', 'set', 'ext1', 'up']);
  const seen: NetnsExternal['seen'] = [];
  const script = `
    const { httpbinHandler, startHttpStandIn } = await import(${JSON.stringify(STAND_IN)});
    await startHttpStandIn(${JSON.stringify(address)}, 80, (req, res) => {
      console.log(JSON.stringify({ method: req.method, url: req.url, host: req.headers.host ?? '', remoteAddress: req.socket.remoteAddress ?? '' }));
      httpbinHandler(req, res);
    });
    console.log('ready');`;
  const proc = await startNetnsScript(ns, script, (line) => seen.push(JSON.parse(line) as NetnsExternal['seen'][number]), 'the httpbin.org stand-in');
  const dir = mkdtempSync(join(tmpdir(), 'outpost-netns-ext-'));
  const hostsFile = join(dir, 'hosts');
  writeFileSync(hostsFile, `${address} httpbin.org\n`);
  return {
    address,
    hostsFile,
    seen,
    close: async () => {
      await proc.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A Node script running inside a test namespace (stand-ins of the outside). */
export interface NetnsScript {
  /** Ends the script's stdin, which ends the script, and awaits its exit. */
  close(): Promise<void>;
}

/**
 * Runs `script` (an ES module; `require` works too) inside the namespace: resolves once it prints
 * `ready`, hands every other line it prints to onLine, and ends it when its stdin closes.
 */
export async function startNetnsScript(ns: TestNetns, script: string, onLine: (line: string) => void = () => {}, what = 'a stand-in'): Promise<NetnsScript> {
  const source = `import { createRequire } from 'node:module'; const require = createRequire(process.cwd() + '/');
    process.stdin.resume(); process.stdin.on('end', () => process.exit(0));
    ${script}`;
  const child: ChildProcess = spawn('nsenter', [`--net=/run/netns/${ns.name}`, process.execPath, '--input-type=module', '-e', source], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let ready = false;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!ready && line === 'ready') {
        ready = true;
        resolve();
      } else onLine(line);
    });
    child.once('exit', (code) => {
      if (!ready) reject(new Error(`${what} exited (${code}) before it was ready`));
    });
  });
  return {
    close: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.stdin!.end();
      await exited;
    },
  };
}

/**
 * A mesh with pods in their own namespaces, inside a namespace made for the test, with httpbin.org's
 * stand-in there. Torn down after the test in this order: the mesh, the stand-in, the namespace.
 */
export async function startNetnsMesh(
  t: TestContextLike,
  opts: Omit<TestMeshOptions, 'netns' | 'noStart'> = {},
): Promise<{ node: TestNetns; ext: NetnsExternal; mesh: TestMesh }> {
  const node = makeTestNetns();
  let ext: NetnsExternal;
  try {
    ext = await startNetnsExternal(node);
  } catch (err) {
    node.remove();
    throw err;
  }
  // startTestMesh registers its own cleanup (`down` inside the namespace) first.
  const mesh = await startTestMesh(t, { hostsFile: ext.hostsFile, ...opts, netns: node.name, noStart: true });
  t.after(async () => {
    await ext.close();
    node.remove();
  });
  await mesh.up();
  return { node, ext, mesh };
}
