// The Gateway API conformance set-up, outpost-sized: the upstream suite's namespaces and echo
// backends (real HTTP/1.1 and h2c servers behind Services), YAML validated as `outpost apply` does,
// one real gateway proxy per Gateway started from the control plane's translation, and the status
// the control plane would write. Tests then send real requests to the gateways' listeners.
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import type { TestContext } from 'node:test';
import type { KubeObject } from '../../src/api/object.js';
import { formatLoadError, parseText, type LoadError } from '../../src/api/load.js';
import { snapshotFromObjects, type MeshSnapshot } from '../../src/controlplane/snapshot.js';
import { translate } from '../../src/controlplane/translate/index.js';
import { gatewayApiModel } from '../../src/controlplane/translate/gateway-api.js';
import { gatewayProgramming, gatewayStatus, routeStatus } from '../../src/controlplane/status/gateway-api.js';
import { desiredGatewayObjects } from '../../src/controlplane/deployer/index.js';
import type { ProxyIdentity } from '../../src/proxyconfig/types.js';
import { podFor } from '../fixtures/cp/load.js';
import { freePort, startProxy } from './proxy-harness.js';
import { startH2cUpstream, startHttpUpstream, type HttpUpstream } from './upstreams.js';

export const INFRA_NS = 'gateway-conformance-infra';
export const WEB_NS = 'gateway-conformance-web-backend';
export const APP_NS = 'gateway-conformance-app-backend';
const NOW = '2026-01-01T00:00:00Z';
/** Every backend pod lives on this address; ports tell them apart. */
const POD_IP = '127.0.0.1';

/**
 * The gateway pods of one apply get an address of their own in 127/8, so listeners can use fixed
 * ports (8080) without meeting other tests' sockets.
 */
function gatewayAddress(): string {
  const b = () => 1 + Math.floor(Math.random() * 254);
  return `127.${100 + Math.floor(Math.random() * 100)}.${b()}.${b()}`;
}

/** The upstream suite's backends: name, namespace, and how they speak. */
const BACKENDS: readonly { name: string; ns: string; kind: 'h1' | 'h2c' | 'grpc' }[] = [
  { name: 'infra-backend-v1', ns: INFRA_NS, kind: 'h1' },
  { name: 'infra-backend-v2', ns: INFRA_NS, kind: 'h1' },
  { name: 'infra-backend-v3', ns: INFRA_NS, kind: 'h1' },
  { name: 'web-backend', ns: WEB_NS, kind: 'h1' },
  { name: 'app-backend-v1', ns: APP_NS, kind: 'h1' },
  { name: 'infra-backend-h2c', ns: INFRA_NS, kind: 'h2c' },
  { name: 'grpc-infra-backend-v1', ns: INFRA_NS, kind: 'grpc' },
  { name: 'grpc-infra-backend-v2', ns: INFRA_NS, kind: 'grpc' },
];

export interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  /** The backend that answered (`x-upstream`), undefined for the proxy's own replies. */
  readonly backend: string | undefined;
  /** What the backend saw: method, url, headers, httpVersion (JSON echo). */
  readonly echo: { method: string; url: string; httpVersion: string; headers: Record<string, string>; body: string } | undefined;
}

