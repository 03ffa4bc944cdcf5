// The proxy process: a Proxy fed by a static config file (re-read on SIGHUP) or the control plane;
// SIGTERM/SIGINT close it gracefully (requests finish, access log flushed) and exit 0.
import { readFileSync } from 'node:fs';
import type { ProxyConfig } from '../proxyconfig/types.js';
import { Proxy } from './proxy.js';
import { readBootstrap, type ProxyBootstrap } from './bootstrap.js';
import { log } from './log.js';
import { nodeInternalsReport } from './node-internals.js';
import { parseHostPort } from '../proxyconfig/authority.js';
import { DnsProxy } from './dns/dns-proxy.js';
import { DNS_PROXY_PORT } from '../proxyconfig/naming.js';

export interface ProxyProcessArgs {
  /** A static ProxyConfig file. */
  readonly configFile?: string;
  readonly bootstrapFile?: string;
  /** A bootstrap built in memory (a pod's environment). */
  readonly bootstrap?: ProxyBootstrap;
  /** `IP:PORT` of the admin endpoint. */
  readonly admin?: string;
  readonly dnsServer?: string;
  readonly hostsFile?: string;
  /** Worker processes sharing the listeners (default: the bootstrap's, else 1 = this process serves). */
  readonly concurrency?: number;
  /** Workload identity directory (overrides the bootstrap's identityDir). */
  readonly identityDir?: string;
}

export class ProxyStartError extends Error {}

function parseAddress(s: string, what: string): { address: string; port: number } {
  const hp = parseHostPort(s);
  if (!hp) throw new ProxyStartError(`${what}: expected IP:PORT, got ${JSON.stringify(s)}`);
  return { address: hp.host, port: hp.port };
}

function readConfig(file: string): ProxyConfig {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as ProxyConfig;
  } catch (err) {
    throw new ProxyStartError(`${file}: cannot read ProxyConfig: ${(err as Error).message}`);
  }
}

