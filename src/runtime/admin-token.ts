// Each proxy's admin token: a random secret in run/<key>.admin-token (0600), named in its bootstrap;
// admin calls that change something (POST /logging) need it, reads do not.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writePrivateFile } from '../controlplane/ca/private-files.js';
import type { StatePaths } from './state-dir.js';

export function adminTokenFile(paths: StatePaths, safeKey: string): string {
  return join(paths.runtime, `${safeKey}.admin-token`);
}

/** A fresh token for the proxy about to start; returns the file. */
export function writeAdminToken(paths: StatePaths, safeKey: string): string {
  const file = adminTokenFile(paths, safeKey);
  // Kept across control-plane restarts: an adopted proxy holds the token it was started with.
  let kept = '';
  try {
    kept = readFileSync(file, 'utf8').trim();
  } catch {
    kept = '';
  }
  if (kept.length < 32) writePrivateFile(file, `${randomBytes(24).toString('hex')}\n`);
  return file;
}

/** The token, for the `outpost` CLI and tests (whoever may read the state dir). */
export function readAdminToken(paths: StatePaths, safeKey: string): string {
  return readFileSync(adminTokenFile(paths, safeKey), 'utf8').trim();
}
