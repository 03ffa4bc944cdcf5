// A proxy in a Kubernetes pod bootstraps from its environment, as Istio's pilot-agent does: the
// pod's name, namespace and IP (downward API env), its labels (the downward API labels file), the
// controller's address, and its projected service-account token (re-read at every connect).
import { readFileSync } from 'node:fs';
import type { ProxyRole } from '../proxyconfig/types.js';
import { BootstrapError, type ProxyBootstrap } from './bootstrap.js';

export const DEFAULT_TOKEN_FILE = '/var/run/secrets/tokens/outpost-token';
export const DEFAULT_LABELS_FILE = '/etc/istio/pod/labels';

/** Parses the downward API's labels file: one `key="value"` per line (value in Go's %q quoting). */
export function parseDownwardLabels(text: string, where: string): Record<string, string> {
  const labels: Record<string, string> = {};
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    const eq = line.indexOf('=');
    const key = line.slice(0, eq);
    const raw = line.slice(eq + 1);
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      value = undefined;
    }
    if (eq <= 0 || typeof value !== 'string') throw new BootstrapError(`${where}:${i + 1}: expected key="value", got ${JSON.stringify(line)}`);
    labels[key] = value;
  });
  return labels;
}

/** The Deployment's name from a pod name `<deployment>-<replicaset hash>-<suffix>`. */
function workloadOf(podName: string): string {
  const m = /^(.+)-[a-z0-9]{5,10}-[a-z0-9]{5}$/.exec(podName);
  return m ? m[1]! : podName;
}

export function bootstrapFromPodEnv(role: ProxyRole, env: NodeJS.ProcessEnv): ProxyBootstrap {
  const need = (name: string): string => {
    const v = env[name];
    if (!v) throw new BootstrapError(`outpost proxy ${role}: environment variable ${name} is not set (the pod spec sets it from the downward API)`);
    return v;
  };
  const podName = need('POD_NAME');
  const namespace = need('POD_NAMESPACE');
  const url = need('OUTPOST_CONTROLLER_URL');
  const labelsFile = env['OUTPOST_POD_LABELS_FILE'] ?? DEFAULT_LABELS_FILE;
  let labelsText: string;
  try {
    labelsText = readFileSync(labelsFile, 'utf8');
  } catch (err) {
    throw new BootstrapError(
      `outpost proxy ${role}: cannot read the pod's labels from ${labelsFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  const ip = env['INSTANCE_IP'];
  // The controller's CA (PEM, not a secret): an https controller URL is verified against it.
  const ca = env['OUTPOST_CONTROLLER_CA'];
  if (url.startsWith('https:') && !ca) throw new BootstrapError(`outpost proxy ${role}: OUTPOST_CONTROLLER_URL is https but OUTPOST_CONTROLLER_CA is not set`);
  return {
    identity: {
      id: `${podName}.${namespace}`,
      role,
      namespace,
      workload: env['ISTIO_META_WORKLOAD_NAME'] || workloadOf(podName),
      labels: parseDownwardLabels(labelsText, labelsFile),
      ...(ip ? { ip } : {}),
    },
    admin: { address: '127.0.0.1', port: Number(env['OUTPOST_ADMIN_PORT'] ?? 15000) },
    controlPlane: { url, tokenFile: env['OUTPOST_TOKEN_FILE'] ?? DEFAULT_TOKEN_FILE, ...(ca ? { ca } : {}) },
  };
}
