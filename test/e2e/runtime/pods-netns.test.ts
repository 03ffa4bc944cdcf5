// Pods for real (netns model), inside a network namespace the test makes: each pod its own
// network namespace and address on outpost's bridge, its proxy's admin port on the pod's own
// 127.0.0.1, the example's traffic through the curl pod's own sidecar and the egress gateway,
// and `outpost down` leaving no namespace, bridge or nft table behind.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { nodeNetworkNames } from '../../../src/runtime/pods/node-network.js';
import { eventually, startTestMesh } from '../../helpers/mesh.js';
import { makeTestNetns, netnsSkipReason } from '../../helpers/netns.js';

const skip = netnsSkipReason();

function podRows(wide: string): { ns: string; name: string; ready: string; status: string; ip: string }[] {
  return wide
    .trimEnd()
    .split('\n')
    .slice(1)
    .map((l) => {
      const c = l.split(/\s+/);
      return { ns: c[0]!, name: c[1]!, ready: c[2]!, status: c[3]!, ip: c[6]! };
    });
}

test('the example with pods in their own network namespaces', { skip }, async (t) => {
  const node = makeTestNetns();
  const mesh = await startTestMesh(t, { netns: node.name, upArgs: ['--example'], noStart: true });
  t.after(() => node.remove());
  const up = await mesh.up();
  assert.match(up.stdout, /gw-ns\s+deployment\/egressgw\s+router\s+198\.1[89]\.\d+\.\d+\s+Ready/);

  // Every pod its own address from the pod range, as `kubectl get pods -o wide` shows it.
  const pods = await eventually('both pods running with addresses', async () => {
    const rows = podRows((await mesh.ok(['get', 'pods', '-A', '-o', 'wide'])).stdout);
    return rows.length === 2 && rows.every((r) => r.status === 'Running' && r.ip.startsWith('198.1')) ? rows : undefined;
  });
  const curl = pods.find((p) => p.ns === 'curl')!;
  const gw = pods.find((p) => p.ns === 'gw-ns')!;
  assert.notEqual(curl.ip, gw.ip);
  assert.equal(curl.ready, '2/2', 'the curl pod has its own sidecar');

  // Inside the curl pod: its own eth0 address, its own 127.0.0.1 where its sidecar's admin port answers.
  const inside = await mesh.ok(['exec', curl.name, '-n', 'curl', '--', 'sh', '-c', 'ip -4 -o addr show dev eth0; curl -sS http://127.0.0.1:15000/ready']);
  assert.match(inside.stdout, new RegExp(`inet ${curl.ip.replace(/\./g, '\\.')}/24`));
  assert.match(inside.stdout, /^LIVE$/m);
  // From the node (and so from any other pod), that admin port is not there.
  const fromNode = await node.run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '5', `http://${curl.ip}:15000/ready`]);
  assert.notEqual(fromNode.code, 0, `the admin port answered from the node: ${fromNode.stdout}`);

  // The seed's request: curl in its pod → its sidecar → the egress gateway pod → httpbin.org's stand-in on the node.
  const res = await mesh.ok(['exec', curl.name, '-n', 'curl', '--', 'curl', '-sS', 'http://httpbin.org/get']);
  const body = JSON.parse(res.stdout) as { headers: Record<string, string>; origin: string };
  assert.equal(body.headers['Host'], 'httpbin.org');
  assert.equal(body.origin, gw.ip, 'the request left through the gateway pod');
  assert.equal(body.headers['X-Forwarded-For'], curl.ip);
  const log = await eventually('the gateway logged the request', async () => {
    const r = await mesh.ok(['logs', 'deployment/egressgw', '-n', 'gw-ns', '--tail', '5']);
    return r.stdout.includes('"GET /get HTTP/') ? r.stdout : undefined;
  });
  assert.match(log, new RegExp(`"GET /get HTTP/[\\d.]+" 200 .* ${gw.ip.replace(/\./g, '\\.')}:80 ${curl.ip.replace(/\./g, '\\.')}:\\d+ `));

  // proxy-config reaches a pod's proxy (its admin socket on the node).
  const routes = await mesh.ok(['proxy-config', 'routes', 'deployment/egressgw', '-n', 'gw-ns']);
  assert.match(routes.stdout, /httpbin\.org/);

  // down removes every pod namespace, the bridge and the nft table.
  const names = nodeNetworkNames(mesh.stateDir);
  const ours = (): string[] =>
    execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.startsWith(names.netnsPrefix));
  assert.equal(ours().length, 3, "two pods and the curl namespace's shared sidecar");
  const down = await mesh.down();
  assert.equal(down.code, 0, down.stderr);
  assert.deepEqual(ours(), []);
  assert.doesNotMatch((await node.run('ip', ['-o', 'link', 'show', 'type', 'bridge'])).stdout, new RegExp(names.bridge));
  assert.equal((await node.run('nft', ['list', 'tables'])).stdout.trim(), '');
});
