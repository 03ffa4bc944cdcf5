// A pod's STATUS column as kubectl prints it: a container's waiting or terminated reason
// (CrashLoopBackOff, Error) over the phase; Terminating while it is being deleted.
import type { KubeObject } from './object.js';

interface ContainerStatusLike {
  state?: { waiting?: { reason?: string }; terminated?: { reason?: string; exitCode?: number } };
}

export function podStatusText(pod: KubeObject): string {
  const status = (pod.status ?? {}) as { phase?: string; reason?: string; containerStatuses?: ContainerStatusLike[] };
  if (pod.metadata.deletionTimestamp) return 'Terminating';
  let reason = status.reason ?? status.phase ?? 'Pending';
  for (const c of status.containerStatuses ?? []) {
    const w = c.state?.waiting?.reason;
    const t = c.state?.terminated;
    if (w) reason = w;
    else if (t) reason = t.reason ?? `ExitCode:${t.exitCode ?? 0}`;
  }
  return reason;
}
