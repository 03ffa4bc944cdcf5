// Which processes and Pods the local mesh should run, as a pure function of the config:
// gateway Deployments become router proxies, injected namespaces get a sidecar, every
// Deployment gets a Pod object.
import { createHash } from 'node:crypto';
import type { KubeObject } from '../api/object.js';
import { GATEWAY_NAME_LABEL } from '../api/groups.js';

export const INJECT_TEMPLATES_ANNOTATION = 'inject.istio.io/templates';
export const MANAGED_BY_LABEL = 'outpost.dev/managed-by';
/** The name sidecars of a namespace share (one per injected namespace on the local mesh). */
export const SIDECAR_WORKLOAD = 'sidecar';

export interface PlannedProxy {
  /** Stable key: `<ns>/gateway/<deployment>` or `<ns>/sidecar`. */
  key: string;
  role: 'router' | 'sidecar';
  namespace: string;
  /** Deployment name (gateways) or `sidecar`. */
  workload: string;
  /** Proxy id prefix (`<pod>` of `<pod>.<ns>`). */
  podName: string;
  labels: Record<string, string>;
  /** The Deployment a gateway proxy runs for. */
  deployment?: KubeObject;
  /** Hash of everything that, when changed, needs a new process. */
  fingerprint: string;
}

export interface PlannedPod {
  deployment: KubeObject;
  podName: string;
  labels: Record<string, string>;
  /** The proxy whose address and readiness the Pod reports; absent: no proxy (a plain workload). */
  proxyKey?: string;
  annotations: Record<string, string>;
  /** The template's containers (plus `istio-proxy` when a sidecar serves the pod). */
  containers: PodContainer[];
  /** `<ns>/<deployment>/<index>`: the replica slot this pod fills. */
  replica?: string;
}

export interface PodContainer {
  name: string;
  image?: string;
  ports?: unknown[];
  [field: string]: unknown;
}

export interface InjectionWarning {
  namespace: string;
  reason: string;
  message: string;
}

export interface WorkloadPlan {
  proxies: PlannedProxy[];
  pods: PlannedPod[];
  warnings: InjectionWarning[];
}

interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: { containers?: PodContainer[] };
}

function templateOf(deploy: KubeObject): PodTemplate {
  return (deploy.spec as { template?: PodTemplate } | undefined)?.template ?? {};
}

/** A gateway Deployment: gateway injection (`inject.istio.io/templates: gateway`) or a Gateway API automated deployment. */
export function isGatewayDeployment(deploy: KubeObject): boolean {
  const t = templateOf(deploy);
  const templates = t.metadata?.annotations?.[INJECT_TEMPLATES_ANNOTATION];
  if (
    templates &&
    templates
      .split(',')
      .map((s) => s.trim())
      .includes('gateway')
  )
    return true;
  return Boolean(t.metadata?.labels?.[GATEWAY_NAME_LABEL] ?? deploy.metadata.labels?.[GATEWAY_NAME_LABEL]);
}

/**
 * Whether a namespace's pods get a sidecar, as Istio decides it: `istio-injection=enabled`
 * (the default revision), else `istio.io/rev=<rev>` when that revision exists. An unknown
 * revision injects nothing and is reported.
 */
export function namespaceInjection(ns: KubeObject, revisions: ReadonlySet<string>): { injected: boolean; revision?: string; warning?: InjectionWarning } {
  const labels = ns.metadata.labels ?? {};
  const legacy = labels['istio-injection'];
  if (legacy === 'enabled') return { injected: true, revision: 'default' };
  if (legacy !== undefined) return { injected: false };
  const rev = labels['istio.io/rev'];
  if (rev === undefined) return { injected: false };
  if (revisions.has(rev)) return { injected: true, revision: rev };
  return {
    injected: false,
    warning: {
      namespace: ns.metadata.name,
      reason: 'UnknownRevision',
      message: `namespace ${ns.metadata.name} is labelled istio.io/rev=${rev}, but no IstioRevision "${rev}" exists; its pods get no sidecar (known revisions: ${[...revisions].join(', ') || 'none'})`,
    },
  };
}

const SAFE = 'bcdfghjklmnpqrstvwxz2456789';

function kubeHash(input: string, length: number): string {
  const digest = createHash('sha256').update(input).digest();
  let out = '';
  for (let i = 0; i < length; i++) out += SAFE[digest[i]! % SAFE.length];
  return out;
}

/** `<deploy>-<template hash>-<pod suffix>`, stable for the same Deployment and template, as ReplicaSets name pods. */
export function podNameFor(deploy: KubeObject, replica = ''): string {
  const tmpl = JSON.stringify(templateOf(deploy));
  const rs = kubeHash(tmpl, 10);
  const pod = kubeHash(`${deploy.metadata.namespace}/${deploy.metadata.name}/${deploy.metadata.uid ?? ''}/${rs}${replica ? `/${replica}` : ''}`, 5);
  return `${deploy.metadata.name}-${rs}-${pod}`;
}

