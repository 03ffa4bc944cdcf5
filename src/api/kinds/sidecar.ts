// networking.istio.io Sidecar: which hosts a namespace's sidecars import, and their egress policy.
import type { KubeObject } from '../object.js';
import type { IssueList } from '../field-issue.js';
import { FIELD_TREES } from '../schema/field-trees.gen.js';
import { checkDns1123Label, checkIstioHost } from '../names.js';
import { checkLabels, checkPortNumber, requireList } from './common-rules.js';
import { arr, rec, type KindModule } from './kind-module.js';
import { ISTIO_NETWORKING_GROUP } from '../groups.js';

export interface SidecarEgressListener {
  readonly hosts: readonly string[];
  readonly port?: { readonly number?: number; readonly protocol?: string; readonly name?: string };
  readonly bind?: string;
  readonly captureMode?: 'DEFAULT' | 'IPTABLES' | 'NONE';
}

export interface SidecarSpec {
  readonly workloadSelector?: { readonly labels?: Readonly<Record<string, string>> };
  readonly egress?: readonly SidecarEgressListener[];
  readonly ingress?: readonly Readonly<Record<string, unknown>>[];
  readonly outboundTrafficPolicy?: {
    readonly mode?: 'ALLOW_ANY' | 'REGISTRY_ONLY';
    readonly egressProxy?: { readonly host?: string; readonly port?: { readonly number?: number } };
  };
}

export type Sidecar = KubeObject<SidecarSpec>;

function validate(obj: KubeObject, out: IssueList): void {
  const spec = rec(obj.spec);
  checkLabels(rec(spec['workloadSelector'])['labels'], ['spec', 'workloadSelector', 'labels'], out);
  arr(spec['egress']).forEach((e, i) => {
    const eg = rec(e);
    checkPortNumber(rec(eg['port'])['number'], ['spec', 'egress', i, 'port', 'number'], out);
    if (!requireList(eg['hosts'], ['spec', 'egress', i, 'hosts'], out, 'at least one host')) return;
    arr(eg['hosts']).forEach((h, j) => {
      if (typeof h !== 'string') return;
      const slash = h.indexOf('/');
      if (slash < 0) {
        out.invalid(['spec', 'egress', i, 'hosts', j], h, 'must be of the form "namespace/dnsName"');
        return;
      }
      const ns = h.slice(0, slash);
      const dns = h.slice(slash + 1);
      if (ns !== '*' && ns !== '.' && ns !== '~' && checkDns1123Label(ns))
        out.invalid(['spec', 'egress', i, 'hosts', j], h, 'namespace part must be "*", ".", "~" or a namespace name');
      else {
        const err = checkIstioHost(dns, { allowBareWildcard: true });
        if (err) out.invalid(['spec', 'egress', i, 'hosts', j], h, err);
      }
    });
  });
  arr(spec['ingress']).forEach((g, i) => checkPortNumber(rec(rec(g)['port'])['number'], ['spec', 'ingress', i, 'port', 'number'], out));
}

export const sidecarKind: KindModule = {
  group: ISTIO_NETWORKING_GROUP,
  kind: 'Sidecar',
  fieldTree: FIELD_TREES['networking.istio.io/Sidecar'],
  validate,
};
