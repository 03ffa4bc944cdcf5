// Injection on a cluster, as Istio's sidecar injector does it: a pod of an injected namespace (or
// one that asks) gets an `istio-proxy` container running `outpost proxy sidecar`, and its app
// containers get the explicit proxy environment (no capture yet on a cluster); a gateway pod made by
// the Gateway API deployer (`inject.istio.io/templates: gateway`) gets its `istio-proxy` container
// filled in to run `outpost proxy router`. Both get what the proxy bootstraps from: the downward
// API env and labels file, and a projected service-account token for distribution.
import type { KubeObject } from '../api/object.js';
import { DISTRIBUTION_AUDIENCE } from './proxy-auth.js';

export interface InjectionSettings {
  /** The outpost image (controller and proxies). */
  readonly image: string;
  /** Distribution URL as pods reach it, e.g. https://outpost-controller.istio-system.svc:15012 */
  readonly controllerUrl: string;
  /** The CA (PEM) an https controller URL's certificate chains to; public, so it goes in the env. */
  readonly controllerCa?: string;
}

export const INJECTED_ANNOTATION = 'sidecar.istio.io/status';
const TOKEN_DIR = '/var/run/secrets/tokens';
const PODINFO_DIR = '/etc/istio/pod';

type JsonPatchOp = { op: 'add' | 'replace'; path: string; value: unknown };
type Container = { name: string; image?: string; args?: string[]; env?: { name: string }[]; volumeMounts?: unknown[]; ports?: unknown[] };
type PodSpec = { containers?: Container[]; volumes?: unknown[]; serviceAccountName?: string };

function proxyEnv(settings: InjectionSettings): unknown[] {
  const field = (name: string, fieldPath: string) => ({ name, valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath } } });
  return [
    field('POD_NAME', 'metadata.name'),
    field('POD_NAMESPACE', 'metadata.namespace'),
    field('INSTANCE_IP', 'status.podIP'),
    field('SERVICE_ACCOUNT', 'spec.serviceAccountName'),
    { name: 'OUTPOST_CONTROLLER_URL', value: settings.controllerUrl },
    ...(settings.controllerCa ? [{ name: 'OUTPOST_CONTROLLER_CA', value: settings.controllerCa }] : []),
    { name: 'OUTPOST_TOKEN_FILE', value: `${TOKEN_DIR}/outpost-token` },
    { name: 'OUTPOST_POD_LABELS_FILE', value: `${PODINFO_DIR}/labels` },
  ];
}

const PROXY_MOUNTS = [
  { name: 'outpost-token', mountPath: TOKEN_DIR, readOnly: true },
  { name: 'istio-podinfo', mountPath: PODINFO_DIR, readOnly: true },
];

