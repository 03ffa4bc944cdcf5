// Workload checks: Service port names Istio can read a protocol from (IST0118, IST0150), Services
// that give one Deployment's port two protocols or two ports one targetPort (IST0116, IST0137),
// the proxy's UID used by an app (IST0144), pods of injected namespaces without a proxy (IST0103),
// and `image: auto` where no injection will replace it (IST0146, IST0147).
import type { ServicePortSpec, ServiceSpec } from '../../api/kinds/service.js';
import { namespaceInjection } from '../../api/kinds/namespace.js';
import { CODES, type Finding } from '../finding.js';
import { labelsMatch, type Entry, type Snapshot } from '../snapshot.js';
import { ref, report } from './report.js';
import { APPS_GROUP } from '../../api/groups.js';

const PROXY_UID = 1337;
const PROTOCOLS = ['tcp', 'udp', 'grpc', 'grpc-web', 'http', 'http_proxy', 'http2', 'https', 'tls', 'mongo', 'redis', 'mysql'];
/** Ports Istio treats as TCP whatever their name (SMTP, DNS, MySQL, MongoDB). */
const WELL_KNOWN_TCP = [25, 53, 3306, 27017];
const K8S_APP_PROTOCOLS = ['kubernetes.io/h2c', 'kubernetes.io/ws', 'kubernetes.io/wss'];

type PodSpecLike = {
  securityContext?: { runAsUser?: number };
  hostNetwork?: boolean;
  containers?: Array<{ name?: string; image?: string; securityContext?: { runAsUser?: number } }>;
  initContainers?: Array<{ name?: string }>;
};

/** Whether Istio can tell the port's protocol from its appProtocol or name (`http`, `http-web`, `grpc-web`…). */
function hasKnownProtocol(p: ServicePortSpec): boolean {
  if (p.protocol === 'UDP') return true;
  const name = (p.appProtocol ?? p.name ?? '').toLowerCase();
  if (p.appProtocol && K8S_APP_PROTOCOLS.includes(p.appProtocol)) return true;
  if (name.startsWith('grpc-web')) return true;
  if (PROTOCOLS.includes(name.split('-')[0]!)) return true;
  return WELL_KNOWN_TCP.includes(p.port);
}

/** Istio's control plane and its gateways carry an `istio` label; their Services and pods are not checked. */
function isIstioComponent(labels: Record<string, string> | undefined): boolean {
  return labels?.['istio'] !== undefined || labels?.['release'] === 'istio';
}

function inMesh(
  snap: Snapshot,
  namespace: string,
  labels: Record<string, string>,
  annotations: Record<string, string>,
  containers: PodSpecLike['containers'],
): boolean {
  if ((containers ?? []).some((c) => c?.name === 'istio-proxy')) return true;
  const own = labels['sidecar.istio.io/inject'] ?? annotations['sidecar.istio.io/inject'];
  if (own !== undefined) return own === 'true';
  const ns = snap.find('', 'Namespace', '', namespace);
  return ns ? namespaceInjection(ns.obj).injected : false;
}

export function analyzeWorkloads(snap: Snapshot): Finding[] {
  const findings: Finding[] = [];
  const services = snap.of('', 'Service');
  for (const svc of services) {
    const spec = svc.obj.spec as ServiceSpec | undefined;
    const labels = svc.obj.metadata.labels ?? {};
    if (isIstioComponent(labels) || labels['gateway.istio.io/managed'] !== undefined) continue;
    (Array.isArray(spec?.ports) ? spec!.ports : []).forEach((p, i) => {
      if (!p || typeof p.port !== 'number') return;
      const externalName = spec?.type === 'ExternalName';
      if (hasKnownProtocol(p) && !(externalName && p.name === 'tcp')) return;
      findings.push(
        externalName
          ? report(
              svc,
              CODES.ExternalNameServiceTypeInvalidPortName,
              'Warning',
              'Port name for ExternalName service is invalid. Proxy may prevent tcp named ports and unmatched traffic for ports serving TCP protocol from being forwarded correctly',
              `spec.ports[${i}]`,
            )
          : report(
              svc,
              CODES.PortNameIsNotUnderNamingConvention,
              'Info',
              `Port name ${p.name ?? ''} (port: ${p.port}, targetPort: ${p.targetPort ?? p.port}) doesn't follow the naming convention of Istio port.`,
              `spec.ports[${i}]`,
            ),
      );
    });
  }
  for (const d of snap.of(APPS_GROUP, 'Deployment')) {
    const tpl = (
      d.obj.spec as { template?: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec?: PodSpecLike } } | undefined
    )?.template;
    const labels = tpl?.metadata?.labels ?? {};
    if (!isIstioComponent(d.obj.metadata.labels) && usesProxyUid(tpl?.spec))
      findings.push(report(d, CODES.InvalidApplicationUID, 'Warning', 'User ID (UID) 1337 is reserved for the sidecar proxy.'));
    // The Gateway API deployer's Deployments run outpost's proxy, whatever their image says.
    if (hasAutoImage(tpl?.spec) && !ownedByGateway(d) && !injectionWebhookMatches(snap, d.namespace, labels)) {
      findings.push(
        report(
          d,
          CODES.ImageAutoWithoutInjectionWarning,
          'Warning',
          `Deployment ${d.name} contains \`image: auto\` but does not match any Istio injection webhook selectors.`,
        ),
      );
    }
    if (!inMesh(snap, d.namespace, labels, tpl?.metadata?.annotations ?? {}, tpl?.spec?.containers)) continue;
    findings.push(...serviceAssociations(d, labels, services));
  }
  for (const pod of snap.of('', 'Pod')) {
    const spec = pod.obj.spec as PodSpecLike | undefined;
    if (!isIstioComponent(pod.obj.metadata.labels) && usesProxyUid(spec))
      findings.push(report(pod, CODES.InvalidApplicationUID, 'Warning', 'User ID (UID) 1337 is reserved for the sidecar proxy.'));
    // A Pod the mesh made for a Deployment was injected by it; one applied by hand never is.
    if (hasAutoImage(spec) && !(pod.obj.metadata.ownerReferences ?? []).length) {
      findings.push(
        report(
          pod,
          CODES.ImageAutoWithoutInjectionError,
          'Error',
          `Pod ${pod.name} contains \`image: auto\` but does not match any Istio injection webhook selectors.`,
        ),
      );
    }
    if (missesProxy(snap, pod, spec)) {
      findings.push(
        report(
          pod,
          CODES.PodMissingProxy,
          'Warning',
          `The pod ${ref(pod.namespace, pod.name)} is missing the Istio proxy. This can often be resolved by restarting or redeploying the workload.`,
        ),
      );
    }
  }
  return findings;
}

