// Shared by the flows-*.test.ts e2e tests (the Istio egress tutorials' other flows): "external"
// hosts on their own 127.2xx addresses with HTTP and/or HTTPS listeners, a hosts file naming them,
// and YAML written to a temp dir. Certificates come from test/helpers/certs.ts.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { testCerts } from '../../helpers/certs.js';
import { eventually, startTestMesh, type TestMesh } from '../../helpers/mesh.js';
import { istioResource, outboundPolicy } from '../../helpers/istio-resource.js';

export interface SeenRequest {
  method: string;
  url: string;
  host: string;
  /** The TLS SNI the client sent (undefined for plain HTTP). */
  sni: string | undefined;
  headers: Record<string, string | string[] | undefined>;
}

export interface HostSpec {
  name: string;
  /** Ports to serve plain HTTP on. */
  http?: number[];
  /** Ports to serve HTTPS on (certificate valid for the test names, signed by the test CA). */
  https?: number[];
  /** Answers every request; the default answers 200 with `<name> stand-in`. */
  handler?: (req: IncomingMessage, res: ServerResponse) => void;
}

export interface FlowWorld {
  addresses: Record<string, string>;
  seen: Record<string, SeenRequest[]>;
  hostsFile: string;
  /** A file holding the test CA (what `curl --cacert` and DestinationRule caCertificates name). */
  caFile: string;
  dir: string;
  /** Writes YAML into the world's dir and returns its path. */
  yaml(name: string, text: string): string;
  close(): Promise<void>;
}

export function standInBody(name: string): string {
  return `${name} stand-in\n`;
}

function randomAddress(used: Set<string>): string {
  for (;;) {
    const ip = `127.${200 + Math.floor(Math.random() * 50)}.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 254)}`;
    if (!used.has(ip)) {
      used.add(ip);
      return ip;
    }
  }
}

