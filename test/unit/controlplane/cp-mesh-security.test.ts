// Mesh security in translation and validation: PeerAuthentication scopes and inheritance, auto mTLS,
// DestinationRule/Gateway ISTIO_MUTUAL, AuthorizationPolicy selection and the inputs refused at admission.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../../../src/api/object.js';
import type { ProxyIdentity } from '../../../src/proxyconfig/types.js';
import { snapshotFromObjects } from '../../../src/controlplane/snapshot.js';
import { translate } from '../../../src/controlplane/translate/index.js';
import { PeerAuthIndex } from '../../../src/controlplane/translate/peer-authentication.js';
import { validateObject } from '../../../src/api/validate.js';
import { loadObjects } from '../../fixtures/cp/load.js';

const curl: ProxyIdentity = { id: 'curl-1.curl', role: 'sidecar', namespace: 'curl', workload: 'curl', ip: '127.0.1.2', labels: { app: 'curl' } };
const egressgw: ProxyIdentity = {
  id: 'egressgw-7d9c8b6f5-xyz12.gw-ns',
  role: 'router',
  namespace: 'gw-ns',
  workload: 'egressgw',
  ip: '127.0.2.2',
  labels: { istio: 'egressgw', app: 'egressgw' },
};

function yaml(text: string): KubeObject[] {
  return parseAllDocuments(text).map((d) => d.toJS() as KubeObject);
}

function pa(ns: string, name: string, spec: unknown, created = '2024-01-01T00:00:00Z'): KubeObject {
  return {
    apiVersion: 'security.istio.io/v1',
    kind: 'PeerAuthentication',
    metadata: { name, namespace: ns, creationTimestamp: created },
    spec: spec as Record<string, unknown>,
  };
}

test('PeerAuthentication: workload (port, then workload) over namespace over mesh; UNSET inherits; PERMISSIVE by default', () => {
  const idx = (objs: KubeObject[]) => PeerAuthIndex.of(snapshotFromObjects(objs));
  const labels = { app: 'gw' };
  assert.equal(idx([]).modeFor('gw-ns', labels, 8080), 'PERMISSIVE');
  const mesh = pa('istio-system', 'default', { mtls: { mode: 'STRICT' } });
  assert.equal(idx([mesh]).modeFor('gw-ns', labels, 8080), 'STRICT');
  const ns = pa('gw-ns', 'ns', { mtls: { mode: 'DISABLE' } });
  assert.equal(idx([mesh, ns]).modeFor('gw-ns', labels, 8080), 'DISABLE');
  const nsUnset = pa('gw-ns', 'ns', { mtls: { mode: 'UNSET' } });
  assert.equal(idx([mesh, nsUnset]).modeFor('gw-ns', labels, 8080), 'STRICT');
  const wl = pa('gw-ns', 'wl', {
    selector: { matchLabels: { app: 'gw' } },
    mtls: { mode: 'PERMISSIVE' },
    portLevelMtls: { '8443': { mode: 'STRICT' }, '9000': { mode: 'UNSET' } },
  });
  assert.equal(idx([mesh, ns, wl]).modeFor('gw-ns', labels, 8080), 'PERMISSIVE');
  assert.equal(idx([mesh, ns, wl]).modeFor('gw-ns', labels, 8443), 'STRICT');
  assert.equal(idx([mesh, ns, wl]).modeFor('gw-ns', labels, 9000), 'PERMISSIVE');
  // Another workload's selector does not apply; the namespace's policy does.
  assert.equal(idx([mesh, ns, wl]).modeFor('gw-ns', { app: 'other' }, 8443), 'DISABLE');
  // Two namespace-wide policies: the oldest wins.
  const newer = pa('gw-ns', 'newer', { mtls: { mode: 'STRICT' } }, '2025-01-01T00:00:00Z');
  assert.equal(idx([newer, ns]).modeFor('gw-ns', labels, 1), 'DISABLE');
});

