// OpenAPI v3 documents per group-version, for `kubectl explain` and for kubectl's check that the
// server validates fields itself (a PATCH operation with a fieldValidation parameter per kind).
// Schemas come from the field trees src/api/schema generates from the kinds' type declarations.
import { createHash } from 'node:crypto';
import type { KindInfo } from '../api/kinds.js';
import type { FieldNode } from '../api/schema/field-node.js';
import { FIELD_TREES } from '../api/schema/field-trees.gen.js';
import { groups, kindsIn } from './discovery.js';

type Schema = Record<string, unknown>;

const META_REF = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';

function nodeSchema(n: FieldNode | undefined): Schema {
  if (n === undefined || n === '*') return { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  if (n === 's') return { type: 'string' };
  if (n === 'i') return { type: 'integer', format: 'int64' };
  if (n === 'b') return { type: 'boolean' };
  if (n === 'is') return { 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }] };
  if (Array.isArray(n)) return { type: 'string', enum: n[0] === 'e' ? n.slice(1) : [...n] };
  const o = n as { l?: FieldNode; m?: FieldNode; p?: Record<string, FieldNode>; r?: readonly string[]; o?: 1 };
  if (o.l !== undefined) return { type: 'array', items: nodeSchema(o.l) };
  if (o.m !== undefined) return { type: 'object', additionalProperties: nodeSchema(o.m) };
  const properties: Record<string, Schema> = {};
  for (const [k, v] of Object.entries(o.p ?? {})) properties[k] = nodeSchema(v);
  return { type: 'object', properties, ...(o.r?.length ? { required: [...o.r] } : {}), ...(o.o ? { 'x-kubernetes-preserve-unknown-fields': true } : {}) };
}

/** `io.istio.networking.v1.ServiceEntry`, `io.k8s.api.core.v1.Namespace`. */
function schemaName(k: KindInfo, version: string): string {
  if (k.group === '') return `io.k8s.api.core.${version}.${k.kind}`;
  if (!k.group.includes('.')) return `io.k8s.api.${k.group}.${version}.${k.kind}`;
  return `${k.group.split('.').reverse().join('.')}.${version}.${k.kind}`;
}

function treeOf(k: KindInfo): FieldNode | undefined {
  return FIELD_TREES[k.group ? `${k.group}/${k.kind}` : k.kind];
}

function kindSchema(k: KindInfo, version: string): Schema {
  const tree = treeOf(k);
  const base: Record<string, Schema> = {
    apiVersion: { type: 'string', description: 'APIVersion defines the versioned schema of this representation of an object.' },
    kind: { type: 'string', description: 'Kind is a string value representing the REST resource this object represents.' },
    metadata: { allOf: [{ $ref: `#/components/schemas/${META_REF}` }], description: "Standard object's metadata." },
  };
  // ServiceAccount's tree describes the whole object; the others describe spec.
  const objectRooted = (k.group === '' && k.kind === 'ServiceAccount') || (k.group === 'discovery.k8s.io' && k.kind === 'EndpointSlice');
  let properties: Record<string, Schema>;
  if (objectRooted && tree) properties = { ...base, ...((nodeSchema(tree).properties as Record<string, Schema>) ?? {}) };
  else {
    properties = { ...base, spec: { ...nodeSchema(tree), description: `Specification of the desired state of the ${k.kind}.` } };
    if (k.kind === 'Secret')
      properties = {
        ...base,
        type: { type: 'string' },
        data: { type: 'object', additionalProperties: { type: 'string', format: 'byte' } },
        stringData: { type: 'object', additionalProperties: { type: 'string' } },
      };
    if (k.kind === 'ConfigMap') properties = { ...base, data: { type: 'object', additionalProperties: { type: 'string' } } };
  }
  properties.status = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, description: `Most recently observed status of the ${k.kind}.` };
  return {
    type: 'object',
    description: `${k.kind} (${k.group ? `${k.group}/` : ''}${version}), served by outpost.`,
    properties,
    'x-kubernetes-group-version-kind': [{ group: k.group, kind: k.kind, version }],
  };
}

