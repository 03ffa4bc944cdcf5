// Workloads that run, and Services, with pods in their own network namespaces (inside a network
// namespace the test makes): two HTTP services on port 80 in one injected namespace reached by
// name from a client pod (through its sidecar, and by DNS + cluster IP), readiness gating a
// Service's endpoints, a crash-looping container, logs, a deleted pod replaced, scaling.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { nodeNetworkNames } from '../../../src/runtime/pods/node-network.js';
import { eventually, startTestMesh } from '../../helpers/mesh.js';
import { running as isAlive } from '../../helpers/mesh-processes.js';
import { makeTestNetns, netnsSkipReason } from '../../helpers/netns.js';
import { deploymentYaml } from '../../helpers/pods.js';

const skip = netnsSkipReason();
const NODE = JSON.stringify(process.execPath);

function server(body: string): string {
  // A tiny HTTP server on port 80; the body is a JS expression of (req).
  return JSON.stringify(`require('http').createServer((q, s) => s.end(${body} + '\\n')).listen(80, () => console.log('listening on 80'))`);
}

function manifests(helloReplicas: number, readyFile: string): string {
  const deploy = (name: string, replicas: number, container: string): string => `
${deploymentYaml('apps', name, container, replicas)}apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: apps}
spec:
  selector: {app: ${name}}
  ports: [{name: http, port: 80, targetPort: http}]
---`;
  return `apiVersion: v1
kind: Namespace
metadata: {name: apps, labels: {istio-injection: enabled}}
---${deploy(
    'hello',
    helloReplicas,
    `      - name: web
        image: ignored
        command: [${NODE}, "-e", ${server("'hello from ' + process.env.HOSTNAME + ' says ' + process.env.GREETING")}]
        env: [{name: GREETING, value: hi}]
        ports: [{name: http, containerPort: 80}]
        readinessProbe: {httpGet: {path: /, port: http}, periodSeconds: 1}`,
  )}${deploy(
    'echo',
    1,
    `      - name: web
        image: ignored
        command: [${NODE}, "-e", ${server("'echo ' + q.url")}]
        ports: [{name: http, containerPort: 80}]
        readinessProbe: {tcpSocket: {port: 80}, periodSeconds: 1}`,
  )}${deploy(
    'gated',
    1,
    `      - name: web
        image: ignored
        command: [${NODE}, "-e", ${server("'gated'")}]
        ports: [{name: http, containerPort: 80}]
        readinessProbe: {exec: {command: [test, -f, ${JSON.stringify(readyFile)}]}, periodSeconds: 1, failureThreshold: 1}`,
  )}
apiVersion: v1
kind: Service
metadata: {name: echo-headless, namespace: apps}
spec:
  clusterIP: None
  selector: {app: echo}
  ports: [{name: http, port: 80}]
---
${deploymentYaml('apps', 'crasher', '      - {name: main, image: ignored, command: [sh, -c, "echo crashing now; exit 3"]}')}${deploymentYaml('apps', 'client', '      - {name: client, image: ignored, command: [sleep, infinity]}')}`;
}

interface PodRow {
  name: string;
  ready: string;
  status: string;
  restarts: number;
  ip: string;
}

