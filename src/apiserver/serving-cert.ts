// A self-signed serving certificate for the API's TLS side, made with the openssl CLI at startup.
// kubectl only sends a bearer token over TLS, so its kubeconfig trusts exactly this certificate.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ServingCert {
  certPem: string;
  keyPem: string;
}

/** A P-256 certificate valid for the hosts (IPs and names), 10 years; it is its own CA. Throws when openssl is missing. */
export function makeServingCert(hosts: readonly string[]): ServingCert {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-cert-'));
  try {
    const unique = [...new Set([...hosts, '127.0.0.1', 'localhost'])];
    const san = unique.map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        'key.pem',
        '-out',
        'cert.pem',
        '-days',
        '3650',
        '-subj',
        '/CN=outpost-apiserver',
        '-addext',
        `subjectAltName=${san}`,
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,digitalSignature,keyCertSign',
        '-addext',
        'extendedKeyUsage=serverAuth',
      ],
      { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    return { certPem: readFileSync(join(dir, 'cert.pem'), 'utf8'), keyPem: readFileSync(join(dir, 'key.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
