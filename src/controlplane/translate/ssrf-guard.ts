// The SSRF guard's settings for one proxy: what the mesh must never be made to dial (its own
// control addresses, admin ports, loopback, link-local, unspecified, multicast, the pod and
// service networks) and what ServiceEntries name explicitly (their hosts, addresses and endpoints).
import { isIP } from 'node:net';
import type { SsrfDenyEndpoint, SsrfDenyRange, SsrfGuardSettings } from '../../proxyconfig/types.js';
import type { ServiceRegistry } from '../registry/index.js';

/** The mesh's own addresses, from the runtime (the control plane cannot know how the node is laid out). */
export interface SsrfGuardContext {
  /** Networks of the mesh beyond the built-in ranges: the pod and service networks, the loopback /24. */
  readonly networks?: readonly SsrfDenyRange[];
  /** The API server, distribution and the mesh's control endpoint. */
  readonly controlEndpoints?: readonly SsrfDenyEndpoint[];
  /** Proxies' admin port(s); default 15000. */
  readonly adminPorts?: readonly number[];
}

/** Always denied (IANA special-purpose ranges a proxy has no business dialling on a workload's behalf). */
export const BUILT_IN_DENY_RANGES: readonly SsrfDenyRange[] = Object.freeze([
  { cidr: '127.0.0.0/8', reason: 'loopback' },
  { cidr: '::1/128', reason: 'loopback' },
  { cidr: '169.254.0.0/16', reason: 'link_local' },
  { cidr: 'fe80::/10', reason: 'link_local' },
  { cidr: '0.0.0.0/8', reason: 'unspecified' },
  { cidr: '::/128', reason: 'unspecified' },
  { cidr: '224.0.0.0/4', reason: 'multicast' },
  { cidr: 'ff00::/8', reason: 'multicast' },
]);

export const DEFAULT_ADMIN_PORTS: readonly number[] = Object.freeze([15000]);

/**
 * The guard for a proxy in `namespace`: ServiceEntry hosts it sees are explicitly named (their
 * resolved addresses are allowed, except on admin ports and control endpoints), and so are the
 * IPs and CIDRs in their `addresses` and endpoints (allowed outright).
 */
export function ssrfGuardFor(mode: 'ENFORCE' | 'REPORT_ONLY', registry: ServiceRegistry, namespace: string, ctx: SsrfGuardContext = {}): SsrfGuardSettings {
  const hosts = new Set<string>();
  const addresses = new Set<string>();
  for (const s of registry.visibleTo(namespace)) {
    if (s.origin !== 'ServiceEntry') continue;
    hosts.add(s.host.toLowerCase());
    for (const a of s.addresses ?? []) if (isIP(a.split('/')[0]!) !== 0) addresses.add(a);
    for (const e of s.endpoints) if (isIP(e.address) !== 0) addresses.add(e.address);
  }
  const networks = ctx.networks ?? [];
  const endpoints = ctx.controlEndpoints ?? [];
  return {
    mode,
    denyRanges: [...networks, ...BUILT_IN_DENY_RANGES],
    ...(endpoints.length > 0 ? { denyEndpoints: endpoints } : {}),
    adminPorts: ctx.adminPorts ?? DEFAULT_ADMIN_PORTS,
    ...(hosts.size > 0 ? { allowHosts: [...hosts].sort() } : {}),
    ...(addresses.size > 0 ? { allowAddresses: [...addresses].sort() } : {}),
  };
}
