// The proxy's credentials for mutual TLS to config distribution, read from its identity dir.
// One small function on purpose: after the identity loader (src/dataplane/identity/) lands, this is the one place to point at it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PeerCertificate } from 'node:tls';

export interface ClientCredentials {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

/** cert-chain.pem, key.pem and root-cert.pem as they are now (re-read on every connect, so a rotation is picked up). */
export function readClientCredentials(identityDir: string): ClientCredentials {
  const read = (f: string): string => readFileSync(join(identityDir, f), 'utf8');
  return { cert: read('cert-chain.pem'), key: read('key.pem'), ca: read('root-cert.pem') };
}

/** The control plane's service account, as istiod's: its certificate must name it (there is no DNS name to check). */
export const CONTROL_PLANE_SA_PATH = '/ns/istio-system/sa/istiod';

/** checkServerIdentity for distribution: the server's URI SAN is the control plane's SPIFFE id. */
export function checkControlPlaneIdentity(_host: string, cert: PeerCertificate): Error | undefined {
  const uris = (cert.subjectaltname ?? '').split(', ').filter((s) => s.startsWith('URI:')).map((s) => s.slice(4));
  if (uris.some((u) => /^spiffe:\/\/[^/]+\/ns\/istio-system\/sa\/istiod$/.test(u))) return undefined;
  return new Error(`the distribution server's certificate is not the control plane's (${uris.join(', ') || 'no SPIFFE id'})`);
}
