// Workload certificates for what the local mesh runs: issued when a proxy starts, written to its
// identity dir, rotated when half of the lifetime has passed (Istio's SECRET_GRACE_PERIOD_RATIO 0.5),
// and remembered by fingerprint so config distribution knows which proxy a client certificate belongs to.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeObject } from '../api/object.js';
import { spiffeId } from '../api/kinds/service-account.js';
import { writeIdentityDir } from '../controlplane/ca/identity-dir.js';
import { DEFAULT_WORKLOAD_CERT_TTL_MS, type IssuedIdentity, type MeshCa } from '../controlplane/ca/mesh-ca.js';

export interface WorkloadIdentitiesOptions {
  readonly ca: MeshCa;
  /** Parent of the per-workload identity dirs (`<state>/identity`). */
  readonly dir: string;
  readonly ttlMs?: number;
  readonly log: (line: string) => void;
}

/** One workload's identity: where its files are and who it is. */
export interface WorkloadIdentity {
  readonly key: string;
  readonly dir: string;
  readonly spiffeId: string;
  /** The proxy id this identity may subscribe to distribution as (undefined: not a proxy, e.g. the control plane). */
  readonly proxyId?: string;
  current: IssuedIdentity;
}

interface Entry extends WorkloadIdentity {
  timer?: NodeJS.Timeout;
  /** Fingerprints of this entry's certificates still within their lifetime (a live connection may present an older one). */
  readonly fingerprints: Map<string, number>;
  readonly onIssued?: (id: IssuedIdentity) => void;
}

/** The service account a Deployment's pods run as (Kubernetes' default: `default`). */
export function serviceAccountOf(deploy: KubeObject | undefined): string {
  const spec = (deploy?.spec as { template?: { spec?: { serviceAccountName?: unknown; serviceAccount?: unknown } } } | undefined)?.template?.spec;
  const sa = spec?.serviceAccountName ?? spec?.serviceAccount;
  return typeof sa === 'string' && sa !== '' ? sa : 'default';
}

/**
 * A namespace's shared sidecar serves the Deployments it was injected into: it takes their
 * service account when they agree on one, else `default`.
 */
export function sidecarServiceAccount(deployments: readonly KubeObject[]): string {
  const names = new Set(deployments.map(serviceAccountOf));
  return names.size === 1 ? [...names][0]! : 'default';
}

/** Identity dir name for a workload key (`curl/sidecar` → `curl_sidecar`). */
export function identityDirName(key: string): string {
  return key.replace(/[^a-zA-Z0-9_.-]/g, '_');
}

export class WorkloadIdentities {
  private readonly entries = new Map<string, Entry>();
  private stopped = false;

  constructor(private readonly opts: WorkloadIdentitiesOptions) {}

  get rootCertPem(): string {
    return this.opts.ca.rootCertPem;
  }

  /**
   * The identity of `key` as `spiffe://<trustDomain>/ns/<namespace>/sa/<serviceAccount>`: issued
   * (and written) when new or when that id changed, else the current one.
   */
  ensure(
    key: string,
    who: { namespace: string; serviceAccount: string; trustDomain: string; proxyId?: string },
    onIssued?: (id: IssuedIdentity) => void,
  ): WorkloadIdentity {
    const id = spiffeId(who.namespace, who.serviceAccount, who.trustDomain);
    const existing = this.entries.get(key);
    if (existing && existing.spiffeId === id && existing.proxyId === who.proxyId) return existing;
    if (existing) clearTimeout(existing.timer);
    const dir = join(this.opts.dir, identityDirName(key));
    const current = this.opts.ca.issue(id, this.opts.ttlMs ?? DEFAULT_WORKLOAD_CERT_TTL_MS);
    writeIdentityDir(dir, current);
    const entry: Entry = {
      key,
      dir,
      spiffeId: id,
      current,
      ...(who.proxyId !== undefined ? { proxyId: who.proxyId } : {}),
      ...(onIssued ? { onIssued } : {}),
      fingerprints: new Map([[current.fingerprint256, current.notAfter.getTime()]]),
    };
    this.entries.set(key, entry);
    this.opts.log(`identity: issued ${id} for ${key} (valid until ${current.notAfter.toISOString()})`);
    this.schedule(entry);
    return entry;
  }

  /** Forgets a workload (its proxy stopped): no more rotation, files removed. */
  release(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    clearTimeout(e.timer);
    this.entries.delete(key);
    rmSync(e.dir, { recursive: true, force: true });
  }

  /** The proxy a presented certificate (by SHA-256 fingerprint) was issued to, while it is valid. */
  proxyIdOf(fingerprint256: string, now = Date.now()): { proxyId?: string; spiffeId: string } | undefined {
    for (const e of this.entries.values()) {
      const until = e.fingerprints.get(fingerprint256);
      if (until !== undefined && until > now) return { spiffeId: e.spiffeId, ...(e.proxyId !== undefined ? { proxyId: e.proxyId } : {}) };
    }
    return undefined;
  }

  /** Distribution's check: the certificate must be one issued to exactly the proxy it subscribes as. */
  authorizeSubscription(peer: { readonly fingerprint256: string }, identity: { readonly id: string; readonly namespace: string }): string | undefined {
    const owner = this.proxyIdOf(peer.fingerprint256);
    if (!owner) return 'the client certificate was not issued to a proxy of this mesh (or has expired)';
    if (owner.proxyId !== identity.id) return `the certificate of ${owner.proxyId ?? owner.spiffeId} may not subscribe as proxy ${identity.id}`;
    if (!owner.spiffeId.includes(`/ns/${identity.namespace}/sa/`)) return `${owner.spiffeId} may not subscribe in namespace ${identity.namespace}`;
    return undefined;
  }

  get(key: string): WorkloadIdentity | undefined {
    return this.entries.get(key);
  }

  stop(): void {
    this.stopped = true;
    for (const e of this.entries.values()) clearTimeout(e.timer);
  }

  /** Rotate at half of the lifetime, as Istio's agent does. */
  private schedule(e: Entry): void {
    if (this.stopped) return;
    const { notBefore, notAfter } = e.current;
    const at = notBefore.getTime() + (notAfter.getTime() - notBefore.getTime()) / 2;
    e.timer = setTimeout(() => this.rotate(e), Math.max(0, Math.min(at - Date.now(), 2 ** 31 - 1)));
    e.timer.unref();
  }

  private rotate(e: Entry): void {
    if (this.stopped || this.entries.get(e.key) !== e) return;
    try {
      const next = this.opts.ca.issue(e.spiffeId, this.opts.ttlMs ?? DEFAULT_WORKLOAD_CERT_TTL_MS);
      writeIdentityDir(e.dir, next);
      e.current = next;
      const now = Date.now();
      for (const [fp, until] of e.fingerprints) if (until <= now) e.fingerprints.delete(fp);
      e.fingerprints.set(next.fingerprint256, next.notAfter.getTime());
      e.onIssued?.(next);
      this.opts.log(`identity: rotated ${e.spiffeId} for ${e.key} (valid until ${next.notAfter.toISOString()})`);
      this.schedule(e);
    } catch (err) {
      // Keep the current files (still valid for the other half) and try again soon.
      this.opts.log(`identity: rotating ${e.key} failed: ${(err as Error).message}; retrying in 1 s`);
      e.timer = setTimeout(() => this.rotate(e), 1000);
      e.timer.unref();
    }
  }
}
