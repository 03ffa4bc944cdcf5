// Discovery documents built from KINDS: legacy (/api, /apis, /api/v1, /apis/{g}/{v}) and the
// aggregated form kubectl 1.32 asks for (apidiscovery.k8s.io/v2 APIGroupDiscoveryList).
import { KINDS, type KindInfo } from '../api/kinds.js';

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const STATUS_VERBS = ['get', 'patch', 'update'];

export const AGGREGATED_CONTENT_TYPE = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';

/** Groups in KINDS order (it decides which `gateway` a bare name means, as discovery order does in kubectl). */
export function groups(): { name: string; versions: string[] }[] {
  const out: { name: string; versions: string[] }[] = [];
  for (const k of KINDS) {
    let g = out.find((x) => x.name === k.group);
    if (!g) out.push((g = { name: k.group, versions: [] }));
    for (const v of k.versions) if (!g.versions.includes(v)) g.versions.push(v);
  }
  // A group's preferred version is the one most of its kinds store in: the first version of its first kind.
  return out;
}

export function kindsIn(group: string, version: string): KindInfo[] {
  return KINDS.filter((k) => k.group === group && k.versions.includes(version));
}

export function findKind(group: string, version: string, plural: string): KindInfo | undefined {
  return KINDS.find((k) => k.group === group && k.plural === plural && k.versions.includes(version));
}

function hasStatus(k: KindInfo): boolean {
  if (k.group === 'discovery.k8s.io') return false;
  return !(k.group === '' && (k.kind === 'ConfigMap' || k.kind === 'Secret' || k.kind === 'Event' || k.kind === 'ServiceAccount'));
}

export function apiVersions(serverAddress: string): unknown {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

function apiGroup(g: { name: string; versions: string[] }): unknown {
  const versions = g.versions.map((v) => ({ groupVersion: `${g.name}/${v}`, version: v }));
  return { name: g.name, versions, preferredVersion: versions[0] };
}

export function apiGroupList(): unknown {
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: groups()
      .filter((g) => g.name !== '')
      .map(apiGroup),
  };
}

export function apiGroupDoc(name: string): unknown | undefined {
  const g = groups().find((x) => x.name === name && name !== '');
  return g ? { kind: 'APIGroup', apiVersion: 'v1', ...(apiGroup(g) as object) } : undefined;
}

export function apiResourceList(group: string, version: string): unknown | undefined {
  const kinds = kindsIn(group, version);
  if (kinds.length === 0) return undefined;
  const resources: unknown[] = [];
  for (const k of kinds) {
    resources.push({
      name: k.plural,
      singularName: k.singular,
      namespaced: k.namespaced,
      kind: k.kind,
      verbs: VERBS,
      ...(k.shortNames.length ? { shortNames: k.shortNames } : {}),
      ...(k.categories.length ? { categories: k.categories } : {}),
    });
    if (hasStatus(k)) resources.push({ name: `${k.plural}/status`, singularName: '', namespaced: k.namespaced, kind: k.kind, verbs: STATUS_VERBS });
    if (k.group === '' && k.kind === 'Pod') resources.push({ name: 'pods/log', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get'] });
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources };
}

function discoveryResource(k: KindInfo, version: string): unknown {
  const responseKind = { group: k.group, version, kind: k.kind };
  const subresources: unknown[] = [];
  if (hasStatus(k)) subresources.push({ subresource: 'status', responseKind, verbs: STATUS_VERBS });
  if (k.group === '' && k.kind === 'Pod') subresources.push({ subresource: 'log', responseKind: { group: '', version: 'v1', kind: 'Pod' }, verbs: ['get'] });
  return {
    resource: k.plural,
    responseKind,
    scope: k.namespaced ? 'Namespaced' : 'Cluster',
    singularResource: k.singular,
    verbs: VERBS,
    ...(k.shortNames.length ? { shortNames: k.shortNames } : {}),
    ...(k.categories.length ? { categories: k.categories } : {}),
    ...(subresources.length ? { subresources } : {}),
  };
}

/** The aggregated discovery document: `core` true for /api (the legacy group), false for /apis. */
export function aggregatedDiscovery(core: boolean): unknown {
  const items = groups()
    .filter((g) => (g.name === '') === core)
    .map((g) => ({
      metadata: { name: g.name, creationTimestamp: null },
      versions: g.versions.map((v) => ({ version: v, resources: kindsIn(g.name, v).map((k) => discoveryResource(k, v)), freshness: 'Current' })),
    }));
  return { kind: 'APIGroupDiscoveryList', apiVersion: 'apidiscovery.k8s.io/v2', metadata: {}, items };
}

/** True when one of the Accept header's media types carries all the given parameters. */
export function acceptsMedia(accept: string | undefined, params: Record<string, string>): boolean {
  if (!accept) return false;
  return accept.split(',').some((media) => {
    const got = new Map(
      media
        .split(';')
        .slice(1)
        .map((p) => {
          const [k, v] = p.split('=');
          return [k!.trim(), (v ?? '').trim()] as const;
        }),
    );
    return Object.entries(params).every(([k, v]) => got.get(k) === v);
  });
}

export function wantsAggregated(accept: string | undefined): boolean {
  return acceptsMedia(accept, { g: 'apidiscovery.k8s.io', v: 'v2', as: 'APIGroupDiscoveryList' });
}
