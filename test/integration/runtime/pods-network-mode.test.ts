// --pod-network auto without root: one line saying why, and the loopback model; netns asked for
// explicitly is an error with the same reason. Runs the real check as user nobody.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const MODULE = fileURLToPath(new URL('../../../dist/runtime/pods/pod-network-mode.js', import.meta.url));
const skip =
  process.getuid?.() !== 0 || spawnSync('runuser', ['--help'], { stdio: 'ignore' }).status !== 0 ? 'needs root and runuser (to run as nobody)' : undefined;

test('auto falls back to loopback with one line when namespaces cannot be made', { skip }, () => {
  const script = `const m = await import(${JSON.stringify(MODULE)});
    const lines = [];
    console.log(JSON.stringify({
      auto: await m.choosePodNetwork('auto', (l) => lines.push(l)),
      lines,
      netns: await m.choosePodNetwork('netns', () => {}).catch((e) => e.message),
    }));`;
  const r = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8', cwd: '/' });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { auto: string; lines: string[]; netns: string };
  assert.equal(out.auto, 'loopback');
  assert.deepEqual(out.lines, [
    'pods share the loopback (one 127.x address each), not network namespaces: creating network namespaces needs root (CAP_NET_ADMIN); no traffic capture (apps reach their sidecar through http_proxy)',
  ]);
  assert.equal(out.netns, '--pod-network=netns: creating network namespaces needs root (CAP_NET_ADMIN)');
});