const PROXY_VOLUMES = [
  // Bound to the pod, audience-limited, rotated by the kubelet: what distribution accepts.
  {
    name: 'outpost-token',
    projected: { sources: [{ serviceAccountToken: { audience: DISTRIBUTION_AUDIENCE, expirationSeconds: 43200, path: 'outpost-token' } }] },
  },
  {
    name: 'istio-podinfo',
    downwardAPI: {
      items: [
        { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
        { path: 'annotations', fieldRef: { fieldPath: 'metadata.annotations' } },
      ],
    },
  },
];

/** Why a pod gets nothing, or which template it gets. */
export function injectionTemplate(pod: KubeObject, namespaceLabels: Readonly<Record<string, string>>): 'sidecar' | 'gateway' | undefined {
  const ann = pod.metadata.annotations ?? {};
  if (ann[INJECTED_ANNOTATION]) return undefined;
  if (ann['inject.istio.io/templates'] === 'gateway') return 'gateway';
  const podSays = pod.metadata.labels?.['sidecar.istio.io/inject'] ?? ann['sidecar.istio.io/inject'];
  if (podSays === 'false') return undefined;
  const nsInjected = namespaceLabels['istio-injection'] === 'enabled' || namespaceLabels['istio.io/rev'] !== undefined;
  return nsInjected || podSays === 'true' ? 'sidecar' : undefined;
}

/** The JSON patch (RFC 6902) that injects `pod`, or [] when it gets nothing. */
export function injectionPatch(pod: KubeObject, namespaceLabels: Readonly<Record<string, string>>, settings: InjectionSettings): JsonPatchOp[] {
  const template = injectionTemplate(pod, namespaceLabels);
  if (!template) return [];
  const spec = (pod.spec ?? {}) as PodSpec;
  const containers = spec.containers ?? [];
  const ops: JsonPatchOp[] = [];
  const proxy = {
    name: 'istio-proxy',
    image: settings.image,
    args: ['proxy', template === 'gateway' ? 'router' : 'sidecar'],
    env: proxyEnv(settings),
    volumeMounts: PROXY_MOUNTS,
    // Istio's proxy user: the proxy needs no privileges (ports below 1024 come from the pod's sysctls).
    securityContext: { runAsUser: 1337, runAsGroup: 1337, runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
  };
  if (template === 'gateway') {
    const i = containers.findIndex((c) => c.name === 'istio-proxy');
    if (i < 0) return [];
    // The deployer's container keeps its ports; image, args, env and mounts come from the template.
    ops.push({ op: 'replace', path: `/spec/containers/${i}`, value: { ...containers[i], ...proxy } });
    // As Istio's gateway template: the unprivileged proxy may bind the gateway's ports below 1024.
    const podSecurity = (pod.spec as { securityContext?: Record<string, unknown> } | undefined)?.securityContext ?? {};
    ops.push({ op: 'add', path: '/spec/securityContext', value: { ...podSecurity, sysctls: [{ name: 'net.ipv4.ip_unprivileged_port_start', value: '0' }] } });
  } else {
    const proxyUrl = 'http://127.0.0.1:15001';
    containers.forEach((c, i) => {
      const env = [
        { name: 'http_proxy', value: proxyUrl },
        { name: 'https_proxy', value: proxyUrl },
        { name: 'no_proxy', value: 'localhost,127.0.0.1,::1' },
      ];
      const have = new Set((c.env ?? []).map((e) => e.name));
      const add = env.filter((e) => !have.has(e.name));
      if (!add.length) return;
      if (!c.env) ops.push({ op: 'add', path: `/spec/containers/${i}/env`, value: add });
      else for (const e of add) ops.push({ op: 'add', path: `/spec/containers/${i}/env/-`, value: e });
    });
    ops.push({ op: 'add', path: '/spec/containers/-', value: proxy });
  }
  if (!spec.volumes) ops.push({ op: 'add', path: '/spec/volumes', value: PROXY_VOLUMES });
  else for (const v of PROXY_VOLUMES) ops.push({ op: 'add', path: '/spec/volumes/-', value: v });
  const status = JSON.stringify({ template, containers: ['istio-proxy'], volumes: PROXY_VOLUMES.map((v) => v.name) });
  if (!pod.metadata.annotations) ops.push({ op: 'add', path: '/metadata/annotations', value: { [INJECTED_ANNOTATION]: status } });
  else ops.push({ op: 'add', path: `/metadata/annotations/${INJECTED_ANNOTATION.replace(/~/g, '~0').replace(/\//g, '~1')}`, value: status });
  return ops;
}

interface AdmissionReview {
  apiVersion?: string;
  kind?: string;
  request?: { uid?: string; kind?: { kind?: string }; namespace?: string; object?: KubeObject; operation?: string };
}

/** Answers an AdmissionReview (admission.k8s.io/v1) for a pod: allowed, with the injection patch. Never refuses a pod. */
export function admissionResponse(review: unknown, namespaceLabels: (ns: string) => Readonly<Record<string, string>>, settings: InjectionSettings): unknown {
  const req = (review as AdmissionReview | null)?.request;
  const uid = req?.uid ?? '';
  const base = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' };
  const pod = req?.object;
  if (!req || req.kind?.kind !== 'Pod' || !pod || req.operation !== 'CREATE') return { ...base, response: { uid, allowed: true } };
  const ns = req.namespace ?? pod.metadata.namespace ?? 'default';
  const patch = injectionPatch({ ...pod, metadata: { ...pod.metadata, namespace: ns } }, namespaceLabels(ns), settings);
  if (!patch.length) return { ...base, response: { uid, allowed: true } };
  return { ...base, response: { uid, allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') } };
}
