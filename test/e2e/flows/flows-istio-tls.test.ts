// The Istio egress tutorials' TLS flows through an egress gateway, driven as a user would:
// EG-HTTPS (TLS passthrough, routed on SNI at both hops) and EGTO (the gateway originates TLS).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startDnsServer } from '../../helpers/dns-server.js';
import { eventually } from '../../helpers/mesh.js';
import {
  CNN_HTTP_PORT,
  CNN_TLS_PORT,
  REGISTRY_ONLY,
  EGRESSGW_HOST,
  awaitLastLogLine,
  cnnGatewaySubset,
  cnnHttpVirtualService,
  cnnIstioGateway,
  cnnServiceEntry,
  lastLines,
  standInBody,
  startFlowMesh,
  startFlowWorld,
} from './flows-support.js';

const CNN = 'edition.cnn.com';

/** The EG-HTTPS tutorial's resources (apps namespace, gateway in gw-ns). */
function egHttpsConfig(): string {
  return [
    cnnServiceEntry('apps', [CNN_HTTP_PORT, CNN_TLS_PORT]),
    cnnIstioGateway('tls-passthrough'),
    cnnGatewaySubset(),
    `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: direct-cnn-through-egress-gateway
  namespace: apps
spec:
  hosts:
  - ${CNN}
  gateways:
  - mesh
  - gw-ns/istio-egressgateway
  tls:
  - match:
    - gateways:
      - mesh
      port: 443
      sniHosts:
      - ${CNN}
    route:
    - destination:
        host: ${EGRESSGW_HOST}
        subset: cnn
        port:
          number: 443
  - match:
    - gateways:
      - gw-ns/istio-egressgateway
      port: 443
      sniHosts:
      - ${CNN}
    route:
    - destination:
        host: ${CNN}
        port:
          number: 443
      weight: 100
`,
  ].join('---\n');
}

/** The WC tutorial's resources, on an Istio Gateway named `gateway`. */
function wcConfig(gateway: string): string {
  const WWW = 'www.wikipedia.org';
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: wikipedia
  namespace: apps
spec:
  hosts:
  - "*.wikipedia.org"
  ports:
  - number: 443
    name: https
    protocol: TLS
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: www-wikipedia
  namespace: apps
spec:
  hosts:
  - ${WWW}
  ports:
  - number: 443
    name: https
    protocol: TLS
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: ${gateway}
  namespace: gw-ns
spec:
  selector:
    istio: egressgw
  servers:
  - port:
      number: 443
      name: https
      protocol: TLS
    hosts:
    - "*.wikipedia.org"
    tls:
      mode: PASSTHROUGH
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: egressgateway-for-wikipedia
  namespace: gw-ns
spec:
  host: ${EGRESSGW_HOST}
  subsets:
  - name: wikipedia
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: direct-wikipedia-through-egress-gateway
  namespace: apps
spec:
  hosts:
  - "*.wikipedia.org"
  gateways:
  - mesh
  - gw-ns/${gateway}
  tls:
  - match:
    - gateways:
      - mesh
      port: 443
      sniHosts:
      - "*.wikipedia.org"
    route:
    - destination:
        host: ${EGRESSGW_HOST}
        subset: wikipedia
        port:
          number: 443
  - match:
    - gateways:
      - gw-ns/${gateway}
      port: 443
      sniHosts:
      - "*.wikipedia.org"
    route:
    - destination:
        host: ${WWW}
        port:
          number: 443
      weight: 100
`;
}

test('EG-HTTPS: TLS passthrough through the egress gateway (sniHosts at both hops)', async (t) => {
  const world = await startFlowWorld([{ name: CNN, https: [443] }]);
  t.after(() => world.close());
  // This flow finds edition.cnn.com through a real DNS server (the others use a hosts file).
  const dns = await startDnsServer({ [CNN]: [world.addresses[CNN]!] });
  t.after(() => dns.close());
  const mesh = await startFlowMesh(t, world, {
    dnsServer: dns.address,
    egressgw: [
      { name: 'http', port: 80 },
      { name: 'tls', port: 443 },
    ],
  });

  const config = world.yaml('eg-https.yaml', egHttpsConfig());
  await mesh.ok(['apply', '-f', config]);

  const got = await mesh.outpost(['exec', '-n', 'apps', '--', 'curl', '-sS', '--cacert', world.caFile, `https://${CNN}/`]);
  assert.equal(got.code, 0, `curl failed:\n${got.stderr}`);
  assert.equal(got.stdout, standInBody(CNN));
  assert.equal(world.seen[CNN]!.length, 1);
  assert.equal(world.seen[CNN]![0]!.sni, CNN, 'the SNI passed through untouched');
  assert.ok(dns.queries(CNN) > 0, 'the gateway resolved edition.cnn.com through the DNS server');

  const gwIp = (await mesh.ok(['get', 'pod', '-n', 'gw-ns', '-l', 'istio=egressgw', '-o', 'jsonpath={.items[0].status.podIP}'])).stdout;
  const gwLine = await awaitLastLogLine(mesh, 'the gateway TCP line', ['deployment/egressgw', '-n', 'gw-ns'], (l) => l.includes('outbound|443||'));
  const gwRe = new RegExp(
    String.raw`^\[\S+Z\] "- - -" 0 - - - "-" (\d+) (\d+) \d+ - "-" "-" "-" "-" "${world.addresses[CNN]!.replace(/\./g, '\\.')}:443" outbound\|443\|\|edition\.cnn\.com \S+ ${gwIp.replace(/\./g, '\\.')}:443 \S+ edition\.cnn\.com -$`,
  );
  const m = gwRe.exec(gwLine);
  assert.ok(m, `gateway line:\n${gwLine}`);
  assert.ok(Number(m[1]) > 0 && Number(m[2]) > 0, 'bytes both ways');

  const scLine = await awaitLastLogLine(mesh, 'the sidecar TCP line', ['-n', 'apps', '-c', 'istio-proxy'], (l) => l.includes('outbound|443|cnn|'));
  assert.match(
    scLine,
    /^\[\S+Z\] "- - -" 0 - - - "-" \d+ \d+ \d+ - "-" "-" "-" "-" "\S+:443" outbound\|443\|cnn\|egressgw\.gw-ns\.svc\.cluster\.local \S+ \S+ \S+ edition\.cnn\.com -$/,
  );
});

