// TLS origination options for a cluster (DestinationRule tls SIMPLE / MUTUAL): SNI, trust, SAN check, client cert.
import tls from 'node:tls';
import type { PeerCertificate } from 'node:tls';
import type { UpstreamTls } from '../../proxyconfig/types.js';
import { spiffeIdsOf, type WorkloadIdentity } from '../identity/workload-identity.js';

export interface OriginationOptions {
  servername: string;
  ca?: string;
  cert?: string;
  key?: string;
  rejectUnauthorized: boolean;
  checkServerIdentity: (host: string, cert: PeerCertificate) => Error | undefined;
  ALPNProtocols?: string[];
  /** ISTIO_MUTUAL: the workload identity's context (a getter: a spread takes the one in force). */
  secureContext?: tls.SecureContext;
}

/**
 * The TLS a cluster really uses on this proxy: auto mTLS falls back to plaintext on a proxy
 * without a workload identity (Istio sends mTLS only where both ends have certificates).
 */
export function effectiveUpstreamTls(t: UpstreamTls | undefined, identity: WorkloadIdentity | undefined): UpstreamTls | undefined {
  if (t?.mode === 'ISTIO_MUTUAL' && t.auto === true && identity === undefined) return undefined;
  return t;
}

/**
 * Connect options for one upstream connection. `host` is the request's host, the SNI default and
 * the name checked against the certificate when the config names no SANs (as Istio does).
 */
export function originationOptions(t: UpstreamTls, host: string, alpn?: string[], identity?: WorkloadIdentity): OriginationOptions {
  const servername = t.sni ?? host;
  if (t.mode === 'ISTIO_MUTUAL') return meshOptions(t, servername, alpn, identity);
  const sans = t.subjectAltNames;
  const opts: OriginationOptions = {
    servername,
    rejectUnauthorized: t.insecureSkipVerify !== true,
    checkServerIdentity:
      sans && sans.length > 0
        ? (_h, cert) => checkSans(sans, cert)
        : (_h, cert) => (t.insecureSkipVerify ? undefined : tls.checkServerIdentity(servername, cert)),
  };
  if (t.caCertificates) opts.ca = t.caCertificates;
  if (t.mode === 'MUTUAL') {
    if (t.clientCertificate) opts.cert = t.clientCertificate;
    if (t.privateKey) opts.key = t.privateKey;
  }
  if (alpn) opts.ALPNProtocols = alpn;
  return opts;
}

/** Mesh mTLS: our workload certificate, the mesh root, the peer's SPIFFE URI among the expected ones. */
function meshOptions(t: UpstreamTls, servername: string, alpn: string[] | undefined, identity: WorkloadIdentity | undefined): OriginationOptions {
  const sans = t.subjectAltNames ?? [];
  const opts: OriginationOptions = {
    servername,
    rejectUnauthorized: true,
    checkServerIdentity: (_h, cert) => {
      if (identity === undefined) return codeError('no workload identity for ISTIO_MUTUAL', 'ERR_TLS_CERT_ALTNAME_INVALID');
      const ids = spiffeIdsOf(cert.subjectaltname);
      if (ids.length === 0) return codeError('peer certificate has no spiffe:// URI SAN', 'ERR_TLS_CERT_ALTNAME_INVALID');
      if (sans.length > 0 && !ids.some((id) => sans.includes(id)))
        return codeError(`peer identity ${ids.join(', ')} is none of ${sans.join(', ')}`, 'ERR_TLS_CERT_ALTNAME_INVALID');
      return undefined;
    },
  };
  if (identity !== undefined) Object.defineProperty(opts, 'secureContext', { get: () => identity.secureContext, enumerable: true });
  // No identity (a DestinationRule asked for ISTIO_MUTUAL anyway): trust nothing, so the handshake fails (UF).
  else opts.ca = '';
  if (alpn) opts.ALPNProtocols = alpn;
  return opts;
}

function codeError(message: string, code: string): Error {
  const err = new Error(message) as NodeJS.ErrnoException;
  err.code = code;
  return err;
}

function checkSans(sans: readonly string[], cert: PeerCertificate): Error | undefined {
  for (const san of sans) {
    if (tls.checkServerIdentity(san, cert) === undefined) return undefined;
  }
  const err = new Error(`upstream certificate matches none of the subjectAltNames ${sans.join(', ')}`) as NodeJS.ErrnoException;
  err.code = 'ERR_TLS_CERT_ALTNAME_INVALID';
  return err;
}

/** Validates the PEM material at config time, so a bad certificate is a NACK and not a failed request. */
export function validateUpstreamTls(t: UpstreamTls, where: string): void {
  if (t.mode === 'ISTIO_MUTUAL') return; // The material is the proxy's own identity.
  if (t.mode !== 'SIMPLE' && t.mode !== 'MUTUAL') throw new Error(`${where}: unknown TLS mode ${JSON.stringify(t.mode)}`);
  try {
    tls.createSecureContext({
      ...(t.caCertificates ? { ca: t.caCertificates } : {}),
      ...(t.mode === 'MUTUAL' && t.clientCertificate ? { cert: t.clientCertificate } : {}),
      ...(t.mode === 'MUTUAL' && t.privateKey ? { key: t.privateKey } : {}),
    });
  } catch (err) {
    throw new Error(`${where}: bad TLS material: ${(err as Error).message}`);
  }
  if (t.mode === 'MUTUAL' && (!t.clientCertificate || !t.privateKey)) {
    throw new Error(`${where}: MUTUAL TLS needs clientCertificate and privateKey`);
  }
}
