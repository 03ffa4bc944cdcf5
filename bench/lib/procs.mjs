// Child processes the harness starts, their cleanup, and their cost as the kernel counts it.
//
// Every process is spawned in its own process group (detached) so that stopping it also stops
// what it forked (nginx workers, outpost's gateway and sidecar processes). All of them are
// registered here and stopped on normal exit, on error and on Ctrl-C.

import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync, openSync, closeSync, writeFileSync } from 'node:fs';
import net from 'node:net';

const live = new Set();

/** Spawns a long-running process, logging its stdout/stderr to files; returns a handle. */
export function startProcess(name, command, args, { stdoutFile, stderrFile, cwd, env } = {}) {
  const out = stdoutFile ? openSync(stdoutFile, 'a') : 'ignore';
  const err = stderrFile ? openSync(stderrFile, 'a') : 'ignore';
  const child = spawn(command, args, { cwd, env: env ?? process.env, detached: true, stdio: ['ignore', out, err] });
  if (typeof out === 'number') closeSync(out);
  if (typeof err === 'number') closeSync(err);
  const handle = {
    name,
    child,
    pid: child.pid,
    exited: false,
    exitCode: null,
    exit: new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        handle.exited = true;
        handle.exitCode = code ?? signal;
        live.delete(handle);
        resolve(handle.exitCode);
      });
      child.once('error', (e) => {
        handle.exited = true;
        handle.exitCode = e.message;
        live.delete(handle);
        resolve(e.message);
      });
    }),
  };
  live.add(handle);
  return handle;
}

/** Stops one process group: SIGTERM, then SIGKILL after graceMs. */
export async function stopProcess(handle, graceMs = 3000, signal = 'SIGTERM') {
  if (handle.exited) return;
  signalGroup(handle, signal);
  const timer = new Promise((r) => setTimeout(r, graceMs, 'timeout'));
  if ((await Promise.race([handle.exit, timer])) === 'timeout') {
    signalGroup(handle, 'SIGKILL');
    await Promise.race([handle.exit, new Promise((r) => setTimeout(r, 1000))]);
  }
  // The leader may be gone while members of its group linger (a worker mid-shutdown).
  signalGroup(handle, 'SIGKILL');
}

function signalGroup(handle, signal) {
  try {
    process.kill(-handle.pid, signal);
  } catch {
    try {
      process.kill(handle.pid, signal);
    } catch {
      /* already gone */
    }
  }
}

export async function stopAll() {
  await Promise.all([...live].map((h) => stopProcess(h, 2000)));
}

export function liveCount() {
  return live.size;
}

/** Synchronous last resort for process 'exit': no awaiting possible there. */
export function killAllSync() {
  for (const h of live) signalGroup(h, 'SIGKILL');
}

/** Runs a command to completion with a hard timeout; resolves {code, stdout, stderr}. */
export function runCommand(command, args, { timeoutMs = 60_000, input, env } = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { detached: true, env: env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const handle = { name: command, child, pid: child.pid, exited: false, exit: null };
    live.add(handle);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    const timer = setTimeout(() => signalGroup(handle, 'SIGKILL'), timeoutMs);
    const done = (code) => {
      clearTimeout(timer);
      handle.exited = true;
      live.delete(handle);
      resolve({ code, stdout, stderr });
    };
    child.once('error', (e) => done(`error: ${e.message}`));
    child.once('close', (code, signal) => done(code ?? signal));
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

/** Resolves once host:port accepts a TCP connection; rejects after timeoutMs. */
export async function waitForPort(host, port, timeoutMs = 10_000, handle) {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; Date.now() < deadline && i < 1000; i++) {
    if (handle?.exited) throw new Error(`${handle.name} exited (${handle.exitCode}) before listening on ${host}:${port}`);
    if (await canConnect(host, port)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
}

function canConnect(host, port) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Rejects if host:port is taken, so a stray server never gets measured by mistake. */
export function assertPortFree(host, port) {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', (e) => reject(new Error(`${host}:${port} is not free (${e.code}); another process listens there`)));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve()));
  });
}

// ---------------------------------------------------------------------------------------------
// /proc accounting

const CLK_TCK = 100; // getconf CLK_TCK on Linux x86-64; checked in run.mjs

/** The pid and all its descendants (by scanning /proc's ppid fields). */
export function processTree(rootPid) {
  const children = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (!stat) continue;
    if (!children.has(stat.ppid)) children.set(stat.ppid, []);
    children.get(stat.ppid).push(stat.pid);
  }
  const out = [];
  const stack = [rootPid];
  while (stack.length > 0 && out.length < 10_000) {
    const pid = stack.pop();
    out.push(pid);
    for (const c of children.get(pid) ?? []) stack.push(c);
  }
  return out;
}

