// The `Istio` resource (sailoperator.io/v1) that mesh tests apply: access logs to stdout, plus the
// meshConfig lines a test adds (each indented six spaces, under `meshConfig:`).

export function istioResource(extraMeshConfig = ''): string {
  return `apiVersion: sailoperator.io/v1
kind: Istio
metadata:
  name: default
spec:
  version: v1.24.3
  namespace: istio-system
  values:
    meshConfig:
      accessLogFile: /dev/stdout
${extraMeshConfig}`;
}

/** meshConfig lines that set outboundTrafficPolicy. */
export function outboundPolicy(mode: 'ALLOW_ANY' | 'REGISTRY_ONLY'): string {
  return `      outboundTrafficPolicy:\n        mode: ${mode}\n`;
}
