// TLS origination options for a cluster (DestinationRule tls SIMPLE / MUTUAL): SNI, trust, SAN check, client cert.
import tls from 'node:tls';
import type { PeerCertificate } from 'node:tls';
import type { UpstreamTls } from '../../proxyconfig/types.js';

export interface OriginationOptions {
  servername: string;
  ca?: string;
  cert?: string;
  key?: string;
  rejectUnauthorized: boolean;
  checkServerIdentity: (host: string, cert: PeerCertificate) => Error | undefined;
  ALPNProtocols?: string[];
}

/**
 * Connect options for one upstream connection. `host` is the request's host, the SNI default and
 * the name checked against the certificate when the config names no SANs (as Istio does).
 */
export function originationOptions(t: UpstreamTls, host: string, alpn?: string[]): OriginationOptions {
  const servername = t.sni ?? host;
  const sans = t.subjectAltNames;
  const opts: OriginationOptions = {
    servername,
    rejectUnauthorized: t.insecureSkipVerify !== true,
    checkServerIdentity: sans && sans.length > 0
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