test('Deployments run as pods, Services have cluster IPs and names', { skip }, async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'outpost-pods-'));
  const readyFile = join(tmp, 'gated-ready');
  const yaml = join(tmp, 'apps.yaml');
  const node = makeTestNetns();
  const mesh = await startTestMesh(t, { netns: node.name, noStart: true });
  t.after(() => {
    node.remove();
    rmSync(tmp, { recursive: true, force: true });
  });
  await mesh.up();
  writeFileSync(yaml, manifests(2, readyFile));
  await mesh.ok(['apply', '-f', yaml]);

  const pods = async (): Promise<PodRow[]> =>
    (await mesh.ok(['get', 'pods', '-n', 'apps', '-o', 'wide'])).stdout
      .trimEnd()
      .split('\n')
      .slice(1)
      .map((l) => {
        const c = l.split(/\s+/);
        return { name: c[0]!, ready: c[1]!, status: c[2]!, restarts: Number(c[3]), ip: c[5]! };
      });
  const of = (rows: PodRow[], app: string): PodRow[] => rows.filter((r) => r.name.startsWith(`${app}-`));
  const running = await eventually(
    'hello ×2, echo and client ready',
    async () => {
      const rows = await pods();
      const ok = of(rows, 'hello').length === 2 && [...of(rows, 'hello'), ...of(rows, 'echo'), ...of(rows, 'client')].every((r) => r.ready === '2/2');
      return ok ? rows : undefined;
    },
    300,
  );
  // `get pods -o wide`: every pod its own address from the pod range.
  const ips = running.map((r) => r.ip);
  assert.ok(
    ips.every((ip) => /^198\.18\.\d+\.\d+$/.test(ip)),
    ips.join(' '),
  );
  assert.equal(new Set(ips).size, ips.length, 'no two pods share an address');
  const client = of(running, 'client')[0]!.name;
  const inClient = (cmd: string): Promise<{ code: number; stdout: string; stderr: string }> =>
    mesh.outpost(['exec', client, '-n', 'apps', '--', 'sh', '-c', cmd]);

  // Two HTTP services on port 80, by short name, through the client pod's sidecar (http_proxy) and by DNS + cluster IP.
  const viaSidecar = await inClient('curl -sS --max-time 10 http://echo/x && curl -sS --max-time 10 http://hello/');
  assert.equal(viaSidecar.code, 0, viaSidecar.stderr);
  assert.match(viaSidecar.stdout, /^echo \/x$/m);
  assert.match(viaSidecar.stdout, /^hello from hello-\S+ says hi$/m);
  const svc = await Promise.all(
    ['hello', 'echo'].map(async (n) => (await mesh.ok(['get', 'svc', n, '-n', 'apps', '-o', 'jsonpath={.spec.clusterIP}'])).stdout),
  );
  assert.ok(
    svc.every((ip) => /^198\.19\.\d+\.\d+$/.test(ip)),
    `cluster IPs: ${svc.join(' ')}`,
  );
  const direct = await inClient('getent hosts hello; getent hosts echo-headless; curl -sS --max-time 10 --noproxy "*" http://echo.apps.svc.cluster.local/y');
  assert.equal(direct.code, 0, direct.stderr);
  assert.match(direct.stdout, new RegExp(`^${svc[0]!.replace(/\./g, '\\.')}\\s+hello\\.apps\\.svc\\.cluster\\.local$`, 'm'));
  assert.match(
    direct.stdout,
    new RegExp(`^${of(running, 'echo')[0]!.ip.replace(/\./g, '\\.')}\\s+echo-headless\\.apps\\.svc\\.cluster\\.local$`, 'm'),
    'a headless Service resolves to its pod',
  );
  assert.match(direct.stdout, /^echo \/y$/m);
  // The cluster IP spreads connections over both ready replicas (one shell loop of 40 requests: random choice, both seen).
  const spread = await inClient('for i in $(seq 40); do curl -sS --max-time 10 --noproxy "*" http://hello/; done');
  const seen = new Set([...spread.stdout.matchAll(/hello from (\S+)/g)].map((m) => m[1]!));
  assert.equal(seen.size, 2, `replicas answering: ${[...seen].join(', ')}`);

  // Readiness gates the endpoints: the gated pod is not ready, its Service refuses; once ready, it answers.
  const gated = of(await pods(), 'gated')[0]!;
  assert.equal(gated.ready, '1/2');
  // The client's sidecar answers for the cluster IP (capture): 503 with no ready endpoint, as Istio's "no healthy upstream".
  const refused = await inClient('curl -sSf --max-time 10 --noproxy "*" http://gated/');
  assert.notEqual(refused.code, 0, `answered while not ready: ${refused.stdout}`);
  writeFileSync(readyFile, '');
  await eventually('the gated pod ready', async () => (of(await pods(), 'gated')[0]?.ready === '2/2' ? true : undefined), 200);
  const answered = await eventually('the gated Service answers', async () => {
    const r = await inClient('curl -sSf --max-time 10 --noproxy "*" http://gated/');
    return r.code === 0 ? r.stdout : undefined;
  });
  assert.equal(answered, 'gated\n');

  // A crash-looping container: CrashLoopBackOff, restarts counted, its output in its log.
  const crasher = await eventually(
    'the crasher in CrashLoopBackOff',
    async () => {
      const c = of(await pods(), 'crasher')[0];
      return c && c.status === 'CrashLoopBackOff' && c.restarts >= 1 ? c : undefined;
    },
    200,
  );
  assert.match((await mesh.ok(['logs', `pod/${crasher.name}`, '-n', 'apps', '-c', 'main'])).stdout, /^crashing now$/m);
  assert.match((await mesh.ok(['logs', 'deployment/hello', '-n', 'apps', '-c', 'web'])).stdout, /^listening on 80$/m);

  // A deleted pod is replaced by a new one; scaling down removes pods.
  const victim = of(running, 'hello')[0]!.name;
  await mesh.ok(['delete', 'pod', victim, '-n', 'apps']);
  await eventually(
    'a new hello pod',
    async () => {
      const hello = of(await pods(), 'hello');
      return hello.length === 2 && !hello.some((p) => p.name === victim) && hello.every((p) => p.ready === '2/2') ? true : undefined;
    },
    300,
  );
  writeFileSync(yaml, manifests(1, readyFile));
  await mesh.ok(['apply', '-f', yaml]);
  await eventually('hello scaled to 1', async () => (of(await pods(), 'hello').length === 1 ? true : undefined), 200);

  // A crashed mesh (its `up` killed): `down` ends what still runs in the pods and removes their namespaces.
  const names = nodeNetworkNames(mesh.stateDir);
  const ours = (): string[] =>
    execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.split(' ')[0]!)
      .filter((n) => n.startsWith(names.netnsPrefix));
  const orphans = ours().flatMap((n) => execFileSync('ip', ['netns', 'pids', n], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number));
  assert.ok(orphans.length > 0);
  const upPid = (JSON.parse(readFileSync(join(mesh.stateDir, 'api.json'), 'utf8')) as { pid: number }).pid;
  process.kill(upPid, 'SIGKILL');
  await eventually('the up process gone', async () => (isAlive(upPid) ? undefined : true));
  assert.equal((await mesh.down()).code, 0);
  assert.deepEqual(ours(), []);
  assert.deepEqual(orphans.filter(isAlive), [], 'no pod process outlives down');
  assert.equal((await node.run('nft', ['list', 'tables'])).stdout.trim(), '');
});
