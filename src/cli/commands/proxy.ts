// `outpost proxy`: run one proxy (sidecar or gateway) from a ProxyConfig file or a bootstrap.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { CliError } from '../errors.js';

export function registerProxy(program: Command): void {
  program
    .command('proxy [role]')
    .description(
      "Run a proxy from a static ProxyConfig (--config), a bootstrap file (--bootstrap), or, as `outpost proxy router|sidecar` in a pod, from the pod's environment",
    )
    .option('--config <file>', 'ProxyConfig JSON file (re-read on SIGHUP)')
    .option('--bootstrap <file>', 'bootstrap JSON: identity, admin, controlPlane or configFile, resolver')
    .option('--admin <ip:port>', 'admin endpoint address (default 127.0.0.1:15000)')
    .option('--dns-server <ip:port>', 'DNS server for cluster and passthrough resolution')
    .option('--hosts-file <file>', 'hosts file whose entries win over DNS')
    .option('--identity-dir <dir>', 'workload identity directory (cert-chain.pem, key.pem, root-cert.pem) for mesh mTLS')
    .option('--concurrency <n>', "worker processes sharing the listeners, as Envoy's workers (default 1: this process serves)")
    .action(
      async (
        role: string | undefined,
        o: { config?: string; bootstrap?: string; admin?: string; dnsServer?: string; hostsFile?: string; identityDir?: string; concurrency?: string },
      ) => {
        if (role !== undefined && role !== 'router' && role !== 'sidecar')
          throw new CliError(`outpost proxy: role must be router or sidecar (got ${JSON.stringify(role)})`, 2);
        if (role === undefined && o.config === undefined && o.bootstrap === undefined)
          throw new CliError('outpost proxy: give --config FILE, --bootstrap FILE, or a role (router|sidecar) in a pod', 2);
        let concurrency: number | undefined;
        if (o.concurrency !== undefined) {
          concurrency = Number(o.concurrency);
          if (!/^\d+$/.test(o.concurrency) || concurrency < 1 || concurrency > 1024)
            throw new CliError(`outpost proxy: --concurrency must be a whole number from 1 to 1024 (got ${JSON.stringify(o.concurrency)})`, 2);
        }
        const { runProxyProcess, ProxyStartError } = await import('../../dataplane/main.js');
        let podBootstrap;
        if (role !== undefined && o.bootstrap === undefined && o.config === undefined) {
          const { bootstrapFromPodEnv } = await import('../../dataplane/pod-bootstrap.js');
          try {
            podBootstrap = bootstrapFromPodEnv(role, process.env);
          } catch (err) {
            throw new CliError((err as Error).message, 1);
          }
        }
        try {
          process.exitCode = await runProxyProcess({
            ...(podBootstrap ? { bootstrap: podBootstrap } : {}),
            ...(o.config !== undefined ? { configFile: o.config } : {}),
            ...(o.bootstrap !== undefined ? { bootstrapFile: o.bootstrap } : {}),
            ...(o.admin !== undefined ? { admin: o.admin } : {}),
            ...(o.dnsServer !== undefined ? { dnsServer: o.dnsServer } : {}),
            ...(o.hostsFile !== undefined ? { hostsFile: o.hostsFile } : {}),
            ...(concurrency !== undefined ? { concurrency } : {}),
            ...(o.identityDir !== undefined ? { identityDir: resolve(o.identityDir) } : {}),
          });
        } catch (err) {
          if (err instanceof ProxyStartError) throw new CliError(`outpost proxy: ${err.message}`, 1);
          throw err;
        }
        // Drained and flushed: like Envoy, exit even if a peer still holds a half-open socket open
        // (the loop then never empties); unref'd, so a clean loop exits at once as usual.
        const code = process.exitCode;
        setTimeout(() => process.exit(code), 1000).unref();
      },
    );
}
