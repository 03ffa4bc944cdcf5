// The Gateway API variants of the egress tutorials: an auto-deployed gateway, a mesh route on a
// ServiceEntry, a forward route with timeouts.request and a RequestHeaderModifier, and a
// cross-namespace ServiceEntry backendRef that needs a ReferenceGrant.
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { test } from 'node:test';
import { parse } from 'yaml';
import { eventually } from '../../helpers/mesh.js';
import {
  answerAfterDelay,
  awaitLastLogLine,
  cnnHttpAndTlsGatewayApi,
  cnnTlsGatewayApi,
  lastLines,
  standInBody,
  startFlowMesh,
  startFlowWorld,
  waitProgrammed,
} from './flows-support.js';

const HTTPBIN = 'httpbin.org';
const CNN = 'edition.cnn.com';

function httpbin(req: IncomingMessage, res: ServerResponse): void {
  answerAfterDelay(req, res, `${JSON.stringify({ url: `http://${HTTPBIN}${req.url ?? ''}`, headers: req.headers })}\n`);
}

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

test('GW: HTTPRoute timeouts.request, RequestHeaderModifier, cross-namespace ServiceEntry backend and ReferenceGrant', async (t) => {
  const world = await startFlowWorld([{ name: HTTPBIN, http: [80], handler: httpbin }]);
  t.after(() => world.close());
  const mesh = await startFlowMesh(t, world, { namespaces: ['egress-gateway', 'ext'] });

  // The ServiceEntry lives in "ext"; the gateway and its routes in "egress-gateway".
  await mesh.ok([
    'apply',
    '-f',
    world.yaml(
      'gwapi.yaml',
      `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: httpbin-ext
  namespace: ext
spec:
  hosts:
  - ${HTTPBIN}
  ports:
  - number: 80
    name: http
    protocol: HTTP
  location: MESH_EXTERNAL
  resolution: DNS
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: httpbin-egress-gateway
  namespace: egress-gateway
  annotations:
    networking.istio.io/service-type: ClusterIP
spec:
  gatewayClassName: istio
  listeners:
  - name: http
    hostname: ${HTTPBIN}
    port: 80
    protocol: HTTP
    allowedRoutes:
      namespaces:
        from: Same
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: direct-httpbin-to-egress-gateway
  namespace: ext
spec:
  parentRefs:
  - kind: ServiceEntry
    group: networking.istio.io
    name: httpbin-ext
  rules:
  - backendRefs:
    - name: httpbin-egress-gateway-istio
      namespace: egress-gateway
      port: 80
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata:
  name: routes-from-ext
  namespace: egress-gateway
spec:
  from:
  - group: gateway.networking.k8s.io
    kind: HTTPRoute
    namespace: ext
  to:
  - group: ""
    kind: Service
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: forward-httpbin-from-egress-gateway
  namespace: egress-gateway
spec:
  parentRefs:
  - name: httpbin-egress-gateway
  hostnames:
  - ${HTTPBIN}
  rules:
  - timeouts:
      request: 1s
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set:
        - name: x-egress-flow
          value: gateway-api
    backendRefs:
    - kind: ServiceEntry
      group: networking.istio.io
      name: httpbin-ext
      namespace: ext
      port: 80
`,
    ),
  ]);

  const routeConditions = async (ns: string, name: string): Promise<Condition[]> => {
    const out = await mesh.ok(['get', 'httproute', name, '-n', ns, '-o', 'yaml']);
    const obj = parse(out.stdout) as { status?: { parents?: Array<{ conditions?: Condition[] }> } };
    return obj.status?.parents?.[0]?.conditions ?? [];
  };
  // Without a grant in "ext", the forward route cannot use the ServiceEntry there.
  const refused = await eventually('ResolvedRefs=False', async () => {
    const c = (await routeConditions('egress-gateway', 'forward-httpbin-from-egress-gateway')).find((x) => x.type === 'ResolvedRefs');
    return c?.status === 'False' ? c : undefined;
  });
  assert.equal(refused.reason, 'RefNotPermitted');
  assert.equal(refused.message, 'backendRef httpbin-ext/ext not accessible to a HTTPRoute in namespace "egress-gateway" (missing a ReferenceGrant?)');
  const direct = await routeConditions('ext', 'direct-httpbin-to-egress-gateway');
  assert.deepEqual(direct.map((c) => [c.type, c.status, c.reason]).sort(), [
    ['Accepted', 'True', 'Accepted'],
    ['ResolvedRefs', 'True', 'ResolvedRefs'],
  ]);
  await waitProgrammed(mesh, 'httpbin-egress-gateway', 'egress-gateway');
  const before = await mesh.outpost(['exec', '-n', 'apps', '--', 'curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', `http://${HTTPBIN}/get`]);
  assert.equal(before.stdout, '500', 'a rule whose only backend is refused answers 500');
  assert.equal(world.seen[HTTPBIN]!.length, 0);

  await mesh.ok([
    'apply',
    '-f',
    world.yaml(
      'grant.yaml',
      `apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata:
  name: gateway-routes-to-service-entries
  namespace: ext
spec:
  from:
  - group: gateway.networking.k8s.io
    kind: HTTPRoute
    namespace: egress-gateway
  to:
  - group: networking.istio.io
    kind: ServiceEntry
`,
    ),
  ]);
  await eventually('ResolvedRefs=True', async () => {
    const c = (await routeConditions('egress-gateway', 'forward-httpbin-from-egress-gateway')).find((x) => x.type === 'ResolvedRefs');
    return c?.status === 'True' && c.reason === 'ResolvedRefs' ? c : undefined;
  });

  const ok = await eventually(
    '200 through the gateway',
    async () => {
      const r = await mesh.ok(['exec', '-n', 'apps', '--', 'curl', '-sS', `http://${HTTPBIN}/get`]);
      return r.stdout.startsWith('{') ? r.stdout : undefined;
    },
    30,
  );
  const seenBy = JSON.parse(ok) as { headers: Record<string, string> };
  assert.equal(seenBy.headers['x-egress-flow'], 'gateway-api', 'the RequestHeaderModifier set the header');
  const gwLine = lastLines((await mesh.ok(['logs', 'deployment/httpbin-egress-gateway-istio', '-n', 'egress-gateway', '--tail', '1'])).stdout)[0] ?? '';
  assert.match(gwLine, /"GET \/get HTTP\/(1\.1|2)" 200 - via_upstream /);
  assert.match(gwLine, / outbound\|80\|\|httpbin\.org .* egress-gateway\.forward-httpbin-from-egress-gateway\.0$/);

  // timeouts.request: 1s at the gateway turns a 3 s answer into 504 UT.
  const slow = await mesh.outpost(['exec', '-n', 'apps', '--', 'curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', `http://${HTTPBIN}/delay/3`]);
  assert.equal(slow.stdout, '504', slow.stderr);
  const slowLine = lastLines((await mesh.ok(['logs', 'deployment/httpbin-egress-gateway-istio', '-n', 'egress-gateway', '--tail', '1'])).stdout)[0] ?? '';
  assert.match(slowLine, /"GET \/delay\/3 HTTP\/(1\.1|2)" 504 UT response_timeout /);
});

test('GW EG-HTTPS: TLSRoute on a ServiceEntry to <gw>-istio:443, TLSRoute on the gateway passes SNI through', async (t) => {
  const world = await startFlowWorld([{ name: CNN, https: [443] }]);
  t.after(() => world.close());
  const mesh = await startFlowMesh(t, world);
  const applied = await mesh.ok(['apply', '-f', world.yaml('gw-tls.yaml', cnnTlsGatewayApi('apps'))]);
  assert.match(applied.stdout, /^tlsroute\.gateway\.networking\.k8s\.io\/forward-cnn-from-egress-gateway created$/m);
  await waitProgrammed(mesh, 'cnn-egress-gateway', 'apps');
  // kubectl's `get all` (a category): the automated deployment's Service, Pod and Deployment
  // (the Deployment's status is written just after the pod's readiness that made it Programmed).
  const all = await eventually('get all shows the gateway Deployment ready', async () => {
    const r = await mesh.ok(['get', 'all', '-n', 'apps']);
    return /^deployment\.apps\/cnn-egress-gateway-istio\s+1\/1\s/m.test(r.stdout) ? r : undefined;
  });
  assert.match(all.stdout, /^service\/cnn-egress-gateway-istio\s+ClusterIP\s/m);
  assert.match(all.stdout, /^deployment\.apps\/cnn-egress-gateway-istio\s+1\/1\s/m);
  assert.match(all.stdout, /^pod\/cnn-egress-gateway-istio-\S+\s+1\/1\s+Running\s/m);
  const listed = await mesh.ok(['get', 'tlsroute', '-n', 'apps']);
  assert.match(listed.stdout, /^forward-cnn-from-egress-gateway\s+\["edition\.cnn\.com"\]\s/m);

  const got = await mesh.outpost(['exec', '-n', 'apps', '--', 'curl', '-sS', '--cacert', world.caFile, `https://${CNN}/`]);
  assert.equal(got.code, 0, `curl failed:\n${got.stderr}`);
  assert.equal(got.stdout, standInBody(CNN));
  assert.equal(world.seen[CNN]![0]!.sni, CNN);

  const gwLine = await awaitLastLogLine(mesh, 'the gateway TCP line', ['deployment/cnn-egress-gateway-istio', '-n', 'apps'], (l) =>
    l.includes('outbound|443||'),
  );
  assert.match(
    gwLine,
    new RegExp(
      `^\\[\\S+Z\\] "- - -" 0 - - - "-" \\d+ \\d+ \\d+ - "-" "-" "-" "-" "${world.addresses[CNN]!.replace(/\./g, '\\.')}:443" outbound\\|443\\|\\|edition\\.cnn\\.com \\S+ \\S+:443 \\S+ edition\\.cnn\\.com -$`,
    ),
  );
  const scLine = await awaitLastLogLine(mesh, 'the sidecar TCP line', ['-n', 'apps', '-c', 'istio-proxy'], (l) =>
    l.includes('outbound|443||cnn-egress-gateway-istio'),
  );
  assert.match(scLine, / outbound\|443\|\|cnn-egress-gateway-istio\.apps\.svc\.cluster\.local .* edition\.cnn\.com -$/);
});

test('GW: an HTTPRoute and a TLSRoute of the same name on one ServiceEntry both go through the gateway', async (t) => {
  const world = await startFlowWorld([{ name: CNN, http: [80], https: [443] }]);
  t.after(() => world.close());
  const mesh = await startFlowMesh(t, world);
  await mesh.ok(['apply', '-f', world.yaml('cnn.yaml', cnnHttpAndTlsGatewayApi('apps'))]);
  await waitProgrammed(mesh, 'cnn-egress-gateway', 'apps');
  const listeners = await mesh.ok([
    'get',
    'gateway',
    'cnn-egress-gateway',
    '-n',
    'apps',
    '-o',
    'jsonpath={range .status.listeners[*]}{.name}={.attachedRoutes} {end}',
  ]);
  assert.equal(listeners.stdout, 'http=1 tls=1 ');

  const got = await mesh.outpost(['exec', '-n', 'apps', '--', 'curl', '-sS', '--cacert', world.caFile, `https://${CNN}/`, `http://${CNN}/plain`]);
  assert.equal(got.code, 0, got.stderr);
  assert.equal(got.stdout, standInBody(CNN).repeat(2));
  assert.deepEqual(
    world.seen[CNN]!.map((r) => [r.url, r.sni]),
    [
      ['/', CNN],
      ['/plain', undefined],
    ],
  );
  const sidecar = await eventually(
    'both sidecar lines',
    async () => {
      const lines = lastLines((await mesh.ok(['logs', '-n', 'apps', '-c', 'istio-proxy'])).stdout, 2);
      return lines.length === 2 && lines.some((l) => l.startsWith('[') && l.includes('"- - -"')) ? lines.join('\n') : undefined;
    },
    50,
  );
  // Both hops leave the sidecar for the gateway, not for edition.cnn.com.
  assert.match(sidecar, /"- - -" .* outbound\|443\|\|cnn-egress-gateway-istio\.apps\.svc\.cluster\.local .* edition\.cnn\.com -$/m);
  assert.match(
    sidecar,
    /"GET \/plain HTTP\/1\.1" 200 .* outbound\|80\|\|cnn-egress-gateway-istio\.apps\.svc\.cluster\.local .* apps\.direct-cnn-to-egress-gateway\.0$/m,
  );
});
