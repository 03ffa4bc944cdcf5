// outpost under test: hand-written ProxyConfigs run with `outpost proxy --config` (the hop on its
// own, no control plane), and later `outpost up` with the seed's Gateway API configuration.

import { writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startProcess, stopProcess, waitForPort, assertPortFree, processTree, runCommand } from './procs.mjs';
import { EXTERNAL_HOST } from './peers.mjs';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const OUTPOST_BIN = join(REPO, 'bin', 'outpost');
const NAMING = join(REPO, 'dist', 'proxyconfig', 'naming.js');
const PROXY_PROCESS = join(REPO, 'dist', 'runtime', 'proxy-process.js');
/** The node flags `outpost up` starts its proxies with (none before a build). */
export const PROXY_NODE_FLAGS = existsSync(PROXY_PROCESS) ? (await import(pathToFileURL(PROXY_PROCESS).href)).PROXY_NODE_FLAGS : [];

const GATEWAY = 'httpbin-egress-gateway';
const NS = 'default';

/** What the built CLI offers: resolves { proxy: bool, up: bool, proxyHelp, upHelp }. */
export async function outpostCapabilities() {
  const caps = { built: existsSync(join(REPO, 'dist', 'cli', 'main.js')), proxy: false, up: false, proxyHelp: '', upHelp: '' };
  if (!caps.built) return caps;
  for (const verb of ['proxy', 'up']) {
    const r = await runCommand(process.execPath, [OUTPOST_BIN, verb, '--help'], { timeoutMs: 15_000 });
    const text = r.stdout + r.stderr;
    // commander answers an unknown verb with "unknown command"; a real verb prints its usage.
    caps[verb] = r.code === 0 && text.includes(`outpost ${verb}`);
    caps[`${verb}Help`] = text;
  }
  return caps;
}

async function naming() {
  return import(pathToFileURL(NAMING).href);
}

const accessLog = (file) => (file ? { accessLog: { path: file, encoding: 'TEXT' } } : {});

/** The gateway's ProxyConfig as the control plane would build it from the seed's Gateway API YAML. */
export async function gatewayProxyConfig({ ip, port, logFile, mtls }) {
  const n = await naming();
  const cluster = n.outboundClusterName(80, undefined, EXTERNAL_HOST);
  const table = n.gatewayRouteTableName(80);
  const workload = n.gatewayDeploymentName(GATEWAY, 'istio');
  return {
    apiVersion: 'outpost.dev/v1alpha1',
    version: `bench-gw-${port}`,
    proxy: {
      id: `${workload}-bench.${NS}`,
      role: 'router',
      namespace: NS,
      workload,
      labels: { 'gateway.networking.k8s.io/gateway-name': GATEWAY },
      ip,
    },
    mesh: { ...accessLog(logFile), outboundTrafficPolicy: 'ALLOW_ANY' },
    listeners: [{ name: n.sidecarListenerName(port), protocol: 'HTTP', address: ip, port, bindToPort: true, routeTable: table, ...(mtls ? { mtls } : {}) }],
    routeTables: [
      {
        name: table,
        virtualHosts: [
          {
            name: n.virtualHostName(EXTERNAL_HOST, 80),
            domains: [EXTERNAL_HOST, `${EXTERNAL_HOST}:*`],
            routes: [
              {
                name: n.gatewayApiRouteName(NS, 'forward-httpbin-from-egress-gateway', 0),
                match: { path: { kind: 'prefix', value: '/' } },
                action: { kind: 'forward', clusters: [{ cluster, weight: 1 }] },
              },
            ],
          },
        ],
      },
    ],
    clusters: [
      {
        name: cluster,
        // ServiceEntry resolution DNS: every address of the name, through --hosts-file here.
        type: 'STRICT_DNS',
        endpoints: [{ address: EXTERNAL_HOST, port: 80 }],
        lbPolicy: 'ROUND_ROBIN',
        connectTimeoutMs: 10_000,
        protocol: 'HTTP1',
        service: { host: EXTERNAL_HOST, name: EXTERNAL_HOST, namespace: NS },
      },
    ],
  };
}

/**
 * A sidecar's ProxyConfig: virtualOutbound on ip:15001 (explicit proxy), port 80's route table
 * sends httpbin.org to the gateway (the seed's HTTPRoute with a ServiceEntry parent), any other
 * destination (CONNECT to an unknown port) to PassthroughCluster.
 */
