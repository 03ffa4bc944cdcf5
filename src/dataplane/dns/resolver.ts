// DNS resolution for clusters and forward-proxy targets: hosts file first, then a configured DNS
// server (or the system resolver), cached by TTL with concurrent lookups of one name coalesced.

import { promises as dnsp, type RecordWithTtl } from 'node:dns';
import { isIP } from 'node:net';
import { statSync, readFileSync } from 'node:fs';

export interface ResolverOptions {
  /** `IP:PORT` (or `[IPv6]:PORT`, or a bare IP) of the DNS server to ask; absent: the system resolver. */
  readonly server?: string;
  /** A file in /etc/hosts format whose entries win over DNS; re-read when it changes. */
  readonly hostsFile?: string;
  /** TTL reported for hosts-file answers, ms. Default 30 s. */
  readonly hostsTtlMs?: number;
  /** TTL used for system-resolver answers (which carry none), ms. Default 30 s. */
  readonly defaultTtlMs?: number;
  /** How long a failed lookup is remembered, so a storm of requests does not become a storm of queries. Default 1 s. */
  readonly negativeTtlMs?: number;
  /** Per-query timeout against `server`, ms. Default 2000. */
  readonly timeoutMs?: number;
  /** Query attempts against `server`. Default 2. */
  readonly tries?: number;
  /**
   * No lookup takes longer than this, whatever the server or the system resolver does, ms
   * (Envoy's c-ares resolver gives a query 5 s). 0: no bound. Default DEFAULT_RESOLUTION_TIMEOUT_MS.
   */
  readonly resolutionTimeoutMs?: number;
}

/** Envoy's default bound on one DNS resolution (its c-ares query timeout). */
const DEFAULT_RESOLUTION_TIMEOUT_MS = 5000;

export interface Resolution {
  /** IPv4 addresses first, then IPv6 (when a name has no A record). Never empty. */
  readonly addresses: readonly string[];
  /** How long the answer stays valid from now, ms (Infinity for IP literals). */
  readonly ttlMs: number;
}

/** A failed lookup; `code` is c-ares' (ENOTFOUND, ENODATA, ETIMEOUT, ESERVFAIL, ECONNREFUSED, …). */
export class DnsError extends Error {
  readonly code: string;
  readonly host: string;
  constructor(code: string, host: string, detail?: string) {
    super(`DNS lookup of ${JSON.stringify(host)} failed: ${code}${detail ? ` (${detail})` : ''}`);
    this.name = 'DnsError';
    this.code = code;
    this.host = host;
  }
}

interface CacheEntry {
  readonly addresses: readonly string[];
  /** Epoch ms. */
  readonly expiresAt: number;
  readonly error?: DnsError;
}

/** How often the hosts file's mtime is checked at most, ms. */
const HOSTS_STAT_INTERVAL_MS = 200;

export class Resolver {
  readonly #server: dnsp.Resolver | undefined;
  readonly #hostsFile: string | undefined;
  readonly #hostsTtlMs: number;
  readonly #defaultTtlMs: number;
  readonly #negativeTtlMs: number;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #inflight = new Map<string, Promise<Resolution>>();
  #hosts = new Map<string, string[]>();
  #hostsStamp = '';
  #hostsCheckedAt = 0;
  #closed = false;
  #resolutionTimeoutMs: number;

