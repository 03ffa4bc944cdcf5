// `outpost controller`: the control plane against a Kubernetes API (kubeconfig or in-cluster),
// serving config distribution to proxies in pods. client-node loads only here.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { hostname } from 'node:os';
import { durationMs } from '../../api/duration.js';
import { CliError } from '../errors.js';

function flagDuration(flag: string, text: string): number {
  const ms = durationMs(text);
  if (ms === undefined || ms <= 0) throw new CliError(`outpost controller: ${flag} must be a duration such as 15s or 1m (got ${JSON.stringify(text)})`, 2);
  return ms;
}

interface ControllerFlags {
  kubeconfig?: string;
  context?: string;
  distributionAddress?: string;
  distributionTokenFile?: string;
  leaderElect?: boolean;
  leaderElectNamespace?: string;
  leaderElectLeaseDuration?: string;
  leaderElectRenewDeadline?: string;
  leaderElectRetryPeriod?: string;
  webhookAddress?: string;
  webhookCertDir?: string;
  proxyImage?: string;
  controllerUrl?: string;
  distributionCertDir?: string;
}

function parseAddress(text: string, flag = '--distribution-address'): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new CliError(`outpost controller: ${flag} must be HOST:PORT (got ${JSON.stringify(text)})`, 2);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

export function registerController(program: Command): void {
  program
    .command('controller')
    .description('Run the control plane against a Kubernetes API (a cluster) instead of the local mesh')
    .option('--kubeconfig <file>', 'kubeconfig of the cluster (default: in-cluster config, $KUBECONFIG, ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context')
    .option('--distribution-address <host:port>', 'where proxies get their config (default 0.0.0.0:15012)')
    .option('--distribution-token-file <file>', 'bearer token proxies present to distribution (default: a new random one, printed once)')
    .option('--no-leader-elect', "do not elect a leader: this replica always writes status and the deployer's objects")
    .option('--leader-elect-namespace <ns>', 'namespace of the coordination.k8s.io Lease (default istio-system)')
    .option('--leader-elect-lease-duration <d>', 'how long a Lease holds without renewal (default 15s)')
    .option('--leader-elect-renew-deadline <d>', 'how long a leader tries to renew before it steps down (default 10s)')
    .option('--leader-elect-retry-period <d>', 'how often candidates try and the leader renews (default 2s)')
    .option('--distribution-cert-dir <dir>', 'serve distribution over TLS with tls.crt and tls.key from here (its tls.crt is what injected proxies trust)')
    .option('--webhook-address <host:port>', 'serve the sidecar injection webhook (HTTPS) here')
    .option('--webhook-cert-dir <dir>', "the webhook's tls.crt and tls.key (a mounted kubernetes.io/tls Secret)")
    .option('--proxy-image <ref>', 'the image injected proxies run')
    .option('--controller-url <url>', 'distribution as pods reach it (e.g. http://outpost-controller.istio-system.svc:15012)')
    .action(async (o: ControllerFlags) => {
      let distributionTls: { cert: string; key: string } | undefined;
      if (o.distributionCertDir) {
        try {
          distributionTls = { cert: readFileSync(`${o.distributionCertDir}/tls.crt`, 'utf8'), key: readFileSync(`${o.distributionCertDir}/tls.key`, 'utf8') };
        } catch (err) {
          throw new CliError(`outpost controller: --distribution-cert-dir: ${(err as Error).message}`, 1);
        }
      }
      let webhook;
      if (o.webhookAddress) {
        if (!o.webhookCertDir || !o.proxyImage || !o.controllerUrl)
          throw new CliError('outpost controller: --webhook-address needs --webhook-cert-dir, --proxy-image and --controller-url', 2);
        const w = parseAddress(o.webhookAddress, '--webhook-address');
        webhook = {
          host: w.host,
          port: w.port,
          certFile: `${o.webhookCertDir}/tls.crt`,
          keyFile: `${o.webhookCertDir}/tls.key`,
          settings: { image: o.proxyImage, controllerUrl: o.controllerUrl, ...(distributionTls ? { controllerCa: distributionTls.cert } : {}) },
        };
      }
      const leaderElection =
        o.leaderElect === false
          ? (false as const)
          : {
              namespace: o.leaderElectNamespace ?? 'istio-system',
              name: 'outpost-controller',
              // As client-go: the pod's name (HOSTNAME in a pod) and a random part, unique per process.
              identity: `${process.env['POD_NAME'] ?? hostname()}_${randomBytes(4).toString('hex')}`,
              leaseDurationMs: flagDuration('--leader-elect-lease-duration', o.leaderElectLeaseDuration ?? '15s'),
              renewDeadlineMs: flagDuration('--leader-elect-renew-deadline', o.leaderElectRenewDeadline ?? '10s'),
              retryPeriodMs: flagDuration('--leader-elect-retry-period', o.leaderElectRetryPeriod ?? '2s'),
            };
      if (
        leaderElection &&
        !(leaderElection.retryPeriodMs < leaderElection.renewDeadlineMs && leaderElection.renewDeadlineMs < leaderElection.leaseDurationMs)
      ) {
        throw new CliError('outpost controller: the retry period must be shorter than the renew deadline, and that shorter than the lease duration', 2);
      }
      const { host, port } = parseAddress(o.distributionAddress ?? '0.0.0.0:15012');
      let token: string;
      if (o.distributionTokenFile) {
        try {
          token = readFileSync(o.distributionTokenFile, 'utf8').trim();
        } catch (err) {
          throw new CliError(`outpost controller: cannot read --distribution-token-file: ${(err as Error).message}`, 1);
        }
        if (!token) throw new CliError(`outpost controller: ${o.distributionTokenFile} is empty`, 1);
      } else token = randomBytes(24).toString('base64url');
      const log = (line: string): void => void process.stderr.write(`${new Date().toISOString()} ${line}\n`);
      const { startController } = await import('../../cluster/controller.js');
      let running: Awaited<ReturnType<typeof startController>>;
      try {
        running = await startController({
          distributionHost: host,
          distributionPort: port,
          distributionToken: token,
          log,
          leaderElection,
          ...(webhook ? { webhook } : {}),
          ...(distributionTls ? { distributionTls } : {}),
          ...(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}),
          ...(o.context ? { context: o.context } : {}),
          ...(process.env['OUTPOST_WATCH_TIMEOUT_SECONDS'] ? { watchTimeoutSeconds: Number(process.env['OUTPOST_WATCH_TIMEOUT_SECONDS']) } : {}),
        });
      } catch (err) {
        throw new CliError(`outpost controller: ${(err as Error).message}`, 1);
      }
      log(
        `controller: watching ${running.server}; distribution on ${running.controlPlane.distributionUrl}${running.webhook ? `; injection webhook on ${running.webhook.url}` : ''}`,
      );
      process.stdout.write(`controller ready: distribution ${running.controlPlane.distributionUrl}\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await running.stop();
    });
}
