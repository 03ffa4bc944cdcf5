// networking.istio.io DestinationRule: policies and named subsets for traffic to a host.
import type { KubeObject } from '../object.js';
import type { IssueList } from '../field-issue.js';
import type { PathSegment } from '../field-path.js';
import { FIELD_TREES } from '../schema/field-trees.gen.js';
import { checkDns1123Label, checkIstioHost } from '../names.js';
import { isDuration } from '../duration.js';
import { checkExportTo, checkLabels, checkPortNumber } from './common-rules.js';
import { arr, rec, str, type KindModule } from './kind-module.js';
import { ISTIO_NETWORKING_GROUP } from '../groups.js';

export type ClientTlsMode = 'DISABLE' | 'SIMPLE' | 'MUTUAL' | 'ISTIO_MUTUAL';

export interface ClientTlsSettings {
  readonly mode?: ClientTlsMode;
  readonly clientCertificate?: string;
  readonly privateKey?: string;
  readonly caCertificates?: string;
  readonly credentialName?: string;
  readonly subjectAltNames?: readonly string[];
  readonly sni?: string;
  readonly insecureSkipVerify?: boolean;
}

export interface LoadBalancerSettings {
  readonly simple?: 'UNSPECIFIED' | 'LEAST_CONN' | 'RANDOM' | 'PASSTHROUGH' | 'ROUND_ROBIN' | 'LEAST_REQUEST';
  readonly consistentHash?: Readonly<Record<string, unknown>>;
}

export interface ConnectionPoolSettings {
  readonly tcp?: { readonly maxConnections?: number; readonly connectTimeout?: string; readonly idleTimeout?: string; readonly maxConnectionDuration?: string };
  readonly http?: {
    readonly http1MaxPendingRequests?: number;
    readonly http2MaxRequests?: number;
    readonly maxRequestsPerConnection?: number;
    readonly maxRetries?: number;
    readonly idleTimeout?: string;
    readonly maxConcurrentStreams?: number;
    readonly h2UpgradePolicy?: 'DEFAULT' | 'DO_NOT_UPGRADE' | 'UPGRADE';
  };
}

export interface OutlierDetection {
  readonly consecutive5xxErrors?: number;
  readonly consecutiveGatewayErrors?: number;
  readonly interval?: string;
  readonly baseEjectionTime?: string;
  readonly maxEjectionPercent?: number;
}

export interface PortTrafficPolicy {
  readonly port?: { readonly number?: number };
  readonly loadBalancer?: LoadBalancerSettings;
  readonly connectionPool?: ConnectionPoolSettings;
  readonly outlierDetection?: OutlierDetection;
  readonly tls?: ClientTlsSettings;
}

export interface TrafficPolicy extends Omit<PortTrafficPolicy, 'port'> {
  readonly portLevelSettings?: readonly PortTrafficPolicy[];
  readonly tunnel?: { readonly protocol?: string; readonly targetHost?: string; readonly targetPort?: number };
}

export interface Subset {
  readonly name: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly trafficPolicy?: TrafficPolicy;
}

export interface DestinationRuleSpec {
  readonly host: string;
  readonly trafficPolicy?: TrafficPolicy;
  readonly subsets?: readonly Subset[];
  readonly exportTo?: readonly string[];
  readonly workloadSelector?: { readonly matchLabels?: Readonly<Record<string, string>> };
}

export type DestinationRule = KubeObject<DestinationRuleSpec>;

/**
 * The traffic policy for one port: the first port-level settings for it override the rule's (or
 * subset's) top level field by field, as Istio merges them. The result has no portLevelSettings.
 */
export function trafficPolicyForPort(policy: TrafficPolicy | undefined, port: number): PortTrafficPolicy | undefined {
  if (!policy) return undefined;
  if (policy.portLevelSettings == null) return policy;
  const { portLevelSettings, ...rest } = policy;
  const pl = portLevelSettings.find((p) => p.port?.number === port);
  if (!pl) return rest;
  return { ...rest, ...Object.fromEntries(Object.entries(pl).filter(([k, v]) => k !== 'port' && v !== undefined)) };
}

function checkDuration(v: unknown, path: PathSegment[], out: IssueList): void {
  if (typeof v === 'string' && !isDuration(v)) out.invalid(path, v, 'must be a duration such as "10s"');
}

