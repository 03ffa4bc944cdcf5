// core v1 Pod: the local mesh writes one per Deployment; users may apply their own.
import type { KubeObject } from '../object.js';
import { FIELD_TREES } from '../schema/field-trees.gen.js';
import type { ContainerSpec } from './deployment.js';
import type { KindModule } from './kind-module.js';

export interface PodSpec {
  readonly containers: readonly ContainerSpec[];
  readonly serviceAccountName?: string;
  readonly nodeName?: string;
}

export interface PodCondition {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason?: string;
  readonly message?: string;
}

export interface PodStatus {
  readonly phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
  readonly podIP?: string;
  readonly conditions?: readonly PodCondition[];
}

export type Pod = KubeObject<PodSpec, PodStatus>;

/** A container port of the pod by its name (what a Service's named targetPort refers to). */
export function namedContainerPort(spec: PodSpec | undefined, name: string): number | undefined {
  for (const c of spec?.containers ?? []) for (const p of c.ports ?? []) if (p.name === name) return p.containerPort;
  return undefined;
}

export const podKind: KindModule = { group: '', kind: 'Pod', fieldTree: FIELD_TREES['Pod'] };
