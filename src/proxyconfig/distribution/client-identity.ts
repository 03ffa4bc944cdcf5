// The proxy's credentials for mutual TLS to config distribution, from its identity dir through the
// proxy's own identity loader (one loader: the same checks on the files, the same errors, as mesh mTLS).
import type { PeerCertificate } from 'node:tls';
import { readIdentity, spiffeIdsOf } from '../identity-files.js';

export interface ClientCredentials {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

/**
 * cert-chain.pem, key.pem and root-cert.pem as they are now (re-read on every connect, so a rotation
 * is picked up), checked as the proxy checks them: a 0600 key that belongs to the leaf, a chain to the
 * root, one SPIFFE ID. Throws IdentityError naming the file and the problem.
 */
export function readClientCredentials(identityDir: string): ClientCredentials {
  const m = readIdentity(identityDir);
  return { cert: m.certChain, key: m.key, ca: m.rootCert };
}

/** The control plane's service account, as istiod's: its certificate must name it (there is no DNS name to check). */
export const CONTROL_PLANE_SA_PATH = '/ns/istio-system/sa/istiod';

/** checkServerIdentity for distribution: the server's URI SAN is the control plane's SPIFFE id. */
export function checkControlPlaneIdentity(_host: string, cert: PeerCertificate): Error | undefined {
  const uris = spiffeIdsOf(cert.subjectaltname);
  if (uris.some((u) => /^spiffe:\/\/[^/]+\/ns\/istio-system\/sa\/istiod$/.test(u))) return undefined;
  return new Error(`the distribution server's certificate is not the control plane's (${uris.join(', ') || 'no SPIFFE id'})`);
}