function checkTls(t: unknown, path: PathSegment[], out: IssueList): void {
  if (t === undefined || t === null) return;
  const tls = rec(t);
  const mode = str(tls['mode']) ?? 'DISABLE';
  if (mode === 'MUTUAL' && !tls['credentialName'] && !(tls['clientCertificate'] && tls['privateKey'])) {
    out.required([...path, 'clientCertificate'], 'MUTUAL mode needs credentialName, or clientCertificate and privateKey');
  }
  if (mode === 'ISTIO_MUTUAL') {
    for (const f of ['clientCertificate', 'privateKey', 'caCertificates', 'credentialName']) {
      if (tls[f]) out.forbidden([...path, f], 'ISTIO_MUTUAL mode uses the mesh certificates; this field must be empty');
    }
  }
}

function checkPolicy(p: unknown, path: PathSegment[], out: IssueList): void {
  if (p === undefined || p === null) return;
  const policy = rec(p);
  checkTls(policy['tls'], [...path, 'tls'], out);
  const tcp = rec(rec(policy['connectionPool'])['tcp']);
  checkDuration(tcp['connectTimeout'], [...path, 'connectionPool', 'tcp', 'connectTimeout'], out);
  checkDuration(tcp['idleTimeout'], [...path, 'connectionPool', 'tcp', 'idleTimeout'], out);
  checkDuration(rec(rec(policy['connectionPool'])['http'])['idleTimeout'], [...path, 'connectionPool', 'http', 'idleTimeout'], out);
  const od = rec(policy['outlierDetection']);
  checkDuration(od['interval'], [...path, 'outlierDetection', 'interval'], out);
  checkDuration(od['baseEjectionTime'], [...path, 'outlierDetection', 'baseEjectionTime'], out);
  if (typeof od['maxEjectionPercent'] === 'number' && (od['maxEjectionPercent'] < 0 || od['maxEjectionPercent'] > 100))
    out.invalid([...path, 'outlierDetection', 'maxEjectionPercent'], od['maxEjectionPercent'], 'must be between 0 and 100');
  const lb = rec(policy['loadBalancer']);
  if (lb['simple'] !== undefined && lb['consistentHash'] !== undefined)
    out.invalid([...path, 'loadBalancer'], 'simple,consistentHash', 'only one of simple or consistentHash may be set');
  const ports = new Map<number, number>();
  arr(policy['portLevelSettings']).forEach((s, i) => {
    const pls = rec(s);
    const n = rec(pls['port'])['number'];
    if (pls['port'] === undefined) out.required([...path, 'portLevelSettings', i, 'port']);
    checkPortNumber(n, [...path, 'portLevelSettings', i, 'port', 'number'], out);
    if (typeof n === 'number') {
      if (ports.has(n)) out.duplicate([...path, 'portLevelSettings', i, 'port', 'number'], n, 'port level settings must have unique ports');
      ports.set(n, i);
    }
    checkTls(pls['tls'], [...path, 'portLevelSettings', i, 'tls'], out);
  });
}

function validate(obj: KubeObject, out: IssueList): void {
  const spec = rec(obj.spec);
  const host = spec['host'];
  if (host === undefined || host === null || host === '') out.required(['spec', 'host']);
  else if (typeof host === 'string') {
    const err = checkIstioHost(host);
    if (err) out.invalid(['spec', 'host'], host, err);
  }
  checkExportTo(spec['exportTo'], ['spec', 'exportTo'], out);
  checkPolicy(spec['trafficPolicy'], ['spec', 'trafficPolicy'], out);
  const names = new Set<string>();
  arr(spec['subsets']).forEach((s, i) => {
    const subset = rec(s);
    const name = subset['name'];
    if (name === undefined || name === null || name === '') {
      out.required(['spec', 'subsets', i, 'name']);
      return;
    }
    if (typeof name === 'string') {
      const err = checkDns1123Label(name);
      if (err) out.invalid(['spec', 'subsets', i, 'name'], name, err);
      if (names.has(name)) out.duplicate(['spec', 'subsets', i, 'name'], name, 'subset names must be unique');
      names.add(name);
    }
    checkLabels(subset['labels'], ['spec', 'subsets', i, 'labels'], out);
    checkPolicy(subset['trafficPolicy'], ['spec', 'subsets', i, 'trafficPolicy'], out);
  });
  checkLabels(rec(spec['workloadSelector'])['matchLabels'], ['spec', 'workloadSelector', 'matchLabels'], out);
}

export const destinationRuleKind: KindModule = {
  group: ISTIO_NETWORKING_GROUP,
  kind: 'DestinationRule',
  fieldTree: FIELD_TREES['networking.istio.io/DestinationRule'],
  specRequired: true,
  validate,
};
