// A table of bad documents, each with the exact lines `outpost validate` prints for it
// (file:line:column, kind namespace/name, field path, what was expected).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseText, formatLoadError, type LoadError } from '../../../src/api/load.js';
import { BAD_CASES } from '../../fixtures/api/bad-cases.js';

const EXPECTED: Record<string, string[]> = Object.fromEntries([
  [
    'resolution not in enum',
    [
      'bad.yaml:13:15: ServiceEntry curl/egress-se: spec.resolution: unsupported value "DNZ": supported values: "NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS"',
    ],
  ],
  [
    'location not in enum',
    ['bad.yaml:9:13: ServiceEntry curl/egress-se: spec.location: unsupported value "OUTSIDE": supported values: "MESH_EXTERNAL", "MESH_INTERNAL"'],
  ],
  ['missing hosts', ['bad.yaml:6:1: ServiceEntry curl/egress-se: spec.hosts: required value']],
  ['empty hosts', ['bad.yaml:7:10: ServiceEntry curl/egress-se: spec.hosts: required value: must have at least 1 item']],
  ['bare wildcard host', ['bad.yaml:8:5: ServiceEntry curl/egress-se: spec.hosts[0]: invalid value "*": hostname cannot be wildcard']],
  [
    'wildcard not left-most',
    [
      'bad.yaml:8:5: ServiceEntry curl/egress-se: spec.hosts[0]: invalid value "docs.*.com": a wildcard is only allowed as the whole left-most label ("*.example.com")',
    ],
  ],
  ['host is a URL', ['bad.yaml:8:5: ServiceEntry curl/egress-se: spec.hosts[0]: invalid value "http://docs.redhat.com": must be a host name, not a URL']],
  ['port number too big', ['bad.yaml:10:13: ServiceEntry curl/egress-se: spec.ports[0].number: invalid value 70000: must be between 1 and 65535, inclusive']],
  ['port number zero', ['bad.yaml:10:13: ServiceEntry curl/egress-se: spec.ports[0].number: invalid value 0: must be between 1 and 65535, inclusive']],
  ['port number is a string', ['bad.yaml:10:13: ServiceEntry curl/egress-se: spec.ports[0].number: invalid value "80": must be of type integer, not string']],
  ['port name missing', ['bad.yaml:10:5: ServiceEntry curl/egress-se: spec.ports[0].name: required value']],
  [
    'duplicate port names',
    ['bad.yaml:13:11: ServiceEntry curl/egress-se: spec.ports[1].name: duplicate value "http": port name must be unique (also used by spec.ports[0])'],
  ],
  [
    'duplicate port numbers',
    ['bad.yaml:12:13: ServiceEntry curl/egress-se: spec.ports[1].number: duplicate value 80: port number cannot be duplicated (also used by spec.ports[0])'],
  ],
  [
    'unknown protocol',
    [
      'bad.yaml:12:15: ServiceEntry curl/egress-se: spec.ports[0].protocol: unsupported value "HTTP3": supported values: "HTTP", "HTTPS", "GRPC", "GRPC-WEB", "HTTP2", "MONGO", "TCP", "TLS"',
    ],
  ],
  ['unknown spec field (typo)', ['bad.yaml:9:3: ServiceEntry curl/egress-se: spec.resolutoin: unknown field "resolutoin"']],
  ['NONE cannot set endpoints', ['bad.yaml:11:3: ServiceEntry curl/egress-se: spec.endpoints: forbidden: NONE mode cannot set endpoints']],
  [
    'STATIC endpoint is not an IP',
    [
      'bad.yaml:11:14: ServiceEntry curl/egress-se: spec.endpoints[0].address: invalid value "docs.redhat.com": must be an IP address (or unix:// path) when resolution is STATIC',
    ],
  ],
  [
    'DNS wildcard host without endpoints',
    ['bad.yaml:8:5: ServiceEntry curl/egress-se: spec.hosts[0]: invalid value "*.redhat.com": a wildcard host needs endpoints when resolution is DNS'],
  ],
  ['bad address', ['bad.yaml:10:5: ServiceEntry curl/egress-se: spec.addresses[0]: invalid value "300.1.1.1": must be an IP address or a CIDR range']],
  [
    'CIDR with DNS resolution',
    [
      'bad.yaml:10:3: ServiceEntry curl/egress-se: spec.addresses: invalid value "10.0.0.0/24": CIDR addresses are allowed only for NONE/STATIC resolution types',
    ],
  ],
  [
    'bad exportTo',
    [
      'bad.yaml:10:5: ServiceEntry curl/egress-se: spec.exportTo[0]: invalid value "Not_A_Namespace": must be ".", "*", "~" or a namespace name: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or \'-\', and must start and end with an alphanumeric character (e.g. \'my-name\')',
    ],
  ],
  [
    'hosts is a string, not a list',
    ['bad.yaml:7:10: ServiceEntry curl/egress-se: spec.hosts: invalid value "docs.redhat.com": must be of type array, not string'],
  ],
  ['gateway without servers', ['bad.yaml:6:1: Gateway gw-ns/egress-gw: spec.servers: required value']],
  ['gateway server without hosts', ['bad.yaml:8:5: Gateway gw-ns/egress-gw: spec.servers[0].hosts: required value']],
  [
    'gateway HTTPS without tls',
    ['bad.yaml:8:5: Gateway gw-ns/egress-gw: spec.servers[0].tls: required value: server must have TLS settings for HTTPS protocol'],
  ],
  [
    'gateway duplicate port names',
    ['bad.yaml:18:13: Gateway gw-ns/egress-gw: spec.servers[1].port.name: duplicate value "http": port names in servers must be unique'],
  ],
  [
    'gateway bad host namespace',
    [
      'bad.yaml:13:7: Gateway gw-ns/egress-gw: spec.servers[0].hosts[0]: invalid value "Bad_NS/docs.redhat.com": namespace part must be "*", ".", "~" or a namespace name',
    ],
  ],
  [
    'virtual service with gateways but no hosts',
    [
      'bad.yaml:6:1: VirtualService curl/egress-vs: spec.hosts: required value: a virtual service with gateways must have at least one host (only delegates have none)',
    ],
  ],
  [
    'virtual service * bound to mesh',
    [
      'bad.yaml:8:5: VirtualService curl/egress-vs: spec.hosts[0]: invalid value "*": wildcard host "*" is not allowed for virtual services bound to the mesh gateway',
    ],
  ],
  ['route without destination host', ['bad.yaml:11:7: VirtualService curl/egress-vs: spec.http[0].route[0].destination.host: required value']],
  [
    'route with redirect too',
    ['bad.yaml:11:7: VirtualService curl/egress-vs: spec.http[0].redirect: forbidden: HTTP route cannot contain both route and redirect'],
  ],
  [
    'bad timeout',
    ['bad.yaml:10:14: VirtualService curl/egress-vs: spec.http[0].timeout: invalid value "3 seconds": must be a duration such as "3s" or "250ms"'],
  ],
  [
    'weight is a word',
    ['bad.yaml:13:15: VirtualService curl/egress-vs: spec.http[0].route[0].weight: invalid value "fifty": must be of type integer, not string'],
  ],
  [
    'bad gateway reference',
    [
      'bad.yaml:10:5: VirtualService curl/egress-vs: spec.gateways[0]: invalid value "a/b/c": gateway must be "mesh", "<name>" or "<namespace>/<name>" with a valid name',
    ],
  ],
  [
    'destination port out of range',
    [
      'bad.yaml:14:19: VirtualService curl/egress-vs: spec.http[0].route[0].destination.port.number: invalid value 65536: must be between 1 and 65535, inclusive',
    ],
  ],
  ['tls route without sniHosts', ['bad.yaml:11:7: VirtualService curl/egress-vs: spec.tls[0].match[0].sniHosts: required value']],
  ['destination rule without host', ['bad.yaml:6:1: DestinationRule gw-ns/egress-dr: spec.host: required value']],
  ['duplicate subset names', ['bad.yaml:10:11: DestinationRule gw-ns/egress-dr: spec.subsets[1].name: duplicate value "rh-docs": subset names must be unique']],
  [
    'subset name not a label',
    [
      "bad.yaml:9:11: DestinationRule gw-ns/egress-dr: spec.subsets[0].name: invalid value \"RH_Docs\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name')",
    ],
  ],
  [
    'tls mode not in enum',
    [
      'bad.yaml:10:13: DestinationRule gw-ns/egress-dr: spec.trafficPolicy.tls.mode: unsupported value "SIMPEL": supported values: "SIMPLE", "MUTUAL", "ISTIO_MUTUAL", "DISABLE"',
    ],
  ],
  [
    'gateway API listener names duplicate',
    ['bad.yaml:12:11: Gateway egress-gateway/egress: spec.listeners[1].name: duplicate value "http": Listener name must be unique within the Gateway'],
  ],
  [
    'gateway API HTTPS listener without tls',
    ["bad.yaml:9:5: Gateway egress-gateway/egress: spec.listeners[0].tls: required value: tls must be specified for protocols ['HTTPS', 'TLS']"],
  ],
  [
    'gateway API allowedRoutes from not in enum',
    [
      'bad.yaml:14:15: Gateway egress-gateway/egress: spec.listeners[0].allowedRoutes.namespaces.from: unsupported value "Sme": supported values: "All", "Selector", "Same"',
    ],
  ],
  [
    'gateway API listener port 0',
    ['bad.yaml:10:11: Gateway egress-gateway/egress: spec.listeners[0].port: invalid value 0: must be greater than or equal to 1'],
  ],
  [
    'gateway API listener bad hostname',
    [
      'bad.yaml:12:15: Gateway egress-gateway/egress: spec.listeners[0].hostname: invalid value "*.*.bad": must match the regular expression "^(\\\\*\\\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"',
    ],
  ],
  [
    'HTTPRoute PathPrefix without leading slash',
    [
      "bad.yaml:13:16: HTTPRoute egress-gateway/r: spec.rules[0].matches[0].path.value: invalid value \"static\": value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']",
    ],
  ],
  [
    'HTTPRoute path type not in enum',
    [
      'bad.yaml:10:15: HTTPRoute egress-gateway/r: spec.rules[0].matches[0].path.type: unsupported value "Bogus": supported values: "Exact", "RegularExpression", "PathPrefix"',
    ],
  ],
  [
    'HTTPRoute Service backend without port',
    ['bad.yaml:9:7: HTTPRoute egress-gateway/r: spec.rules[0].backendRefs[0].port: required value: must have port for Service reference'],
  ],
  [
    'HTTPRoute Hostname backend with namespace',
    ['bad.yaml:12:18: HTTPRoute egress-gateway/r: spec.rules[0].backendRefs[0].namespace: forbidden: namespace may not be set with Hostname type'],
  ],
  [
    'HTTPRoute backend port too big',
    ['bad.yaml:10:13: HTTPRoute egress-gateway/r: spec.rules[0].backendRefs[0].port: invalid value 70000: must be less than or equal to 65535'],
  ],
  ['Service without ports', ['bad.yaml:6:1: Service gw-ns/egressgw: spec.ports: required value']],
  [
    'Service targetPort out of range',
    ['bad.yaml:9:17: Service gw-ns/egressgw: spec.ports[0].targetPort: invalid value 0: must be between 1 and 65535, inclusive'],
  ],
  [
    'Service two ports, one unnamed',
    ['bad.yaml:10:5: Service gw-ns/egressgw: spec.ports[1].name: required value: a name is required when a Service has more than one port'],
  ],
  [
    'Deployment selector does not match template',
    ['bad.yaml:13:9: Deployment gw-ns/egressgw: spec.template.metadata.labels: invalid value "istio=other": `selector` does not match template `labels`'],
  ],
  [
    'Deployment without containers',
    ['bad.yaml:15:19: Deployment gw-ns/egressgw: spec.template.spec.containers: required value: must have at least one container'],
  ],
  [
    'unknown kind',
    [
      'bad.yaml:2:7: EgressRule x: kind: no matches for kind "EgressRule" in version "networking.istio.io/v1": supported kinds: "ServiceEntry", "Gateway", "VirtualService", "DestinationRule", "Sidecar"',
    ],
  ],
  [
    'unknown apiVersion for a known kind',
    [
      'bad.yaml:1:13: ServiceEntry x: apiVersion: unsupported value "networking.istio.io/v2": supported values: "networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3"',
    ],
  ],
  ['missing apiVersion and kind', ['bad.yaml:1:1: apiVersion: required value', 'bad.yaml:1:1: kind: required value']],
  ['missing metadata.name', ['bad.yaml:3:1: ServiceEntry: metadata.name: required value: name or generateName is required']],
  [
    'name not DNS-1123',
    [
      "bad.yaml:4:9: ServiceEntry curl/Egress_SE: metadata.name: invalid value \"Egress_SE\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')",
    ],
  ],
  [
    'bad namespace',
    [
      "bad.yaml:5:14: ServiceEntry Curl/egress-se: metadata.namespace: invalid value \"Curl\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name')",
    ],
  ],
  [
    'bad label key',
    [
      "bad.yaml:7:16: ServiceEntry curl/egress-se: metadata.labels[\"bad key\"]: invalid value \"bad key\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character, at most 63 characters",
    ],
  ],
  ['unknown metadata field', ['bad.yaml:6:3: ServiceEntry curl/egress-se: metadata.nmespace: unknown field "nmespace"']],
  ['unknown top-level field', ['bad.yaml:9:1: ServiceEntry curl/egress-se: extra: unknown field "extra"']],
  ['document is a list', ['bad.yaml:1:1: a resource must be a mapping with apiVersion, kind and metadata, not a list']],
  ['invalid YAML (bad indentation)', ['bad.yaml:5:1: invalid YAML: All mapping items must start at the same column']],
  ['invalid YAML (duplicate key)', ['bad.yaml:3:1: invalid YAML: Map keys must be unique']],
  [
    'Istio resource bad access log encoding',
    ['bad.yaml:9:26: Istio default: spec.values.meshConfig.accessLogEncoding: unsupported value "XML": supported values: "TEXT", "JSON"'],
  ],
  ['IstioRevision bad version', ['bad.yaml:6:12: IstioRevision default: spec.version: invalid value 1.24: must be of type string, not number']],
]);

test('the table has at least 40 bad inputs, each with an expectation', () => {
  assert.ok(BAD_CASES.length >= 40, `only ${BAD_CASES.length} cases`);
  for (const c of BAD_CASES) assert.ok(EXPECTED[c.name], `no expectation for ${c.name}`);
});

for (const c of BAD_CASES) {
  test(`bad input: ${c.name}`, () => {
    const errors: LoadError[] = [];
    const docs = parseText('bad.yaml', c.yaml, errors);
    assert.deepEqual(errors.map(formatLoadError), EXPECTED[c.name]);
    assert.ok(errors.length > 0, 'a bad input must produce at least one error');
    assert.equal(docs.length, 0, 'an invalid document is not returned');
  });
}
