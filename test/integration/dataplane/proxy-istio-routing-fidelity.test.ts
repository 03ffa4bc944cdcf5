// Istio VirtualService behaviours at a gateway, through a real proxy: `headers.request.set` of
// `:authority` / `host` rewrites the authority sent upstream, and a redirect with
// `derivePort: FROM_REQUEST_PORT` keeps the port the request arrived on.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { conformanceWorld, ports } from '../../helpers/gwapi-conformance.js';

/** A Gateway API gateway (for its proxy) plus an Istio Gateway server on `port` selecting the same pod. */
const gateways = (gwApiPort: number, port: number) => `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: probe
spec:
  gatewayClassName: istio
  listeners:
  - name: http
    port: ${gwApiPort}
    protocol: HTTP
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: istio-gw
spec:
  selector:
    gateway.networking.k8s.io/gateway-name: probe
  servers:
  - port:
      number: ${port}
      name: http
      protocol: HTTP
    hosts:
    - "*"
---
`;

test('VirtualService headers.request.set of :authority or host rewrites the authority the backend sees', async (t) => {
  const world = await conformanceWorld(t);
  const [a, p] = await ports(2);
  const cfg = await world.apply(`${gateways(a!, p!)}apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: authority
spec:
  hosts:
  - "*"
  gateways:
  - istio-gw
  http:
  - match:
    - uri:
        prefix: /pseudo
    headers:
      request:
        set:
          ":authority": pseudo.example.org
    route:
    - destination:
        host: infra-backend-v1
        port:
          number: 8080
  - match:
    - uri:
        prefix: /host
    route:
    - destination:
        host: infra-backend-v1
        port:
          number: 8080
      headers:
        request:
          set:
            Host: host.example.org
  - route:
    - destination:
        host: infra-backend-v1
        port:
          number: 8080
`);
  const pseudo = await cfg.request(p!, { host: 'client.example', path: '/pseudo' });
  assert.equal(pseudo.status, 200, pseudo.body);
  assert.equal(pseudo.echo!.headers.host, 'pseudo.example.org');
  const host = await cfg.request(p!, { host: 'client.example', path: '/host' });
  assert.equal(host.status, 200, host.body);
  assert.equal(host.echo!.headers.host, 'host.example.org');
  const plain = await cfg.request(p!, { host: 'client.example', path: '/' });
  assert.equal(plain.echo!.headers.host, 'client.example');
  // Over HTTP/2 from the client too (the authority is a pseudo-header there).
  const h2 = await cfg.requestH2(p!, { host: 'client.example', path: '/pseudo' });
  assert.equal(h2.echo!.headers.host, 'pseudo.example.org');
});

test("VirtualService redirect scheme https with derivePort FROM_REQUEST_PORT keeps the request's port; FROM_PROTOCOL_DEFAULT drops it", async (t) => {
  const world = await conformanceWorld(t);
  const [a, p] = await ports(2);
  const cfg = await world.apply(`${gateways(a!, p!)}apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: redirects
spec:
  hosts:
  - "*"
  gateways:
  - istio-gw
  http:
  - match:
    - uri:
        prefix: /from-request
    redirect:
      scheme: https
      derivePort: FROM_REQUEST_PORT
  - match:
    - uri:
        prefix: /from-default
    redirect:
      scheme: https
      derivePort: FROM_PROTOCOL_DEFAULT
`);
  // Without a port in Host, the port still comes from the listener the request arrived on.
  const fromRequest = await cfg.request(p!, { host: 'example.com', path: '/from-request/x' });
  assert.deepEqual([fromRequest.status, fromRequest.headers.location], [301, `https://example.com:${p}/from-request/x`]);
  const fromDefault = await cfg.request(p!, { host: 'example.com', path: '/from-default/x' });
  assert.deepEqual([fromDefault.status, fromDefault.headers.location], [301, 'https://example.com/from-default/x']);
});
