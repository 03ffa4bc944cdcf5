// Kubernetes Event objects, so `describe` shows what the local mesh did or refused.
import { randomBytes } from 'node:crypto';
import type { KubeObject } from '../api/object.js';

export function buildEvent(about: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string, component: string): KubeObject {
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  // Events of cluster-scoped objects live in `default`, as Kubernetes does.
  const namespace = about.metadata.namespace ?? 'default';
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `${about.metadata.name}.${randomBytes(8).toString('hex')}`, namespace },
    involvedObject: {
      apiVersion: about.apiVersion,
      kind: about.kind,
      name: about.metadata.name,
      namespace: about.metadata.namespace,
      uid: about.metadata.uid,
    },
    reason,
    message,
    type,
    source: { component },
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
  };
}
