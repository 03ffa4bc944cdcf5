// The seed chapter §3.2 and §3.3 with the real kubectl instead of `oc` (KUBECONFIG from the state
// dir, commands unchanged apart from the binary name) against `outpost up -d`, and `outpost exec`
// for the curl steps; each command's output checked as the seed shows it. Plus what issue 7 asks
// beyond the seed: an invalid apply, `get -w`, `logs --tail/-f/-c istio-proxy`, a ConfigMap.
// Skips only when kubectl is not installed.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DOCS_HOST, HTTPBIN_HOST, startExternalServices } from '../../helpers/external.js';
import { eventually, startTestMesh } from '../../helpers/mesh.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const SEED = fileURLToPath(new URL('../../fixtures/seed/', import.meta.url));
const KUBECTL = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((p) => existsSync(p));
const skip = !KUBECTL
  ? 'kubectl is not installed (looked in /usr/bin and /usr/local/bin)'
  : !existsSync(join(ROOT, 'dist', 'cli', 'main.js'))
    ? 'outpost is not built (run npx tsc -p tsconfig.json)'
    : false;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Istio's default TEXT access-log line, field by field (reference/istio-egress.md §3.1). */
const ACCESS_LINE =
  /^\[(\S+Z)\] "(\S+) (\S+) (\S+)" (\d+) (\S+) (\S+) (\S+) "([^"]*)" (\d+) (\d+) (\d+) (\S+) "([^"]*)" "([^"]*)" "([^"]*)" "([^"]*)" "([^"]*)" (\S+) (\S+) (\S+) (\S+) (\S+) (\S+)$/;

interface AccessLine {
  method: string;
  path: string;
  status: string;
  userAgent: string;
  requestId: string;
  authority: string;
  upstreamHost: string;
  cluster: string;
}

function parseAccessLine(line: string): AccessLine {
  const m = ACCESS_LINE.exec(line);
  assert.ok(m, `an access-log line in Istio's default format:\n${line}`);
  return { method: m[2]!, path: m[3]!, status: m[5]!, userAgent: m[15]!, requestId: m[16]!, authority: m[17]!, upstreamHost: m[18]!, cluster: m[19]! };
}

function run(cmd: string, args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 60_000, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout, stderr });
    });
  });
}

const BAD_SE = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: bad-se
  namespace: curl
spec:
  hosts:
  - docs.redhat.com
  ports:
  - number: 80
    name: http-port
    protocol: HTTP
  location: MESH_EXTERNAL
  resolution: DNZ