function listen(server: Server, ip: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, ip, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

export async function startFlowWorld(hosts: HostSpec[]): Promise<FlowWorld> {
  const certs = testCerts();
  const dir = mkdtempSync(join(tmpdir(), 'outpost-flows-'));
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, certs.caPem);
  const used = new Set<string>();
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  const addresses: Record<string, string> = {};
  const seen: Record<string, SeenRequest[]> = {};
  const closeAll = async (): Promise<void> => {
    for (const s of sockets) s.destroy();
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  };
  try {
    for (const h of hosts) {
      seen[h.name] = [];
      const handler = (req: IncomingMessage, res: ServerResponse): void => {
        const sni = (req.socket as TLSSocket).servername;
        seen[h.name]!.push({
          method: req.method ?? '',
          url: req.url ?? '',
          host: req.headers.host ?? '',
          sni: typeof sni === 'string' ? sni : undefined,
          headers: req.headers,
        });
        if (h.handler) return h.handler(req, res);
        req.resume();
        const body = standInBody(h.name);
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      };
      for (let attempt = 0; ; attempt++) {
        const ip = randomAddress(used);
        const made: Server[] = [];
        try {
          for (const port of h.http ?? []) {
            const s = createHttpServer(handler);
            made.push(s);
            await listen(s, ip, port);
          }
          for (const port of h.https ?? []) {
            const s = createHttpsServer({ cert: certs.serverCertPem, key: certs.serverKeyPem }, handler);
            made.push(s);
            await listen(s, ip, port);
          }
          for (const s of made) {
            s.on('connection', (c: Socket) => {
              sockets.add(c);
              c.on('close', () => sockets.delete(c));
            });
            servers.push(s);
          }
          addresses[h.name] = ip;
          break;
        } catch (err) {
          await Promise.all(made.map((s) => new Promise<void>((r) => (s.listening ? s.close(() => r()) : r()))));
          if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt > 5) throw err;
        }
      }
    }
  } catch (err) {
    await closeAll();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const hostsFile = join(dir, 'hosts');
  writeFileSync(
    hostsFile,
    Object.entries(addresses)
      .map(([name, ip]) => `${ip} ${name}\n`)
      .join(''),
  );
  return {
    addresses,
    seen,
    hostsFile,
    caFile,
    dir,
    yaml: (name, text) => {
      const p = join(dir, name);
      writeFileSync(p, text);
      return p;
    },
    close: async () => {
      await closeAll();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * httpbin's /delay/N: answers `body` (JSON) after N seconds, unless the client left first; any
 * other path is answered at once.
 */
export function answerAfterDelay(req: IncomingMessage, res: ServerResponse, body: string): void {
  req.resume();
  const m = /^\/delay\/(\d+)$/.exec(req.url ?? '');
  const answer = (): void => {
    if (res.destroyed) return;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  if (!m) return answer();
  const timer = setTimeout(answer, Number(m[1]) * 1000);
  res.on('close', () => clearTimeout(timer));
}

/** meshConfig lines (for istioResource / startFlowMesh) that make the mesh REGISTRY_ONLY. */
export const REGISTRY_ONLY = outboundPolicy('REGISTRY_ONLY');

/**
 * An egress gateway installed through gateway injection (as the seed's egressgw.yaml), serving
 * the given Service ports; the Istio Gateway selector `istio: <name>` picks it.
 */
export function injectedGateway(name: string, ns: string, ports: Array<{ name: string; port: number }>): string {
  return `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: ${ns}
  labels:
    istio: ${name}
spec:
  type: ClusterIP
  selector:
    istio: ${name}
  ports:
${ports.map((p) => `  - name: ${p.name}\n    port: ${p.port}\n    targetPort: ${p.port}\n    protocol: TCP\n`).join('')}---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  selector:
    matchLabels:
      istio: ${name}
  template:
    metadata:
      annotations:
        inject.istio.io/templates: gateway
      labels:
        istio: ${name}
        sidecar.istio.io/inject: "true"
    spec:
      containers:
      - name: istio-proxy
        image: auto
`;
}

/** The last `n` non-empty lines of a log text. */
export function lastLines(text: string, n = 1): string[] {
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .slice(-n);
}

const CNN = 'edition.cnn.com';
/** The Service of the injected gateway `egressgw` in gw-ns (what the tutorials' DestinationRules name). */
export const EGRESSGW_HOST = 'egressgw.gw-ns.svc.cluster.local';

export interface FlowMeshOptions {
  /** Find names through this DNS server instead of the world's hosts file. */
  dnsServer?: string;
  /** Lines appended to the Istio resource's meshConfig. */
  meshConfig?: string;
  /** Install the injected gateway `egressgw` in gw-ns, serving these ports. */
  egressgw?: Array<{ name: string; port: number }>;
  /** Namespaces to create before `apps`. */
  namespaces?: string[];
  /** More flags for `outpost up -d`. */
  upArgs?: string[];
}

/**
 * A running mesh set up as every flow starts: the Istio resource (access log on), optionally the
 * injected egress gateway, and the `apps` namespace labelled for sidecar injection.
 */
export async function startFlowMesh(t: Parameters<typeof startTestMesh>[0], world: FlowWorld, opts: FlowMeshOptions = {}): Promise<TestMesh> {
  const mesh = await startTestMesh(t, {
    ...(opts.dnsServer !== undefined ? { dnsServer: opts.dnsServer } : { hostsFile: world.hostsFile }),
    ...(opts.upArgs !== undefined ? { upArgs: opts.upArgs } : {}),
  });
  await mesh.ok(['apply', '-f', world.yaml('istio.yaml', istioResource(opts.meshConfig))]);
  if (opts.egressgw) {
    await mesh.ok(['create', 'namespace', 'gw-ns']);
    await mesh.ok(['apply', '-f', world.yaml('gw.yaml', injectedGateway('egressgw', 'gw-ns', opts.egressgw))]);
  }
  for (const ns of opts.namespaces ?? []) await mesh.ok(['create', 'namespace', ns]);
  await mesh.ok(['create', 'namespace', 'apps']);
  await mesh.ok(['label', 'namespace', 'apps', 'istio-injection=enabled']);
  return mesh;
}

/** Waits until the Gateway API Gateway `name` reports Programmed=True. */
export async function waitProgrammed(mesh: TestMesh, name: string, ns: string): Promise<void> {
  await eventually('the gateway is Programmed', async () => {
    const r = await mesh.ok(['get', 'gateway', name, '-n', ns, '-o', 'jsonpath={.status.conditions[?(@.type=="Programmed")].status}']);
    return r.stdout === 'True' ? true : undefined;
  });
}

/**
 * Polls `outpost logs LOGSARGS…` (50 tries) until its last line passes `match`, and returns that
 * line: TCP-style lines are written only when the connection closes.
 */
export function awaitLastLogLine(mesh: TestMesh, what: string, logsArgs: string[], match: (line: string) => boolean): Promise<string> {
  return eventually(
    what,
    async () => {
      const l = lastLines((await mesh.ok(['logs', ...logsArgs])).stdout)[0];
      return l && match(l) ? l : undefined;
    },
    50,
  );
}

export interface SePort {
  number: number;
  name: string;
  protocol: string;
}
export const CNN_HTTP_PORT: SePort = { number: 80, name: 'http-port', protocol: 'HTTP' };
export const CNN_TLS_PORT: SePort = { number: 443, name: 'tls', protocol: 'TLS' };

/** The tutorials' ServiceEntry `cnn` for edition.cnn.com (resolution DNS). */
export function cnnServiceEntry(ns: string, ports: SePort[]): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: cnn
  namespace: ${ns}
spec:
  hosts:
  - ${CNN}
  ports:
${ports.map((p) => `  - number: ${p.number}\n    name: ${p.name}\n    protocol: ${p.protocol}\n`).join('')}  resolution: DNS
`;
}

/**
 * The Istio Gateway `istio-egressgateway` in gw-ns (on the injected `egressgw`) for edition.cnn.com:
 * plain HTTP on port 80, or TLS passed through on port 443.
 */
export function cnnIstioGateway(server: 'http' | 'tls-passthrough'): string {
  const port =
    server === 'http'
      ? `  - port:
      number: 80
      name: http
      protocol: HTTP
    hosts:
    - ${CNN}
`
      : `  - port:
      number: 443
      name: tls
      protocol: TLS
    hosts:
    - ${CNN}
    tls:
      mode: PASSTHROUGH
`;
  return `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: istio-egressgateway
  namespace: gw-ns
spec:
  selector:
    istio: egressgw
  servers:
${port}`;
}

/** The DestinationRule giving the egress gateway's Service the subset `cnn`. */
export function cnnGatewaySubset(): string {
  return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: egressgateway-for-cnn
  namespace: gw-ns
spec:
  host: ${EGRESSGW_HOST}
  subsets:
  - name: cnn
`;
}

/**
 * The VirtualService `direct-cnn-through-egress-gateway` for plain HTTP on port 80: from the mesh to
 * the gateway's subset `cnn`, and from the gateway to edition.cnn.com on `forwardPort`.
 */
export function cnnHttpVirtualService(opts: { forwardPort: number; forwardName?: string; weights?: boolean }): string {
  const weight = opts.weights ? '      weight: 100\n' : '';
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: direct-cnn-through-egress-gateway
  namespace: apps
spec:
  hosts:
  - ${CNN}
  gateways:
  - gw-ns/istio-egressgateway
  - mesh
  http:
  - match:
    - gateways:
      - mesh
      port: 80
    route:
    - destination:
        host: ${EGRESSGW_HOST}
        subset: cnn
        port:
          number: 80
${weight}${opts.forwardName !== undefined ? `  - name: ${opts.forwardName}\n    match:\n` : '  - match:\n'}    - gateways:
      - gw-ns/istio-egressgateway
      port: 80
    route:
    - destination:
        host: ${CNN}
        port:
          number: ${opts.forwardPort}
${weight}`;
}

type GatewayApiListener = 'http' | 'tls';

/** The Gateway API Gateway `cnn-egress-gateway` (auto-deployed, ClusterIP) with the given listeners. */
function cnnGatewayApiGateway(ns: string, listeners: GatewayApiListener[]): string {
  const listener = (l: GatewayApiListener): string =>
    l === 'http'
      ? `  - name: http
    hostname: ${CNN}
    port: 80
    protocol: HTTP
    allowedRoutes:
      namespaces:
        from: Same
`
      : `  - name: tls
    hostname: ${CNN}
    port: 443
    protocol: TLS
    tls:
      mode: Passthrough
    allowedRoutes:
      namespaces:
        from: Same
`;
  return `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: cnn-egress-gateway
  namespace: ${ns}
  annotations:
    networking.istio.io/service-type: ClusterIP
spec:
  gatewayClassName: istio
  listeners:
${listeners.map(listener).join('')}`;
}

const ROUTE_KINDS = {
  http: { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', port: 80 },
  tls: { apiVersion: 'gateway.networking.k8s.io/v1alpha2', kind: 'TLSRoute', port: 443 },
} as const;

/** The mesh hop: a route on the ServiceEntry `cnn` sending edition.cnn.com to the gateway's Service. */
function cnnDirectRoute(ns: string, l: GatewayApiListener): string {
  const r = ROUTE_KINDS[l];
  return `apiVersion: ${r.apiVersion}
kind: ${r.kind}
metadata:
  name: direct-cnn-to-egress-gateway
  namespace: ${ns}
spec:
  parentRefs:
  - kind: ServiceEntry
    group: networking.istio.io
    name: cnn
  rules:
  - backendRefs:
    - name: cnn-egress-gateway-istio
      port: ${r.port}
`;
}

/** The gateway hop: a route on the Gateway (optionally on one listener) to edition.cnn.com itself. */
function cnnForwardRoute(ns: string, l: GatewayApiListener, sectionName?: string): string {
  const r = ROUTE_KINDS[l];
  return `apiVersion: ${r.apiVersion}
kind: ${r.kind}
metadata:
  name: forward-cnn-from-egress-gateway
  namespace: ${ns}
spec:
  parentRefs:
  - name: cnn-egress-gateway
${sectionName !== undefined ? `    sectionName: ${sectionName}\n` : ''}  hostnames:
  - ${CNN}
  rules:
  - backendRefs:
    - kind: Hostname
      group: networking.istio.io
      name: ${CNN}
      port: ${r.port}
`;
}

/**
 * The Gateway API EG-HTTPS tutorial: a TLS passthrough listener for edition.cnn.com, a TLSRoute on
 * the ServiceEntry to the gateway and one on the gateway to edition.cnn.com:443.
 */
export function cnnTlsGatewayApi(ns: string): string {
  return [cnnServiceEntry(ns, [CNN_HTTP_PORT, CNN_TLS_PORT]), cnnGatewayApiGateway(ns, ['tls']), cnnDirectRoute(ns, 'tls'), cnnForwardRoute(ns, 'tls')].join(
    '---\n',
  );
}

/**
 * One Gateway API egress gateway for edition.cnn.com with an HTTP and a TLS listener, and on the
 * ServiceEntry an HTTPRoute and a TLSRoute of the same name (the EG tutorial's two variants at once).
 */
export function cnnHttpAndTlsGatewayApi(ns: string): string {
  return [
    cnnServiceEntry(ns, [CNN_HTTP_PORT, CNN_TLS_PORT]),
    cnnGatewayApiGateway(ns, ['http', 'tls']),
    cnnDirectRoute(ns, 'http'),
    cnnForwardRoute(ns, 'http', 'http'),
    cnnDirectRoute(ns, 'tls'),
    cnnForwardRoute(ns, 'tls', 'tls'),
  ].join('---\n');
}