export interface RequestSpec {
  readonly host?: string;
  readonly path?: string;
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

export interface ConformanceWorld {
  readonly backends: ReadonlyMap<string, HttpUpstream>;
  /** Validates and applies YAML (with the base objects), starts one proxy per Gateway; returns the gateways. */
  apply(yaml: string): Promise<AppliedConfig>;
}

export interface AppliedConfig {
  readonly snapshot: MeshSnapshot;
  /** The Gateway's status as the control plane writes it. */
  gatewayStatus(name: string, ns?: string): GatewayStatusView;
  /** Route parent conditions, `type → "Status Reason"`, one record per parentRef. */
  routeConditions(kind: string, name: string, ns?: string): Record<string, string>[];
  /** HTTP/1.1 request to a gateway listener port. */
  request(port: number, spec?: RequestSpec): Promise<Reply>;
  /** HTTPS (HTTP/1.1) request to a terminating listener, trusting only `tls.ca`; SNI is `tls.servername` or the host. */
  requestTls(port: number, tls: { ca: string; servername?: string }, spec?: RequestSpec): Promise<Reply>;
  /** HTTP/2 (prior knowledge) request, e.g. gRPC: `content-type: application/grpc`. */
  requestH2(port: number, spec?: Omit<RequestSpec, 'body'> & { body?: Buffer }): Promise<Reply>;
}

export interface GatewayStatusView {
  readonly conditions: Record<string, string>;
  readonly listeners: Record<string, { conditions: Record<string, string>; attachedRoutes: number; supportedKinds: unknown[] }>;
}

function baseObjects(backends: ReadonlyMap<string, HttpUpstream>): KubeObject[] {
  const out: KubeObject[] = [INFRA_NS, WEB_NS, APP_NS].map((ns) => ({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: ns, labels: { 'gateway-conformance': ns === INFRA_NS ? 'infra' : ns === WEB_NS ? 'web-backend' : 'app-backend' } },
  }));
  for (const b of BACKENDS) {
    const up = backends.get(b.name)!;
    const portSpec = b.kind === 'h2c' ? { name: 'http', appProtocol: 'kubernetes.io/h2c' } : b.kind === 'grpc' ? { name: 'grpc' } : { name: 'http' };
    out.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: b.name, namespace: b.ns },
      spec: { selector: { app: b.name }, ports: [{ ...portSpec, port: 8080, targetPort: up.port, protocol: 'TCP' }] },
    });
    out.push({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `${b.name}-0`, namespace: b.ns, labels: { app: b.name } },
      spec: { containers: [{ name: 'backend', image: 'echo' }] },
      status: { phase: 'Running', podIP: POD_IP, conditions: [{ type: 'Ready', status: 'True' }] },
    });
  }
  return out;
}

function conditionsOf(list: unknown): Record<string, string> {
  return Object.fromEntries((list as { type: string; status: string; reason: string }[]).map((c) => [c.type, `${c.status} ${c.reason}`]));
}

/** Starts the backends (stopped when the test ends). */
export async function conformanceWorld(t: TestContext): Promise<ConformanceWorld> {
  const backends = new Map<string, HttpUpstream>();
  for (const b of BACKENDS) {
    const up = b.kind === 'h1' ? await startHttpUpstream({ name: b.name }) : await startH2cUpstream({ name: b.name });
    backends.set(b.name, up);
  }
  t.after(() => Promise.all([...backends.values()].map((b) => b.close())));
  return {
    backends,
    async apply(yaml: string): Promise<AppliedConfig> {
      const errors: LoadError[] = [];
      const docs = parseText('conformance.yaml', yaml, errors);
      if (errors.length) throw new Error(errors.map(formatLoadError).join('\n'));
      const clusterScoped = new Set(['Namespace', 'GatewayClass']);
      const objects = [
        ...baseObjects(backends),
        ...docs.map((d) => ({
          ...d.object,
          metadata: { generation: 1, ...(clusterScoped.has(d.object.kind) ? {} : { namespace: INFRA_NS }), ...d.object.metadata },
        })),
      ];
      // The deployer's objects and a running gateway pod for every Gateway of class istio.
      const gateways = objects.filter((o) => o.kind === 'Gateway' && (o.spec as { gatewayClassName?: string }).gatewayClassName === 'istio');
      const identities: ProxyIdentity[] = [];
      const gwIp = gatewayAddress();
      for (const gw of gateways) {
        const made = desiredGatewayObjects(gw);
        const pod = podFor(made[0]!, gwIp);
        objects.push(...made, pod);
        identities.push({
          id: `${pod.metadata.name}.${pod.metadata.namespace}`,
          role: 'router',
          namespace: pod.metadata.namespace!,
          workload: made[0]!.metadata.name,
          ip: gwIp,
          labels: pod.metadata.labels!,
        });
      }
      const snapshot = snapshotFromObjects(objects);
      for (const id of identities) await startProxy(t, translate(snapshot, id, { readPem: () => undefined }));
      const model = gatewayApiModel(snapshot);
      return {
        snapshot,
        gatewayStatus(name, ns = INFRA_NS) {
          const info = model.gatewayInfo.get(`${ns}/${name}`);
          if (!info) throw new Error(`no Gateway ${ns}/${name} of class istio`);
          const st = gatewayStatus(info, gatewayProgramming(snapshot, info), NOW) as {
            conditions: unknown;
            listeners: { name: string; conditions: unknown; attachedRoutes: number; supportedKinds: unknown[] }[];
          };
          return {
            conditions: conditionsOf(st.conditions),
            listeners: Object.fromEntries(
              st.listeners.map((l) => [l.name, { conditions: conditionsOf(l.conditions), attachedRoutes: l.attachedRoutes, supportedKinds: l.supportedKinds }]),
            ),
          };
        },
        routeConditions(kind, name, ns = INFRA_NS) {
          const info = model.routeInfo.get(`${kind}/${ns}/${name}`);
          if (!info) throw new Error(`no ${kind} ${ns}/${name}`);
          const st = routeStatus(info, NOW) as { parents: { conditions: unknown }[] };
          return st.parents.map((p) => conditionsOf(p.conditions));
        },
        request: (port, spec = {}) => h1Request(gwIp, port, spec),
        requestTls: (port, tls, spec = {}) => h1Request(gwIp, port, spec, { ca: tls.ca, servername: tls.servername ?? spec.host ?? 'example.com' }),
        requestH2: (port, spec = {}) => h2Request(gwIp, port, spec),
      };
    },
  };
}

