// Kubernetes Events (v1) for notable transitions, so `describe` shows what happened.
import { randomBytes } from 'node:crypto';
import type { KubeObject } from '../../api/object.js';
import type { KubeEvent } from '../../api/kinds/event.js';
import type { Store } from '../../store/types.js';
import { kubeTime } from './conditions.js';

export const EVENT_SOURCE = 'istio.io/gateway-controller';

export function recordEvent(
  store: Store,
  about: KubeObject,
  type: 'Normal' | 'Warning',
  reason: string,
  message: string,
  now = new Date(),
  log?: (line: string) => void,
): void {
  const ns = about.metadata.namespace ?? 'default';
  const time = kubeTime(now);
  const event: KubeEvent = {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `${about.metadata.name}.${randomBytes(8).toString('hex')}`, namespace: ns },
    involvedObject: {
      apiVersion: about.apiVersion,
      kind: about.kind,
      namespace: about.metadata.namespace,
      name: about.metadata.name,
      uid: about.metadata.uid,
      resourceVersion: about.metadata.resourceVersion,
    },
    reason,
    message,
    type,
    source: { component: EVENT_SOURCE },
    reportingComponent: EVENT_SOURCE,
    firstTimestamp: time,
    lastTimestamp: time,
    count: 1,
  };
  try {
    store.create(event);
  } catch (err) {
    log?.(`event: ${about.kind} ${ns}/${about.metadata.name}: ${(err as Error).message}`);
  }
}
