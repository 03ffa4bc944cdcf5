// Gateway API fidelity through the `outpost` command and a running mesh: listener protocol status
// (case-sensitive; UDP unsupported), unsupported route filters reported in status, and an HTTPRoute
// `retry` (GEP-1731) carried out by the auto-deployed egress gateway.
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { test } from 'node:test';
import { parse } from 'yaml';
import { eventually } from '../../helpers/mesh.js';
import { startFlowMesh, startFlowWorld, waitProgrammed } from './flows-support.js';

const HOST = 'flaky.example.org';

/** `/status/<code>` answers that code; anything else 200. */
function flaky(req: IncomingMessage, res: ServerResponse): void {
  const m = /^\/status\/(\d{3})$/.exec(req.url ?? '');
  res.writeHead(m ? Number(m[1]) : 200, { 'content-type': 'text/plain' });
  res.end(`${req.url}\n`);
}

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

test('GW fidelity: listener protocol status, unsupported filters in route status, HTTPRoute retry at the egress gateway', async (t) => {
  const world = await startFlowWorld([{ name: HOST, http: [80], handler: flaky }]);
  t.after(() => world.close());
  const mesh = await startFlowMesh(t, world);
  await mesh.ok([
    'apply',
    '-f',
    world.yaml(
      'gw.yaml',
      `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: flaky
  namespace: apps
spec:
  hosts:
  - ${HOST}
  ports:
  - number: 80
    name: http
    protocol: HTTP
  resolution: DNS
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: flaky-egress
  namespace: apps
  annotations:
    networking.istio.io/service-type: ClusterIP
spec:
  gatewayClassName: istio
  listeners:
  - name: http
    hostname: ${HOST}
    port: 80
    protocol: HTTP
  - name: lower-case
    port: 8081
    protocol: http
  - name: udp
    port: 5353
    protocol: UDP
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: to-gateway
  namespace: apps
spec:
  parentRefs:
  - kind: ServiceEntry
    group: networking.istio.io
    name: flaky
  rules:
  - backendRefs:
    - name: flaky-egress-istio
      port: 80
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: forward-with-retry
  namespace: apps
spec:
  parentRefs:
  - name: flaky-egress
    sectionName: http
  hostnames:
  - ${HOST}
  rules:
  - retry:
      attempts: 2
      codes: [503]
      backoff: 10ms
    backendRefs:
    - kind: Hostname
      group: networking.istio.io
      name: ${HOST}
      port: 80
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: with-cors
  namespace: apps
spec:
  parentRefs:
  - name: flaky-egress
    sectionName: http
  hostnames:
  - ${HOST}
  rules:
  - matches:
    - path:
        value: /cors
    filters:
    - type: CORS
      cors:
        allowOrigins:
        - https://app.example
    backendRefs:
    - kind: Hostname
      group: networking.istio.io
      name: ${HOST}
      port: 80
`,
    ),
  ]);

  const status = async (kind: string, name: string) =>
    parse((await mesh.ok(['get', kind, name, '-n', 'apps', '-o', 'yaml'])).stdout) as {
      status?: { conditions?: Condition[]; listeners?: { name: string; conditions: Condition[] }[]; parents?: { conditions: Condition[] }[] };
    };
  const gw = await eventually('the Gateway status with its listeners', async () => {
    const s = (await status('gateway', 'flaky-egress')).status;
    return s?.listeners?.length === 3 ? s : undefined;
  });
  const c = (list: Condition[] | undefined, type: string) => list?.find((x) => x.type === type);
  assert.deepEqual([c(gw.conditions, 'Accepted')?.status, c(gw.conditions, 'Accepted')?.reason], ['True', 'ListenersNotValid']);
  for (const name of ['lower-case', 'udp']) {
    const l = gw.listeners!.find((x) => x.name === name)!;
    assert.deepEqual([c(l.conditions, 'Accepted')?.status, c(l.conditions, 'Accepted')?.reason], ['False', 'UnsupportedProtocol'], name);
    assert.deepEqual([c(l.conditions, 'Programmed')?.status, c(l.conditions, 'Programmed')?.reason], ['False', 'Invalid'], name);
  }
  const cors = await eventually("the CORS route's status", async () =>
    c((await status('httproute', 'with-cors')).status?.parents?.[0]?.conditions, 'Accepted'),
  );
  assert.deepEqual([cors.status, cors.reason], ['False', 'UnsupportedValue']);
  assert.match(cors.message, /spec\.rules\[0\]\.filters\[0\]\.type: unsupported value "CORS"/);

  await waitProgrammed(mesh, 'flaky-egress', 'apps');
  const ok = await eventually(
    '200 through the gateway',
    async () => {
      const r = await mesh.ok(['exec', '-n', 'apps', '--', 'curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', `http://${HOST}/ok`]);
      return r.stdout === '200' ? r.stdout : undefined;
    },
    30,
  );
  assert.equal(ok, '200');
  const before = world.seen[HOST]!.filter((r) => r.url === '/status/503').length;
  const failed = await mesh.outpost(['exec', '-n', 'apps', '--', 'curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', `http://${HOST}/status/503`]);
  assert.equal(failed.stdout, '503', failed.stderr);
  assert.equal(world.seen[HOST]!.filter((r) => r.url === '/status/503').length - before, 3, 'the gateway tried once and retried twice');
  const notListed = await mesh.outpost(['exec', '-n', 'apps', '--', 'curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', `http://${HOST}/status/502`]);
  assert.equal(notListed.stdout, '502');
  assert.equal(world.seen[HOST]!.filter((r) => r.url === '/status/502').length, 1, 'a code not listed is not retried');
});