export async function sidecarProxyConfig({ ip, port, gateway, logFile, protocol = 'HTTP1', tls }) {
  const n = await naming();
  const gwHost = n.serviceFqdn(n.gatewayDeploymentName(GATEWAY, 'istio'), NS);
  const gwCluster = n.outboundClusterName(80, undefined, gwHost);
  const passthrough = { kind: 'forward', clusters: [{ cluster: 'PassthroughCluster', weight: 1 }] };
  const allowAny = {
    name: n.ALLOW_ANY_ROUTE,
    domains: ['*'],
    routes: [{ name: n.ALLOW_ANY_ROUTE, match: { path: { kind: 'prefix', value: '/' } }, action: passthrough }],
  };
  return {
    apiVersion: 'outpost.dev/v1alpha1',
    version: 'bench-sidecar',
    proxy: { id: `curl-bench.curl`, role: 'sidecar', namespace: 'curl', workload: 'curl', labels: { app: 'curl' }, ip },
    mesh: { ...accessLog(logFile), outboundTrafficPolicy: 'ALLOW_ANY' },
    listeners: [
      {
        name: n.VIRTUAL_OUTBOUND_LISTENER,
        protocol: 'OUTBOUND',
        address: ip,
        port,
        bindToPort: true,
        fallback: { name: 'PassthroughCluster', clusters: [{ cluster: 'PassthroughCluster', weight: 1 }] },
        fallbackRouteTable: n.ALLOW_ANY_ROUTE,
      },
      { name: n.sidecarListenerName(80), protocol: 'HTTP', address: '0.0.0.0', port: 80, bindToPort: false, routeTable: n.sidecarRouteTableName(80) },
    ],
    routeTables: [
      {
        name: n.sidecarRouteTableName(80),
        virtualHosts: [
          {
            name: n.virtualHostName(EXTERNAL_HOST, 80),
            domains: [EXTERNAL_HOST, `${EXTERNAL_HOST}:80`],
            routes: [
              {
                name: n.gatewayApiRouteName('curl', 'direct-httpbin-to-egress-gateway', 0),
                match: { path: { kind: 'prefix', value: '/' } },
                action: { kind: 'forward', clusters: [{ cluster: gwCluster, weight: 1 }] },
              },
            ],
          },
          allowAny,
        ],
      },
      { name: n.ALLOW_ANY_ROUTE, virtualHosts: [allowAny] },
    ],
    clusters: [
      {
        name: gwCluster,
        type: 'STATIC',
        endpoints: [{ address: gateway.ip, port: gateway.port }],
        lbPolicy: 'ROUND_ROBIN',
        connectTimeoutMs: 10_000,
        protocol,
        ...(tls ? { tls } : {}),
        service: { host: gwHost, name: n.gatewayDeploymentName(GATEWAY, 'istio'), namespace: NS },
      },
      { name: 'PassthroughCluster', type: 'ORIGINAL_DST', endpoints: [], lbPolicy: 'ROUND_ROBIN', connectTimeoutMs: 10_000, protocol: 'TCP' },
      { name: 'BlackHoleCluster', type: 'STATIC', endpoints: [], lbPolicy: 'ROUND_ROBIN', connectTimeoutMs: 10_000, protocol: 'TCP' },
    ],
  };
}

/**
 * One `outpost proxy --config` process pinned to `cpu`. nodeArgs lets the profiler add
 * --cpu-prof (default: the node flags `outpost up` starts its proxies with); extraArgs passes e.g.
 * --concurrency; bin runs another build (bench/ab.mjs).
 */
export function outpostProxyService({ id, config, hostsFile, runDir, cpu, nodeArgs = PROXY_NODE_FLAGS, extraArgs = [], bin = OUTPOST_BIN, identityDir }) {
  const dir = join(runDir, id);
  let proc;
  const listener = config.listeners.find((l) => l.bindToPort);
  return {
    id,
    ip: listener.address,
    port: listener.port,
    dir,
    async start() {
      mkdirSync(dir, { recursive: true });
      const file = join(dir, 'proxyconfig.json');
      writeFileSync(file, JSON.stringify(config, null, 2));
      await assertPortFree(listener.address, listener.port);
      await assertPortFree(config.proxy.ip ?? listener.address, 15000);
      const args = ['-c', String(cpu), process.execPath, ...nodeArgs, bin, 'proxy', '--config', file];
      // Each proxy's admin endpoint on its own address, as each workload has in the mesh.
      args.push('--admin', `${config.proxy.ip ?? listener.address}:15000`);
      if (hostsFile) args.push('--hosts-file', hostsFile);
      if (identityDir) args.push('--identity-dir', identityDir);
      args.push(...extraArgs);
      proc = startProcess(id, 'taskset', args, { stdoutFile: join(dir, 'stdout.log'), stderrFile: join(dir, 'stderr.log'), cwd: dir });
      await waitForPort(listener.address, listener.port, 20_000, proc);
    },
    async stop() {
      // SIGINT: a graceful exit, which is also when node writes a --cpu-prof profile.
      if (proc) await stopProcess(proc, 5000, 'SIGINT');
    },
    pids: () => (proc ? processTree(proc.pid) : []),
  };
}

/**
 * What `outpost up`'s control plane adds to the configs above for the seed (seen in its proxies'
 * /config_dump): the SSRF guard in ENFORCE mode with the seed's host allowed, Istio's default
 * retry policy on every route, LEAST_REQUEST balancing, and the gateway's mTLS listener PERMISSIVE
 * (plain text or mesh mTLS by the first bytes). `bench/ab.mjs --up-like` and `bench/profile.mjs --up-like`
 * use it to measure the path `outpost up` runs without its control plane.
 */
export function likeOutpostUp(config) {
  const retry = { attempts: 2, retryOn: ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes'] };
  const withRetry = (rt) => ({
    ...rt,
    virtualHosts: rt.virtualHosts.map((vh) => ({
      ...vh,
      routes: vh.routes.map((r) =>
        r.action.kind === 'forward' && r.action.clusters.every((c) => c.cluster !== 'PassthroughCluster') ? { ...r, action: { ...r.action, retry } } : r,
      ),
    })),
  });
  return {
    ...config,
    mesh: {
      ...config.mesh,
      ssrfGuard: {
        mode: 'ENFORCE',
        denyRanges: [
          { cidr: '127.0.0.0/8', reason: 'loopback' },
          { cidr: '::1/128', reason: 'loopback' },
          { cidr: '169.254.0.0/16', reason: 'link_local' },
          { cidr: '0.0.0.0/8', reason: 'unspecified' },
          { cidr: '224.0.0.0/4', reason: 'multicast' },
        ],
        adminPorts: [15000],
        allowHosts: [EXTERNAL_HOST],
      },
    },
    listeners: config.listeners.map((l) => (l.mtls !== undefined ? { ...l, mtls: 'PERMISSIVE' } : l)),
    routeTables: config.routeTables.map(withRetry),
    clusters: config.clusters.map((c) => (c.protocol === 'TCP' ? c : { ...c, lbPolicy: 'LEAST_REQUEST' })),
  };
}
