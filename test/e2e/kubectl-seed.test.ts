// The seed's commands with the real kubectl against `outpost up` (built: bin/outpost runs dist/).
// Skips only when kubectl is not installed.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const OUTPOST = join(ROOT, 'bin', 'outpost');
const KUBECTL = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((p) => existsSync(p));
const skip = !KUBECTL ? 'kubectl is not installed (looked in /usr/bin and /usr/local/bin)' : !existsSync(join(ROOT, 'dist', 'cli', 'main.js')) ? 'outpost is not built (run npx tsc -p tsconfig.json)' : false;

interface Run { code: number; stdout: string; stderr: string }

function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 60_000, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout, stderr });
    });
  });
}

const GATEWAY = `apiVersion: v1
kind: Namespace
metadata:
  name: egress-gateway
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: egress-gw
  namespace: egress-gateway
spec:
  gatewayClassName: istio
  listeners:
  - name: http
    hostname: docs.redhat.com
    port: 80
    protocol: HTTP
    allowedRoutes:
      namespaces:
        from: All
`;

const SE = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: egress-se
  namespace: curl
spec:
  hosts:
  - docs.redhat.com
  ports:
  - number: 80
    name: http-port
    protocol: HTTP
  location: MESH_EXTERNAL
  resolution: DNS
`;

test('kubectl drives outpost up: revisions, namespaces, apply, invalid documents, wait, get -w, describe', { skip, timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-e2e-kubectl-'));
  const state = join(dir, 'state');
  let up: ChildProcess | undefined;
  t.after(async () => {
    await run(process.execPath, [OUTPOST, 'down', '--state-dir', state]);
    if (up && up.exitCode === null) up.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  up = spawn(process.execPath, [OUTPOST, 'up', '--state-dir', state], { stdio: ['ignore', 'pipe', 'pipe'] });
  const kubeconfig = await new Promise<string>((resolve, reject) => {
    createInterface({ input: up!.stdout! }).on('line', (line) => {
      const m = /^export KUBECONFIG=(.+)$/.exec(line.trim());
      if (m) resolve(m[1]!);
    });
    up!.once('exit', (code) => reject(new Error(`outpost up exited with ${code}`)));
  });
  const k = (...args: string[]) => run(KUBECTL!, ['--kubeconfig', kubeconfig, ...args]);

  const revs = await k('get', 'istiorevisions.sailoperator.io');
  assert.match(revs.stdout, /^NAME\s+TYPE\s+READY\s+STATUS\s+IN USE\s+VERSION\s+AGE\ndefault\s+\S+\s+True\s+Healthy\s+\S+\s+v\S+\s+\d+s\n$/, revs.stderr);
  assert.equal((await k('create', 'namespace', 'curl')).stdout, 'namespace/curl created\n');
  assert.equal((await k('label', 'namespace', 'curl', 'istio-injection=enabled')).stdout, 'namespace/curl labeled\n');
  const seFile = join(dir, 'http-se.yaml');
  writeFileSync(seFile, SE);
  assert.equal((await k('apply', '-f', seFile)).stdout, 'serviceentry.networking.istio.io/egress-se created\n');
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, SE.replace('egress-se', 'bad-se').replace('resolution: DNS', 'resolution: DNZ'));
  const invalid = await k('apply', '-f', bad);
  assert.equal(invalid.code, 1);
  assert.match(invalid.stderr, /The ServiceEntry "bad-se" is invalid: spec\.resolution: Unsupported value: "DNZ"/);
  assert.match((await k('get', 'se', 'bad-se', '-n', 'curl')).stderr, /Error from server \(NotFound\): serviceentries\.networking\.istio\.io "bad-se" not found/);

  // get -w sees the control plane program the Gateway.
  assert.equal((await k('create', 'namespace', 'egress-gateway')).code, 0);
  const watcher = spawn(KUBECTL!, ['--kubeconfig', kubeconfig, 'get', 'gateway', '-n', 'egress-gateway', '-w'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => { if (watcher.exitCode === null) watcher.kill(); });
  let watched = '';
  const programmed = new Promise<void>((resolve) => {
    watcher.stdout!.on('data', (d) => {
      watched += String(d);
      if (/egress-gw\s+istio\s+\S+\s+True\s+\d+s\n/.test(watched)) resolve();
    });
  });
  const gwFile = join(dir, 'gateway.yaml');
  writeFileSync(gwFile, GATEWAY);
  // The namespace was made by `kubectl create` (no last-applied annotation), so apply configures it, as on a cluster.
  assert.equal((await k('apply', '-f', gwFile)).stdout, 'namespace/egress-gateway configured\ngateway.gateway.networking.k8s.io/egress-gw created\n');
  const wait = await k('wait', '--for=condition=Programmed', 'gateway/egress-gw', '-n', 'egress-gateway', '--timeout=60s');
  assert.equal(wait.stdout, 'gateway.gateway.networking.k8s.io/egress-gw condition met\n', wait.stderr);
  await programmed;
  watcher.kill();
  const describe = await k('describe', 'gateway', '-n', 'egress-gateway');
  assert.match(describe.stdout, /Reason:\s+Programmed\n\s+Status:\s+True\n\s+Type:\s+Programmed/);
  assert.match(describe.stdout, /Message:\s+Resource programmed, assigned to service\(s\) egress-gw-istio\.egress-gateway\.svc\.cluster\.local:80/);
  const deploy = await k('get', 'deployment', '-n', 'egress-gateway', '-o', 'name');
  assert.equal(deploy.stdout, 'deployment.apps/egress-gw-istio\n');
});
