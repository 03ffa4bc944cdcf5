// Loopback addresses for workloads: each workload gets its own 127.A.B.n, stable across restarts.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/**
 * The /24 a state dir's workloads live in, from a hash of its path, so that meshes running
 * side by side (tests) never share an address. 127.0.x.x is skipped: 127.0.0.1 is everyone's.
 */
export function subnetFor(stateDir: string): string {
  const h = createHash('sha256').update(stateDir).digest();
  const a = 1 + (h[0]! % 199); // 127.1–199: 127.200+ is left for test "external" hosts
  const b = h[1]!;
  return `127.${a}.${b}`;
}

/** Keeps workload → address assignments in a small JSON file inside the state dir. */
export class AddressBook {
  private readonly byKey = new Map<string, string>();

  constructor(
    private readonly file: string,
    private readonly subnet: string,
  ) {
    if (existsSync(file)) {
      try {
        const saved = JSON.parse(readFileSync(file, 'utf8')) as { subnet?: string; addresses?: Record<string, string> };
        if (saved.subnet === subnet) for (const [k, v] of Object.entries(saved.addresses ?? {})) this.byKey.set(k, v);
      } catch {
        // A corrupt file only costs new addresses.
      }
    }
  }

  /** The address of a workload key (`gw-ns/deployment/egressgw`), allocating one on first use. */
  addressOf(key: string): string {
    const known = this.byKey.get(key);
    if (known) return known;
    const used = new Set(this.byKey.values());
    // .1 is the mesh's own (API server, control plane); workloads start at .2.
    for (let n = 2; n < 255; n++) {
      const ip = `${this.subnet}.${n}`;
      if (!used.has(ip)) {
        this.byKey.set(key, ip);
        this.save();
        return ip;
      }
    }
    throw new Error(`outpost: no free loopback address left in ${this.subnet}.0/24 (253 workloads at most)`);
  }

  /** The mesh's own address (API server, control plane, control endpoint). */
  meshAddress(): string {
    return `${this.subnet}.1`;
  }

  all(): ReadonlyMap<string, string> {
    return this.byKey;
  }

  private save(): void {
    writeFileSync(this.file, JSON.stringify({ subnet: this.subnet, addresses: Object.fromEntries(this.byKey) }, null, 2) + '\n');
  }
}
