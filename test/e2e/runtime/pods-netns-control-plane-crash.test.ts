// The netns pod model outlives its control plane: `kill -9` of the mesh process (not the
// supervisor) under traffic curl pod → sidecar → egress gateway → stand-in loses no request; the
// restarted control plane keeps the bridge, the table and the pods' namespaces (same addresses),
// adopts the same proxy processes, restarts the app containers once (never two copies), and
// config reaches the proxies again. All inside a network namespace the test makes.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { nodeNetworkNames } from '../../../src/runtime/pods/node-network.js';
import { eventually } from '../../helpers/mesh.js';
import { meshEndpoint, proxyPids, running } from '../../helpers/mesh-processes.js';
import { netnsSkipReason, startNetnsMesh } from '../../helpers/netns.js';
import { processesIn } from '../../helpers/pods.js';

const skip = netnsSkipReason();
/** The client loop's bounds: at most this many requests, each with curl's own time limit. */
const MAX_REQUESTS = 3000;
const REQUESTS_AFTER_RESTART = 50;

/** The pids of `sleep infinity` (the curl pod's app container) in a namespace. */
const sleepersIn = (netns: string): number[] => processesIn(netns, ['/bin/sleep', 'infinity']);

test('kill -9 of the control plane with pods in network namespaces: no request lost, the proxies adopted, config flows again', { skip }, async (t) => {
  // The stand-in for httpbin.org runs apart from the mesh process (the example's own dies with it).
  const { node, mesh } = await startNetnsMesh(t, { upArgs: ['--example'] });
  const names = nodeNetworkNames(mesh.stateDir);
  const podName = (await mesh.ok(['get', 'pods', '-n', 'curl', '-o', 'jsonpath={.items[0].metadata.name}'])).stdout;
  const pod = JSON.parse((await mesh.ok(['get', 'pod', podName, '-n', 'curl', '-o', 'json'])).stdout) as { metadata: { annotations: Record<string, string> } };
  const podNetns = pod.metadata.annotations['outpost.dev/network-namespace']!;
  assert.ok(podNetns.startsWith(names.netnsPrefix), podNetns);
  const httpProxy = (await mesh.ok(['exec', podName, '-n', 'curl', '--', 'sh', '-c', 'printf %s "$http_proxy"'])).stdout;
  assert.match(httpProxy, /^http:\/\/198\.18\./);
  const podIPs = (await mesh.ok(['get', 'pods', '-A', '-o', 'jsonpath={.items[*].status.podIP}'])).stdout;
  const before = meshEndpoint(mesh.stateDir)!;
  assert.ok(before.supervisorPid !== undefined && running(before.supervisorPid), 'up -d runs a supervisor');
  const proxiesBefore = proxyPids(mesh.stateDir);
  assert.equal(proxiesBefore.length, 3, "the curl pod's sidecar, the curl namespace's shared sidecar and the gateway");
  await eventually("the curl pod's app container runs", async () => (sleepersIn(podNetns).length === 1 ? true : undefined));
  const appBefore = sleepersIn(podNetns)[0]!;

  // The client loop runs in the curl pod's namespace (not through `outpost exec`, which needs the
  // control plane): one line per request, until the test closes its stdin or the count runs out.
  const loop = spawn(
    'ip',
    [
      'netns',
      'exec',
      podNetns,
      'sh',
      '-c',
      `i=0; while [ $i -lt ${MAX_REQUESTS} ] && read -r _; do i=$((i+1)); curl -sS -o /dev/null -w '%{http_code}\\n' --max-time 10 -x '${httpProxy}' http://httpbin.org/get 2>&1 | tail -n 1; done`,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  t.after(() => loop.kill('SIGKILL'));
  const lines = createInterface({ input: loop.stdout! })[Symbol.asyncIterator]();
  const once = async (): Promise<string | undefined> => {
    loop.stdin!.write('\n');
    const r = await lines.next();
    return r.done ? undefined : r.value;
  };

  const failures: string[] = [];
  let ok = 0;
  let restarted = false;
  let afterRestart = 0;
  const watchRestart = async () => {
    await eventually(
      'the supervisor restarts the control plane',
      async () => {
        const ep = meshEndpoint(mesh.stateDir);
        if (!ep || ep.pid === before.pid) return undefined;
        const r = await mesh.outpost(['get', 'namespace', 'curl', '-o', 'name']);
        return r.code === 0 ? true : undefined;
      },
      600,
    );
    restarted = true;
  };
  let watching: Promise<void> | undefined;
  for (let i = 0; i < MAX_REQUESTS; i++) {
    if (i === 20) {
      process.kill(before.pid, 'SIGKILL');
      watching = watchRestart();
    }
    const line = await once();
    if (line === undefined) {
      failures.push(`#${i}: the client loop in the curl pod was killed (its namespace removed?)`);
      break;
    }
    if (line === '200') ok++;
    else failures.push(`#${i}: ${line}`);
    if (restarted && ++afterRestart >= REQUESTS_AFTER_RESTART) break;
  }
  loop.stdin!.end();
  await watching;
  t.diagnostic(`${ok} requests answered through sidecar → gateway, ${failures.length} failed`);
  assert.deepEqual(failures, [], `every request answered while the control plane was away (${ok} ok)`);
  assert.ok(restarted && afterRestart >= REQUESTS_AFTER_RESTART, `traffic went on after the restart (${ok} ok)`);

  // The same proxies serve on in the same namespaces with the same addresses; the app container was restarted once.
  const after = meshEndpoint(mesh.stateDir)!;
  assert.equal(after.supervisorPid, before.supervisorPid);
  assert.deepEqual(proxyPids(mesh.stateDir), proxiesBefore);
  assert.ok(proxiesBefore.every(running));
  const meshLog = readFileSync(join(mesh.stateDir, 'logs', 'mesh.log'), 'utf8');
  assert.match(meshLog, /adopting sidecar [^ ]+\.curl on 198\.18\.\S+ .*still serving from the previous run/);
  assert.match(meshLog, /adopting router egressgw-[^ ]+\.gw-ns on 198\.18\.\S+ .*still serving from the previous run/);
  assert.doesNotMatch(meshLog, /removed netns/);
  assert.equal((await mesh.ok(['get', 'pods', '-A', '-o', 'jsonpath={.items[*].status.podIP}'])).stdout, podIPs);
  const app = await eventually('one app container runs again', async () => {
    const s = sleepersIn(podNetns);
    return s.length === 1 && s[0] !== appBefore ? s[0] : undefined;
  });
  assert.ok(!running(appBefore), 'the old app container was stopped');

  // Config reaches the adopted proxies: the gateway's route of the example's VirtualService now adds a response header.
  const vs = join(mesh.stateDir, 'egress-vs.yaml');
  writeFileSync(
    vs,
    `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: egress-vs
  namespace: curl
spec:
  hosts: [httpbin.org]
  gateways: [mesh, gw-ns/egress-gw]
  http:
  - match: [{gateways: [mesh], port: 80}]
    route: [{destination: {host: egressgw.gw-ns.svc.cluster.local, subset: httpbin, port: {number: 80}}, weight: 100}]
  - match: [{gateways: [gw-ns/egress-gw], port: 80}]
    headers: {response: {add: {x-after-crash: adopted}}}
    route: [{destination: {host: httpbin.org, port: {number: 80}}, weight: 100}]
`,
  );
  await mesh.ok(['apply', '-f', vs]);
  const changed = await mesh.ok(['exec', podName, '-n', 'curl', '--', 'curl', '-sS', '-o', '/dev/null', '-D', '-', 'http://httpbin.org/get']);
  assert.match(changed.stdout, /^x-after-crash: adopted\r?$/im);
  assert.deepEqual(proxyPids(mesh.stateDir), proxiesBefore, 'the adopted proxies took the change');

  // down removes everything: processes, namespaces, bridge, table.
  const down = await mesh.down();
  assert.equal(down.code, 0, down.stderr);
  for (const pid of [before.supervisorPid!, after.pid, app, ...proxiesBefore]) assert.ok(!running(pid), `pid ${pid} is gone after down`);
  assert.deepEqual(
    execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.startsWith(names.netnsPrefix)),
    [],
  );
  assert.equal((await node.run('nft', ['list', 'tables'])).stdout.trim(), '');
});