test('EGTO: the app sends plain HTTP, the gateway originates TLS to edition.cnn.com:443', async (t) => {
  const world = await startFlowWorld([{ name: CNN, https: [443] }]);
  t.after(() => world.close());
  const mesh = await startFlowMesh(t, world, {
    egressgw: [
      { name: 'http', port: 80 },
      { name: 'tls', port: 443 },
    ],
  });

  const config = world.yaml(
    'egto.yaml',
    [
      cnnServiceEntry('apps', [CNN_HTTP_PORT, { number: 443, name: 'https-port', protocol: 'HTTPS' }]),
      cnnIstioGateway('http'),
      cnnGatewaySubset(),
      cnnHttpVirtualService({ forwardPort: 443, weights: true }),
      `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: originate-tls-for-edition-cnn-com
  namespace: apps
spec:
  host: ${CNN}
  trafficPolicy:
    loadBalancer:
      simple: ROUND_ROBIN
    portLevelSettings:
    - port:
        number: 443
      tls:
        mode: SIMPLE
        caCertificates: ${world.caFile}
        sni: ${CNN}
`,
    ].join('---\n'),
  );
  await mesh.ok(['apply', '-f', config]);

  const got = await mesh.outpost(['exec', '-n', 'apps', '--', 'curl', '-sS', '-D', '-', `http://${CNN}/politics`]);
  assert.equal(got.code, 0, `curl failed:\n${got.stderr}`);
  assert.match(got.stdout, /^HTTP\/1\.1 200 /);
  assert.ok(got.stdout.endsWith(standInBody(CNN)), got.stdout);
  assert.equal(world.seen[CNN]!.length, 1);
  assert.equal(world.seen[CNN]![0]!.sni, CNN, 'TLS originated with the DR sni');
  assert.equal(world.seen[CNN]![0]!.url, '/politics');

  const gwLine = lastLines((await mesh.ok(['logs', 'deployment/egressgw', '-n', 'gw-ns', '--tail', '1'])).stdout)[0] ?? '';
  assert.match(gwLine, /"GET \/politics HTTP\/(1\.1|2)" 200 - via_upstream /);
  assert.match(gwLine, new RegExp(` "${world.addresses[CNN]!.replace(/\./g, '\\.')}:443" outbound\\|443\\|\\|edition\\.cnn\\.com `));
  const scLine = lastLines((await mesh.ok(['logs', '-n', 'apps', '-c', 'istio-proxy', '--tail', '1'])).stdout)[0] ?? '';
  assert.match(scLine, / outbound\|80\|cnn\|egressgw\.gw-ns\.svc\.cluster\.local /);
});

