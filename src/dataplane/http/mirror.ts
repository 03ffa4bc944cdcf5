// Request mirroring (Envoy's request_mirror_policies): a copy of a request goes to another cluster, fire and forget.
import type { RequestMirror } from '../../proxyconfig/types.js';
import type { CompiledConfig } from '../config/compile.js';
import type { HeaderMap } from '../routing/index.js';
import type { ClusterRuntime } from '../upstream/cluster-runtime.js';
import type { UpstreamCallHandler } from '../upstream/call.js';
import { log } from '../log.js';
import { portColon } from '../../proxyconfig/authority.js';
import { SsrfGuard } from '../upstream/ssrf-guard.js';

const debug = (err: Error): void => log('debug', `mirror: ${err.message}`);

/** What is copied: the request as it goes upstream (after header operations and rewrites). */
export interface MirroredRequest {
  readonly method: string;
  readonly path: string;
  readonly authority: string;
  readonly headers: HeaderMap;
  readonly body: Buffer | null;
}

/** The mirror's answer is read and dropped; failures only reach the debug log. */
const DISCARD: UpstreamCallHandler = {
  onConnected() {},
  onHead() {
    return true;
  },
  onData() {},
  onEnd() {},
  onError: debug,
};

/** Envoy's shadow host: `-shadow` after the host name, before any port (`a.com:8080` → `a.com-shadow:8080`). */
export function shadowAuthority(authority: string): string {
  const colon = portColon(authority);
  return colon < 0 ? `${authority}-shadow` : `${authority.slice(0, colon)}-shadow${authority.slice(colon)}`;
}

/** Sends a copy of `req` to each mirror whose percentage hits; never throws, never waits. */
export function mirrorRequest(cfg: CompiledConfig, mirrors: readonly RequestMirror[], req: MirroredRequest): void {
  for (const m of mirrors) {
    if (m.percentage !== undefined && !(m.percentage >= 100 || Math.random() * 100 < m.percentage)) continue;
    const cr = cfg.clusters.get(m.cluster);
    if (cr === undefined || cr.cluster.type === 'ORIGINAL_DST') continue;
    const ready = cr.ready();
    const guard = cfg.ssrf !== undefined && cfg.ssrf.enforcing && SsrfGuard.applies(cr.cluster) ? cfg.ssrf : undefined;
    if (ready === undefined) send(cr, req, guard);
    else
      ready.then(
        () => send(cr, req, guard),
        () => {},
      );
  }
}

function send(cr: ClusterRuntime, req: MirroredRequest, guard: SsrfGuard | undefined): void {
  try {
    const target = cr.endpoints.pick();
    if (target === undefined) return;
    // A copy to a destination the SSRF guard denies is dropped (fire and forget: nothing to answer).
    const v = guard?.check(target);
    if (v !== undefined) {
      log('debug', `mirror: ${cr.name}: ssrf guard denied ${target.address}:${target.port} (${v.reason})`);
      return;
    }
    const up = cr.upstream(target, req.authority);
    const authority = shadowAuthority(req.authority);
    up.dispatch({ method: req.method, path: req.path, authority, headers: { ...req.headers } }, req.body, DISCARD);
  } catch (err) {
    debug(err as Error);
  }
}
