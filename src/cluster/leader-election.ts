// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does: the
// holder renews every retry period; a candidate takes the Lease once it has not been renewed for
// its whole duration; every write carries the resourceVersion it read, so two candidates cannot
// both win. A leader that cannot renew within the renew deadline steps down (and keeps trying).
import { KubeHttpError, type KubeHttp } from './kube-http.js';

/** Where the Lease is, who this candidate is, and the timing (client-go's flags). */
export interface LeaderElectionSettings {
  readonly namespace: string;
  readonly name: string;
  /** This candidate's identity (pod name + a random suffix, as client-go's). */
  readonly identity: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
}

export interface LeaderElectionOptions extends LeaderElectionSettings {
  readonly http: KubeHttp;
  readonly onStartedLeading: () => void;
  readonly onStoppedLeading: () => void;
  readonly log?: (line: string) => void;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

interface Lease {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec?: LeaseSpec;
}

/** Kubernetes MicroTime: RFC 3339 with microseconds. */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class LeaderElector {
  private leading = false;
  private lastRenew = 0;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  /** When we first saw the current holder's renewTime (our clock, as client-go compares observed times). */
  private observed?: { renewTime?: string; holder?: string; at: number };
  private readonly path: string;
  private readonly collection: string;

  constructor(private readonly opts: LeaderElectionOptions) {
    this.collection = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(opts.namespace)}/leases`;
    this.path = `${this.collection}/${encodeURIComponent(opts.name)}`;
  }

  isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    void this.tick();
  }

  /** Stops; a leader gives the Lease up (empty holder) so another candidate need not wait it out. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (!this.leading) return;
    this.setLeading(false);
    try {
      const lease = await this.opts.http.json<Lease>({ method: 'GET', path: this.path });
      if (lease.spec?.holderIdentity === this.opts.identity) {
        await this.opts.http.json({ method: 'PUT', path: this.path, body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 } } });
      }
    } catch {
      // Best effort: the Lease expires on its own.
    }
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    try {
      const ok = await this.tryAcquireOrRenew();
      if (ok) this.lastRenew = Date.now();
      if (ok && !this.leading) this.setLeading(true);
      if (!ok && this.leading && Date.now() - this.lastRenew > this.opts.renewDeadlineMs) this.setLeading(false);
    } catch (err) {
      this.opts.log?.(`leader election: ${(err as Error).message}`);
      if (this.leading && Date.now() - this.lastRenew > this.opts.renewDeadlineMs) this.setLeading(false);
    }
    if (!this.stopped) this.timer = setTimeout(() => void this.tick(), this.opts.retryPeriodMs);
  }

  private setLeading(leading: boolean): void {
    this.leading = leading;
    this.opts.log?.(
      `leader election: ${this.opts.identity} ${leading ? 'became the leader' : 'stopped leading'} (lease ${this.opts.namespace}/${this.opts.name})`,
    );
    if (leading) this.opts.onStartedLeading();
    else this.opts.onStoppedLeading();
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = Date.now();
    const mine: LeaseSpec = {
      holderIdentity: this.opts.identity,
      leaseDurationSeconds: Math.max(1, Math.round(this.opts.leaseDurationMs / 1000)),
      acquireTime: microTime(now),
      renewTime: microTime(now),
      leaseTransitions: 0,
    };
    let lease: Lease;
    try {
      lease = await this.opts.http.json<Lease>({ method: 'GET', path: this.path });
    } catch (err) {
      if (!(err instanceof KubeHttpError && err.code === 404)) throw err;
      try {
        await this.opts.http.json({
          method: 'POST',
          path: this.collection,
          body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.opts.name, namespace: this.opts.namespace }, spec: mine },
        });
        return true;
      } catch (e) {
        if (e instanceof KubeHttpError && e.code === 409) return false; // another candidate created it first
        throw e;
      }
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    if (!this.observed || this.observed.renewTime !== spec.renewTime || this.observed.holder !== holder) {
      this.observed = { renewTime: spec.renewTime, holder, at: now };
    }
    const durationMs = (spec.leaseDurationSeconds ?? 0) * 1000;
    const held = holder !== '' && holder !== this.opts.identity && this.observed.at + durationMs > now;
    if (held) return false;
    const next: LeaseSpec =
      holder === this.opts.identity
        ? { ...spec, renewTime: mine.renewTime, leaseDurationSeconds: mine.leaseDurationSeconds }
        : { ...mine, leaseTransitions: (spec.leaseTransitions ?? 0) + (holder ? 1 : 0) };
    try {
      // The resourceVersion we read: if someone wrote since, this is a Conflict and we did not win.
      await this.opts.http.json({ method: 'PUT', path: this.path, body: { ...lease, spec: next } });
      return true;
    } catch (err) {
      if (err instanceof KubeHttpError && err.code === 409) return false;
      throw err;
    }
  }
}
