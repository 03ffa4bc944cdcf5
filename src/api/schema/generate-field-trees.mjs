// Regenerates field-trees.gen.ts: the field names, types and enums of every served kind, read from
// the @kubernetes-models type declarations (which are generated from the real CRDs / OpenAPI).
// Run: node src/api/schema/generate-field-trees.mjs   (needs the dev dependency typescript)
import ts from 'typescript';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const entry = path.join(root, 'node_modules/.field-trees-entry.ts');

// key → [module, exported interface, property of the root to keep ('' = whole object)]
const ROOTS = {
  ObjectMeta: ['@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta', 'IObjectMeta', ''],
  'networking.istio.io/ServiceEntry': ['@kubernetes-models/istio/networking.istio.io/v1/ServiceEntry', 'IServiceEntry', 'spec'],
  'networking.istio.io/Gateway': ['@kubernetes-models/istio/networking.istio.io/v1/Gateway', 'IGateway', 'spec'],
  'networking.istio.io/VirtualService': ['@kubernetes-models/istio/networking.istio.io/v1/VirtualService', 'IVirtualService', 'spec'],
  'networking.istio.io/DestinationRule': ['@kubernetes-models/istio/networking.istio.io/v1/DestinationRule', 'IDestinationRule', 'spec'],
  'networking.istio.io/Sidecar': ['@kubernetes-models/istio/networking.istio.io/v1/Sidecar', 'ISidecar', 'spec'],
  'security.istio.io/AuthorizationPolicy': ['@kubernetes-models/istio/security.istio.io/v1/AuthorizationPolicy', 'IAuthorizationPolicy', 'spec'],
  'security.istio.io/PeerAuthentication': ['@kubernetes-models/istio/security.istio.io/v1/PeerAuthentication', 'IPeerAuthentication', 'spec'],
  'gateway.networking.k8s.io/GatewayClass': ['@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/GatewayClass', 'IGatewayClass', 'spec'],
  'gateway.networking.k8s.io/Gateway': ['@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/Gateway', 'IGateway', 'spec'],
  'gateway.networking.k8s.io/HTTPRoute': ['@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute', 'IHTTPRoute', 'spec'],
  'gateway.networking.k8s.io/GRPCRoute': ['@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/GRPCRoute', 'IGRPCRoute', 'spec'],
  'gateway.networking.k8s.io/TLSRoute': ['@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1alpha2/TLSRoute', 'ITLSRoute', 'spec'],
  'gateway.networking.k8s.io/TCPRoute': ['@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1alpha2/TCPRoute', 'ITCPRoute', 'spec'],
  'gateway.networking.k8s.io/ReferenceGrant': ['@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1beta1/ReferenceGrant', 'IReferenceGrant', 'spec'],
  Namespace: ['kubernetes-models/v1/Namespace', 'INamespace', 'spec'],
  Service: ['kubernetes-models/v1/Service', 'IService', 'spec'],
  ServiceAccount: ['kubernetes-models/v1/ServiceAccount', 'IServiceAccount', ''],
  ConfigMap: ['kubernetes-models/v1/ConfigMap', 'IConfigMap', ''],
  Event: ['kubernetes-models/v1/Event', 'IEvent', ''],
  Pod: ['kubernetes-models/v1/Pod', 'IPod', 'spec'],
  'apps/Deployment': ['kubernetes-models/apps/v1/Deployment', 'IDeployment', 'spec'],
  'networking.k8s.io/NetworkPolicy': ['kubernetes-models/networking.k8s.io/v1/NetworkPolicy', 'INetworkPolicy', 'spec'],
  'discovery.k8s.io/EndpointSlice': ['kubernetes-models/discovery.k8s.io/v1/EndpointSlice', 'IEndpointSlice', ''],
};

const src = Object.entries(ROOTS)
  .map(([, [mod, name]], i) => `import type { ${name} as T${i} } from '${mod}';\nexport type R${i} = T${i};`)
  .join('\n');
writeFileSync(entry, src);
const program = ts.createProgram([entry], {
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  strict: true,
  skipLibCheck: true,
  noEmit: true,
});
const checker = program.getTypeChecker();
const sf = program.getSourceFile(entry);
const moduleSymbol = checker.getSymbolAtLocation(sf);
const exportsOf = checker.getExportsOfModule(moduleSymbol);