  constructor(opts: ResolverOptions = {}) {
    this.#resolutionTimeoutMs = opts.resolutionTimeoutMs ?? DEFAULT_RESOLUTION_TIMEOUT_MS;
    this.#hostsFile = opts.hostsFile;
    this.#hostsTtlMs = opts.hostsTtlMs ?? 30_000;
    this.#defaultTtlMs = opts.defaultTtlMs ?? 30_000;
    this.#negativeTtlMs = opts.negativeTtlMs ?? 1_000;
    if (opts.server !== undefined) {
      const r = new dnsp.Resolver({ timeout: opts.timeoutMs ?? 2000, tries: opts.tries ?? 2 });
      try {
        r.setServers([opts.server]);
      } catch (err) {
        throw new Error(`resolver: bad DNS server ${JSON.stringify(opts.server)}: ${(err as Error).message}`);
      }
      this.#server = r;
    }
    if (this.#hostsFile !== undefined) this.#reloadHosts(true);
  }

  /** Resolves `host` (a name or an IP literal, `[v6]` accepted). Rejects with DnsError. */
  lookup(host: string): Promise<Resolution> {
    const literal = ipLiteral(host);
    if (literal !== undefined) return Promise.resolve({ addresses: [literal], ttlMs: Infinity });
    if (this.#closed) return Promise.reject(new DnsError('ECANCELLED', host, 'resolver closed'));
    const name = normalizeName(host);
    if (name === '') return Promise.reject(new DnsError('EBADNAME', host));

    if (this.#hostsFile !== undefined) {
      this.#reloadHosts(false);
      const fromHosts = this.#hosts.get(name);
      if (fromHosts !== undefined) return Promise.resolve({ addresses: fromHosts, ttlMs: this.#hostsTtlMs });
    }

    const now = Date.now();
    const cached = this.#cache.get(name);
    if (cached !== undefined && cached.expiresAt > now) {
      if (cached.error !== undefined) return Promise.reject(cached.error);
      return Promise.resolve({ addresses: cached.addresses, ttlMs: cached.expiresAt - now });
    }
    const pending = this.#inflight.get(name);
    if (pending !== undefined) return pending;
    const q = this.#query(name, host);
    const ms = this.#resolutionTimeoutMs;
    const p = (ms > 0 ? this.#bounded(q, name, host, ms) : q).finally(() => this.#inflight.delete(name));
    this.#inflight.set(name, p);
    return p;
  }

  /** The bound on each lookup from now on (the mesh config sets it), ms; 0: none. */
  setResolutionTimeout(ms: number): void {
    this.#resolutionTimeoutMs = ms;
  }

  get resolutionTimeoutMs(): number {
    return this.#resolutionTimeoutMs;
  }

  /**
   * `q`, or an ETIMEOUT DnsError once `ms` have passed. The query itself goes on (neither c-ares
   * nor getaddrinfo can be stopped for one name); a late answer still fills the cache.
   */
  #bounded(q: Promise<Resolution>, name: string, host: string, ms: number): Promise<Resolution> {
    return new Promise<Resolution>((resolve, reject) => {
      const timer = setTimeout(() => {
        const e = new DnsError('ETIMEOUT', host, `no answer within ${ms} ms`);
        // Remembered like any failure, so a burst of requests does not pile up queries.
        if (!this.#closed && this.#negativeTtlMs > 0) {
          this.#cache.set(name, { addresses: [], expiresAt: Date.now() + this.#negativeTtlMs, error: e });
        }
        reject(e);
      }, ms);
      q.then(
        (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  /** Forget cached answers (hosts-file entries stay). */
  clearCache(): void {
    this.#cache.clear();
  }

  close(): void {
    this.#closed = true;
    this.#server?.cancel();
    this.#cache.clear();
  }

  async #query(name: string, original: string): Promise<Resolution> {
    let addresses: string[];
    let ttlMs: number;
    try {
      if (this.#server !== undefined) {
        ({ addresses, ttlMs } = await this.#queryServer(this.#server, name));
      } else {
        const all = await dnsp.lookup(name, { all: true, verbatim: true });
        // IPv4 first, as Envoy's V4_PREFERRED does.
        addresses = all.filter((a) => a.family === 4).map((a) => a.address);
        for (const a of all) if (a.family === 6) addresses.push(a.address);
        ttlMs = this.#defaultTtlMs;
      }
      if (addresses.length === 0) throw new DnsError('ENODATA', original);
    } catch (err) {
      const e = err instanceof DnsError ? err : toDnsError(err, original);
      if (!this.#closed && this.#negativeTtlMs > 0) {
        this.#cache.set(name, { addresses: [], expiresAt: Date.now() + this.#negativeTtlMs, error: e });
      }
      throw e;
    }
    if (!this.#closed && ttlMs > 0) this.#cache.set(name, { addresses, expiresAt: Date.now() + ttlMs });
    else this.#cache.delete(name);
    return { addresses, ttlMs };
  }

  async #queryServer(r: dnsp.Resolver, name: string): Promise<{ addresses: string[]; ttlMs: number }> {
    let records: RecordWithTtl[];
    try {
      records = await r.resolve4(name, { ttl: true });
    } catch (err) {
      // A name with no A record may still have AAAA; NXDOMAIN and transport errors end here.
      if ((err as NodeJS.ErrnoException).code !== 'ENODATA') throw err;
      records = await r.resolve6(name, { ttl: true });
    }
    if (records.length === 0) {
      records = await r.resolve6(name, { ttl: true });
    }
    let ttl = Infinity;
    const addresses: string[] = [];
    for (const rec of records) {
      addresses.push(rec.address);
      if (rec.ttl < ttl) ttl = rec.ttl;
    }
    return { addresses, ttlMs: records.length === 0 ? 0 : ttl * 1000 };
  }

  #reloadHosts(force: boolean): void {
    const file = this.#hostsFile!;
    const now = Date.now();
    if (!force && now - this.#hostsCheckedAt < HOSTS_STAT_INTERVAL_MS) return;
    this.#hostsCheckedAt = now;
    let stamp: string;
    try {
      const st = statSync(file);
      stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
    } catch {
      // A missing hosts file is an empty one (it may appear later).
      if (this.#hostsStamp !== 'missing') {
        this.#hosts = new Map();
        this.#hostsStamp = 'missing';
      }
      return;
    }
    if (stamp === this.#hostsStamp) return;
    try {
      this.#hosts = parseHostsFile(readFileSync(file, 'utf8'));
      this.#hostsStamp = stamp;
    } catch {
      // Keep the last good table if the file vanished between stat and read.
    }
  }
}

/** Parses /etc/hosts text: `IP name [aliases…]`, `#` comments. A name listed on several lines gets every IP, file order. */
function parseHostsFile(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const rawLine of text.split('\n')) {
    const hash = rawLine.indexOf('#');
    const line = (hash >= 0 ? rawLine.slice(0, hash) : rawLine).trim();
    if (line === '') continue;
    const fields = line.split(/\s+/);
    const ip = fields[0]!;
    const addr = ipLiteral(ip);
    if (addr === undefined) continue;
    for (let i = 1; i < fields.length; i++) {
      const name = normalizeName(fields[i]!);
      if (name === '') continue;
      const list = out.get(name);
      if (list === undefined) out.set(name, [addr]);
      else if (!list.includes(addr)) list.push(addr);
    }
  }
  // IPv4 first, matching DNS answers.
  for (const [name, list] of out) {
    if (list.some((a) => a.includes(':'))) out.set(name, [...list.filter((a) => !a.includes(':')), ...list.filter((a) => a.includes(':'))]);
  }
  return out;
}

/** The IP if `host` is an IP literal (IPv6 may be bracketed), else undefined. */
export function ipLiteral(host: string): string | undefined {
  if (isIP(host) !== 0) return host;
  if (host.length > 2 && host.charCodeAt(0) === 91 /* [ */ && host.charCodeAt(host.length - 1) === 93 /* ] */) {
    const inner = host.slice(1, -1);
    if (isIP(inner) === 6) return inner;
  }
  return undefined;
}

function normalizeName(host: string): string {
  let name = host.toLowerCase();
  if (name.endsWith('.')) name = name.slice(0, -1);
  return name;
}

function toDnsError(err: unknown, host: string): DnsError {
  const e = err as NodeJS.ErrnoException;
  const code = typeof e?.code === 'string' ? e.code : 'EUNKNOWN';
  return new DnsError(code, host);
}
