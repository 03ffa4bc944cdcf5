// Mesh security settings (root namespace, trust domain, auto mTLS) and the PeerAuthentication in
// force for a workload port: workload (selector, then port-level) over namespace over mesh, UNSET inherits.
import type { MeshSnapshot } from '../snapshot.js';
import { activeMeshConfig } from '../mesh-settings.js';
import { ageKey } from '../sort-order.js';
import { labelsMatch } from '../hosts.js';
import { ISTIO_SECURITY_GROUP } from '../../api/groups.js';
import type { MutualTlsMode, PeerAuthentication } from '../../api/kinds/peer-authentication.js';

export type EffectiveMtls = 'STRICT' | 'PERMISSIVE' | 'DISABLE';

export interface MeshSecurity {
  /** meshConfig.rootNamespace (Istio's default istio-system): its policies apply mesh-wide. */
  readonly rootNamespace: string;
  readonly trustDomain: string;
  /** meshConfig.enableAutoMtls (default true). */
  readonly autoMtls: boolean;
}

export function meshSecurity(snapshot: MeshSnapshot): MeshSecurity {
  const mc = activeMeshConfig(snapshot);
  return { rootNamespace: mc.rootNamespace, trustDomain: mc.trustDomain, autoMtls: mc.enableAutoMtls };
}

type Mode = 'UNSET' | EffectiveMtls;

function modeOf(v: { readonly mode?: MutualTlsMode } | undefined): Mode {
  return v?.mode ?? 'UNSET';
}

/** A workload policy: one whose selector names labels (an empty selector is namespace-wide). */
function hasSelector(p: PeerAuthentication): boolean {
  return Object.keys(p.spec?.selector?.matchLabels ?? {}).length > 0;
}

const indexes = new WeakMap<MeshSnapshot, PeerAuthIndex>();

export class PeerAuthIndex {
  readonly #all: readonly PeerAuthentication[];
  readonly #root: string;

  private constructor(snapshot: MeshSnapshot) {
    // Oldest first: among policies of one scope the oldest wins, as in Istio.
    this.#all = [...(snapshot.of(ISTIO_SECURITY_GROUP, 'PeerAuthentication') as readonly PeerAuthentication[])].sort((a, b) => {
      const x = ageKey(a.metadata);
      const y = ageKey(b.metadata);
      return x < y ? -1 : x > y ? 1 : 0;
    });
    this.#root = meshSecurity(snapshot).rootNamespace;
  }

  static of(snapshot: MeshSnapshot): PeerAuthIndex {
    let i = indexes.get(snapshot);
    if (i === undefined) indexes.set(snapshot, (i = new PeerAuthIndex(snapshot)));
    return i;
  }

  /** The mode a workload accepts on `port` (its own, target port); PERMISSIVE when nothing says otherwise. */
  modeFor(namespace: string, labels: Readonly<Record<string, string>>, port: number | undefined): EffectiveMtls {
    const mesh = this.#all.find((p) => p.metadata.namespace === this.#root && !hasSelector(p));
    const ns = this.#all.find((p) => p.metadata.namespace === namespace && !hasSelector(p));
    const workload = this.#all.find((p) => p.metadata.namespace === namespace && hasSelector(p) && labelsMatch(p.spec?.selector?.matchLabels, labels));
    let mode: Mode = 'UNSET';
    if (workload !== undefined) {
      if (port !== undefined) mode = modeOf(workload.spec?.portLevelMtls?.[String(port)]);
      if (mode === 'UNSET') mode = modeOf(workload.spec?.mtls);
    }
    if (mode === 'UNSET' && ns !== undefined) mode = modeOf(ns.spec?.mtls);
    if (mode === 'UNSET' && mesh !== undefined) mode = modeOf(mesh.spec?.mtls);
    return mode === 'UNSET' ? 'PERMISSIVE' : mode;
  }
}
