// What the controller reads (the snapshot) and writes (status, the deployer's objects, Events): its
// reflectors and its RBAC both come from this list.
import { SNAPSHOT_KINDS } from '../controlplane/snapshot.js';

export const CONTROLLER_KINDS: readonly { group: string; kind: string }[] = [
  ...SNAPSHOT_KINDS,
  { group: '', kind: 'ServiceAccount' },
  { group: '', kind: 'Event' },
];
