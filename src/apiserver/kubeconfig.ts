// The kubeconfig that points kubectl at outpost's API: cluster, context and user all named `outpost`.
// kubectl sends the bearer token only over TLS, so the cluster is the API's https URL, trusting
// the API's self-signed certificate.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { stringify } from 'yaml';

export interface KubeconfigOptions {
  /** The API's URL; an http URL of a server started in this process is swapped for its https side. */
  url: string;
  token: string;
  /** PEM of the certificate the https URL serves. */
  caPem?: string;
  namespace?: string;
}

const servingCerts = new Map<string, { httpsUrl: string; caPem: string }>();

/** startApiServer records its TLS side here, so writeKubeconfig({url}) can find it from the http URL. */
export function rememberServingCert(httpUrl: string, tls: { httpsUrl: string; caPem: string }): void {
  servingCerts.set(httpUrl, tls);
}

function kubeconfigText(opts: KubeconfigOptions): string {
  let server = opts.url;
  let caPem = opts.caPem;
  const known = servingCerts.get(opts.url);
  if (known) {
    server = known.httpsUrl;
    caPem ??= known.caPem;
  }
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'outpost', cluster: { server, ...(caPem ? { 'certificate-authority-data': Buffer.from(caPem).toString('base64') } : {}) } }],
    users: [{ name: 'outpost', user: { token: opts.token } }],
    contexts: [{ name: 'outpost', context: { cluster: 'outpost', user: 'outpost', ...(opts.namespace ? { namespace: opts.namespace } : {}) } }],
    'current-context': 'outpost',
    preferences: {},
  });
}

/** Writes it with mode 0600: it holds the bearer token. */
export function writeKubeconfig(path: string, opts: KubeconfigOptions): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, kubeconfigText(opts), { mode: 0o600 });
}
