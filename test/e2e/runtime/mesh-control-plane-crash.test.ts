// The data plane outlives the control plane: `kill -9` of the mesh process under steady traffic
// through sidecar → egress gateway loses no request; `outpost up`'s supervisor restarts the
// control plane, which adopts the running proxies, and config changes reach them again. A start
// option never overwrites what the user changed (`up --example` after a crash keeps REGISTRY_ONLY);
// a proxy whose bootstrap changed is replaced rather than adopted.
import assert from 'node:assert/strict';
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { eventually, startTestMesh } from '../../helpers/mesh.js';
import { meshEndpoint, proxyPids, running } from '../../helpers/mesh-processes.js';
import {
  CNN_HTTP_PORT,
  cnnGatewaySubset,
  cnnHttpVirtualService,
  cnnIstioGateway,
  cnnServiceEntry,
  startFlowMesh,
  startFlowWorld,
} from '../flows/flows-support.js';

const CNN = 'edition.cnn.com';
const EXAMPLE = fileURLToPath(new URL('../../../examples/seed-istio-api/', import.meta.url));
/** The client loop's bounds: whichever comes first once the restart was seen, or at the latest the deadline. */
const MAX_REQUESTS = 5000;
const LOOP_DEADLINE_MS = 30_000;
const REQUESTS_AFTER_RESTART = 100;

/** The stand-in answers with the port it was reached on, so a route change is visible in the body. */
function byPort(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  const body = `port ${req.socket.localPort}\n`;
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** One GET through the sidecar (as `outpost exec` sets http_proxy), on a new connection each time. */
function getThroughSidecar(proxy: URL, url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: proxy.hostname, port: proxy.port, path: url, headers: { host: new URL(url).host }, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no answer in 10 s')));
    req.on('error', reject);
    req.end();
  });
}

test('kill -9 of the control plane under traffic through sidecar → gateway loses no request; the restarted one adopts the proxies and pushes config again', async (t) => {
  const world = await startFlowWorld([{ name: CNN, http: [80, 8080], handler: byPort }]);
  t.after(() => world.close());
  const mesh = await startFlowMesh(t, world, { egressgw: [{ name: 'http', port: 80 }] });
  const routes = (forwardPort: number): string =>
    world.yaml(
      `eg-${forwardPort}.yaml`,
      [
        cnnServiceEntry('apps', [CNN_HTTP_PORT, { number: 8080, name: 'http-alt', protocol: 'HTTP' }]),
        cnnIstioGateway('http'),
        cnnGatewaySubset(),
        cnnHttpVirtualService({ forwardPort }),
      ].join('---\n'),
    );
  await mesh.ok(['apply', '-f', routes(80)]);
  const first = await mesh.ok(['exec', '-n', 'apps', '--', 'curl', '-sS', `http://${CNN}/`]);
  assert.equal(first.stdout, 'port 80\n');
  const proxy = new URL((await mesh.ok(['exec', '-n', 'apps', '--', 'sh', '-c', 'printf %s "$http_proxy"'])).stdout);
  const before = meshEndpoint(mesh.stateDir)!;
  assert.ok(before.supervisorPid !== undefined && running(before.supervisorPid), 'up -d runs a supervisor');
  const proxiesBefore = proxyPids(mesh.stateDir);
  assert.equal(proxiesBefore.length, 2, 'the sidecar of apps and the gateway egressgw');

  // Steady traffic, bounded in count and time; the control plane dies after the first requests.
  const failures: string[] = [];
  let ok = 0;
  let killedAt: number | undefined;
  let restartedAt: number | undefined;
  const watchRestart = (async () => {
    while (killedAt === undefined) await new Promise((r) => setTimeout(r, 20));
    await eventually(
      'the supervisor restarts the control plane',
      async () => {
        const ep = meshEndpoint(mesh.stateDir);
        if (!ep || ep.pid === before.pid) return undefined;
        const r = await mesh.outpost(['get', 'namespace', 'apps', '-o', 'name']);
        return r.code === 0 ? true : undefined;
      },
      300,
    );
    restartedAt = ok;
  })();
  const deadline = Date.now() + LOOP_DEADLINE_MS;
  for (let i = 0; i < MAX_REQUESTS && Date.now() < deadline; i++) {
    if (i === 50) {
      process.kill(before.pid, 'SIGKILL');
      killedAt = ok;
    }
    try {
      const r = await getThroughSidecar(proxy, `http://${CNN}/`);
      if (r.status === 200 && r.body === 'port 80\n') ok++;
      else failures.push(`#${i}: ${r.status} ${r.body.trim()}`);
    } catch (err) {
      failures.push(`#${i}: ${(err as Error).message}`);
    }
    if (restartedAt !== undefined && ok - restartedAt >= REQUESTS_AFTER_RESTART) break;
  }
  await watchRestart;
  t.diagnostic(
    `${ok} requests answered, ${(restartedAt ?? ok) - (killedAt ?? 0)} of them while the control plane was down or restarting; failures: ${failures.length}`,
  );
  assert.deepEqual(failures, [], `every request through sidecar → gateway answered while the control plane was away (${ok} ok)`);
  assert.ok(restartedAt !== undefined && ok - restartedAt >= REQUESTS_AFTER_RESTART, `traffic went on after the restart (${ok} ok)`);
  assert.ok(!running(before.pid), 'the killed control plane is gone');

  // The same proxy processes serve on: adopted, not restarted.
  const after = meshEndpoint(mesh.stateDir)!;
  assert.equal(after.supervisorPid, before.supervisorPid);
  assert.deepEqual(proxyPids(mesh.stateDir), proxiesBefore);
  assert.ok(proxiesBefore.every(running));
  assert.match(readFileSync(join(mesh.stateDir, 'logs', 'mesh.log'), 'utf8'), /adopting router egressgw-[^ ]+\.gw-ns .*still serving from the previous run/);

  // Config flows again: the gateway now forwards to port 8080 (exec waits until the proxies ACKed it).
  await mesh.ok(['apply', '-f', routes(8080)]);
  const changed = await mesh.ok(['exec', '-n', 'apps', '--', 'curl', '-sS', `http://${CNN}/`]);
  assert.equal(changed.stdout, 'port 8080\n');

  // down stops everything: supervisor, control plane and the adopted proxies.
  const down = await mesh.down();
  assert.equal(down.code, 0, down.stderr);
  for (const pid of [before.supervisorPid!, after.pid, ...proxiesBefore]) assert.ok(!running(pid), `pid ${pid} is gone after down`);
});

