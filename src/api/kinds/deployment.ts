// apps/v1 Deployment: a workload; with `inject.istio.io/templates: gateway` it becomes a gateway (gateway injection).
import type { KubeObject } from '../object.js';
import type { IssueList } from '../field-issue.js';
import { FIELD_TREES } from '../schema/field-trees.gen.js';
import { checkDns1123Label, checkDns1123Subdomain } from '../names.js';
import { checkLabels, checkPortNumber, requireList } from './common-rules.js';
import { arr, rec, str, type KindModule } from './kind-module.js';
import { APPS_GROUP } from '../groups.js';

export interface ContainerSpec {
  readonly name: string;
  readonly image?: string;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  readonly env?: readonly { readonly name: string; readonly value?: string }[];
  readonly ports?: readonly { readonly containerPort: number; readonly name?: string; readonly protocol?: string }[];
}

export interface PodTemplateSpec {
  readonly metadata?: { readonly labels?: Readonly<Record<string, string>>; readonly annotations?: Readonly<Record<string, string>> };
  readonly spec?: { readonly containers: readonly ContainerSpec[]; readonly serviceAccountName?: string; readonly terminationGracePeriodSeconds?: number };
}

export interface DeploymentSpec {
  readonly replicas?: number;
  readonly selector: { readonly matchLabels?: Readonly<Record<string, string>> };
  readonly template: PodTemplateSpec;
}

export interface DeploymentStatus {
  readonly replicas?: number;
  readonly readyReplicas?: number;
  readonly availableReplicas?: number;
}

export type Deployment = KubeObject<DeploymentSpec, DeploymentStatus>;

export const GATEWAY_INJECTION_ANNOTATION = 'inject.istio.io/templates';

/** True when the pod template asks for gateway injection (the pod runs as an Istio gateway). */
export function isGatewayInjected(d: Pick<Deployment, 'spec'>): boolean {
  return d.spec?.template?.metadata?.annotations?.[GATEWAY_INJECTION_ANNOTATION] === 'gateway';
}

function validate(obj: KubeObject, out: IssueList): void {
  const spec = rec(obj.spec);
  if (obj.spec === undefined || obj.spec === null) {
    out.required(['spec']);
    return;
  }
  const selector = spec['selector'];
  if (selector === undefined || selector === null) out.required(['spec', 'selector']);
  const matchLabels = rec(rec(selector)['matchLabels']);
  checkLabels(matchLabels, ['spec', 'selector', 'matchLabels'], out);
  const template = rec(spec['template']);
  if (spec['template'] === undefined) {
    out.required(['spec', 'template']);
    return;
  }
  const labels = rec(rec(template['metadata'])['labels']);
  checkLabels(labels, ['spec', 'template', 'metadata', 'labels'], out);
  if (selector && Object.keys(matchLabels).length === 0 && arr(rec(selector)['matchExpressions']).length === 0) {
    out.invalid(['spec', 'selector'], 'empty', 'empty selector is invalid for deployment');
  }
  const mismatch = Object.entries(matchLabels).some(([k, v]) => labels[k] !== v);
  if (mismatch)
    out.invalid(
      ['spec', 'template', 'metadata', 'labels'],
      Object.entries(labels)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(','),
      '`selector` does not match template `labels`',
    );
  if (typeof spec['replicas'] === 'number' && spec['replicas'] < 0) out.invalid(['spec', 'replicas'], spec['replicas'], 'must be greater than or equal to 0');
  const podSpec = rec(template['spec']);
  if (template['spec'] === undefined) {
    out.required(['spec', 'template', 'spec']);
    return;
  }
  if (!requireList(podSpec['containers'], ['spec', 'template', 'spec', 'containers'], out, 'at least one container')) return;
  const names = new Set<string>();
  arr(podSpec['containers']).forEach((c, i) => {
    const container = rec(c);
    const base = ['spec', 'template', 'spec', 'containers', i];
    const name = str(container['name']);
    if (name === undefined) out.required([...base, 'name']);
    else {
      const err = checkDns1123Label(name);
      if (err) out.invalid([...base, 'name'], name, err);
      if (names.has(name)) out.duplicate([...base, 'name'], name);
      names.add(name);
    }
    if (!container['image']) out.required([...base, 'image']);
    arr(container['ports']).forEach((p, j) => checkPortNumber(rec(p)['containerPort'], [...base, 'ports', j, 'containerPort'], out));
  });
  const sa = str(podSpec['serviceAccountName']);
  if (sa) {
    const err = checkDns1123Subdomain(sa);
    if (err) out.invalid(['spec', 'template', 'spec', 'serviceAccountName'], sa, err);
  }
}

function schemaDefaults(obj: KubeObject): KubeObject {
  const spec = rec(obj.spec);
  if (obj.spec === undefined) return obj;
  return { ...obj, spec: { replicas: 1, ...spec } };
}

export const deploymentKind: KindModule = {
  group: APPS_GROUP,
  kind: 'Deployment',
  fieldTree: FIELD_TREES['apps/Deployment'],
  specRequired: true,
  validate,
  schemaDefaults,
};