test('auto mTLS: sidecars send ISTIO_MUTUAL to gateway endpoints (Istio SNI), not where PeerAuthentication disables it or a DestinationRule sets tls', () => {
  const objs = loadObjects('mesh-base', 'seed-istio-api');
  const cfg = translate(snapshotFromObjects(objs), curl);
  const toGw = cfg.clusters.find((c) => c.name === 'outbound|80|rh-docs|egressgw.gw-ns.svc.cluster.local')!;
  assert.equal(toGw.protocol, 'HTTP2');
  assert.deepEqual(toGw.tls, { mode: 'ISTIO_MUTUAL', auto: true, sni: 'outbound_.80_.rh-docs_.egressgw.gw-ns.svc.cluster.local' });
  const external = cfg.clusters.find((c) => c.name === 'outbound|80||docs.redhat.com')!;
  assert.equal(external.tls, undefined, 'no mTLS to a host without a proxy');

  const disabled = translate(snapshotFromObjects([...objs, pa('gw-ns', 'off', { mtls: { mode: 'DISABLE' } })]), curl);
  assert.equal(disabled.clusters.find((c) => c.name === toGw.name)!.tls, undefined);

  const off = yaml(`apiVersion: sailoperator.io/v1
kind: Istio
metadata: {name: default}
spec: {namespace: istio-system, values: {meshConfig: {enableAutoMtls: false}}}`);
  const noAuto = translate(snapshotFromObjects([...objs.filter((o) => o.kind !== 'Istio'), ...off]), curl);
  assert.equal(noAuto.clusters.find((c) => c.name === toGw.name)!.tls, undefined);

  // The gateway's plain HTTP listener takes mTLS (PERMISSIVE); STRICT or DISABLE from PeerAuthentication.
  const gw = translate(snapshotFromObjects(objs), egressgw);
  assert.equal(gw.listeners.find((l) => l.port === 8080)!.mtls, 'PERMISSIVE');
  const strict = translate(
    snapshotFromObjects([...objs, pa('gw-ns', 'strict', { selector: { matchLabels: { istio: 'egressgw' } }, mtls: { mode: 'STRICT' } })]),
    egressgw,
  );
  assert.equal(strict.listeners.find((l) => l.port === 8080)!.mtls, 'STRICT');
  const dis = translate(snapshotFromObjects([...objs, pa('istio-system', 'default', { mtls: { mode: 'DISABLE' } })]), egressgw);
  assert.equal(dis.listeners.find((l) => l.port === 8080)!.mtls, undefined);
});

test('egress TLS origination: DestinationRule ISTIO_MUTUAL with sni at the sidecar, Gateway server ISTIO_MUTUAL at the gateway', () => {
  const objs = loadObjects('mesh-base', 'egressgateway', 'egto');
  const side = translate(snapshotFromObjects(objs), curl);
  const sub = side.clusters.find((c) => c.name === 'outbound|80|cnn|istio-egressgateway.istio-system.svc.cluster.local')!;
  assert.deepEqual(sub.tls, { mode: 'ISTIO_MUTUAL', sni: 'edition.cnn.com' });
  const gwId: ProxyIdentity = {
    id: 'istio-egressgateway-1.istio-system',
    role: 'router',
    namespace: 'istio-system',
    workload: 'istio-egressgateway',
    ip: '127.0.4.2',
    labels: { istio: 'egressgateway', app: 'istio-egressgateway' },
  };
  const gw = translate(snapshotFromObjects(objs), gwId);
  const l = gw.listeners.find((x) => x.protocol === 'HTTP' && x.tls !== undefined);
  assert.deepEqual(l && l.protocol === 'HTTP' ? l.tls : undefined, { mode: 'ISTIO_MUTUAL' });
});