test('up --example after a crash leaves what the user changed (REGISTRY_ONLY stays) and says so', async (t) => {
  const mesh = await startTestMesh(t, { noStart: true });
  const firstUp = await mesh.up(['--example']);
  assert.doesNotMatch(firstUp.stdout, /left .* as they are/);
  assert.equal(
    (await mesh.ok(['get', 'istio', 'default', '-o', 'jsonpath={.spec.values.meshConfig.accessLogFile}'])).stdout,
    '/dev/stdout',
    'the example created its Istio resource',
  );
  // The user turns the policy to REGISTRY_ONLY.
  const istio = join(mesh.stateDir, 'istio-registry-only.yaml');
  writeFileSync(istio, `${readFileSync(join(EXAMPLE, '01-istio.yaml'), 'utf8').trimEnd()}\n      outboundTrafficPolicy:\n        mode: REGISTRY_ONLY\n`);
  assert.match((await mesh.ok(['apply', '-f', istio])).stdout, /configured/);

  // A crash of everything: the supervisor and the mesh process, so nothing restarts it.
  const ep = meshEndpoint(mesh.stateDir)!;
  process.kill(ep.supervisorPid!, 'SIGKILL');
  process.kill(ep.pid, 'SIGKILL');
  await eventually('the mesh processes are gone', async () => (running(ep.pid) || running(ep.supervisorPid!) ? undefined : true));

  const again = await mesh.up(['--example']);
  assert.match(again.stdout, /^example: left \d+ object\(s\) that already existed as they are: .*\bIstio default\b/m);
  const mode = await mesh.ok(['get', 'istio', 'default', '-o', 'jsonpath={.spec.values.meshConfig.outboundTrafficPolicy.mode}']);
  assert.equal(mode.stdout, 'REGISTRY_ONLY');
});

test('a proxy started with another bootstrap than the new up would write is replaced, not adopted; traffic flows through the new one', async (t) => {
  const world = await startFlowWorld([{ name: CNN, http: [80] }]);
  t.after(() => world.close());
  const mesh = await startFlowMesh(t, world);
  await mesh.ok(['apply', '-f', world.yaml('se.yaml', cnnServiceEntry('apps', [CNN_HTTP_PORT]))]);
  assert.equal((await mesh.ok(['exec', '-n', 'apps', '--', 'curl', '-sS', `http://${CNN}/`])).stdout, `${CNN} stand-in\n`);
  const [sidecar] = proxyPids(mesh.stateDir);
  const ep = meshEndpoint(mesh.stateDir)!;
  process.kill(ep.supervisorPid!, 'SIGKILL');
  await eventually('the mesh process leaves with its supervisor', async () => (running(ep.pid) ? undefined : true));
  assert.ok(running(sidecar!), 'the sidecar still serves');

  // The same names from another hosts file: the sidecar's bootstrap changes, so it is replaced.
  const otherHosts = world.yaml('hosts-2', readFileSync(world.hostsFile, 'utf8'));
  const up = await mesh.outpost(['up', '-d', '--hosts-file', otherHosts], { timeoutMs: 90_000 });
  assert.equal(up.code, 0, up.stderr);
  const [replaced] = proxyPids(mesh.stateDir);
  assert.notEqual(replaced, sidecar);
  assert.ok(!running(sidecar!), 'the old sidecar was stopped');
  assert.match(readFileSync(join(mesh.stateDir, 'logs', 'mesh.log'), 'utf8'), /replacing sidecar sidecar\.apps \(pid \d+\): its bootstrap changed/);
  assert.equal((await mesh.ok(['exec', '-n', 'apps', '--', 'curl', '-sS', `http://${CNN}/`])).stdout, `${CNN} stand-in\n`);
});
