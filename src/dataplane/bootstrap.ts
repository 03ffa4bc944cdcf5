// The proxy process's bootstrap file: who it is, where its admin endpoint listens, where its config comes from.
import { readFileSync } from 'node:fs';
import type { ProxyIdentity } from '../proxyconfig/types.js';

export interface ProxyBootstrap {
  readonly identity: ProxyIdentity;
  /** tokenFile: a file (0600) holding the token admin changes need (POST /logging). socket: the admin endpoint also on this Unix socket path (reachable from outside the pod's network namespace). */
  readonly admin: { readonly address: string; readonly port: number; readonly tokenFile?: string; readonly socket?: string };
  /** Stream ProxyConfigs from the control plane (ACK/NACK). */
  readonly controlPlane?: { readonly url: string; readonly token?: string; readonly tokenFile?: string; readonly ca?: string };
  /** A static ProxyConfig file (re-read on SIGHUP); used when there is no control plane. */
  readonly configFile?: string;
  readonly resolver?: { readonly server?: string; readonly hostsFile?: string };
  /** Worker processes sharing the listeners (default 1: the proxy process itself serves). */
  readonly concurrency?: number;
  /** Absolute path of the workload identity directory (cert-chain.pem, key.pem, root-cert.pem). */
  readonly identityDir?: string;
}

export class BootstrapError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BootstrapError';
  }
}

/** Reads and checks a bootstrap file; errors name the file and the field. */
export function readBootstrap(file: string): ProxyBootstrap {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new BootstrapError(`${file}: cannot read bootstrap: ${(err as Error).message}`);
  }
  return checkBootstrap(raw, file);
}

function checkBootstrap(raw: unknown, where: string): ProxyBootstrap {
  const fail = (field: string, what: string): never => {
    throw new BootstrapError(`${where}: ${field}: ${what}`);
  };
  if (raw === null || typeof raw !== 'object') fail('(root)', 'must be an object');
  const b = raw as Record<string, unknown>;
  const id = b.identity as Record<string, unknown> | undefined;
  if (!id || typeof id !== 'object') fail('identity', 'is required');
  for (const k of ['id', 'namespace', 'workload']) if (typeof id![k] !== 'string' || id![k] === '') fail(`identity.${k}`, 'must be a non-empty string');
  if (id!.role !== 'sidecar' && id!.role !== 'router') fail('identity.role', 'must be sidecar or router');
  if (id!.labels !== undefined && (typeof id!.labels !== 'object' || id!.labels === null)) fail('identity.labels', 'must be an object');
  const admin = b.admin as Record<string, unknown> | undefined;
  if (!admin || typeof admin !== 'object') fail('admin', 'is required ({address, port})');
  if (typeof admin!.address !== 'string') fail('admin.address', 'must be an IP address');
  if (!Number.isInteger(admin!.port) || (admin!.port as number) < 0 || (admin!.port as number) > 65535) fail('admin.port', 'must be a port number');
  if (admin!.tokenFile !== undefined && typeof admin!.tokenFile !== 'string') fail('admin.tokenFile', 'must be a path');
  if (admin!.socket !== undefined && (typeof admin!.socket !== 'string' || admin!.socket === '')) fail('admin.socket', 'must be a path');
  const cp = b.controlPlane as Record<string, unknown> | undefined;
  if (cp !== undefined && (typeof cp !== 'object' || typeof cp.url !== 'string')) fail('controlPlane.url', 'must be a URL');
  if (cp !== undefined && cp.tokenFile !== undefined && typeof cp.tokenFile !== 'string') fail('controlPlane.tokenFile', 'must be a path');
  if (cp !== undefined && cp.ca !== undefined && (typeof cp.ca !== 'string' || !cp.ca.includes('BEGIN CERTIFICATE')))
    fail('controlPlane.ca', 'must be PEM certificates');
  if (b.configFile !== undefined && typeof b.configFile !== 'string') fail('configFile', 'must be a path');
  if (cp === undefined && b.configFile === undefined) fail('(root)', 'needs controlPlane or configFile');
  const r = b.resolver as Record<string, unknown> | undefined;
  if (
    r !== undefined &&
    (typeof r !== 'object' || (r.server !== undefined && typeof r.server !== 'string') || (r.hostsFile !== undefined && typeof r.hostsFile !== 'string'))
  ) {
    fail('resolver', 'must be {server?: "IP:PORT", hostsFile?: path}');
  }
  if (b.identityDir !== undefined && (typeof b.identityDir !== 'string' || !b.identityDir.startsWith('/'))) fail('identityDir', 'must be an absolute path');
  if (b.concurrency !== undefined && (!Number.isInteger(b.concurrency) || (b.concurrency as number) < 1)) fail('concurrency', 'must be a positive integer');
  return { ...(b as object), identity: { labels: {}, ...(id as object) } } as ProxyBootstrap;
}
