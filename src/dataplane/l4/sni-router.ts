// SNI → TCP route for TLS passthrough listeners: exact name, then the longest `*.suffix`, then `*`, then the default chain.
import type { TcpRoute, TlsPassthroughListener } from '../../proxyconfig/types.js';

export class SniRouter {
  readonly #exact = new Map<string, TcpRoute>();
  /** `.suffix` → route, longest suffix first. */
  readonly #suffixes: Array<{ suffix: string; route: TcpRoute }> = [];
  readonly #any: TcpRoute | undefined;
  readonly #default: TcpRoute | undefined;

  constructor(l: TlsPassthroughListener) {
    let any: TcpRoute | undefined;
    for (const chain of l.chains) {
      for (const raw of chain.sniHosts) {
        const h = raw.toLowerCase();
        if (h === '*') {
          any ??= chain.route;
          continue;
        }
        if (h.startsWith('*.')) {
          this.#suffixes.push({ suffix: h.slice(1), route: chain.route });
          continue;
        }
        if (!this.#exact.has(h)) this.#exact.set(h, chain.route);
      }
    }
    // Longest wildcard wins, as Envoy's server_names matching does; stable for equal lengths.
    this.#suffixes.sort((a, b) => b.suffix.length - a.suffix.length);
    this.#any = any;
    this.#default = l.defaultChain;
  }

  /** The route for an SNI (undefined SNI: the default chain). */
  route(sni: string | undefined): TcpRoute | undefined {
    if (sni !== undefined && sni !== '') {
      const name = sni.toLowerCase();
      const e = this.#exact.get(name);
      if (e !== undefined) return e;
      for (const w of this.#suffixes) {
        if (name.length > w.suffix.length && name.endsWith(w.suffix)) return w.route;
      }
      if (this.#any !== undefined) return this.#any;
    }
    return this.#default;
  }
}
