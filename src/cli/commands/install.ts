// `outpost install [--dry-run]` / `outpost uninstall`: put outpost on a Kubernetes cluster (CRDs,
// the controller, RBAC, the injection webhook), or print what would be applied, for review.
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { CliError } from '../errors.js';
import { outpostVersion } from './version.js';

interface InstallFlags {
  dryRun?: boolean;
  image?: string;
  namespace?: string;
  kubeconfig?: string;
  context?: string;
  replicas?: string;
  purge?: boolean;
}

async function objectsFor(o: InstallFlags) {
  const { makeServingCert } = await import('../../apiserver/serving-cert.js');
  const { installObjects, CONTROLLER_NAME } = await import('../../cluster/manifests.js');
  const namespace = o.namespace ?? 'istio-system';
  const replicas = o.replicas === undefined ? undefined : Number(o.replicas);
  if (replicas !== undefined && (!Number.isInteger(replicas) || replicas < 1))
    throw new CliError(`outpost install: --replicas must be a whole number of at least 1 (got ${JSON.stringify(o.replicas)})`, 2);
  const webhookCert = makeServingCert([`${CONTROLLER_NAME}.${namespace}.svc`, `${CONTROLLER_NAME}.${namespace}.svc.cluster.local`]);
  return installObjects({ image: o.image ?? `outpost:${outpostVersion()}`, namespace, webhookCert, ...(replicas ? { replicas } : {}) });
}

export function registerInstall(program: Command): void {
  program
    .command('install')
    .description('Install outpost on a Kubernetes cluster (CRDs, controller, RBAC, injection webhook); --dry-run prints the YAML')
    .option('--dry-run', 'print the objects as YAML instead of applying them')
    .option('--image <ref>', 'the outpost image for the controller and proxies (default outpost:<version>)')
    .option('-n, --namespace <ns>', "the controller's namespace (default istio-system)")
    .option('--replicas <n>', 'controller replicas (default 2; one leads)')
    .option('--kubeconfig <file>', 'kubeconfig of the cluster')
    .option('--context <name>', 'kubeconfig context')
    .action(async (o: InstallFlags) => {
      const objects = await objectsFor(o);
      if (o.dryRun) {
        process.stdout.write(objects.map((obj) => stringify(obj, { lineWidth: 0 })).join('---\n'));
        return;
      }
      const { applyObjects } = await import('../../cluster/apply.js');
      try {
        await applyObjects(objects, {
          ...(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}),
          ...(o.context ? { context: o.context } : {}),
          log: (l) => process.stdout.write(`${l}\n`),
        });
      } catch (err) {
        throw new CliError(`outpost install: ${(err as Error).message}`, 1);
      }
    });
  program
    .command('uninstall')
    .description('Remove what `outpost install` put on the cluster (CRDs, and with them every resource of their kinds, only with --purge)')
    .option('-n, --namespace <ns>', "the controller's namespace (default istio-system)")
    .option('--purge', 'also delete the CRDs and so every resource of their kinds')
    .option('--kubeconfig <file>', 'kubeconfig of the cluster')
    .option('--context <name>', 'kubeconfig context')
    .action(async (o: InstallFlags) => {
      // The namespace stays (it may hold more than outpost); the CRDs only go with --purge.
      const objects = (await objectsFor(o)).filter((obj) => obj.kind !== 'Namespace' && (o.purge || obj.kind !== 'CustomResourceDefinition'));
      const { deleteObjects } = await import('../../cluster/apply.js');
      try {
        await deleteObjects(objects.reverse(), {
          ...(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}),
          ...(o.context ? { context: o.context } : {}),
          log: (l) => process.stdout.write(`${l}\n`),
        });
      } catch (err) {
        throw new CliError(`outpost uninstall: ${(err as Error).message}`, 1);
      }
    });
}
