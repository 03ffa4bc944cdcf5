// One app container of a pod (netns model): its `command` + `args` run inside the pod's network
// namespace with its `env` and `workingDir`, output appended to its log, restarted by
// `restartPolicy` with a doubling back-off (CrashLoopBackOff), readiness from `readinessProbe`.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { runProbe, type Probe } from './probes.js';

export interface ContainerSpec {
  name: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string }[];
  workingDir?: string;
  readinessProbe?: Probe;
  ports?: { name?: string; containerPort?: number }[];
}

export interface ContainerState {
  ready: boolean;
  restartCount: number;
  started: boolean;
  state: {
    running?: { startedAt: string };
    waiting?: { reason: string; message?: string };
    terminated?: { exitCode: number; reason: string; finishedAt: string };
  };
  lastState?: { terminated?: { exitCode: number; reason: string; finishedAt: string } };
}

export interface ContainerOptions {
  spec: ContainerSpec;
  netns: string;
  podIP: string;
  /** The pod's inbound traffic is captured by its sidecar: probes run inside the pod. */
  captured?: boolean;
  logFile: string;
  restartPolicy: 'Always' | 'OnFailure' | 'Never';
  /** Added to the container's own env (HOSTNAME, proxy settings of its sidecar). */
  baseEnv: Record<string, string>;
  /** Where the running process's pid and start time are kept, so that a restarted control plane stops it (pod-containers.ts). */
  pidFile?: string;
  onChange: () => void;
  log: (line: string) => void;
}

/** Kubernetes starts at 10 s and doubles to 5 min; the local mesh starts at 1 s and stops doubling at 30 s. */
const BACKOFF_START_MS = 1000;
const BACKOFF_MAX_MS = 30_000;

function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export class ContainerProcess {
  private child: ChildProcess | undefined;
  private stopping = false;
  private backoffMs = BACKOFF_START_MS;
  private restartTimer: NodeJS.Timeout | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private successes = 0;
  private failures = 0;
  private status: ContainerState = { ready: false, restartCount: 0, started: false, state: { waiting: { reason: 'ContainerCreating' } } };

  constructor(readonly opts: ContainerOptions) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  snapshot(): ContainerState {
    return structuredClone(this.status);
  }

  start(): void {
    const { spec } = this.opts;
    if (spec.workingDir && !existsSync(spec.workingDir)) {
      this.update({
        ready: false,
        started: false,
        state: { waiting: { reason: 'CreateContainerError', message: `workingDir ${spec.workingDir}: no such directory` } },
      });
      return;
    }
    this.spawnOnce();
  }

  private spawnOnce(): void {
    if (this.stopping) return;
    const { spec } = this.opts;
    mkdirSync(dirname(this.opts.logFile), { recursive: true });
    const fd = openSync(this.opts.logFile, 'a');
    // Not outpost's environment: nothing of the mesh (its token, its paths) leaks into a workload.
    const env: Record<string, string> = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', ...this.opts.baseEnv };
    for (const e of spec.env ?? []) if (typeof e.value === 'string') env[e.name] = expandVars(e.value, env);
    const argv = [...(spec.command ?? []), ...(spec.args ?? [])].map((a) => expandVars(a, env));
    let child: ChildProcess;
    try {
      child = spawn('ip', ['netns', 'exec', this.opts.netns, ...argv], { stdio: ['ignore', fd, fd], env, cwd: spec.workingDir || '/', detached: true });
    } finally {
      closeSync(fd);
    }
    this.child = child;
    if (child.pid && this.opts.pidFile) writeFileSync(this.opts.pidFile, `${child.pid}\n${processStartTime(child.pid) ?? ''}\n`);
    const startedAt = now();
    this.update({ started: true, ready: false, state: { running: { startedAt } } });
    this.successes = 0;
    this.failures = 0;
    this.scheduleProbe(true);
    const healthy = setTimeout(() => (this.backoffMs = BACKOFF_START_MS), 60_000);
    child.on('error', (err) => this.opts.log(`container ${spec.name}: ${err.message}`));
    child.on('exit', (code, signal) => {
      clearTimeout(healthy);
      if (this.opts.pidFile) rmSync(this.opts.pidFile, { force: true });
      if (this.child !== child) return;
      this.child = undefined;
      clearTimeout(this.probeTimer);
      const exitCode = code ?? (signal ? 128 + (signal === 'SIGKILL' ? 9 : 15) : 1);
      const terminated = { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', finishedAt: now() };
      if (this.stopping) return;
      const again = this.opts.restartPolicy === 'Always' || (this.opts.restartPolicy === 'OnFailure' && exitCode !== 0);
      if (!again) {
        this.update({ ready: false, state: { terminated } });
        return;
      }
      this.status.restartCount++;
      this.update({
        ready: false,
        state: { waiting: { reason: 'CrashLoopBackOff', message: `back-off ${Math.round(this.backoffMs / 1000)}s restarting failed container=${spec.name}` } },
        lastState: { terminated },
      });
      this.restartTimer = setTimeout(() => this.spawnOnce(), this.backoffMs);
      this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
    });
  }

  private scheduleProbe(first: boolean): void {
    const probe = this.opts.spec.readinessProbe;
    if (!probe) {
      // No probe: ready as soon as it runs.
      this.update({ ready: true });
      return;
    }
    const delay = first ? (probe.initialDelaySeconds ?? 0) * 1000 : (probe.periodSeconds ?? 10) * 1000;
    const child = this.child;
    this.probeTimer = setTimeout(() => {
      void runProbe(probe, {
        podIP: this.opts.podIP,
        netns: this.opts.netns,
        ports: this.opts.spec.ports ?? [],
        ...(this.opts.captured ? { inPod: true } : {}),
      }).then((ok) => {
        if (this.child !== child || this.stopping) return;
        if (ok) {
          this.failures = 0;
          if (++this.successes >= (probe.successThreshold ?? 1) && !this.status.ready) this.update({ ready: true });
        } else {
          this.successes = 0;
          if (++this.failures >= (probe.failureThreshold ?? 3) && this.status.ready) this.update({ ready: false });
        }
        this.scheduleProbe(false);
      });
    }, delay);
  }

  private update(patch: Partial<ContainerState>): void {
    const before = JSON.stringify(this.status);
    this.status = { ...this.status, ...patch };
    if (JSON.stringify(this.status) !== before) this.opts.onChange();
  }

  /** SIGTERM, SIGKILL after graceMs. */
  async stop(graceMs = 5000): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    clearTimeout(this.probeTimer);
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      // Its own process group: a shell's children go too.
      killGroup(child, 'SIGTERM');
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    }
    this.child = undefined;
  }
}

/** `$(VAR)` references to earlier variables, as Kubernetes expands them in env, command and args; `$$(` escapes. */
export function expandVars(s: string, env: Record<string, string>): string {
  return s.replace(/\$\$\(|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name: string | undefined) => (name === undefined ? '$(' : (env[name] ?? m)));
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid) process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}

/** A process's start time (clock ticks since boot, /proc/<pid>/stat field 22): tells it from a later one with the same pid. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}
