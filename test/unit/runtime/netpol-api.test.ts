// NetworkPolicy as an API kind: Kubernetes' validation with exact field paths, its defaults, the
// `get` columns, and the analyzer's findings (a policy selecting no pod; an egress default-deny
// in an injected namespace leaving out DNS, the control plane or the egress gateway).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadSources } from '../../../src/api/load.js';
import type { KubeObject } from '../../../src/api/object.js';
import { applySchemaDefaults, validateObject } from '../../../src/api/validate.js';
import { kindFor } from '../../../src/api/kinds.js';
import { analyze, formatFinding } from '../../../src/analyze/index.js';
import { formatResourceTable } from '../../../src/cli/printers/resource-table.js';

const np = (name: string, namespace: string, spec: unknown): KubeObject => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name, namespace },
  spec,
});
const issues = (spec: unknown): string[] => validateObject(np('p', 'apps', spec)).map((i) => `${i.path}: ${i.message}`);

test('valid policies pass: selectors, named and numeric ports with endPort, ipBlock with except, both peer selectors', () => {
  assert.deepEqual(
    issues({
      podSelector: { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['db'] }] },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'a' } }, podSelector: {} }], ports: [{ port: 'http' }, { protocol: 'UDP', port: 53 }] }],
      egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } }], ports: [{ port: 8000, endPort: 9000 }, { protocol: 'SCTP' }] }],
    }),
    [],
  );
});

test('invalid policies: each problem at its field path, worded like the API server', () => {
  assert.deepEqual(
    issues({
      podSelector: {
        matchExpressions: [
          { key: 'app', operator: 'In' },
          { key: 'x', operator: 'Exists', values: ['y'] },
          { key: 'z', operator: 'Near' },
        ],
      },
      policyTypes: ['Ingress', 'Sideways'],
      ingress: [
        {
          from: [
            {},
            { ipBlock: { cidr: '10.0.0.0/8' }, namespaceSelector: {} },
            { ipBlock: { cidr: '10.0.0.0/33' } },
            { ipBlock: { cidr: '10.0.0.0/16', except: ['10.1.0.0/24', '10.0.0.0/8'] } },
          ],
        },
      ],
      egress: [{ ports: [{ port: 0 }, { port: 'http', endPort: 90 }, { endPort: 90 }, { port: 100, endPort: 99 }, { port: 'Not_A_Name' }] }],
    }),
    [
      'spec.policyTypes[1]: unsupported value "Sideways": supported values: "Egress", "Ingress"',
      "spec.podSelector.matchExpressions[0].values: required value: must be specified when `operator` is 'In' or 'NotIn'",
      "spec.podSelector.matchExpressions[1].values: forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
      'spec.podSelector.matchExpressions[2].operator: unsupported value "Near": supported values: "In", "NotIn", "Exists", "DoesNotExist"',
      'spec.ingress[0].from[0]: required value: must specify a peer',
      'spec.ingress[0].from[1]: forbidden: may not specify both ipBlock and another peer',
      'spec.ingress[0].from[2].ipBlock.cidr: invalid value "10.0.0.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)',
      'spec.ingress[0].from[3].ipBlock.except[0]: invalid value "10.1.0.0/24": must be a strict subset of `cidr`',
      'spec.ingress[0].from[3].ipBlock.except[1]: invalid value "10.0.0.0/8": must be a strict subset of `cidr`',
      'spec.egress[0].ports[0].port: invalid value 0: must be between 1 and 65535, inclusive',
      'spec.egress[0].ports[1].endPort: invalid value 90: may not be specified when `port` is non-numeric',
      'spec.egress[0].ports[2].endPort: invalid value 90: may not be specified when `port` is not specified',
      'spec.egress[0].ports[3].endPort: invalid value 100: must be greater than or equal to `port`',
      "spec.egress[0].ports[4].port: invalid value \"Not_A_Name\": must be a port number or an IANA service name (at most 15 lowercase alphanumeric characters or '-', with at least one letter, no '--')",
    ],
  );
});

