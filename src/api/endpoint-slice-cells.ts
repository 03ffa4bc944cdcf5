// An EndpointSlice's PORTS and ENDPOINTS cells as kubectl prints them, shared by the API server's
// Table responses and the CLI's tables (apart from both so the CLI loads neither the server nor the kinds).
import type { KubeObject } from './object.js';

function list(v: unknown): Record<string, unknown>[] {
  return Array.isArray(v) ? v.map((x) => (x && typeof x === 'object' && !Array.isArray(x) ? (x as Record<string, unknown>) : {})) : [];
}

/** kubectl's EndpointSlice cells: ports `80,443` (`<unset>` for none), up to 3 addresses then `+ N more...`. */
export function endpointSlicePorts(o: KubeObject): string {
  const ports = list((o as Record<string, unknown>).ports).map((p) => (p.port === undefined ? '<unset>' : String(p.port)));
  return ports.length ? ports.join(',') : '<unset>';
}
export function endpointSliceAddresses(o: KubeObject): string {
  const all = list((o as Record<string, unknown>).endpoints).flatMap((e) => (Array.isArray(e.addresses) ? e.addresses.map(String) : []));
  if (all.length === 0) return '<unset>';
  return all.length > 3 ? `${all.slice(0, 3).join(',')} + ${all.length - 3} more...` : all.join(',');
}