function readStat(pid) {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm may contain spaces and parentheses: fields start after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { pid, ppid: Number(rest[1]), utime: Number(rest[11]), stime: Number(rest[12]) };
}

/** utime+stime in seconds of the given pids (threads included, reaped children not). */
export function cpuSeconds(pids) {
  let ticks = 0;
  for (const pid of pids) {
    const s = readStat(pid);
    if (s) ticks += s.utime + s.stime;
  }
  return ticks / CLK_TCK;
}

/** utime and stime apart, in seconds, of the given pids: where a proxy's CPU goes, its code or the kernel's. */
export function cpuSplit(pids) {
  let user = 0;
  let system = 0;
  for (const pid of pids) {
    const s = readStat(pid);
    if (s) {
      user += s.utime;
      system += s.stime;
    }
  }
  return { user: user / CLK_TCK, system: system / CLK_TCK };
}

function statusField(pid, field) {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Sum over pids of the peak resident set (VmHWM), bytes. */
export function peakRss(pids) {
  return pids.reduce((a, p) => a + statusField(p, 'VmHWM'), 0);
}

/**
 * Resets each pid's peak resident set (VmHWM) to its current RSS (`clear_refs` 5), so the next
 * peakRss reads the peak of what happened since: one target's load, not another's that shares
 * the process (the `outpost up` gateway also serves the two-hop rows).
 */
export function resetPeakRss(pids) {
  for (const p of pids) {
    try {
      writeFileSync(`/proc/${p}/clear_refs`, '5');
    } catch {
      // A process that just exited has no peak to reset.
    }
  }
}

/** Sum over pids of the current resident set (VmRSS), bytes. */
export function currentRss(pids) {
  return pids.reduce((a, p) => a + statusField(p, 'VmRSS'), 0);
}

/** The pids that hold a listening TCP socket on ip:port (via /proc/net/tcp inodes). */
export function listeningPids(ip, port) {
  const want = ipv4Hex(ip) + ':' + port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set();
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    if (f[3] === '0A' && (f[1] === want || f[1] === '00000000:' + want.split(':')[1])) inodes.add(f[9]);
  }
  const pids = [];
  if (inodes.size === 0) return pids;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds;
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let link;
      try {
        link = readlinkSafe(`/proc/${entry}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = link && link.match(/^socket:\[(\d+)\]$/);
      if (m && inodes.has(m[1])) {
        pids.push(Number(entry));
        break;
      }
    }
  }
  return pids;
}

function readlinkSafe(p) {
  try {
    return readlinkSync(p);
  } catch {
    return '';
  }
}

function ipv4Hex(ip) {
  // /proc/net/tcp prints the address as a little-endian 32-bit hex number.
  return ip
    .split('.')
    .map((o) => Number(o).toString(16).toUpperCase().padStart(2, '0'))
    .reverse()
    .join('');
}

/** Machine-wide busy and steal CPU seconds so far (all CPUs), from /proc/stat. */
export function machineCpu() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = f;
  return { busy: (user + nice + system + irq + softirq) / CLK_TCK, steal: (steal ?? 0) / CLK_TCK };
}
