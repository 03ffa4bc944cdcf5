// Gateway API conformance, GRPCRoute: our own tests of the behaviour the upstream suite's GRPCRoute
// tests check (method and header matching, listener hostnames), over HTTP/2 through real gateway proxies
// to HTTP/2 backends.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { conformanceWorld, ports, type AppliedConfig } from '../../helpers/gwapi-conformance.js';

const SERVICE = 'gateway_api_conformance.echo_basic.grpcecho.GrpcEcho';

const gateway = (port: number, hostname?: string) => `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: same-namespace
spec:
  gatewayClassName: istio
  listeners:
  - name: http
    port: ${port}
    protocol: HTTP${hostname ? `\n    hostname: "${hostname}"` : ''}
---
`;

const grpcRoute = (name: string, rules: string, extra = '') => `apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata:
  name: ${name}
spec:
  parentRefs:
  - name: same-namespace
${extra}  rules:
${rules}`;

const to = (name: string) => `    backendRefs:\n    - name: ${name}\n      port: 8080\n`;

function call(cfg: AppliedConfig, port: number, method: string, headers: Record<string, string> = {}, host = 'example.com') {
  // A gRPC request: HTTP/2 POST of a length-prefixed (empty) message.
  return cfg.requestH2(port, {
    method: 'POST',
    path: `/${SERVICE}/${method}`,
    host,
    headers: { 'content-type': 'application/grpc', te: 'trailers', ...headers },
    body: Buffer.from([0, 0, 0, 0, 0]),
  });
}

test('GRPCExactMethodMatching: service and method matches pick the backend; the call reaches it over HTTP/2', async (t) => {
  const world = await conformanceWorld(t);
  const [p] = await ports(1);
  const cfg = await world.apply(
    gateway(p!) +
      grpcRoute(
        'exact-matching',
        `  - matches:
    - method:
        service: ${SERVICE}
        method: Echo
${to('grpc-infra-backend-v1')}  - matches:
    - method:
        service: ${SERVICE}
        method: EchoTwo
${to('grpc-infra-backend-v2')}`,
      ),
  );
  assert.deepEqual(cfg.routeConditions('GRPCRoute', 'exact-matching'), [{ Accepted: 'True Accepted', ResolvedRefs: 'True ResolvedRefs' }]);
  const one = await call(cfg, p!, 'Echo');
  assert.deepEqual([one.status, one.backend, one.echo!.httpVersion, one.echo!.url], [200, 'grpc-infra-backend-v1', '2.0', `/${SERVICE}/Echo`]);
  assert.equal((await call(cfg, p!, 'EchoTwo')).backend, 'grpc-infra-backend-v2');
  assert.equal((await call(cfg, p!, 'EchoThree')).status, 404);
});

test('GRPCRouteHeaderMatching: header matches on gRPC calls', async (t) => {
  const world = await conformanceWorld(t);
  const [p] = await ports(1);
  const cfg = await world.apply(
    gateway(p!) +
      grpcRoute(
        'grpc-header-matching',
        `  - matches:
    - headers:
      - name: version
        value: one
${to('grpc-infra-backend-v1')}  - matches:
    - headers:
      - name: version
        value: two
${to('grpc-infra-backend-v2')}`,
      ),
  );
  assert.equal((await call(cfg, p!, 'Echo', { version: 'one' })).backend, 'grpc-infra-backend-v1');
  assert.equal((await call(cfg, p!, 'Echo', { version: 'two' })).backend, 'grpc-infra-backend-v2');
  assert.equal((await call(cfg, p!, 'Echo', { version: 'three' })).status, 404);
});

test("GRPCRouteListenerHostnameMatching: a GRPCRoute serves only the listener's hostnames", async (t) => {
  const world = await conformanceWorld(t);
  const [p] = await ports(1);
  const cfg = await world.apply(gateway(p!, '*.grpc.example') + grpcRoute('grpc-listener-hostname', `  - ${to('grpc-infra-backend-v1').trimStart()}`));
  assert.equal((await call(cfg, p!, 'Echo', {}, 'a.grpc.example')).backend, 'grpc-infra-backend-v1');
  assert.equal((await call(cfg, p!, 'Echo', {}, 'other.example')).status, 404);
});
