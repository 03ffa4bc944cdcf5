// X-Forwarded-Client-Cert as Istio configures Envoy at gateways: forward_client_cert_details
// SANITIZE_SET with set_current_client_cert_details {subject, cert, uri, dns} — a request that came
// over a connection with a verified client certificate carries that certificate's details (and
// nothing a client sent), any other request carries no XFCC at all. Sidecars' outbound traffic gets
// Envoy's default, SANITIZE (the header is dropped).
import { createHash, X509Certificate } from 'node:crypto';
import type { Socket } from 'node:net';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';

export const XFCC = 'x-forwarded-client-cert';

/** Per connection: the header value (computed once), or null for no verified client certificate. */
const cache = new WeakMap<object, string | null>();

/** RFC 2253 (what Envoy prints): the RDNs last to first, comma-separated, specials escaped. */
function rfc2253(subject: string): string {
  const rdns = subject.split('\n').filter((l) => l !== '');
  return rdns
    .reverse()
    .map((rdn) => {
      const eq = rdn.indexOf('=');
      if (eq < 0) return rdn;
      const v = rdn
        .slice(eq + 1)
        .replace(/([,+"\\<>;])/g, '\\$1')
        .replace(/^([ #])/, '\\$1')
        .replace(/ $/, '\\ ');
      return `${rdn.slice(0, eq)}=${v}`;
    })
    .join(',');
}

function sansOf(san: string | undefined, kind: 'URI' | 'DNS'): string[] {
  if (!san) return [];
  return san
    .split(', ')
    .filter((p) => p.startsWith(`${kind}:`))
    .map((p) => p.slice(kind.length + 1));
}

function pemOf(der: Buffer): string {
  const b64 = der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

/**
 * Envoy's XFCC element for the client certificate of `sock`: `By` (this proxy's URI SAN), `Hash`
 * (SHA-256 of the certificate), `Cert` (URL-encoded PEM), `Subject`, `URI`, `DNS`, in Envoy's order.
 * Undefined when the connection carries no verified client certificate.
 */
export function clientCertDetails(sock: Socket | null): string | undefined {
  if (sock === null) return undefined;
  const hit = cache.get(sock);
  if (hit !== undefined) return hit ?? undefined;
  let value: string | null = null;
  const t = sock as Partial<TLSSocket>;
  if (typeof t.getPeerCertificate === 'function' && t.authorized === true) {
    const peer = t.getPeerCertificate(false) as DetailedPeerCertificate | undefined;
    if (peer !== undefined && peer.raw !== undefined && peer.raw.length > 0) {
      const parts: string[] = [];
      const local = typeof t.getCertificate === 'function' ? t.getCertificate() : null;
      const localSan = (local as { subjectaltname?: unknown } | null | undefined)?.subjectaltname;
      const by = typeof localSan === 'string' ? sansOf(localSan, 'URI')[0] : undefined;
      if (by !== undefined) parts.push(`By=${by}`);
      parts.push(`Hash=${createHash('sha256').update(peer.raw).digest('hex')}`);
      parts.push(`Cert="${encodeURIComponent(pemOf(peer.raw))}"`);
      let subject = '';
      try {
        subject = rfc2253(new X509Certificate(peer.raw).subject);
      } catch {
        subject = '';
      }
      parts.push(`Subject="${subject.replace(/"/g, '\\"')}"`);
      for (const uri of sansOf(peer.subjectaltname, 'URI')) parts.push(`URI=${uri}`);
      for (const dns of sansOf(peer.subjectaltname, 'DNS')) parts.push(`DNS=${dns}`);
      value = parts.join(';');
    }
  }
  cache.set(sock, value);
  return value ?? undefined;
}
