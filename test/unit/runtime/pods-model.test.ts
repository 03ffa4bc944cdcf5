// The netns pod model's pure parts: per-pod sidecars and replica pods in the plan, a replaced
// pod's new name, the node network's names, $(VAR) expansion, named probe ports, kubectl's STATUS.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObject } from '../../../src/api/object.js';
import { podStatusText } from '../../../src/api/pod-status.js';
import { expandVars } from '../../../src/runtime/pods/container-process.js';
import { nodeNetworkNames } from '../../../src/runtime/pods/node-network.js';
import { probePort } from '../../../src/runtime/pods/probes.js';
import { planWorkloads } from '../../../src/runtime/workload-plan.js';

const ns = (name: string, labels: Record<string, string> = {}): KubeObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
const web = (replicas: number): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'apps', uid: 'uid-web' },
  spec: { replicas, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', command: ['sleep', 'infinity'] }] } } },
});

test('netns plan: each injected pod its own sidecar, one pod per replica, the shared sidecar kept for exec', () => {
  const input = {
    namespaces: [ns('apps', { 'istio-injection': 'enabled' })],
    deployments: [web(3)],
    revisions: [{ apiVersion: 'sailoperator.io/v1', kind: 'IstioRevision', metadata: { name: 'default' } }],
  };
  const plan = planWorkloads({ ...input, sidecarPerPod: true, replicaPods: true });
  assert.equal(plan.pods.length, 3);
  assert.equal(new Set(plan.pods.map((p) => p.podName)).size, 3);
  assert.ok(plan.pods.every((p) => /^web-[a-z0-9]{10}-[a-z0-9]{5}$/.test(p.podName)));
  assert.deepEqual(
    plan.pods.map((p) => p.proxyKey),
    plan.pods.map((p) => `apps/pod/${p.podName}`),
  );
  assert.deepEqual(plan.proxies.map((p) => p.key).sort(), ['apps/sidecar', ...plan.pods.map((p) => `apps/pod/${p.podName}`)].sort());
  const own = plan.proxies.find((p) => p.key === plan.pods[0]!.proxyKey)!;
  assert.deepEqual(own.labels, { app: 'web', 'istio.io/rev': 'default' });
  // The loopback model: one pod, the namespace's sidecar.
  const loopback = planWorkloads(input);
  assert.equal(loopback.pods.length, 1);
  assert.equal(loopback.pods[0]!.proxyKey, 'apps/sidecar');
  assert.equal(loopback.pods[0]!.podName, plan.pods[0]!.podName, 'replica 0 keeps the name the loopback model gives');
  // A deleted pod: its slot gets a new name, the others keep theirs.
  const replaced = planWorkloads({ ...input, sidecarPerPod: true, replicaPods: true, replaced: new Map([['apps/web/1', 1]]) });
  assert.equal(replaced.pods[0]!.podName, plan.pods[0]!.podName);
  assert.notEqual(replaced.pods[1]!.podName, plan.pods[1]!.podName);
  assert.equal(replaced.pods[2]!.podName, plan.pods[2]!.podName);
  assert.equal(planWorkloads({ ...input, deployments: [web(0)], sidecarPerPod: true, replicaPods: true }).pods.length, 0);
});

test('node network names: short enough for Linux, inside 198.18.0.0/15, one set per state dir', () => {
  const a = nodeNetworkNames('/tmp/a');
  const b = nodeNetworkNames('/tmp/b');
  assert.deepEqual(nodeNetworkNames('/tmp/a'), a);
  assert.notEqual(a.id, b.id);
  assert.ok(a.bridge.length <= 15, a.bridge);
  assert.ok(`vop${a.id}fe`.length <= 15, 'host-side veth names fit IFNAMSIZ');
  assert.match(a.podSubnet, /^198\.18\.\d+\.0\/24$/);
  assert.match(a.serviceSubnet, /^198\.19\.\d+\.0\/24$/);
  assert.equal(a.gateway, a.podSubnet.replace('.0/24', '.1'));
  assert.ok(a.netnsPrefix.startsWith('outpost-'));
});

test('$(VAR) expansion as Kubernetes does it in env, command and args', () => {
  const env = { GREETING: 'hi', NAME: 'web' };
  assert.equal(expandVars('$(GREETING), $(NAME)!', env), 'hi, web!');
  assert.equal(expandVars('$$(GREETING)', env), '$(GREETING)');
  assert.equal(expandVars('$(MISSING) stays', env), '$(MISSING) stays');
});

test('probe ports: numbers, numeric strings and named container ports', () => {
  const ports = [{ name: 'http', containerPort: 8080 }];
  assert.equal(probePort(80, ports), 80);
  assert.equal(probePort('81', ports), 81);
  assert.equal(probePort('http', ports), 8080);
  assert.equal(probePort('grpc', ports), undefined);
});

test("a pod's STATUS as kubectl shows it", () => {
  const pod = (status: unknown, deleting = false): KubeObject => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', ...(deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
    status,
  });
  assert.equal(podStatusText(pod({ phase: 'Running', containerStatuses: [{ state: { running: {} } }] })), 'Running');
  assert.equal(
    podStatusText(pod({ phase: 'Running', containerStatuses: [{ state: { running: {} } }, { state: { waiting: { reason: 'CrashLoopBackOff' } } }] })),
    'CrashLoopBackOff',
  );
  assert.equal(podStatusText(pod({ phase: 'Running', containerStatuses: [{ state: { terminated: { exitCode: 3, reason: 'Error' } } }] })), 'Error');
  assert.equal(podStatusText(pod({})), 'Pending');
  assert.equal(podStatusText(pod({ phase: 'Running' }, true)), 'Terminating');
});