function readAdminToken(file: string): string {
  let token: string;
  try {
    token = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new ProxyStartError(`admin.tokenFile ${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (token === '') throw new ProxyStartError(`admin.tokenFile ${file}: is empty`);
  return token;
}

/** Runs until a termination signal; resolves to the exit code. */
export async function runProxyProcess(args: ProxyProcessArgs): Promise<number> {
  let boot: ProxyBootstrap | undefined = args.bootstrap;
  if (args.bootstrapFile !== undefined) {
    try {
      boot = readBootstrap(args.bootstrapFile);
    } catch (err) {
      throw new ProxyStartError((err as Error).message);
    }
  }
  const configFile = args.configFile ?? boot?.configFile;
  if (configFile === undefined && boot?.controlPlane === undefined) throw new ProxyStartError('proxy: give --config FILE or --bootstrap FILE');
  const admin = args.admin !== undefined ? parseAddress(args.admin, '--admin') : (boot?.admin ?? { address: '127.0.0.1', port: 15000 });
  const resolver = {
    ...(boot?.resolver ?? {}),
    ...(args.dnsServer !== undefined ? { server: args.dnsServer } : {}),
    ...(args.hostsFile !== undefined ? { hostsFile: args.hostsFile } : {}),
  };
  const concurrency = args.concurrency ?? boot?.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1024)
    throw new ProxyStartError(`concurrency must be a whole number from 1 to 1024 (got ${concurrency})`);
  const adminToken = boot?.admin.tokenFile !== undefined ? readAdminToken(boot.admin.tokenFile) : undefined;
  const identityDir = args.identityDir ?? boot?.identityDir;
  const opts = {
    resolver,
    adminAddress: admin.address,
    adminPort: admin.port,
    ...(identityDir !== undefined ? { identityDir } : {}),
    ...(adminToken !== undefined ? { adminToken } : {}),
    adminSocket: boot?.admin.socket,
  };
  let proxy;
  try {
    proxy = concurrency === 1 ? new Proxy(opts) : new (await import('./workers.js')).ProxyCluster({ ...opts, workers: concurrency });
  } catch (err) {
    throw new ProxyStartError((err as Error).message);
  }
  try {
    await proxy.start();
  } catch (err) {
    throw new ProxyStartError((err as Error).message);
  }
  // Which of Node's internals the request path runs on here, and which fallbacks (node-internals.ts).
  log('info', nodeInternalsReport());

  const cleanups: Array<() => Promise<void> | void> = [];
  // A captured pod's DNS goes to this proxy (Istio's agent DNS proxy), once a config asks for it.
  const dns = new CaptureDns(resolver.server);
  cleanups.push(() => dns.close());
  if (configFile !== undefined) {
    const load = async (): Promise<void> => {
      try {
        const cfg = readConfig(configFile);
        await proxy.apply(cfg);
        await dns.update(cfg);
      } catch (err) {
        log('error', `config ${configFile}: ${(err as Error).message}`);
      }
    };
    await load();
    const onHup = (): void => {
      log('info', `SIGHUP: re-reading ${configFile}`);
      void load();
    };
    process.on('SIGHUP', onHup);
    cleanups.push(() => {
      process.off('SIGHUP', onHup);
    });
  }
  if (boot?.controlPlane !== undefined) {
    const { ConfigClient } = await import('../proxyconfig/distribution/client.js');
    const client = new ConfigClient({
      url: boot.controlPlane.url,
      ...(boot.controlPlane.token !== undefined ? { token: boot.controlPlane.token } : {}),
      ...(boot.controlPlane.tokenFile !== undefined ? { tokenFile: boot.controlPlane.tokenFile } : {}),
      ...(boot.controlPlane.ca !== undefined && boot.identityDir === undefined ? { ca: boot.controlPlane.ca } : {}),
      ...(boot.identityDir !== undefined && boot.controlPlane.url.startsWith('https:') ? { identityDir: boot.identityDir } : {}),
      identity: boot.identity,
      onConfig: (cfg) => proxy.apply(cfg).then(() => dns.update(cfg)),
      onState: (s) => log(s === 'connected' ? 'info' : 'warning', `control plane ${boot!.controlPlane!.url}: ${s}`),
      log: (line) => log('info', line),
    });
    client.start();
    cleanups.push(() => client.stop());
  }

  await new Promise<void>((resolve) => {
    const stop = (sig: string): void => {
      log('info', `${sig}: draining`);
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      resolve();
    };
    const onTerm = (): void => stop('SIGTERM');
    const onInt = (): void => stop('SIGINT');
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
  });
  for (const c of cleanups) await c();
  await proxy.close(5000);
  log('info', 'proxy stopped');
  return 0;
}

/**
 * Starts the DNS proxy with the first config that has a capture section, and keeps its table current:
 * on 127.0.0.1, and on ::1 too in a dual-stack pod (IPv6 queries to port 53 are redirected there).
 */
class CaptureDns {
  readonly #proxies = new Map<string, { proxy: DnsProxy; starting: Promise<void> }>();

  constructor(private readonly upstream: string | undefined) {}

  async update(cfg: ProxyConfig): Promise<void> {
    if (cfg.capture === undefined) return;
    for (const address of cfg.proxy.ip6 !== undefined ? ['127.0.0.1', '::1'] : ['127.0.0.1']) {
      if (this.#proxies.has(address)) continue;
      const proxy = new DnsProxy({ address, port: DNS_PROXY_PORT, ...(this.upstream !== undefined ? { upstream: this.upstream } : {}) });
      const at = address.includes(':') ? `[${address}]` : address;
      const starting = proxy.start().catch((err: Error) => log('error', `dns proxy: cannot listen on ${at}:${DNS_PROXY_PORT}: ${err.message}`));
      this.#proxies.set(address, { proxy, starting });
    }
    for (const p of this.#proxies.values()) p.proxy.setTable(cfg.capture.dns);
    await Promise.all([...this.#proxies.values()].map((p) => p.starting));
  }

  close(): void {
    for (const p of this.#proxies.values()) p.proxy.close();
  }
}
