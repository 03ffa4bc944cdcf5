// TLS material named in DestinationRules and Gateway servers: inline PEM or a file path handed to the proxy
// (which reads the file itself: its content never goes into a config), or a problem that makes the
// cluster or listener fail closed.
//
// Istio hands file paths to the proxy as SDS secrets; a file that cannot be read is never supplied and
// the cluster's TLS handshakes fail ("Secret is not supplied by SDS"). Silently leaving the field out
// instead would make a cluster trust the system roots (or drop its client certificate), so every
// unreadable file is a problem: the affected cluster or listener fails closed, and the control plane
// reports it (log line and a Warning Event on the resource).
import type { KubeObject } from '../../api/object.js';
import { describeObject } from '../../api/object.js';
import type { MeshSnapshot } from '../snapshot.js';
import { ISTIO_NETWORKING_GROUP } from '../../api/groups.js';
import type { ClientTlsSettings, DestinationRule, TrafficPolicy } from '../../api/kinds/destination-rule.js';
import type { IstioGateway } from '../../api/kinds/istio-gateway.js';
import { secretText, type Secret } from '../../api/kinds/secret.js';

/** Resolves a TLS field: inline PEM is returned as is, anything else is read as a file. Undefined or a throw: unreadable. */
export type PemReader = (pathOrPem: string) => string | undefined;

/** `pem`: what goes into the config — the inline PEM, or the path the proxy reads (never the file's content). */
export type MaterialResult = { readonly pem: string } | { readonly error: string };

/**
 * Checks one field's material; a readable value without a PEM block is a problem too (an empty CA
 * would mean the system roots). The file is only checked here, for the problem report.
 */
export function readMaterial(value: string, readPem: PemReader): MaterialResult {
  const inline = value.includes('-----BEGIN');
  if (!inline && !value.startsWith('/')) return { error: 'must be inline PEM or an absolute path (the proxy reads the file)' };
  let text: string | undefined;
  try {
    text = readPem(value);
  } catch (err) {
    return { error: `cannot be read: ${(err as Error).message}` };
  }
  if (text === undefined) return { error: 'cannot be read' };
  if (!text.includes('-----BEGIN')) return { error: 'contains no PEM block' };
  return { pem: inline ? text : value };
}

/** A reader that reads each value once (a DestinationRule can apply to many clusters). */
export function memoMaterial(readPem: PemReader): (value: string) => MaterialResult {
  const cache = new Map<string, MaterialResult>();
  return (value) => {
    let r = cache.get(value);
    if (!r) cache.set(value, (r = readMaterial(value, readPem)));
    return r;
  };
}

/** Why one field's material is not usable; `field` is relative to the tls settings (`caCertificates`); `reason` reads after the field's name. */
export interface FieldProblem {
  readonly field: string;
  readonly value: string;
  readonly reason: string;
}

/** A Kubernetes Secret's TLS material, decoded (Istio's keys: tls.crt/tls.key/ca.crt, or cert/key/cacert). */
export interface CredentialMaterial {
  readonly cert?: string;
  readonly key?: string;
  readonly ca?: string;
}

/**
 * `credentialName` → the Secret of that name in the proxy's namespace (as Istio's gateways read them),
 * or in `namespace` (a Gateway API certificateRef, already checked against ReferenceGrants); undefined: none.
 */
export type CredentialLookup = (name: string, namespace?: string) => CredentialMaterial | undefined;

/** Lookups over Secrets, by default in `namespace`; a `<name>-cacert` Secret supplies the CA when the main one has none. */
export function credentialsIn(secrets: readonly KubeObject[], namespace: string): CredentialLookup {
  const byKey = new Map((secrets as readonly Secret[]).map((x) => [`${x.metadata.namespace ?? 'default'}/${x.metadata.name}`, x]));
  return (name, ns = namespace) => {
    const secret = byKey.get(`${ns}/${name}`);
    if (!secret) return undefined;
    const caSecret = byKey.get(`${ns}/${name}-cacert`);
    const cert = secretText(secret, 'tls.crt', 'cert');
    const key = secretText(secret, 'tls.key', 'key');
    const ca = secretText(secret, 'ca.crt', 'cacert') ?? (caSecret ? secretText(caSecret, 'ca.crt', 'cacert') : undefined);
    return { ...(cert ? { cert } : {}), ...(key ? { key } : {}), ...(ca ? { ca } : {}) };
  };
}

