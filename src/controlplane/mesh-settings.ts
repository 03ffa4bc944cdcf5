// Mesh-wide settings from the `Istio` resource (sailoperator.io/v1): access log, outbound traffic policy, DNS bound.
import type { KubeObject } from '../api/object.js';
import type { MeshSettings } from '../proxyconfig/types.js';
import type { MeshSnapshot } from './snapshot.js';
import { meshConfigFromValues, type EffectiveMeshConfig } from '../api/kinds/sail-common.js';
import type { Istio } from '../api/kinds/sail-istio.js';
import { durationMs } from '../api/duration.js';
import { SAIL_GROUP } from '../api/groups.js';

/** The Istio resource in charge: the one named `default`, else the only one. */
export function activeIstio(snapshot: MeshSnapshot): Istio | undefined {
  return pickActiveIstio(snapshot.of(SAIL_GROUP, 'Istio') as readonly Istio[]);
}

function pickActiveIstio(all: readonly Istio[]): Istio | undefined {
  return all.find((i) => i.metadata.name === 'default') ?? (all.length === 1 ? all[0] : undefined);
}

/** The mesh config of the Istio resource in charge, Istio's defaults applied. */
export function activeMeshConfig(snapshot: MeshSnapshot): EffectiveMeshConfig {
  return meshConfigFromValues(activeIstio(snapshot)?.spec?.values);
}

/** The mesh's trust domain: meshConfig.trustDomain of the Istio resource in charge, else cluster.local (Istio's default). */
export function trustDomainOf(istios: readonly KubeObject[]): string {
  return meshConfigFromValues(pickActiveIstio(istios as readonly Istio[])?.spec?.values).trustDomain;
}

export function meshSettings(snapshot: MeshSnapshot): MeshSettings {
  const mc = activeMeshConfig(snapshot);
  const dnsMs = durationMs(mc.dnsResolutionTimeout);
  return {
    ...(mc.accessLogFile
      ? { accessLog: { path: mc.accessLogFile, encoding: mc.accessLogEncoding, ...(mc.accessLogFormat ? { format: mc.accessLogFormat } : {}) } }
      : {}),
    outboundTrafficPolicy: mc.outboundTrafficPolicyMode,
    ...(dnsMs !== undefined ? { dnsResolutionTimeoutMs: dnsMs } : {}),
  };
}

export type SsrfGuardMode = 'ENFORCE' | 'REPORT_ONLY' | 'DISABLED';

/**
 * outpost's SSRF guard mode: `spec.values.meshConfig.outpost.ssrfGuard` of the Istio resource in
 * charge (ENFORCE when absent: secure by default; REPORT_ONLY logs and counts, denies nothing).
 */
export function ssrfGuardMode(snapshot: MeshSnapshot): SsrfGuardMode {
  const v = activeIstio(snapshot)?.spec?.values?.meshConfig?.outpost?.ssrfGuard;
  return v === 'REPORT_ONLY' || v === 'DISABLED' ? v : 'ENFORCE';
}
