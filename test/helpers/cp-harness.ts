// A control plane and proxies as separate processes, so a test can SIGKILL one and restart it:
// the ControlPlane hosted by test/integration/controlplane/cp-restart-child.ts, `outpost proxy --bootstrap`
// run from source (as test/helpers/fuzz.ts runs `outpost proxy --config`), and the control
// plane's proxy status read over its own HTTP/2 endpoint.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import { fileURLToPath } from 'node:url';
import type { ProxyBootstrap } from '../../src/dataplane/bootstrap.js';
import type { ProxyStatusRow } from '../../src/proxyconfig/distribution/protocol.js';
import { PROXY_STATUS_PATH } from '../../src/proxyconfig/distribution/protocol.js';

const REPO = new URL('../../', import.meta.url);
const CP_CHILD = fileURLToPath(new URL('test/integration/controlplane/cp-restart-child.ts', REPO));
/** Bound on stderr kept per child, so a chatty child cannot grow the test's memory. */
const STDERR_CAP = 256 * 1024;

export type ExitStatus = { code: number | null; signal: NodeJS.Signals | null };

/** Polls `get` until it returns something truthy (errors count as "not yet"); bounded. */
export async function until<T>(
  what: string,
  get: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
  detail?: () => string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    try {
      const v = await get();
      if (v) return v;
    } catch (err) {
      lastError = (err as Error).message;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${lastError})` : ''}${detail ? `\n${detail()}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A child process whose stderr is kept (bounded) and whose exit is awaitable. */
export class ChildHandle {
  private err = '';
  private dropped = 0;
  private state?: ExitStatus;
  readonly exited: Promise<ExitStatus>;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    child.stderr?.on('data', (d: Buffer) => {
      this.err += d.toString();
      if (this.err.length > STDERR_CAP) {
        this.dropped += this.err.length - STDERR_CAP;
        this.err = this.err.slice(-STDERR_CAP);
      }
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.state = { code, signal };
        resolve(this.state);
      });
    });
  }

  stderr(): string {
    return this.err;
  }

  /** A position in stderr to wait for lines after (survives the cap dropping old text). */
  mark(): number {
    return this.dropped + this.err.length;
  }

  /** stderr written since `mark`. */
  since(mark: number): string {
    return this.err.slice(Math.max(0, mark - this.dropped));
  }

  exit(): ExitStatus | undefined {
    return this.state;
  }

  /** Waits for a stderr line matching `re` written after `mark`. */
  waitForLog(re: RegExp, mark: number, what: string, timeoutMs = 10_000): Promise<RegExpExecArray> {
    return until(
      `${this.name}: ${what}`,
      () => {
        if (this.state) throw new Error(`${this.name} exited (${this.state.code ?? this.state.signal})`);
        return re.exec(this.since(mark)) ?? undefined;
      },
      timeoutMs,
      () => `${this.name} stderr:\n${this.err.slice(-4000)}`,
    );
  }

  /** SIGKILL and wait for the exit. */
  async kill(): Promise<ExitStatus> {
    if (this.state) return this.state;
    this.child.kill('SIGKILL');
    return this.exited;
  }

  /** SIGTERM, SIGKILL after `graceMs`; resolves to the exit status. */
  async stop(graceMs = 5000): Promise<ExitStatus> {
    if (this.state) return this.state;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    const s = await this.exited;
    clearTimeout(t);
    return s;
  }
}

export type ChildControlPlane = ChildHandle & { readonly url: string };

/** Starts a ControlPlane in its own process on `port` over the SQLite store at `dbPath`; resolves once it listens. */
export async function spawnControlPlane(dbPath: string, port: number, token: string): Promise<ChildControlPlane> {
  const child = spawn(process.execPath, ['--import', 'tsx', CP_CHILD, dbPath, String(port), token], {
    cwd: fileURLToPath(REPO),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const h = new ChildHandle('control plane', child);
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`control plane not listening in 30 s; stderr:\n${h.stderr()}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^listening (\S+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    void h.exited.then((s) => {
      clearTimeout(timer);
      reject(new Error(`control plane exited (${s.code ?? s.signal}) before listening; stderr:\n${h.stderr()}`));
    });
  }).catch(async (err: Error) => {
    await h.kill();
    throw err;
  });
  return Object.assign(h, { url });
}

export type BootstrapProxy = ChildHandle & {
  /** http://ADDRESS:PORT of the admin endpoint. */
  readonly adminUrl: string;
  /** The version /config_dump reports. */
  configVersion(): Promise<string | null>;
};

/** Writes `bootstrap` to `file` and runs `outpost proxy --bootstrap FILE` from source; resolves once its first config is applied. */
export async function spawnBootstrapProxy(bootstrap: ProxyBootstrap, file: string): Promise<BootstrapProxy> {
  writeFileSync(file, JSON.stringify(bootstrap, null, 2));
  const main = new URL('src/cli/main.ts', REPO).href;
  const code = `const { run } = await import(${JSON.stringify(main)}); process.exitCode = await run(process.argv.slice(1));`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code, 'proxy', '--bootstrap', file], {
    cwd: fileURLToPath(REPO),
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, OUTPOST_LOG_LEVEL: 'info' },
  });
  const h = new ChildHandle(`proxy ${bootstrap.identity.id}`, child);
  try {
    const admin = await h.waitForLog(/admin endpoint on (\S+):(\d+)/, 0, 'admin endpoint', 30_000);
    await h.waitForLog(/config \S+ applied/, 0, 'first config from the control plane', 30_000);
    const adminUrl = `http://${admin[1]}:${admin[2]}`;
    return Object.assign(h, {
      adminUrl,
      configVersion: async () => ((await (await fetch(`${adminUrl}/config_dump`)).json()) as { version: string | null }).version,
    });
  } catch (err) {
    await h.kill();
    throw err;
  }
}

/** GET /v1/proxy-status on the distribution endpoint (HTTP/2, bearer token). */
export async function fetchProxyStatus(url: string, token: string, timeoutMs = 2000): Promise<ProxyStatusRow[]> {
  const session = http2.connect(url);
  try {
    return await new Promise<ProxyStatusRow[]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`proxy status from ${url}: no answer in ${timeoutMs} ms`)), timeoutMs);
      session.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      const req = session.request({ ':method': 'GET', ':path': PROXY_STATUS_PATH, authorization: `Bearer ${token}` });
      let status = 0;
      let body = '';
      req.on('response', (h) => {
        status = Number(h[':status']);
      });
      req.on('data', (d: Buffer) => {
        body += d.toString();
      });
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      req.on('end', () => {
        clearTimeout(timer);
        if (status !== 200) reject(new Error(`proxy status from ${url}: ${status} ${body}`));
        else resolve(JSON.parse(body) as ProxyStatusRow[]);
      });
      req.end();
    });
  } finally {
    session.destroy();
  }
}
