// Running a Proxy inside a test: start, apply, read its access log, stop on test end.
import { execFile, spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import type { Readable } from 'node:stream';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Proxy, type ProxyOptions } from '../../src/dataplane/proxy.js';
import type { ProxyConfig } from '../../src/proxyconfig/types.js';
import { setLogSink } from '../../src/dataplane/log.js';

// Component logs would clutter test output; keep them for failing assertions instead.
export const componentLog: string[] = [];
setLogSink((line) => {
  componentLog.push(line);
  if (componentLog.length > 500) componentLog.shift();
});

export interface RunningProxy {
  readonly proxy: Proxy;
  readonly logPath: string;
  /** Waits until the access log has at least n lines (bounded), returns all lines. */
  logLines(n: number): Promise<string[]>;
}

export function tempDir(t: TestContext, prefix = 'outpost-proxy-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export async function startProxy(t: TestContext, cfg: ProxyConfig | undefined, opts: ProxyOptions = {}, logPath?: string): Promise<RunningProxy> {
  const proxy = new Proxy({ drainMs: 200, ...opts });
  t.after(() => proxy.close(200));
  await proxy.start();
  if (cfg !== undefined) await proxy.apply(cfg);
  const path = logPath ?? '';
  return {
    proxy,
    logPath: path,
    logLines: async (n: number) => {
      const deadline = Date.now() + 5000;
      for (;;) {
        await proxy.accessLog?.flush();
        const lines =
          path && existsSync(path)
            ? readFileSync(path, 'utf8')
                .split('\n')
                .filter((l) => l !== '')
            : [];
        if (lines.length >= n || Date.now() > deadline) return lines;
        await new Promise((r) => setTimeout(r, 10));
      }
    },
  };
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// The proxy verb alone, wired as src/cli/main.ts wires it (independent of the other verbs' modules).
const PROXY_VERB_ENTRY = `
const { Command } = await import('commander');
const { registerProxy } = await import('./src/cli/commands/proxy.ts');
const { CliError } = await import('./src/cli/errors.ts');
const program = new Command('outpost').exitOverride();
registerProxy(program);
try { await program.parseAsync(process.argv.slice(1), { from: 'user' }); }
catch (err) { process.stderr.write(err.message + '\\n'); process.exitCode = err instanceof CliError ? err.exitCode : 1; }
`;

/** `outpost proxy ARGS…` as a child process, run from the sources (args start after `outpost`). */
export function spawnProxyVerb(args: string[]): ChildProcessByStdio<null, Readable, Readable> {
  return spawn(process.execPath, ['--import', 'tsx', '-e', PROXY_VERB_ENTRY, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Polls `fn` every 50 ms until it is true (a throw counts as false); throws after timeoutMs. */
export async function waitFor(fn: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fn().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A port nothing listens on right now (listen on 0, close). */
export async function freePort(address = '127.0.0.1'): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, address, () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface CurlResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function curl(args: string[], timeoutMs = 15_000): Promise<CurlResult> {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '--max-time', String(Math.ceil(timeoutMs / 1000)), ...args], { timeout: timeoutMs + 2000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ exitCode: code, stdout, stderr });
    });
  });
}

/** Splits a TEXT access-log line into its fields (quoted fields unquoted). */
export function logFields(line: string): string[] {
  const out: string[] = [];
  const re = /\[([^\]]*)\]|"([^"]*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line)) !== null) out.push(m[1] ?? m[2] ?? m[3]!);
  return out;
}

/** Named fields of Istio's default TEXT format. */
export interface LogLine {
  start: string;
  request: string;
  code: string;
  flags: string;
  details: string;
  termination: string;
  transportFailure: string;
  bytesReceived: string;
  bytesSent: string;
  duration: string;
  upstreamServiceTime: string;
  xff: string;
  userAgent: string;
  requestId: string;
  authority: string;
  upstreamHost: string;
  upstreamCluster: string;
  upstreamLocal: string;
  downstreamLocal: string;
  downstreamRemote: string;
  sni: string;
  route: string;
}

export function parseLogLine(line: string): LogLine {
  const f = logFields(line);
  const names: Array<keyof LogLine> = [
    'start',
    'request',
    'code',
    'flags',
    'details',
    'termination',
    'transportFailure',
    'bytesReceived',
    'bytesSent',
    'duration',
    'upstreamServiceTime',
    'xff',
    'userAgent',
    'requestId',
    'authority',
    'upstreamHost',
    'upstreamCluster',
    'upstreamLocal',
    'downstreamLocal',
    'downstreamRemote',
    'sni',
    'route',
  ];
  if (f.length !== names.length) throw new Error(`access-log line has ${f.length} fields, expected ${names.length}: ${line}`);
  const o = {} as LogLine;
  names.forEach((n, i) => {
    o[n] = f[i]!;
  });
  return o;
}
