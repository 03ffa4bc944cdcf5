// core v1 Service: a name and ports in front of the pods its selector picks.
import type { KubeObject } from '../object.js';
import type { IssueList } from '../field-issue.js';
import { FIELD_TREES } from '../schema/field-trees.gen.js';
import { checkDns1123Label, checkIstioHost } from '../names.js';
import { checkLabels, checkPortNumber } from './common-rules.js';
import { arr, rec, str, type KindModule } from './kind-module.js';
import { isIP } from 'node:net';

export interface ServicePortSpec {
  readonly name?: string;
  readonly protocol?: 'TCP' | 'UDP' | 'SCTP';
  readonly appProtocol?: string;
  readonly port: number;
  /** A number or the name of a container port; defaults to `port`. */
  readonly targetPort?: number | string;
  readonly nodePort?: number;
}

export interface ServiceSpec {
  readonly type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
  readonly selector?: Readonly<Record<string, string>>;
  readonly ports?: readonly ServicePortSpec[];
  readonly clusterIP?: string;
  readonly clusterIPs?: readonly string[];
  readonly externalName?: string;
}

export interface ServiceStatus {
  readonly loadBalancer?: { readonly ingress?: readonly { readonly ip?: string; readonly hostname?: string }[] };
}

export type Service = KubeObject<ServiceSpec, ServiceStatus>;

/** Where a port sends traffic: its targetPort (a numeric string counts as the number) or a container port's name; the port itself when unset. */
export function serviceTargetPort(p: ServicePortSpec): number | string {
  const t = p.targetPort ?? p.port;
  return typeof t === 'string' && /^\d+$/.test(t) ? Number(t) : t;
}

function validate(obj: KubeObject, out: IssueList): void {
  const name = obj.metadata?.name;
  if (name) {
    const err = checkDns1123Label(name);
    if (err) out.invalid(['metadata', 'name'], name, err);
  }
  const spec = rec(obj.spec);
  const type = str(spec['type']) ?? 'ClusterIP';
  const ports = arr(spec['ports']);
  if (type === 'ExternalName') {
    const en = spec['externalName'];
    if (!en) out.required(['spec', 'externalName']);
    else if (typeof en === 'string') {
      const err = checkIstioHost(en);
      if (err) out.invalid(['spec', 'externalName'], en, err);
    }
  } else if (ports.length === 0 && spec['clusterIP'] !== 'None') {
    out.required(['spec', 'ports']);
  }
  const names = new Set<string>();
  const keys = new Set<string>();
  ports.forEach((p, i) => {
    const port = rec(p);
    checkPortNumber(port['port'], ['spec', 'ports', i, 'port'], out);
    if (port['port'] === undefined) out.required(['spec', 'ports', i, 'port']);
    const tp = port['targetPort'];
    if (typeof tp === 'number') checkPortNumber(tp, ['spec', 'ports', i, 'targetPort'], out);
    else if (typeof tp === 'string' && (tp.length > 15 || !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(tp) || !/[a-z]/.test(tp))) {
      out.invalid(
        ['spec', 'ports', i, 'targetPort'],
        tp,
        "must be a port number or an IANA service name (at most 15 lowercase alphanumeric characters or '-', with at least one letter)",
      );
    }
    const pname = str(port['name']);
    if (ports.length > 1 && !pname) out.required(['spec', 'ports', i, 'name'], 'a name is required when a Service has more than one port');
    if (pname !== undefined) {
      const err = checkDns1123Label(pname);
      if (err && pname !== '') out.invalid(['spec', 'ports', i, 'name'], pname, err);
      if (names.has(pname)) out.duplicate(['spec', 'ports', i, 'name'], pname);
      names.add(pname);
    }
    const key = `${String(port['port'])}/${str(port['protocol']) ?? 'TCP'}`;
    if (keys.has(key)) out.duplicate(['spec', 'ports', i], key, 'port and protocol must be unique');
    keys.add(key);
  });
  checkLabels(spec['selector'], ['spec', 'selector'], out);
  const cip = spec['clusterIP'];
  if (typeof cip === 'string' && cip !== '' && cip !== 'None' && !isIP(cip))
    out.invalid(['spec', 'clusterIP'], cip, 'must be "None", empty or a valid IP address');
}

function schemaDefaults(obj: KubeObject): KubeObject {
  const spec = rec(obj.spec);
  const out: Record<string, unknown> = { ...spec };
  if (out['type'] === undefined) out['type'] = 'ClusterIP';
  if (out['sessionAffinity'] === undefined) out['sessionAffinity'] = 'None';
  if (Array.isArray(spec['ports'])) {
    out['ports'] = spec['ports'].map((p) => {
      if (!p || typeof p !== 'object') return p;
      const port = p as Record<string, unknown>;
      return { protocol: 'TCP', ...port, targetPort: port['targetPort'] ?? port['port'] };
    });
  }
  return { ...obj, spec: out };
}

export const serviceKind: KindModule = { group: '', kind: 'Service', fieldTree: FIELD_TREES['Service'], specRequired: false, validate, schemaDefaults };