const isObjectLike = (t) => (t.flags & ts.TypeFlags.Object) !== 0 || t.isIntersection();

function objectNode(types, depth, seen, requiredKnown) {
  for (const t of types) {
    if (seen.has(t)) return '*';
  }
  const next = new Set(seen);
  types.forEach((t) => next.add(t));
  const props = types.length === 1 ? checker.getPropertiesOfType(types[0]) : checker.getAllPossiblePropertiesOfTypes(types);
  const index = types.map((t) => checker.getIndexInfoOfType(t, ts.IndexKind.String)).find(Boolean);
  const out = {};
  if (props.length) {
    out.p = {};
    const req = [];
    for (const p of props) {
      const owner = types.find((t) => checker.getPropertyOfType(t, p.name)) ?? types[0];
      const ps = checker.getPropertyOfType(owner, p.name) ?? p;
      const pt = checker.getTypeOfSymbol(ps);
      out.p[p.name] = node(pt, depth + 1, next);
      if (requiredKnown && !(ps.flags & ts.SymbolFlags.Optional)) req.push(p.name);
    }
    if (req.length) out.r = req;
  }
  if (index) {
    const v = node(index.type, depth + 1, next);
    if (props.length) out.o = 1;
    else out.m = v;
  }
  if (!props.length && !index) return '*';
  return out;
}

function node(type, depth, seen) {
  if (depth > 40) return '*';
  if (type.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return '*';
  if (checker.isArrayType(type)) return { l: node(checker.getTypeArguments(type)[0], depth + 1, seen) };
  if (type.isUnion()) {
    const parts = type.types.filter((t) => !(t.flags & (ts.TypeFlags.Null | ts.TypeFlags.Undefined)));
    if (parts.length && parts.every((t) => t.isStringLiteral())) return ['e', ...parts.map((t) => t.value)];
    if (parts.every((t) => t.flags & ts.TypeFlags.BooleanLiteral)) return 'b';
    if (parts.length === 1) return node(parts[0], depth, seen);
    const flags = parts.reduce((f, t) => f | t.flags, 0);
    if (parts.length === 2 && flags & ts.TypeFlags.NumberLike && flags & ts.TypeFlags.StringLike) return 'is';
    // oneOf-style alternatives: accept the union of their fields, none required.
    if (parts.every(isObjectLike)) return objectNode(parts, depth, seen, false);
    return '*';
  }
  if (type.flags & ts.TypeFlags.StringLiteral) return ['e', type.value];
  if (type.flags & ts.TypeFlags.StringLike) return 's';
  if (type.flags & ts.TypeFlags.NumberLike) return 'i';
  if (type.flags & ts.TypeFlags.BooleanLike) return 'b';
  if (type.isIntersection()) {
    // `Array<X> & (constraints)`: the CRD's list with a oneOf on its items.
    const arr = type.types.find((t) => checker.isArrayType(t));
    if (arr) return node(arr, depth, seen);
    return objectNode([type], depth, seen, false);
  }
  if (type.flags & ts.TypeFlags.Object) return objectNode([type], depth, seen, true);
  return '*';
}

const trees = {};
Object.entries(ROOTS).forEach(([key, [, , prop]], i) => {
  const sym = exportsOf.find((s) => s.name === `R${i}`);
  if (!sym) throw new Error(`missing ${key}`);
  let type = checker.getDeclaredTypeOfSymbol(sym);
  let tree = node(type, 0, new Set());
  if (tree === '*') throw new Error(`could not resolve ${key}`);
  if (prop) tree = tree.p[prop] ?? '*';
  else if (tree.p) {
    for (const k of ['apiVersion', 'kind', 'metadata']) delete tree.p[k];
    if (tree.r) tree.r = tree.r.filter((k) => !['apiVersion', 'kind', 'metadata'].includes(k));
    if (tree.r && !tree.r.length) delete tree.r;
  }
  trees[key] = tree;
});

const json = JSON.stringify(trees);
writeFileSync(
  path.join(here, 'field-trees.gen.ts'),
  `// Generated by generate-field-trees.mjs from the @kubernetes-models type declarations; do not edit.\n` +
    `import type { FieldNode } from './field-node.js';\n\n` +
    `export const FIELD_TREES: Readonly<Record<string, FieldNode>> = JSON.parse(${JSON.stringify(json)});\n`,
);
console.log(`wrote ${Object.keys(trees).length} trees, ${json.length} bytes`);
