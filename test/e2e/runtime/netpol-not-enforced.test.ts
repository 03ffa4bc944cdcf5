// Where NetworkPolicy cannot be enforced (the loopback model: pods share the machine's network),
// `outpost up` says so in one line, every policy's describe says "not enforced: <why>", and the
// rest works: policies are validated, stored, listed (also by kubectl, short name netpol) and described.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { eventually, startTestMesh } from '../../helpers/mesh.js';

const KUBECTL = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((p) => existsSync(p));

const POLICY = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny-egress, namespace: default}
spec:
  podSelector: {}
  policyTypes: [Egress]
`;

test('loopback model: NetworkPolicy stored, listed and described as not enforced', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-netpol-lo-'));
  const hosts = join(dir, 'hosts');
  writeFileSync(hosts, '127.0.0.1 localhost\n');
  const mesh = await startTestMesh(t, { hostsFile: hosts, noStart: true });
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const up = await mesh.up();
  const lines = up.stdout.split('\n').filter((l) => l.startsWith('NetworkPolicy:'));
  assert.deepEqual(lines, [
    "NetworkPolicy: not enforced: pods share the machine's network (loopback model); NetworkPolicy needs pods in their own network namespaces (--pod-network netns, as root with nft)",
  ]);

  const file = join(dir, 'np.yaml');
  writeFileSync(file, POLICY);
  assert.equal((await mesh.ok(['apply', '-f', file])).stdout, 'networkpolicy.networking.k8s.io/default-deny-egress created\n');
  const described = await eventually('the policy says it is not enforced', async () => {
    const r = await mesh.ok(['describe', 'netpol', 'default-deny-egress']);
    return /^Enforcement:\s+not enforced: pods share the machine's network/m.test(r.stdout) ? r.stdout : undefined;
  });
  assert.match(described, /^ {2}PodSelector: {5}<none> \(Allowing the specific traffic to all pods in this namespace\)$/m);
  assert.match(described, /^ {2}Allowing egress traffic:\n {4}<none> \(Selected pods are isolated for egress connectivity\)$/m);
  assert.match(described, /^ {2}Policy Types: Egress$/m);
  assert.match((await mesh.ok(['get', 'networkpolicies'])).stdout, /^NAME\s+POD-SELECTOR\s+AGE\ndefault-deny-egress\s+<none>\s+\d+s\n$/);

  if (KUBECTL) {
    const env = { ...process.env, KUBECONFIG: join(mesh.stateDir, 'kubeconfig') };
    const kubectl = (...args: string[]): Promise<string> =>
      new Promise((resolve, reject) =>
        execFile(KUBECTL, args, { env, timeout: 30_000 }, (err, stdout, stderr) =>
          err ? reject(new Error(`kubectl ${args.join(' ')}: ${stderr}`)) : resolve(stdout),
        ),
      );
    assert.match(await kubectl('get', 'netpol'), /^NAME\s+POD-SELECTOR\s+AGE\ndefault-deny-egress\s+<none>\s+\S+\n$/);
    const status = JSON.parse(await kubectl('get', 'networkpolicy', 'default-deny-egress', '-o', 'json')) as {
      status?: { conditions?: { type: string; status: string; message: string }[] };
    };
    assert.deepEqual(
      status.status?.conditions?.map((c) => [c.type, c.status]),
      [['Enforced', 'False']],
    );
    await kubectl('delete', 'netpol', 'default-deny-egress');
    assert.match(await kubectl('get', 'netpol'), /^$/);
  }
});
