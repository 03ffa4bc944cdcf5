// Bearer tokens of the mesh's own endpoints (a proxy's admin, the API server, the control endpoint,
// config distribution, the dashboard), compared in constant time: how long a refusal takes says
// nothing about how much of a guess was right.
import { timingSafeEqual } from 'node:crypto';

/** Whether two secrets are equal, in a time that does not depend on where they differ. */
export function secretEquals(given: string, want: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(want);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Whether an Authorization header is `Bearer <token>` (never, for an empty token). */
export function bearerMatches(header: string | undefined, token: string): boolean {
  if (token === '' || header === undefined || !header.startsWith('Bearer ')) return false;
  return secretEquals(header.slice('Bearer '.length).trim(), token);
}