/**
 * The kind's schema as a CustomResourceDefinition's openAPIV3Schema (structural: no $ref, metadata
 * left to the API server), so a cluster validates outpost's kinds and `kubectl explain` works there.
 */
export function crdSchema(k: KindInfo, version: string): Schema {
  const full = kindSchema(k, version);
  const properties = { ...(full.properties as Record<string, Schema>) };
  properties.metadata = { type: 'object' };
  return { type: 'object', description: full.description, properties };
}

function paths(k: KindInfo, version: string): Record<string, unknown> {
  const prefix = k.group ? `/apis/${k.group}/${version}` : `/api/${version}`;
  const collection = k.namespaced ? `${prefix}/namespaces/{namespace}/${k.plural}` : `${prefix}/${k.plural}`;
  const gvk = { group: k.group, version, kind: k.kind };
  const ref = { $ref: `#/components/schemas/${schemaName(k, version)}` };
  const body = { content: { '*/*': { schema: ref } }, required: true };
  const ok = { 200: { description: 'OK', content: { 'application/json': { schema: ref } } } };
  const validation = {
    name: 'fieldValidation',
    in: 'query',
    schema: { type: 'string', uniqueItems: true },
    description: 'How the server treats unknown or duplicate fields: Ignore, Warn or Strict.',
  };
  const manager = { name: 'fieldManager', in: 'query', schema: { type: 'string', uniqueItems: true } };
  const op = (action: string, extra: Schema = {}): Schema => ({
    operationId: `${action}${k.kind}`,
    responses: ok,
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': gvk,
    ...extra,
  });
  const pathParams = [
    { name: 'name', in: 'path', required: true, schema: { type: 'string' } },
    ...(k.namespaced ? [{ name: 'namespace', in: 'path', required: true, schema: { type: 'string' } }] : []),
  ];
  return {
    [collection]: {
      get: op('list'),
      post: op('post', { requestBody: body, parameters: [validation, manager] }),
      parameters: k.namespaced ? [{ name: 'namespace', in: 'path', required: true, schema: { type: 'string' } }] : [],
    },
    [`${collection}/{name}`]: {
      get: op('get'),
      put: op('put', { requestBody: body, parameters: [validation, manager] }),
      patch: op('patch', {
        requestBody: {
          content: { 'application/merge-patch+json': { schema: { type: 'object' } }, 'application/apply-patch+yaml': { schema: { type: 'object' } } },
        },
        parameters: [validation, manager],
      }),
      delete: op('delete'),
      parameters: pathParams,
    },
  };
}

/** The OpenAPI v3 document for one group-version, or undefined when nothing is served there. */
export function openApiV3Document(group: string, version: string): unknown | undefined {
  const kinds = kindsIn(group, version);
  if (kinds.length === 0) return undefined;
  const schemas: Record<string, Schema> = {
    [META_REF]: { ...nodeSchema(FIELD_TREES.ObjectMeta), description: 'ObjectMeta is metadata that all persisted resources must have.' },
  };
  let allPaths: Record<string, unknown> = {};
  for (const k of kinds) {
    schemas[schemaName(k, version)] = kindSchema(k, version);
    allPaths = { ...allPaths, ...paths(k, version) };
  }
  return { openapi: '3.0.0', info: { title: 'outpost', version: 'v1.32.0' }, paths: allPaths, components: { schemas } };
}

/** `api/v1`, `apis/networking.istio.io/v1`, … with a content hash, as /openapi/v3 lists them. */
export function openApiV3Root(): unknown {
  const out: Record<string, { serverRelativeURL: string }> = {};
  for (const g of groups()) {
    for (const v of g.versions) {
      const key = g.name ? `apis/${g.name}/${v}` : `api/${v}`;
      const hash = createHash('sha512')
        .update(JSON.stringify(openApiV3Document(g.name, v)))
        .digest('hex')
        .slice(0, 128)
        .toUpperCase();
      out[key] = { serverRelativeURL: `/openapi/v3/${key}?hash=${hash}` };
    }
  }
  return { paths: out };
}
