// Pods of a mesh in the netns model, as tests look them up, and the egress NetworkPolicies people
// write on OpenShift for an egress gateway (README "NetworkPolicy", pods-netpol, pods-bypass).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { eventually, type TestMesh } from './mesh.js';

export interface TestPod {
  name: string;
  ip: string;
  /** The pod's network namespace (a name under /run/netns). */
  netns: string;
}

/** The first pod of `ns` labelled `label=app`, once it runs, every container ready, with its address. */
export async function podOf(mesh: TestMesh, ns: string, app: string, label = 'app'): Promise<TestPod> {
  return eventually(
    `the ${ns}/${app} pod running with its address`,
    async () => {
      const r = await mesh.ok(['get', 'pods', '-n', ns, '-l', `${label}=${app}`, '-o', 'json']);
      const items = (
        JSON.parse(r.stdout) as {
          items: {
            metadata: { name: string; annotations?: Record<string, string> };
            status?: { podIP?: string; phase?: string; containerStatuses?: { ready?: boolean }[] };
          }[];
        }
      ).items;
      const p = items[0];
      const ready = p?.status?.containerStatuses?.every((c) => c.ready) && p.status.phase === 'Running';
      return p && ready && p.status?.podIP
        ? { name: p.metadata.name, ip: p.status.podIP, netns: p.metadata.annotations?.['outpost.dev/network-namespace'] ?? '' }
        : undefined;
    },
    300,
  );
}

/** Waits until `describe` says the policy is enforced. */
export async function policyEnforced(mesh: TestMesh, ns: string, name: string): Promise<void> {
  await eventually(`${ns}/${name} enforced`, async () => {
    const r = await mesh.ok(['describe', 'networkpolicy', name, '-n', ns]);
    return /^Enforcement:\s+enforced with nftables/m.test(r.stdout) ? true : undefined;
  });
}

/**
 * Default-deny egress in `curl`; allow DNS (kube-system/kube-dns), istio-system and the gateway's
 * namespace; the gateway's namespace denies egress but lets the gateway reach the outside.
 */
export const OPENSHIFT_EGRESS_POLICIES = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny-egress, namespace: curl}
spec:
  podSelector: {}
  policyTypes: [Egress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-dns, namespace: curl}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
      podSelector: {matchLabels: {k8s-app: kube-dns}}
    ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-istio-system-and-egress-gateway, namespace: curl}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: istio-system}}
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: gw-ns}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny-egress, namespace: gw-ns}
spec:
  podSelector: {}
  policyTypes: [Egress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: egress-nodes-reach-the-outside, namespace: gw-ns}
spec:
  podSelector: {matchLabels: {istio: egressgw}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 0.0.0.0/0}}]
`;

/** The policies of OPENSHIFT_EGRESS_POLICIES whose enforcement a test awaits. */
export const OPENSHIFT_EGRESS_POLICY_NAMES: readonly (readonly [string, string])[] = [
  ['curl', 'default-deny-egress'],
  ['curl', 'allow-dns'],
  ['curl', 'allow-istio-system-and-egress-gateway'],
  ['gw-ns', 'default-deny-egress'],
  ['gw-ns', 'egress-nodes-reach-the-outside'],
];

/** A UDP datagram from Node: prints `udp sent` or `udp <error code>`. */
export const UDP_SEND = (host: string, port: number, payload = 'x'): string[] => [
  process.execPath,
  '-e',
  `const s = require('dgram').createSocket('udp4'); s.send(${JSON.stringify(payload)}, ${port}, ${JSON.stringify(host)}, (err) => { console.log(err ? 'udp ' + err.code : 'udp sent'); s.close(); });`,
];

/** An A query for `name` sent to `server`:53 (UDP), as an app with its own resolver would: prints `answer A,B` or `dns <error code>`. */
export const RESOLVE_VIA = (server: string, name: string): string[] => [
  process.execPath,
  '-e',
  `const r = new (require('dns').promises.Resolver)({ timeout: 3000, tries: 1 }); r.setServers([${JSON.stringify(server)}]); r.resolve4(${JSON.stringify(name)}).then((a) => console.log('answer ' + a.join(',')), (e) => console.log('dns ' + e.code));`,
];

/** A TCP connection from Node: prints `tcp connected`, `tcp timeout` (5 s) or `tcp <error code>`. */
export const TCP_CONNECT = (host: string, port: number): string[] => [
  process.execPath,
  '-e',
  `const c = require('net').connect(${port}, ${JSON.stringify(host)}); c.setTimeout(5000, () => { console.log('tcp timeout'); process.exit(0); }); c.on('connect', () => { console.log('tcp connected'); c.destroy(); }); c.on('error', (e) => console.log('tcp ' + e.code));`,
];

/** The pids of the processes in a pod's network namespace whose command line starts with `argv` (e.g. ['/bin/sleep', 'infinity']). */
export function processesIn(netns: string, argv: readonly string[]): number[] {
  const prefix = argv.join('\0');
  return execFileSync('ip', ['netns', 'pids', netns], { encoding: 'utf8' })
    .split('\n')
    .map(Number)
    .filter((p) => {
      try {
        return p > 0 && readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith(prefix);
      } catch {
        return false;
      }
    });
}

/** A process's environment, as the kernel holds it. */
export function environmentOf(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
    const i = kv.indexOf('=');
    if (i > 0) out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

/**
 * A Deployment's manifest whose pods are labelled `app: NAME`; `containers` is the YAML list of
 * spec.template.spec.containers, each item indented six spaces. Ends with `---`.
 */
export function deploymentYaml(ns: string, name: string, containers: string, replicas?: number): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: ${ns}}
spec:
${replicas !== undefined ? `  replicas: ${replicas}\n` : ''}  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      containers:
${containers.replace(/\n?$/, '\n')}---
`;
}