`;

test('the seed §3.2 and §3.3 with kubectl against outpost up', { skip, timeout: 240_000 }, async (t) => {
  const ext = await startExternalServices();
  t.after(() => ext.close());
  const mesh = await startTestMesh(t, { hostsFile: ext.hostsFile });
  const env = { KUBECONFIG: join(mesh.stateDir, 'kubeconfig') };
  const kubectl = (...args: string[]): Promise<Run> => run(KUBECTL!, args, env);
  /** A shell line as the seed writes it (pipes, $(…)), with kubectl on the PATH as the user has it. */
  const sh = (line: string): Promise<Run> => run('/bin/sh', ['-c', line], env);
  const ok = async (...args: string[]): Promise<string> => {
    const r = await kubectl(...args);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const dir = mkdtempSync(join(tmpdir(), 'outpost-e2e-kubectl-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const seed = (name: string): string => join(SEED, name);

  // Prerequisites: access logs to stdout in the Istio resource (the seed's note), a gateway installed by gateway injection.
  assert.equal(await ok('apply', '-f', seed('istio.yaml')), 'istio.sailoperator.io/default configured\nistiocni.sailoperator.io/default created\n');
  assert.equal(await ok('create', 'namespace', 'gw-ns'), 'namespace/gw-ns created\n');
  assert.equal(await ok('apply', '-f', seed('egressgw.yaml')), 'serviceaccount/egressgw created\nservice/egressgw created\ndeployment.apps/egressgw created\n');

  // ---- §3.2 ----
  // $ oc create namespace curl
  assert.equal(await ok('create', 'namespace', 'curl'), 'namespace/curl created\n');
  // $ oc label namespace curl istio-injection=enabled
  assert.equal(await ok('label', 'namespace', 'curl', 'istio-injection=enabled'), 'namespace/curl labeled\n');
  // $ oc get istiorevisions.sailoperator.io → NAME TYPE READY STATUS IN USE VERSION AGE / default Local True Healthy True v1.24.3 3m33s
  // The revision's status is written by the control plane a moment after the label (the seed's
  // output was taken minutes later): ask again until IN USE says True, as a user would.
  const revs = await eventually('the IstioRevision is in use', async () => {
    const lines = (await ok('get', 'istiorevisions.sailoperator.io')).trimEnd().split('\n');
    return lines[1]?.split(/\s{2,}/)[4] === 'True' ? lines : undefined;
  });
  assert.equal(revs.length, 2, revs.join('\n'));
  assert.deepEqual(revs[0]!.split(/\s{2,}/), ['NAME', 'TYPE', 'READY', 'STATUS', 'IN USE', 'VERSION', 'AGE']);
  const row = revs[1]!.split(/\s{2,}/);
  assert.deepEqual(row.slice(0, 6), ['default', 'Local', 'True', 'Healthy', 'True', 'v1.24.3']);
  assert.match(row[6]!, /^\d+(s|m\d*s?)$/);
  // $ oc label namespace curl istio.io/rev=default
  assert.equal(await ok('label', 'namespace', 'curl', 'istio.io/rev=default'), 'namespace/curl labeled\n');
  // $ oc apply -n curl -f curl.yaml
  assert.equal(await ok('apply', '-n', 'curl', '-f', seed('curl.yaml')), 'serviceaccount/curl created\nservice/curl created\ndeployment.apps/curl created\n');
  // $ export CURL_POD=$(oc get pod -n curl -l app=curl -o jsonpath='{.items[0].metadata.name}')
  const curlPod = await eventually('the curl pod', async () => {
    const r = await sh(`export CURL_POD=$(kubectl get pod -n curl -l app=curl -o jsonpath='{.items[0].metadata.name}') && printf %s "$CURL_POD"`);
    return r.code === 0 && r.stdout ? r.stdout : undefined;
  });
  assert.match(curlPod, /^curl-[a-z0-9]+-[a-z0-9]+$/);

  // $ oc apply -f http-se.yaml
  assert.equal(await ok('apply', '-f', seed('http-se.yaml')), 'serviceentry.networking.istio.io/egress-se created\n');
  // $ oc exec "$CURL_POD" -n curl -c curl -- curl -sSL -o /dev/null -D - http://docs.redhat.com → 301, then 200
  const first = await mesh.ok(['exec', curlPod, '-n', 'curl', '-c', 'curl', '--', 'curl', '-sSL', '-o', '/dev/null', '-D', '-', `http://${DOCS_HOST}`]);
  assert.match(first.stdout, /^HTTP\/1\.1 301 Moved Permanently\r?$/m);
  assert.match(first.stdout, /^HTTP\/1\.1 200 OK\r?$/m);

  // $ oc apply -f http-gtw.yaml; oc apply -f http-vs.yaml
  assert.equal(
    await ok('apply', '-f', seed('http-gtw.yaml')),
    'gateway.networking.istio.io/egress-gw created\ndestinationrule.networking.istio.io/egress-dr created\n',
  );
  assert.equal(await ok('apply', '-f', seed('http-vs.yaml')), 'virtualservice.networking.istio.io/egress-vs created\n');
  // Resend the request: the seed's example output, now through the gateway.
  const seenBefore = ext.seen[DOCS_HOST]!.length;
  const second = await mesh.ok(['exec', curlPod, '-n', 'curl', '-c', 'curl', '--', 'curl', '-sSL', '-o', '/dev/null', '-D', '-', `http://${DOCS_HOST}`]);
  assert.match(second.stdout, /^HTTP\/1\.1 301 Moved Permanently\r?$/m);
  assert.match(second.stdout, /^location: http:\/\/docs\.redhat\.com\/en\r?$/im);
  assert.match(second.stdout, /^HTTP\/1\.1 200 OK\r?$/m);
  assert.match(second.stdout, /^content-type: text\/html; charset=utf-8\r?$/im);
  assert.equal(ext.seen[DOCS_HOST]!.length, seenBefore + 2);

  // $ oc logs deployment/<gateway_name> -n <gateway_namespace> | tail -1
  const tail1 = await sh('kubectl logs deployment/egressgw -n gw-ns | tail -1');
  assert.equal(tail1.code, 0, tail1.stderr);
  const last = parseAccessLine(tail1.stdout.trimEnd());
  assert.equal(last.cluster, `outbound|80||${DOCS_HOST}`);
  assert.equal(last.authority, DOCS_HOST);
  assert.equal(last.method, 'GET');
  assert.equal(last.upstreamHost, `${ext.addresses[DOCS_HOST]}:80`);
  assert.match(last.userAgent, /^curl\//);
  // The seed's command follows the redirect: the gateway's last two lines are that curl's two requests.
  const tail2 = (await ok('logs', 'deployment/egressgw', '-n', 'gw-ns', '--tail=2')).trimEnd().split('\n').map(parseAccessLine);
  assert.deepEqual(tail2.map((l) => `${l.path} ${l.status}`).sort(), ['/ 301', '/en 200']);
  assert.deepEqual(tail2[1], last, 'kubectl logs --tail=1 and | tail -1 agree');
  // The sidecar (-c istio-proxy) logged the same requests on the hop to the gateway's subset, with the same request ids.
  const sidecar = (await ok('logs', `pod/${curlPod}`, '-n', 'curl', '-c', 'istio-proxy', '--tail=2')).trimEnd().split('\n').map(parseAccessLine);
  for (const l of sidecar) assert.equal(l.cluster, 'outbound|80|rh-docs|egressgw.gw-ns.svc.cluster.local');
  assert.deepEqual(sidecar.map((l) => l.requestId).sort(), tail2.map((l) => l.requestId).sort());
  // The app container runs no process on the local mesh: its log is empty, as a sleeping curl's is.
  assert.equal(await ok('logs', curlPod, '-n', 'curl', '-c', 'curl'), '');
  const noSuch = await kubectl('logs', curlPod, '-n', 'curl', '-c', 'nope');
  assert.equal(noSuch.code, 1);
  assert.match(noSuch.stderr, /container nope is not valid for pod curl-/);

  // kubectl logs -f: a new request's line arrives while following.
  const follower = spawn(KUBECTL!, ['logs', '-f', '--tail=0', 'deployment/egressgw', '-n', 'gw-ns'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => void (follower.exitCode === null && follower.kill()));
  let followed = '';
  const gotLine = new Promise<string>((resolve, reject) => {
    follower.stdout.on('data', (d: Buffer) => {
      followed += d.toString();
      if (followed.includes('\n')) resolve(followed);
    });
    follower.once('exit', (code) => reject(new Error(`kubectl logs -f exited ${code}: ${followed}`)));
  });
  const requestId = '79551af2-341b-456d-b414-9220b487a03b';
  // Once the follow is established (kubectl printed nothing yet), send one request; retried until a line shows.
  const line = await eventually(
    'kubectl logs -f shows the new request',
    async () => {
      await mesh.ok([
        'exec',
        '-n',
        'curl',
        '--',
        'curl',
        '-sS',
        '-o',
        '/dev/null',
        '-H',
        `x-request-id: ${requestId}`,
        '-A',
        'curl/8.11.0',
        `http://${DOCS_HOST}/`,
      ]);
      return Promise.race([gotLine, new Promise<undefined>((r) => setTimeout(() => r(undefined), 500))]);
    },
    20,
  );
  follower.kill();
  const followedLine = parseAccessLine(line.split('\n')[0]!);
  assert.equal(followedLine.requestId, requestId);
  assert.equal(followedLine.userAgent, 'curl/8.11.0');
  assert.equal(`${followedLine.method} ${followedLine.path} ${followedLine.status}`, 'GET / 301');

  // An invalid document: kubectl shows the field, nothing is applied.
  const badFile = join(dir, 'bad-se.yaml');
  writeFileSync(badFile, BAD_SE);
  const invalid = await kubectl('apply', '-f', badFile);
  assert.equal(invalid.code, 1);
  assert.match(invalid.stderr, /The ServiceEntry "bad-se" is invalid: spec\.resolution: Unsupported value: "DNZ"/);
  assert.match(
    (await kubectl('get', 'se', 'bad-se', '-n', 'curl')).stderr,
    /Error from server \(NotFound\): serviceentries\.networking\.istio\.io "bad-se" not found/,
  );
  // Core kinds take their real fields: a ConfigMap from literals.
  assert.equal(await ok('create', 'configmap', 'x', '-n', 'curl', '--from-literal=a=b'), 'configmap/x created\n');
  assert.equal(await ok('get', 'configmap', 'x', '-n', 'curl', '-o', 'jsonpath={.data.a}'), 'b');

  // ---- §3.3 ----
  // $ oc apply -f gateway-cr.yaml
  assert.equal(
    await ok('apply', '-f', seed('gateway-cr.yaml')),
    'gateway.gateway.networking.k8s.io/bookinfo-gateway created\nhttproute.gateway.networking.k8s.io/bookinfo created\n',
  );
  // $ oc create namespace egress-gateway; oc label namespace egress-gateway istio-injection=enabled
  assert.equal(await ok('create', 'namespace', 'egress-gateway'), 'namespace/egress-gateway created\n');
  assert.equal(await ok('label', 'namespace', 'egress-gateway', 'istio-injection=enabled'), 'namespace/egress-gateway labeled\n');
  // get -w sees the control plane program the Gateway.
  const watcher = spawn(KUBECTL!, ['get', 'gateway', '-n', 'egress-gateway', '-w'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => void (watcher.exitCode === null && watcher.kill()));
  let watched = '';
  const programmed = new Promise<void>((resolve, reject) => {
    watcher.stdout.on('data', (d: Buffer) => {
      watched += d.toString();
      if (/^httpbin-egress-gateway\s+istio\s+\S+\s+True\s+\S+$/m.test(watched)) resolve();
    });
    watcher.once('exit', (code) => reject(new Error(`kubectl get -w exited ${code}: ${watched}`)));
  });
  // The seed applies egress-gateway-cr.yaml (no namespaces in it) inside the egress-gateway project;
  // kubectl's way to be in a namespace is the context's.
  await ok('config', 'set-context', '--current', '--namespace=egress-gateway');
  // $ oc apply -f egress-gateway-cr.yaml
  assert.equal(
    await ok('apply', '-f', seed('egress-gateway-cr.yaml')),
    [
      'serviceentry.networking.istio.io/httpbin-ext created',
      'gateway.gateway.networking.k8s.io/httpbin-egress-gateway created',
      'httproute.gateway.networking.k8s.io/direct-httpbin-to-egress-gateway created',
      'httproute.gateway.networking.k8s.io/forward-httpbin-from-egress-gateway created',
      '',
    ].join('\n'),
  );
  await programmed;
  watcher.kill();
  assert.match(watched, /^NAME\s+CLASS\s+ADDRESS\s+PROGRAMMED\s+AGE$/m);
  const rows = watched.split('\n').filter((l) => l.startsWith('httpbin-egress-gateway '));
  assert.ok(rows.length >= 2, watched);
  assert.doesNotMatch(rows[0]!, /\sTrue\s/, `the watch saw the Gateway before it was programmed:\n${watched}`);

  // $ oc describe gateway -n egress-gateway → Programmed
  const described = await ok('describe', 'gateway', '-n', 'egress-gateway');
  assert.match(described, /^Name:\s+httpbin-egress-gateway$/m);
  assert.match(described, /Reason:\s+Accepted\n\s+Status:\s+True\n\s+Type:\s+Accepted/);
  assert.match(described, /Reason:\s+Programmed\n\s+Status:\s+True\n\s+Type:\s+Programmed/);
  assert.match(described, /Message:\s+Resource programmed, assigned to service\(s\) httpbin-egress-gateway-istio\.egress-gateway\.svc\.cluster\.local:80/);
  assert.equal(
    await ok('wait', '--for=condition=Programmed', 'gateway/httpbin-egress-gateway', '--timeout=60s'),
    'gateway.gateway.networking.k8s.io/httpbin-egress-gateway condition met\n',
  );

  // `outpost get` with several kinds lists what kubectl lists, kind-qualified.
  const names = (s: string): string[] =>
    s
      .trimEnd()
      .split('\n')
      .filter((l) => l && !l.startsWith('NAME'))
      .map((l) => l.split(/\s+/)[0]!);
  const viaKubectl = await ok('get', 'gateways,httproutes', '-n', 'egress-gateway');
  const viaOutpost = (await mesh.ok(['get', 'gateways,httproutes', '-n', 'egress-gateway'])).stdout;
  assert.deepEqual(names(viaOutpost), names(viaKubectl));
  assert.deepEqual(names(viaOutpost), [
    'gateway.gateway.networking.k8s.io/httpbin-egress-gateway',
    'httproute.gateway.networking.k8s.io/direct-httpbin-to-egress-gateway',
    'httproute.gateway.networking.k8s.io/forward-httpbin-from-egress-gateway',
  ]);

  // $ curl -v http://httpbin.org/get from a pod of egress-gateway
  const r = await mesh.ok(['exec', '-n', 'egress-gateway', '--', 'curl', '-sS', '-v', `http://${HTTPBIN_HOST}/get`]);
  assert.equal((JSON.parse(r.stdout) as { url: string }).url, `http://${HTTPBIN_HOST}/get`);
  assert.match(r.stderr, /< HTTP\/1\.1 200 OK/);
  const gwTail = await sh('kubectl logs deployment/httpbin-egress-gateway-istio -n egress-gateway | tail -1');
  const gwLine = parseAccessLine(gwTail.stdout.trimEnd());
  assert.equal(`${gwLine.method} ${gwLine.path} ${gwLine.status}`, 'GET /get 200');
  assert.equal(gwLine.cluster, `outbound|80||${HTTPBIN_HOST}`);
});