function credentialProblem(name: string, what: string): { readonly problem: FieldProblem } {
  return { problem: { field: 'credentialName', value: name, reason: what } };
}

export interface UpstreamMaterial {
  readonly caCertificates?: string;
  readonly clientCertificate?: string;
  readonly privateKey?: string;
}

/**
 * The PEM material of DestinationRule tls settings (SIMPLE or MUTUAL), or the first problem.
 * `credentialNameApplies`: Istio reads `credentialName` at gateways and for rules with a
 * workloadSelector; Secrets are not stored here, so there it cannot be resolved.
 */
export function upstreamMaterial(
  tls: ClientTlsSettings,
  credentialNameApplies: boolean,
  read: (value: string) => MaterialResult,
  lookup?: CredentialLookup,
): UpstreamMaterial | { readonly problem: FieldProblem } {
  const mode = tls.mode;
  const credential = tls.credentialName;
  if (credential && credentialNameApplies) {
    const c = lookup?.(credential);
    if (!c) return credentialProblem(credential, "cannot be resolved: no Secret of that name in the gateway's namespace");
    if (mode === 'MUTUAL' && (!c.cert || !c.key)) return credentialProblem(credential, 'names a Secret without tls.crt and tls.key (needed for MUTUAL)');
    if (mode === 'SIMPLE' && !c.ca) return credentialProblem(credential, 'names a Secret without ca.crt (needed for SIMPLE)');
    return {
      ...(c.ca ? { caCertificates: c.ca } : {}),
      ...(mode === 'MUTUAL' ? { clientCertificate: c.cert!, privateKey: c.key! } : {}),
    };
  }
  const out: { -readonly [K in keyof UpstreamMaterial]: UpstreamMaterial[K] } = {};
  const fields = mode === 'MUTUAL' ? (['caCertificates', 'clientCertificate', 'privateKey'] as const) : (['caCertificates'] as const);
  for (const field of fields) {
    const value = tls[field];
    if (!value) {
      if (field !== 'caCertificates') return { problem: { field, value: '', reason: 'is required for MUTUAL' } };
      continue;
    }
    const r = read(value);
    if ('error' in r) return { problem: { field, value, reason: r.error } };
    out[field] = r.pem;
  }
  return out;
}

export interface ServerMaterial {
  readonly certificateChain: string;
  readonly privateKey: string;
  readonly caCertificates?: string;
}

/** The PEM material of an Istio Gateway server's tls (SIMPLE or MUTUAL), or the first problem. */
export function serverMaterial(
  tls: {
    readonly mode: string;
    readonly serverCertificate?: string;
    readonly privateKey?: string;
    readonly caCertificates?: string;
    readonly credentialName?: string;
    readonly credentialNamespace?: string;
  },
  read: (value: string) => MaterialResult,
  lookup?: CredentialLookup,
): ServerMaterial | { readonly problem: FieldProblem } {
  if (tls.credentialName && !tls.serverCertificate) {
    const c = lookup?.(tls.credentialName, tls.credentialNamespace);
    if (!c) return credentialProblem(tls.credentialName, "cannot be resolved: no Secret of that name in the gateway's namespace");
    if (!c.cert || !c.key) return credentialProblem(tls.credentialName, 'names a Secret without tls.crt and tls.key');
    if (tls.mode === 'MUTUAL' && !c.ca)
      return credentialProblem(tls.credentialName, 'names a Secret without ca.crt (or a <name>-cacert Secret), needed for MUTUAL');
    return { certificateChain: c.cert, privateKey: c.key, ...(tls.mode === 'MUTUAL' ? { caCertificates: c.ca! } : {}) };
  }
  const got: Record<string, string> = {};
  const fields = tls.mode === 'MUTUAL' ? (['serverCertificate', 'privateKey', 'caCertificates'] as const) : (['serverCertificate', 'privateKey'] as const);
  for (const field of fields) {
    const value = tls[field];
    if (!value) return { problem: { field, value: '', reason: `is required for ${tls.mode}` } };
    const r = read(value);
    if ('error' in r) return { problem: { field, value, reason: r.error } };
    got[field] = r.pem;
  }
  return { certificateChain: got.serverCertificate!, privateKey: got.privateKey!, ...(got.caCertificates ? { caCertificates: got.caCertificates } : {}) };
}