test('AuthorizationPolicy → ProxyConfig.authorization: selector, namespace-wide, root namespace mesh-wide, targetRefs, dry-run; others left out', () => {
  const objs = [
    ...loadObjects('mesh-base', 'seed-istio-api'),
    ...yaml(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: only-curl, namespace: gw-ns}
spec:
  selector: {matchLabels: {istio: egressgw}}
  action: ALLOW
  rules:
  - from: [{source: {principals: [cluster.local/ns/curl/sa/curl], notNamespaces: [blocked]}}]
    to: [{operation: {hosts: [docs.redhat.com], ports: ["8080"], methods: [GET]}}]
    when: [{key: 'request.headers[x-team]', values: [a]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: other-workload, namespace: gw-ns}
spec: {selector: {matchLabels: {app: nope}}, action: DENY, rules: [{}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: mesh-audit, namespace: istio-system, annotations: {istio.io/dry-run: "true"}}
spec: {action: AUDIT, rules: [{}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ns-deny, namespace: gw-ns}
spec: {action: DENY, rules: [{from: [{source: {ipBlocks: [10.0.0.0/8]}}]}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: other-ns, namespace: curl}
spec: {}
`),
  ];
  const cfg = translate(snapshotFromObjects(objs), egressgw);
  assert.deepEqual(cfg.authorization, {
    policies: [
      { name: 'ns[gw-ns]-policy[ns-deny]', action: 'DENY', rules: [{ from: [{ ipBlocks: ['10.0.0.0/8'] }] }] },
      {
        name: 'ns[gw-ns]-policy[only-curl]',
        action: 'ALLOW',
        rules: [
          {
            from: [{ principals: ['cluster.local/ns/curl/sa/curl'], notNamespaces: ['blocked'] }],
            to: [{ hosts: ['docs.redhat.com'], methods: ['GET'], ports: ['8080'] }],
            when: [{ key: 'request.headers[x-team]', values: ['a'] }],
          },
        ],
      },
      { name: 'ns[istio-system]-policy[mesh-audit]', action: 'AUDIT', dryRun: true, rules: [{}] },
    ],
  });
  // The sidecar in curl gets its namespace's `spec: {}` (deny all) and the mesh-wide one.
  const side = translate(snapshotFromObjects(objs), curl);
  assert.deepEqual(
    side.authorization?.policies.map((p) => p.name),
    ['ns[curl]-policy[other-ns]', 'ns[istio-system]-policy[mesh-audit]'],
  );
  // targetRefs: a Gateway API gateway by name.
  const ref = yaml(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: by-ref, namespace: egress-gateway}
spec: {targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: httpbin-egress-gateway}], action: DENY, rules: [{}]}`);
  const gwApiPod: ProxyIdentity = {
    id: 'p.egress-gateway',
    role: 'router',
    namespace: 'egress-gateway',
    workload: 'w',
    labels: { 'gateway.networking.k8s.io/gateway-name': 'httpbin-egress-gateway' },
  };
  assert.deepEqual(
    translate(snapshotFromObjects(ref), gwApiPod).authorization?.policies.map((p) => p.name),
    ['ns[egress-gateway]-policy[by-ref]'],
  );
  assert.equal(translate(snapshotFromObjects(ref), { ...gwApiPod, labels: { 'gateway.networking.k8s.io/gateway-name': 'other' } }).authorization, undefined);
});

test('validation: CUSTOM, request.auth.*, requestPrincipals, unknown when keys, bad CIDRs and PeerAuthentication mistakes are refused clearly', () => {
  const messages = (o: unknown) =>
    validateObject(o)
      .filter((i) => i.severity !== 'warning')
      .map((i) => `${i.path}: ${i.message}`);
  const ap = (spec: unknown) => ({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'p', namespace: 'gw-ns' }, spec });
  assert.deepEqual(messages(ap({ action: 'CUSTOM', provider: { name: 'ext' }, rules: [{}] })), [
    'spec.action: invalid value "CUSTOM": CUSTOM is not supported: outpost has no external authorization provider (use ALLOW, DENY or AUDIT)',
  ]);
  assert.deepEqual(messages(ap({ rules: [{ when: [{ key: 'request.auth.claims[iss]', values: ['x'] }] }] })), [
    'spec.rules[0].when[0].key: invalid value "request.auth.claims[iss]": request.auth.* needs request authentication (JWT), which outpost does not support',
  ]);
  assert.deepEqual(messages(ap({ rules: [{ from: [{ source: { requestPrincipals: ['*'] } }] }] })), [
    'spec.rules[0].from[0].source.requestPrincipals: forbidden: requestPrincipals needs request authentication (JWT), which outpost does not support',
  ]);
  assert.match(
    messages(ap({ rules: [{ when: [{ key: 'experimental.envoy.filters.x', values: ['1'] }] }] }))[0]!,
    /^spec\.rules\[0\]\.when\[0\]\.key: invalid value "experimental\.envoy\.filters\.x": not supported; use request\.headers\[<name>\], source\.ip/,
  );
  assert.deepEqual(messages(ap({ rules: [{ from: [{ source: { ipBlocks: ['10.0.0.0/33', '1.2.3.4'] } }] }] })), [
    'spec.rules[0].from[0].source.ipBlocks[0]: invalid value "10.0.0.0/33": must be an IP address or CIDR (10.0.0.0/8)',
  ]);
  assert.deepEqual(
    messages(ap({ action: 'DENY', rules: [{ to: [{ operation: { methods: ['GET'] } }], when: [{ key: 'connection.sni', values: ['a.b'] }] }] })),
    [],
  );
  const paObj = (spec: unknown) => ({ apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'p', namespace: 'gw-ns' }, spec });
  assert.deepEqual(messages(paObj({ mtls: { mode: 'STRICT' } })), []);
  assert.deepEqual(messages(paObj({ portLevelMtls: { '8080': { mode: 'DISABLE' } } })), [
    'spec.portLevelMtls: forbidden: portLevelMtls requires a workload selector (spec.selector.matchLabels)',
  ]);
  assert.ok(messages(paObj({ mtls: { mode: 'STRICTER' } })).some((m) => m.startsWith('spec.mtls.mode: unsupported value "STRICTER"')));
});
