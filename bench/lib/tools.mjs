// The benchmark's outside tools: checked on every run, installed from Debian's packages if missing.

import { runCommand } from './procs.mjs';

/** command → Debian package(s) that provide it, first installable one wins. */
const TOOLS = [
  { command: 'nginx', packages: ['nginx-light', 'nginx'] },
  { command: 'haproxy', packages: ['haproxy'] },
  { command: 'squid', packages: ['squid'] },
  { command: 'wrk', packages: ['wrk'] },
  { command: 'h2load', packages: ['nghttp2-client'] },
  { command: 'curl', packages: ['curl'] },
  { command: 'taskset', packages: ['util-linux'] },
  { command: 'hyperfine', packages: ['hyperfine'] },
  // The capture section: network namespaces, the pods' nftables rules, the TLS stand-in's certificate.
  { command: 'ip', packages: ['iproute2'] },
  { command: 'nft', packages: ['nftables'] },
  { command: 'nsenter', packages: ['util-linux'] },
  { command: 'openssl', packages: ['openssl'] },
];

async function has(command) {
  const r = await runCommand('sh', ['-c', `command -v ${command}`], { timeoutMs: 5000 });
  return r.code === 0;
}

/** Installs what is missing (of `only`, default all) with apt-get; throws with the apt output if that fails. */
export async function ensureTools(log, only) {
  const missing = [];
  for (const t of TOOLS) if ((!only || only.includes(t.command)) && !(await has(t.command))) missing.push(t);
  if (missing.length === 0) return;
  log(`installing missing tools: ${missing.map((t) => t.command).join(', ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const upd = await runCommand('apt-get', ['update'], { timeoutMs: 300_000, env });
  if (upd.code !== 0) throw new Error(`apt-get update failed:\n${upd.stderr}`);
  for (const t of missing) {
    let ok = false;
    for (const pkg of t.packages) {
      const r = await runCommand('apt-get', ['install', '-y', '--no-install-recommends', pkg], { timeoutMs: 600_000, env });
      if (r.code === 0) {
        ok = true;
        break;
      }
    }
    if (!ok || !(await has(t.command))) {
      throw new Error(`could not install ${t.command} (tried Debian packages ${t.packages.join(', ')})`);
    }
  }
}

/** Version strings of the tools, for the record. */
export async function toolVersions() {
  const first = async (cmd, args, re) => {
    const r = await runCommand(cmd, args, { timeoutMs: 5000 });
    const m = (r.stdout + r.stderr).match(re);
    return m ? m[1] : 'unknown';
  };
  return {
    nginx: await first('nginx', ['-v'], /nginx\/(\S+)/),
    haproxy: await first('haproxy', ['-v'], /version (\S+)/i),
    squid: await first('squid', ['-v'], /Version (\S+)/),
    wrk: await first('wrk', ['-v'], /wrk (\S+)/),
    h2load: await first('h2load', ['--version'], /nghttp2\/(\S+)/),
    curl: await first('curl', ['--version'], /curl (\S+)/),
    hyperfine: await first('hyperfine', ['--version'], /hyperfine (\S+)/),
    node: process.version,
  };
}