/** A problem found in a resource, with where and what, for the log, an Event and `analyze`-style output. */
export interface TlsMaterialProblem {
  readonly object: KubeObject;
  /** Full field path, e.g. `spec.trafficPolicy.portLevelSettings[0].tls.caCertificates`. */
  readonly path: string;
  readonly value: string;
  readonly reason: string;
  /** What the proxies do about it. */
  readonly effect: string;
}

/** `Warning (DestinationRule curl/originate) spec.trafficPolicy.tls.caCertificates "/x.pem": ENOENT…; clusters … fail closed`. */
export function formatTlsMaterialProblem(p: TlsMaterialProblem): string {
  const where = describeObject(p.object.kind, p.object.metadata.namespace, p.object.metadata.name);
  const value = p.value ? ` ${JSON.stringify(p.value)}` : '';
  return `Warning (${where}) ${p.path}${value} ${p.reason}; ${p.effect}`;
}

function tlsSettings(policy: TrafficPolicy | undefined, prefix: string): { path: string; tls: ClientTlsSettings; port?: number }[] {
  const out: { path: string; tls: ClientTlsSettings; port?: number }[] = [];
  if (policy?.tls) out.push({ path: `${prefix}.tls`, tls: policy.tls });
  (policy?.portLevelSettings ?? []).forEach((p, i) => {
    const port = p.port?.number;
    if (p.tls) out.push({ path: `${prefix}.portLevelSettings[${i}].tls`, tls: p.tls, ...(port !== undefined ? { port } : {}) });
  });
  return out;
}

/**
 * Every unusable TLS field in the snapshot's DestinationRules and Istio Gateways, read through
 * `readPem` (proxy-independent: a rule's credentialName counts when a gateway could use it).
 */
export function tlsMaterialProblems(snapshot: MeshSnapshot, readPem: PemReader): TlsMaterialProblem[] {
  const read = memoMaterial(readPem);
  const out: TlsMaterialProblem[] = [];
  const secrets = snapshot.of('', 'Secret');
  // Proxy-independent: a Secret is looked up in the resource's own namespace (where gateways that use it usually run).
  const lookupIn = (ns: string | undefined): CredentialLookup => credentialsIn(secrets, ns ?? 'default');
  for (const dr of snapshot.of(ISTIO_NETWORKING_GROUP, 'DestinationRule') as readonly DestinationRule[]) {
    const spec = dr.spec;
    const host = spec?.host ?? '';
    const settings = [
      ...tlsSettings(spec?.trafficPolicy, 'spec.trafficPolicy'),
      ...(spec?.subsets ?? []).flatMap((s, i) => tlsSettings(s.trafficPolicy, `spec.subsets[${i}].trafficPolicy`)),
    ];
    for (const s of settings) {
      const mode = s.tls.mode;
      if (mode !== 'SIMPLE' && mode !== 'MUTUAL') continue;
      const m = upstreamMaterial(s.tls, true, read, lookupIn(dr.metadata.namespace));
      if (!('problem' in m)) continue;
      const clusters = `outbound|${s.port ?? '*'}|*|${host}`;
      out.push({
        object: dr,
        path: `${s.path}.${m.problem.field}`,
        value: m.problem.value,
        reason: m.problem.reason,
        effect: `clusters ${clusters} fail closed (503 UH) instead of originating TLS without it${m.problem.field === 'caCertificates' ? ' against the system roots' : ''}`,
      });
    }
  }
  for (const gw of snapshot.of(ISTIO_NETWORKING_GROUP, 'Gateway') as readonly IstioGateway[]) {
    (gw.spec?.servers ?? []).forEach((s, i) => {
      const tls = s.tls;
      if (tls?.mode !== 'SIMPLE' && tls?.mode !== 'MUTUAL') return;
      const m = serverMaterial(
        {
          mode: tls.mode,
          ...(tls.serverCertificate ? { serverCertificate: tls.serverCertificate } : {}),
          ...(tls.privateKey ? { privateKey: tls.privateKey } : {}),
          ...(tls.caCertificates ? { caCertificates: tls.caCertificates } : {}),
          ...(tls.credentialName ? { credentialName: tls.credentialName } : {}),
        },
        read,
        lookupIn(gw.metadata.namespace),
      );
      if (!('problem' in m)) return;
      out.push({
        object: gw,
        path: `spec.servers[${i}].tls.${m.problem.field}`,
        value: m.problem.value,
        reason: m.problem.reason,
        effect: `the gateway does not serve port ${s.port?.number ?? '?'} (no listener)`,
      });
    });
  }
  return out;
}