test('WC: *.wikipedia.org through the gateway on SNI, second hop to www.wikipedia.org', async (t) => {
  const WWW = 'www.wikipedia.org';
  const EN = 'en.wikipedia.org';
  // en.wikipedia.org has a server of its own: reaching it would mean the second hop was skipped.
  const world = await startFlowWorld([
    { name: WWW, https: [443] },
    { name: EN, https: [443] },
  ]);
  t.after(() => world.close());
  const mesh = await startFlowMesh(t, world, { meshConfig: REGISTRY_ONLY, egressgw: [{ name: 'tls', port: 443 }] });

  const config = world.yaml('wc.yaml', wcConfig('istio-egressgateway'));
  await mesh.ok(['apply', '-f', config]);

  for (const name of [EN, 'de.wikipedia.org']) {
    const got = await mesh.outpost(['exec', '-n', 'apps', '--', 'curl', '-sS', '--cacert', world.caFile, `https://${name}/`]);
    assert.equal(got.code, 0, `curl https://${name}/ failed:\n${got.stderr}`);
    assert.equal(got.stdout, standInBody(WWW), `${name} reached www.wikipedia.org`);
  }
  assert.deepEqual(
    world.seen[WWW]!.map((r) => r.sni),
    [EN, 'de.wikipedia.org'],
    'the SNI passed through',
  );
  assert.equal(world.seen[EN]!.length, 0);

  const gwLine = await eventually(
    'the gateway TCP line',
    async () => {
      const lines = lastLines((await mesh.ok(['logs', 'deployment/egressgw', '-n', 'gw-ns'])).stdout, 5);
      return lines.find((l) => / de\.wikipedia\.org -$/.test(l));
    },
    50,
  );
  assert.match(gwLine, new RegExp(` "${world.addresses[WWW]!.replace(/\./g, '\\.')}:443" outbound\\|443\\|\\|www\\.wikipedia\\.org `));
});

test('EG-HTTPS and WC together on one gateway: two Gateways, two DestinationRules on its Service', async (t) => {
  const WWW = 'www.wikipedia.org';
  const world = await startFlowWorld([
    { name: CNN, https: [443] },
    { name: WWW, https: [443] },
  ]);
  t.after(() => world.close());
  const mesh = await startFlowMesh(t, world, { egressgw: [{ name: 'tls', port: 443 }] });
  // Each tutorial's files as they are, applied one after the other.
  await mesh.ok(['apply', '-f', world.yaml('eg-https.yaml', egHttpsConfig())]);
  await mesh.ok(['apply', '-f', world.yaml('wc.yaml', wcConfig('wikipedia-gateway'))]);

  const got = await mesh.outpost(['exec', '-n', 'apps', '--', 'curl', '-sS', '--cacert', world.caFile, `https://${CNN}/`, 'https://en.wikipedia.org/']);
  assert.equal(got.code, 0, `curl failed:\n${got.stderr}`);
  assert.equal(got.stdout, standInBody(CNN) + standInBody(WWW));
  const clusters = (await mesh.ok(['proxy-config', 'clusters', 'sidecar.apps'])).stdout;
  assert.match(clusters, /^egressgw\.gw-ns\.svc\.cluster\.local\s+443\s+cnn\s+outbound\s/m);
  assert.match(clusters, /^egressgw\.gw-ns\.svc\.cluster\.local\s+443\s+wikipedia\s+outbound\s/m);
});
