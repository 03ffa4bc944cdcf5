// "Has the config reached every proxy?": waits until each running proxy is ready and has
// ACKed the config the control plane holds for it now. Lets `exec` and tests act after an
// `apply` without guessing a delay.
import type { Store } from '../store/types.js';
import type { WorkloadManager } from './workloads.js';

/** The slice of the control plane this needs. */
export interface SyncSource {
  proxyStatus(): unknown;
}

export interface SyncResult {
  synced: boolean;
  /** Proxies that are not ready or not in sync when the wait ended. */
  pending: string[];
}

interface StatusRow {
  id?: string;
  proxy?: string;
  name?: string;
  [field: string]: unknown;
}

/** A proxy-status row is in sync when nothing in it reads STALE / NOT SENT and sent == acked where both are given. */
export function rowIsSynced(row: StatusRow): boolean {
  for (const v of Object.values(row)) {
    if (typeof v === 'string' && /^(STALE|NOT SENT|NACKED?|ERROR)/i.test(v)) return false;
  }
  if (typeof row.synced === 'boolean') return row.synced;
  const sent = row.sentVersion ?? row.sent ?? row.version;
  const acked = row.ackedVersion ?? row.acked;
  if (sent !== undefined && acked !== undefined) return sent === acked;
  return true;
}

function rowsOf(status: unknown): StatusRow[] {
  if (Array.isArray(status)) return status as StatusRow[];
  const s = status as { proxies?: StatusRow[] } | undefined;
  return s?.proxies ?? [];
}

export async function waitForSync(store: Store, cp: SyncSource, workloads: WorkloadManager, timeoutMs: number): Promise<SyncResult> {
  const deadline = Date.now() + timeoutMs;
  // Let the control plane's debounce see the store as it is now.
  const revision = store.revision();
  let pending: string[] = [];
  let lastCpRevision: string | undefined;
  let stableSince = Date.now();
  for (let first = true; first || Date.now() < deadline; first = false) {
    const notReady = await workloads.waitReady(Math.max(0, deadline - Date.now()));
    const rows = rowsOf(await cp.proxyStatus());
    const ids = new Set(workloads.list().map((w) => w.proxyId));
    const seen = new Set(rows.map((r) => r.id ?? r.proxy ?? r.name ?? ''));
    pending = [
      ...notReady.map((w) => w.proxyId),
      ...[...ids].filter((id) => !seen.has(id)),
      ...rows.filter((r) => !rowIsSynced(r)).map((r) => String(r.id ?? r.proxy ?? r.name)),
    ];
    const cpRevision = (cp as { revision?: () => string }).revision?.();
    if (cpRevision !== lastCpRevision) {
      lastCpRevision = cpRevision;
      stableSince = Date.now();
    }
    // Caught up when the control plane pushed a snapshot at least as new as the store was when
    // asked, or when it has had nothing to push for a while (the later writes were not config).
    const caughtUp = cpRevision === undefined || Number(cpRevision) >= Number(revision) || Date.now() - stableSince > 600;
    if (pending.length === 0 && caughtUp) return { synced: true, pending: [] };
    await new Promise((r) => setTimeout(r, 50));
  }
  return { synced: false, pending };
}