function ownedByGateway(e: Entry): boolean {
  return (e.obj.metadata.ownerReferences ?? []).some((o) => o?.kind === 'Gateway');
}

function hasAutoImage(spec: PodSpecLike | undefined): boolean {
  return (spec?.containers ?? []).some((c) => c?.name === 'istio-proxy' && c.image === 'auto');
}

/**
 * Istio's default injection webhooks: a namespace labelled istio-injection=enabled (unless the pod
 * opts out), or, in a namespace without that label, a pod labelled sidecar.istio.io/inject=true or
 * an istio.io/rev label on the namespace or the pod.
 */
function injectionWebhookMatches(snap: Snapshot, namespace: string, podLabels: Record<string, string>): boolean {
  const nsLabels = snap.find('', 'Namespace', '', namespace)?.obj.metadata.labels ?? {};
  const injection = nsLabels['istio-injection'];
  if (injection === 'enabled') return podLabels['sidecar.istio.io/inject'] !== 'false';
  if (injection !== undefined) return false;
  if (podLabels['sidecar.istio.io/inject'] === 'true') return true;
  return (nsLabels['istio.io/rev'] !== undefined || podLabels['istio.io/rev'] !== undefined) && podLabels['sidecar.istio.io/inject'] !== 'false';
}

function usesProxyUid(spec: PodSpecLike | undefined): boolean {
  if (spec?.securityContext?.runAsUser === PROXY_UID) return true;
  return (spec?.containers ?? []).some((c) => c?.name !== 'istio-proxy' && c?.securityContext?.runAsUser === PROXY_UID);
}

/** A pod of an `istio-injection=enabled` namespace that did not opt out and runs no istio-proxy. */
function missesProxy(snap: Snapshot, pod: Entry, spec: PodSpecLike | undefined): boolean {
  const ns = snap.find('', 'Namespace', '', pod.namespace);
  if (ns?.obj.metadata.labels?.['istio-injection'] !== 'enabled') return false;
  const opt = pod.obj.metadata.labels?.['sidecar.istio.io/inject'] ?? pod.obj.metadata.annotations?.['sidecar.istio.io/inject'];
  if (opt?.toLowerCase() === 'false' || spec?.hostNetwork) return false;
  return ![...(spec?.containers ?? []), ...(spec?.initContainers ?? [])].some((c) => c?.name === 'istio-proxy');
}

/** IST0116 and IST0137 for the Services of the Deployment's namespace that select its pods. */
function serviceAssociations(d: Entry, labels: Record<string, string>, services: readonly Entry[]): Finding[] {
  const findings: Finding[] = [];
  const matching = services.filter((s) => {
    const sel = (s.obj.spec as ServiceSpec | undefined)?.selector;
    return s.namespace === d.namespace && sel && Object.keys(sel).length > 0 && labelsMatch(sel as Record<string, string>, labels);
  });
  const byPort = new Map<number, Map<string, string[]>>();
  const byTarget = new Map<string, Map<number, string>>();
  for (const s of matching) {
    const name = ref(s.namespace, s.name);
    const ports = (s.obj.spec as ServiceSpec).ports;
    for (const p of Array.isArray(ports) ? ports : []) {
      if (!p || typeof p.port !== 'number') continue;
      const protocols = byPort.get(p.port) ?? new Map<string, string[]>();
      const proto = p.protocol ?? 'TCP';
      protocols.set(proto, [...(protocols.get(proto) ?? []), name]);
      byPort.set(p.port, protocols);
      const target = String(p.targetPort ?? p.port);
      const ports2 = byTarget.get(target) ?? new Map<number, string>();
      ports2.set(p.port, name);
      byTarget.set(target, ports2);
    }
  }
  for (const [port, protocols] of byPort) {
    if (protocols.size < 2) continue;
    const names = [...protocols.values()].flat().sort();
    findings.push(
      report(
        d,
        CODES.DeploymentAssociatedToMultipleServices,
        'Warning',
        `This deployment ${d.name} is associated with multiple services using port ${port} but different protocols: [${names.join(' ')}]`,
      ),
    );
  }
  for (const [target, ports] of byTarget) {
    if (ports.size < 2) continue;
    const names = [...ports.values()].sort();
    const numbers = [...ports.keys()].sort((a, b) => a - b);
    findings.push(
      report(
        d,
        CODES.DeploymentConflictingPorts,
        'Warning',
        `This deployment ${d.name} is associated with multiple services [${names.join(' ')}] using targetPort "${target}" but different ports: [${numbers.join(' ')}].`,
      ),
    );
  }
  return findings;
}
