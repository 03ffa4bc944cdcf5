// Unreadable TLS material, made visible: one log line and one Warning Event per problem on the resource that names it.
import type { Store } from '../../store/types.js';
import type { MeshSnapshot } from '../snapshot.js';
import type { KubeEvent } from '../../api/kinds/event.js';
import { formatTlsMaterialProblem, tlsMaterialProblems, type PemReader, type TlsMaterialProblem } from '../translate/tls-material.js';
import { recordEvent } from './events.js';

/** Event reason for a TLS field whose material cannot be used. */
export const TLS_MATERIAL_EVENT_REASON = 'InvalidTLSMaterial';

export interface TlsReportOptions {
  readonly now?: Date;
  readonly log?: (line: string) => void;
}

function eventMessage(p: TlsMaterialProblem): string {
  return `${p.path}${p.value ? ` ${JSON.stringify(p.value)}` : ''} ${p.reason}; ${p.effect}`;
}

/**
 * Reports each problem once: `reported` holds the keys already reported by this control plane, and
 * an identical Event already in the store (from before a restart) counts as reported. Returns the
 * keys of the current problems, to pass in next time (a fixed and re-broken file is reported again).
 */
export function reportTlsMaterialProblems(
  store: Store,
  snapshot: MeshSnapshot,
  readPem: PemReader,
  reported: ReadonlySet<string>,
  options: TlsReportOptions = {},
): Set<string> {
  const current = new Set<string>();
  for (const p of tlsMaterialProblems(snapshot, readPem)) {
    const meta = p.object.metadata;
    const message = eventMessage(p);
    const key = `${p.object.kind}/${meta.namespace ?? ''}/${meta.name}/${meta.uid ?? ''}/${meta.generation ?? ''}/${message}`;
    current.add(key);
    if (reported.has(key)) continue;
    options.log?.(`control plane: ${formatTlsMaterialProblem(p)}`);
    const events = store.list({ group: '', kind: 'Event', ...(meta.namespace ? { namespace: meta.namespace } : {}) }).items as readonly KubeEvent[];
    const known = events.some((e) => {
      const about = e.involvedObject;
      return (
        about?.kind === p.object.kind && about.name === meta.name && about.uid === meta.uid && e.reason === TLS_MATERIAL_EVENT_REASON && e.message === message
      );
    });
    if (!known) recordEvent(store, p.object, 'Warning', TLS_MATERIAL_EVENT_REASON, message, options.now ?? new Date(), options.log);
  }
  return current;
}