test('defaults: podSelector {}, policyTypes from the rules, TCP on ports', () => {
  const d = applySchemaDefaults(np('p', 'apps', { egress: [{ ports: [{ port: 53 }] }] }));
  assert.deepEqual(d.spec, { podSelector: {}, policyTypes: ['Ingress', 'Egress'], egress: [{ ports: [{ protocol: 'TCP', port: 53 }] }] });
  assert.deepEqual(applySchemaDefaults({ ...np('q', 'apps', undefined), spec: undefined }).spec, { podSelector: {}, policyTypes: ['Ingress'] });
});

test('get netpol: NAME POD-SELECTOR AGE, as kubectl prints them', () => {
  const info = kindFor('networking.k8s.io/v1', 'NetworkPolicy')!;
  assert.deepEqual(info.shortNames, ['netpol']);
  const table = formatResourceTable(info, [
    { ...np('deny', 'apps', { podSelector: {} }), metadata: { name: 'deny', namespace: 'apps', creationTimestamp: new Date().toISOString() } },
    np('web', 'apps', {
      podSelector: {
        matchLabels: { app: 'web', tier: 'fe' },
        matchExpressions: [
          { key: 'env', operator: 'In', values: ['b', 'a'] },
          { key: 'canary', operator: 'DoesNotExist' },
        ],
      },
    }),
  ]);
  const rows = table
    .trimEnd()
    .split('\n')
    .map((l) => l.split(/\s{2,}/));
  assert.deepEqual(rows[0], ['NAME', 'POD-SELECTOR', 'AGE']);
  assert.deepEqual(rows[1]!.slice(0, 2), ['deny', '<none>']);
  assert.deepEqual(rows[2]!.slice(0, 2), ['web', 'app=web,tier=fe,env in (a,b),!canary']);
});

const SEED = ['curl.yaml', 'egressgw.yaml', 'namespaces.yaml', 'istio.yaml'].map((f) => `test/fixtures/seed/${f}`);

async function findings(extra: string): Promise<string[]> {
  const r = await loadSources({ paths: SEED, defaultNamespace: 'curl' });
  const { parseAllDocuments } = await import('yaml');
  const objs = parseAllDocuments(extra).map((d) => d.toJS() as KubeObject);
  return analyze([...r.documents, ...objs], 'curl')
    .filter((f) => f.code === 'OUT0003' || f.code === 'OUT0004')
    .map(formatFinding);
}

const DENY = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny-egress, namespace: curl}
spec: {podSelector: {}, policyTypes: [Egress]}
`;

test('OUT0004: an egress default-deny in an injected namespace that leaves out DNS, the control plane and the gateway', async () => {
  assert.deepEqual(await findings(DENY), [
    "Warning [OUT0004] (NetworkPolicy curl/default-deny-egress) Egress from namespace curl (injected) is denied except what NetworkPolicies allow, and none allows DNS (UDP 53 to kube-system k8s-app=kube-dns), the control plane (namespace istio-system), the egress gateway's namespace gw-ns: its sidecars cannot resolve names, get their configuration or send egress traffic through the gateway",
  ]);
  const allows = `${DENY}---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-dns, namespace: curl}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}]
    ports: [{protocol: UDP, port: 53}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-mesh, namespace: curl}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: istio-system}}}, {namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: gw-ns}}}]
`;
  assert.deepEqual(await findings(allows), [], 'DNS, istio-system and gw-ns allowed: clean');
  // Only DNS allowed: the control plane and the gateway are still missing.
  const dnsOnly = allows.split('---\n').slice(0, 2).join('---\n');
  assert.match((await findings(dnsOnly))[0]!, /none allows the control plane \(namespace istio-system\), the egress gateway's namespace gw-ns:/);
});

test('OUT0003: a policy that selects no pod', async () => {
  assert.deepEqual(
    await findings(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: typo, namespace: curl}
spec: {podSelector: {matchLabels: {app: crul}}}
`),
    ['Warning [OUT0003] (NetworkPolicy curl/typo) The NetworkPolicy selects no pod: nothing in namespace curl has labels matching app=crul'],
  );
});
