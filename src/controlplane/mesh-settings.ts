// Mesh-wide settings from the `Istio` resource (sailoperator.io/v1): access log, outbound traffic policy, DNS bound.
import type { KubeObject } from '../api/object.js';
import type { MeshSettings } from '../proxyconfig/types.js';
import type { MeshSnapshot } from './snapshot.js';
import { rec, str } from './fields.js';
import { durationMs } from './hosts.js';

/** The Istio resource in charge: the one named `default`, else the only one. */
export function activeIstio(snapshot: MeshSnapshot): KubeObject | undefined {
  return pickActiveIstio(snapshot.of('sailoperator.io', 'Istio'));
}

function pickActiveIstio(all: readonly KubeObject[]): KubeObject | undefined {
  return all.find((i) => i.metadata.name === 'default') ?? (all.length === 1 ? all[0] : undefined);
}

/** The mesh's trust domain: meshConfig.trustDomain of the Istio resource in charge, else cluster.local (Istio's default). */
export function trustDomainOf(istios: readonly KubeObject[]): string {
  const td = str(rec(rec(rec(pickActiveIstio(istios)?.spec).values).meshConfig).trustDomain);
  return td ?? 'cluster.local';
}

export function meshSettings(snapshot: MeshSnapshot): MeshSettings {
  const meshConfig = rec(rec(rec(activeIstio(snapshot)?.spec).values).meshConfig);
  const mode = str(rec(meshConfig.outboundTrafficPolicy).mode);
  const path = str(meshConfig.accessLogFile);
  const encoding = str(meshConfig.accessLogEncoding) === 'JSON' ? 'JSON' : 'TEXT';
  const format = str(meshConfig.accessLogFormat);
  // outpost's own field of Istio's ProxyConfig (meshConfig.defaultConfig): validated on apply.
  const dnsMs = durationMs(rec(meshConfig.defaultConfig).dnsResolutionTimeout);
  return {
    ...(path ? { accessLog: { path, encoding, ...(format ? { format } : {}) } } : {}),
    outboundTrafficPolicy: mode === 'REGISTRY_ONLY' ? 'REGISTRY_ONLY' : 'ALLOW_ANY',
    ...(dnsMs !== undefined ? { dnsResolutionTimeoutMs: dnsMs } : {}),
  };
}

export type SsrfGuardMode = 'ENFORCE' | 'REPORT_ONLY' | 'DISABLED';

/**
 * outpost's SSRF guard mode: `spec.values.meshConfig.outpost.ssrfGuard` of the Istio resource in
 * charge (ENFORCE when absent: secure by default; REPORT_ONLY logs and counts, denies nothing).
 */
export function ssrfGuardMode(snapshot: MeshSnapshot): SsrfGuardMode {
  const v = str(rec(rec(rec(rec(activeIstio(snapshot)?.spec).values).meshConfig).outpost).ssrfGuard);
  return v === 'REPORT_ONLY' || v === 'DISABLED' ? v : 'ENFORCE';
}
