// The kubeconfig that points kubectl at outpost's API: cluster, context and user all named `outpost`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { stringify } from 'yaml';

export function kubeconfigText(opts: { url: string; token: string; namespace?: string }): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'outpost', cluster: { server: opts.url } }],
    users: [{ name: 'outpost', user: { token: opts.token } }],
    contexts: [{ name: 'outpost', context: { cluster: 'outpost', user: 'outpost', ...(opts.namespace ? { namespace: opts.namespace } : {}) } }],
    'current-context': 'outpost',
    preferences: {},
  });
}

/** Writes it with mode 0600: it holds the bearer token. */
export function writeKubeconfig(path: string, opts: { url: string; token: string; namespace?: string }): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, kubeconfigText(opts), { mode: 0o600 });
}
