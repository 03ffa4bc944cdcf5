// How the store names a kind in its error messages, as the API server does: `serviceentries.networking.istio.io`.
import { KINDS } from '../api/kinds.js';

export function qualifiedResource(group: string, kind: string): string {
  const info = KINDS.find((k) => k.group === group && k.kind === kind);
  const plural = info?.plural ?? `${kind.toLowerCase()}s`;
  return group ? `${plural}.${group}` : plural;
}