function reply(status: number, headers: http.IncomingHttpHeaders, body: string): Reply {
  const backend = typeof headers['x-upstream'] === 'string' ? headers['x-upstream'] : undefined;
  let echo: Reply['echo'];
  if (backend !== undefined && String(headers['content-type'] ?? '').startsWith('application/json')) {
    try {
      echo = JSON.parse(body) as Reply['echo'];
    } catch {
      echo = undefined;
    }
  }
  return { status, headers, body, backend, echo };
}

function h1Request(ip: string, port: number, spec: RequestSpec, tls?: { ca: string; servername: string }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const options = {
      host: ip,
      port,
      path: spec.path ?? '/',
      method: spec.method ?? 'GET',
      agent: false as const,
      setHost: false,
      headers: { host: spec.host ?? 'example.com', ...spec.headers },
      timeout: 10_000,
    };
    const req = tls ? https.request({ ...options, ca: tls.ca, servername: tls.servername }, onResponse) : http.request(options, onResponse);
    function onResponse(res: http.IncomingMessage): void {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(reply(res.statusCode ?? 0, res.headers, Buffer.concat(chunks).toString())));
      res.on('error', reject);
    }
    req.on('timeout', () => req.destroy(new Error(`no answer from the gateway on port ${port} in 10 s`)));
    req.on('error', reject);
    req.end(spec.body);
  });
}

function h2Request(ip: string, port: number, spec: Omit<RequestSpec, 'body'> & { body?: Buffer }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://${ip}:${port}`);
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error(`no HTTP/2 answer from the gateway on port ${port} in 10 s`));
    }, 10_000);
    session.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    const req = session.request({ ':method': spec.method ?? 'GET', ':path': spec.path ?? '/', ':authority': spec.host ?? 'example.com', ...spec.headers });
    let status = 0;
    let headers: http.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    req.on('response', (h) => {
      status = Number(h[':status']);
      headers = h as http.IncomingHttpHeaders;
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', (err) => {
      clearTimeout(timer);
      session.destroy();
      reject(err);
    });
    req.on('end', () => {
      clearTimeout(timer);
      session.close();
      resolve(reply(status, headers, Buffer.concat(chunks).toString()));
    });
    req.end(spec.body);
  });
}

/** Free ports for a test's listeners (free on 127.0.0.1, and so almost surely on a gateway's own address). */
export async function ports(n: number): Promise<number[]> {
  const out: number[] = [];
  while (out.length < n) {
    const p = await freePort();
    if (!out.includes(p)) out.push(p);
  }
  return out;
}
