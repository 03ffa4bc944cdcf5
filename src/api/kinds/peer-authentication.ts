// security.istio.io PeerAuthentication: which mutual TLS a workload accepts (mesh, namespace or workload scope; per port).
import type { KubeObject } from '../object.js';
import type { IssueList } from '../field-issue.js';
import { FIELD_TREES } from '../schema/field-trees.gen.js';
import { checkLabels } from './common-rules.js';
import { rec, str, type KindModule } from './kind-module.js';
import { ISTIO_SECURITY_GROUP } from '../groups.js';

export type MutualTlsMode = 'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT';

export const MUTUAL_TLS_MODES: readonly MutualTlsMode[] = ['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT'];

export interface PeerAuthenticationSpec {
  readonly selector?: { readonly matchLabels?: Readonly<Record<string, string>> };
  readonly mtls?: { readonly mode?: MutualTlsMode };
  /** Keyed by the workload's (container) port number. */
  readonly portLevelMtls?: Readonly<Record<string, { readonly mode?: MutualTlsMode }>>;
}

export type PeerAuthentication = KubeObject<PeerAuthenticationSpec>;

function validate(obj: KubeObject, out: IssueList): void {
  const spec = rec(obj.spec);
  const selector = rec(spec['selector']);
  checkLabels(selector['matchLabels'], ['spec', 'selector', 'matchLabels'], out);
  const mode = str(rec(spec['mtls'])['mode']);
  if (mode !== undefined && !MUTUAL_TLS_MODES.includes(mode as MutualTlsMode)) out.unsupported(['spec', 'mtls', 'mode'], mode, MUTUAL_TLS_MODES);
  const ports = rec(spec['portLevelMtls']);
  const hasSelector = Object.keys(rec(selector['matchLabels'])).length > 0;
  // Istio's webhook: port-level settings need a workload selector (ports are the workload's own).
  if (Object.keys(ports).length > 0 && !hasSelector)
    out.forbidden(['spec', 'portLevelMtls'], 'portLevelMtls requires a workload selector (spec.selector.matchLabels)');
  for (const [port, v] of Object.entries(ports)) {
    const n = Number(port);
    if (!/^\d+$/.test(port) || n < 1 || n > 65535) out.invalid(['spec', 'portLevelMtls', port], port, 'must be a port number from 1 to 65535');
    const m = str(rec(v)['mode']);
    if (m !== undefined && !MUTUAL_TLS_MODES.includes(m as MutualTlsMode)) out.unsupported(['spec', 'portLevelMtls', port, 'mode'], m, MUTUAL_TLS_MODES);
  }
}

export const peerAuthenticationKind: KindModule = {
  group: ISTIO_SECURITY_GROUP,
  kind: 'PeerAuthentication',
  fieldTree: FIELD_TREES['security.istio.io/PeerAuthentication'],
  validate,
};
