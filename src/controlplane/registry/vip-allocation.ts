// Istio's DNS auto-allocation: every ServiceEntry host without `addresses` gets an address from
// 240.240.0.0/16 (and its IPv6 twin from 2001:2::/48), so that a captured connection's destination address names the service (Node has
// no SO_ORIGINAL_DST, and TCP carries no host name).
//
// Stable without storing anything: the address is a hash of the host, so it survives restarts and
// does not move when other entries come and go. Two hosts hashing to one address are settled by age:
// the older entry keeps it, the younger probes to the next free one (only a collision moves a host,
// and only when the older of the two is deleted). Istio 1.23+ writes its allocation into the entry's
// status; a pure function of the snapshot keeps the control plane's translation free of writes.
import { createHash } from 'node:crypto';
import { compareStrings } from '../sort-order.js';
import { isWildcard } from '../hosts.js';
import type { MeshService } from './types.js';

/** 240.240.0.1 – 240.240.255.254: .0 and .255.255 are left out. */
const SLOTS = 65534;

function slotOf(host: string): number {
  return createHash('sha256').update(host).digest().readUInt32BE(0) % SLOTS;
}

export function slotAddress(slot: number): string {
  const n = slot + 1;
  return `240.240.${n >> 8}.${n & 255}`;
}

/** The slot's IPv6 address in 2001:2::/48: the IPv4 VIP's last 16 bits after `f0f0` (240.240), as Istio forms it. */
export function slotAddressV6(slot: number): string {
  return `2001:2::f0f0:${(slot + 1).toString(16)}`;
}

/** One address of a ServiceEntry's `addresses` (a bare IP, /32 or /128), as an IP; undefined for a range. */
export function singleAddress(entry: string): string | undefined {
  const m = /^(.*)\/(\d+)$/.exec(entry);
  if (!m) return entry;
  return Number(m[2]) === (m[1]!.includes(':') ? 128 : 32) ? m[1]! : undefined;
}

/**
 * Gives each eligible ServiceEntry host its address. Eligible: not a wildcard, no `addresses`, and a
 * resolution other than NONE (NONE is passthrough to the address the client dialled, which a VIP
 * would hide). One host has one address however many entries name it.
 */
export function allocateVips(services: MeshService[]): MeshService[] {
  const eligible = services.filter((s) => s.origin === 'ServiceEntry' && !s.addresses && s.resolution !== 'NONE' && !isWildcard(s.host));
  const firstByHost = new Map<string, MeshService>();
  for (const s of [...eligible].sort((a, b) => compareStrings(a.age, b.age) || compareStrings(a.host, b.host))) {
    if (!firstByHost.has(s.host)) firstByHost.set(s.host, s);
  }
  const taken = new Set<number>();
  const byHost = new Map<string, number>();
  // Oldest first: an older host keeps its hash slot against a younger one.
  for (const [host] of [...firstByHost].sort(([, a], [, b]) => compareStrings(a.age, b.age) || compareStrings(a.host, b.host))) {
    let slot = slotOf(host);
    for (let i = 0; taken.has(slot) && i < SLOTS; i++) slot = (slot + 1) % SLOTS;
    if (taken.has(slot)) break; // All 65534 taken: the rest get none.
    taken.add(slot);
    byHost.set(host, slot);
  }
  return services.map((s) => {
    const slot = s.origin === 'ServiceEntry' && !s.addresses && s.resolution !== 'NONE' ? byHost.get(s.host) : undefined;
    return slot !== undefined ? { ...s, autoAddress: slotAddress(slot), autoAddressV6: slotAddressV6(slot) } : s;
  });
}
