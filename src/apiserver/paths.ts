// outpost's own REST paths beside the Kubernetes ones, shared by the API server and its client.
import { OUTPOST_V1ALPHA1 } from '../api/groups.js';

/** Every document of an `apply -f` in one request: all admitted, or none applied. */
export const BATCH_APPLY_PATH = `/apis/${OUTPOST_V1ALPHA1}/apply`;