function fingerprint(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}

/**
 * sidecarPerPod: each injected pod gets its own sidecar (`<ns>/pod/<pod>`), as Istio injects
 * them; the namespace's shared sidecar stays as the pod `outpost exec -n NS` runs in.
 */
export function planWorkloads(input: {
  namespaces: KubeObject[];
  deployments: KubeObject[];
  revisions: KubeObject[];
  sidecarPerPod?: boolean;
  /** Pods per replica (netns model): `replicas` of them; a deleted pod's slot gets a new name (`<ns>/<deploy>/<index>` → times replaced). */
  replicaPods?: boolean;
  replaced?: ReadonlyMap<string, number>;
}): WorkloadPlan {
  const revisions = new Set(input.revisions.map((r) => r.metadata.name));
  const proxies: PlannedProxy[] = [];
  const pods: PlannedPod[] = [];
  const warnings: InjectionWarning[] = [];
  const injected = new Set<string>();
  for (const ns of input.namespaces) {
    const inj = namespaceInjection(ns, revisions);
    if (inj.warning) warnings.push(inj.warning);
    if (!inj.injected) continue;
    injected.add(ns.metadata.name);
    const labels = { app: SIDECAR_WORKLOAD, 'istio.io/rev': inj.revision ?? 'default' };
    proxies.push({
      key: `${ns.metadata.name}/sidecar`,
      role: 'sidecar',
      namespace: ns.metadata.name,
      workload: SIDECAR_WORKLOAD,
      podName: SIDECAR_WORKLOAD,
      labels,
      fingerprint: fingerprint(['sidecar', labels]),
    });
  }
  const sorted = [...input.deployments].sort((a, b) =>
    `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`),
  );
  for (const deploy of sorted) {
    if (deploy.metadata.deletionTimestamp) continue;
    const ns = deploy.metadata.namespace ?? 'default';
    const t = templateOf(deploy);
    const labels = { ...(t.metadata?.labels ?? {}) };
    const podName = podNameFor(deploy);
    const containers: PodContainer[] = (t.spec?.containers ?? []).map((c) => ({ ...c, name: c.name ?? 'container' }));
    const annotations = { ...(t.metadata?.annotations ?? {}) };
    const proxyContainer: PodContainer = { name: 'istio-proxy', image: 'outpost-proxy' };
    const replicas = (deploy.spec as { replicas?: number } | undefined)?.replicas;
    if (replicas === 0) continue;
    if (isGatewayDeployment(deploy)) {
      const key = `${ns}/gateway/${deploy.metadata.name}`;
      proxies.push({
        key,
        role: 'router',
        namespace: ns,
        workload: deploy.metadata.name,
        podName,
        labels,
        deployment: deploy,
        fingerprint: fingerprint(['router', podName, labels]),
      });
      pods.push({ deployment: deploy, podName, labels, annotations, proxyKey: key, containers: containers.length ? containers : [proxyContainer] });
    } else
      for (let index = 0; index < (input.replicaPods ? (replicas ?? 1) : 1); index++) {
        const times = input.replaced?.get(`${ns}/${deploy.metadata.name}/${index}`) ?? 0;
        const podName = index === 0 && times === 0 ? podNameFor(deploy) : podNameFor(deploy, `${index}.${times}`);
        const podOptOut = labels['sidecar.istio.io/inject'] === 'false';
        const withSidecar = injected.has(ns) && !podOptOut;
        let proxyKey = withSidecar ? `${ns}/sidecar` : undefined;
        if (withSidecar && input.sidecarPerPod) {
          proxyKey = `${ns}/pod/${podName}`;
          const rev = proxies.find((p) => p.key === `${ns}/sidecar`)?.labels['istio.io/rev'] ?? 'default';
          const podLabels = { ...labels, 'istio.io/rev': rev };
          proxies.push({
            key: proxyKey,
            role: 'sidecar',
            namespace: ns,
            workload: deploy.metadata.name,
            podName,
            labels: podLabels,
            fingerprint: fingerprint(['sidecar', podName, podLabels]),
          });
        }
        pods.push({
          deployment: deploy,
          podName,
          labels,
          annotations: withSidecar ? { ...annotations, 'sidecar.istio.io/status': '{"containers":["istio-proxy"]}' } : annotations,
          proxyKey,
          containers: withSidecar ? [...containers, proxyContainer] : containers,
          replica: `${ns}/${deploy.metadata.name}/${index}`,
        });
      }
  }
  return { proxies, pods, warnings };
}
