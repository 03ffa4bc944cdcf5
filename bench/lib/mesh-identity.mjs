// Workload identity directories for the mTLS bench row: a mesh root and one leaf per proxy
// (spiffe URI SAN, EC P-256), in Istio's file names with 0700/0600, made with the openssl CLI.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function openssl(dir, args) {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Makes `<dir>/root.*` once and returns a function that writes one identity directory per call. */
export function meshIdentities(dir) {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    'root.key',
    '-out',
    'root.pem',
    '-days',
    '2',
    '-subj',
    '/O=cluster.local',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return (name, namespace, serviceAccount) => {
    writeFileSync(
      join(dir, `${name}.ext`),
      `subjectAltName=URI:spiffe://cluster.local/ns/${namespace}/sa/${serviceAccount}\nextendedKeyUsage=serverAuth,clientAuth\n`,
    );
    openssl(dir, [
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      '/O=cluster.local',
    ]);
    openssl(dir, [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'root.pem',
      '-CAkey',
      'root.key',
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '1',
      '-extfile',
      `${name}.ext`,
    ]);
    const out = join(dir, name);
    mkdirSync(out, { mode: 0o700 });
    writeFileSync(join(out, 'key.pem'), readFileSync(join(dir, `${name}.key`)), { mode: 0o600 });
    writeFileSync(join(out, 'root-cert.pem'), readFileSync(join(dir, 'root.pem')), { mode: 0o600 });
    writeFileSync(join(out, 'cert-chain.pem'), readFileSync(join(dir, `${name}.pem`)), { mode: 0o600 });
    return out;
  };
}
