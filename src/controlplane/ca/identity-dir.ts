// A workload's identity directory in Istio's file names (cert-chain.pem, key.pem, root-cert.pem), written so a watcher never sees a mismatched pair.
import { renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { IssuedIdentity } from './mesh-ca.js';
import { ensurePrivateDir, writePrivateTemp } from './private-files.js';

export const CERT_CHAIN_FILE = 'cert-chain.pem';
export const KEY_FILE = 'key.pem';
export const ROOT_CERT_FILE = 'root-cert.pem';

/**
 * Writes the three files (0600, dir 0700). All three are written to temp files first, then
 * renamed with `cert-chain.pem` last: the proxy's loader reloads when that file changes and
 * checks that key and cert match, so renaming it last lets it see the new pair whole.
 */
export function writeIdentityDir(dir: string, id: Pick<IssuedIdentity, 'certChainPem' | 'keyPem' | 'rootCertPem'>): void {
  ensurePrivateDir(dir);
  const staged: [string, string][] = [];
  try {
    staged.push([writePrivateTemp(join(dir, ROOT_CERT_FILE), id.rootCertPem), join(dir, ROOT_CERT_FILE)]);
    staged.push([writePrivateTemp(join(dir, KEY_FILE), id.keyPem), join(dir, KEY_FILE)]);
    staged.push([writePrivateTemp(join(dir, CERT_CHAIN_FILE), id.certChainPem), join(dir, CERT_CHAIN_FILE)]);
  } catch (err) {
    for (const [tmp] of staged) rmSync(tmp, { force: true });
    throw err;
  }
  for (const [tmp, file] of staged) renameSync(tmp, file);
}
