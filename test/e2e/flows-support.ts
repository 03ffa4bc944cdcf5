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
import { testCerts } from '../helpers/certs.js';

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
        seen[h.name]!.push({ method: req.method ?? '', url: req.url ?? '', host: req.headers.host ?? '', sni: typeof sni === 'string' ? sni : undefined, headers: req.headers });
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
  writeFileSync(hostsFile, Object.entries(addresses).map(([name, ip]) => `${ip} ${name}\n`).join(''));
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

/** The access-log config every flow needs: the Istio resource with accessLogFile set. */
export function istioResource(extraMeshConfig = ''): string {
  return `apiVersion: sailoperator.io/v1
kind: Istio
metadata:
  name: default
spec:
  version: v1.24.3
  namespace: istio-system
  values:
    meshConfig:
      accessLogFile: /dev/stdout
${extraMeshConfig}`;
}

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
  return text.split('\n').filter((l) => l.length > 0).slice(-n);
}

/**
 * One Gateway API egress gateway for edition.cnn.com with an HTTP and a TLS listener, and on the
 * ServiceEntry an HTTPRoute and a TLSRoute of the same name (the EG tutorial's two variants at once).
 */
export function cnnHttpAndTlsGatewayApi(ns: string): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: cnn
  namespace: ${ns}
spec:
  hosts:
  - edition.cnn.com
  ports:
  - number: 80
    name: http-port
    protocol: HTTP
  - number: 443
    name: tls
    protocol: TLS
  resolution: DNS
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: cnn-egress-gateway
  namespace: ${ns}
  annotations:
    networking.istio.io/service-type: ClusterIP
spec:
  gatewayClassName: istio
  listeners:
  - name: http
    hostname: edition.cnn.com
    port: 80
    protocol: HTTP
    allowedRoutes:
      namespaces:
        from: Same
  - name: tls
    hostname: edition.cnn.com
    port: 443
    protocol: TLS
    tls:
      mode: Passthrough
    allowedRoutes:
      namespaces:
        from: Same
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
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
      port: 80
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: forward-cnn-from-egress-gateway
  namespace: ${ns}
spec:
  parentRefs:
  - name: cnn-egress-gateway
    sectionName: http
  hostnames:
  - edition.cnn.com
  rules:
  - backendRefs:
    - kind: Hostname
      group: networking.istio.io
      name: edition.cnn.com
      port: 80
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TLSRoute
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
      port: 443
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TLSRoute
metadata:
  name: forward-cnn-from-egress-gateway
  namespace: ${ns}
spec:
  parentRefs:
  - name: cnn-egress-gateway
    sectionName: tls
  hostnames:
  - edition.cnn.com
  rules:
  - backendRefs:
    - kind: Hostname
      group: networking.istio.io
      name: edition.cnn.com
      port: 443
`;
}
