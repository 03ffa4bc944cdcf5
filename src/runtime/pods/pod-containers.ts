// The app containers of every pod (netns model): a container with a `command` runs as a process
// of its pod; one without keeps the old meaning (nothing runs, a pod you exec into).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { stopPid } from '../proxy-process.js';
import type { StatePaths } from '../state-dir.js';
import { ContainerProcess, processStartTime, type ContainerSpec, type ContainerState } from './container-process.js';

export interface PodToRun {
  key: string;
  namespace: string;
  podName: string;
  netns: string;
  podIP: string;
  containers: ContainerSpec[];
  restartPolicy?: string;
  /** The pod's sidecar outbound listener, when injected: the app's proxy settings point there. */
  sidecar?: string;
  /** The sidecar captures the pod's traffic: probes run inside the pod (see probes.ts). */
  captured?: boolean;
  /** Addresses that stay direct (the mesh's API). */
  noProxy: string[];
}

/** Where an app container's output goes: `<logs>/<ns>/<pod>/<container>.log`. */
export function containerLogFile(logsDir: string, namespace: string, podName: string, container: string): string {
  return join(logsDir, namespace, podName, `${container}.log`);
}

export function runsProcess(c: { command?: unknown } | { [field: string]: unknown }): boolean {
  return Array.isArray(c.command) && c.command.length > 0;
}

export class PodContainers {
  private readonly byKey = new Map<string, ContainerProcess>();

  constructor(
    private readonly paths: StatePaths,
    private readonly onChange: () => void,
    private readonly log: (line: string) => void,
  ) {}

  private get pidDir(): string {
    return join(this.paths.runtime, 'containers');
  }

  /**
   * Stops the app containers a crashed control plane left running in pods whose namespaces were
   * kept (each recorded by pid and start time): sync() then starts them afresh, never two copies.
   */
  async stopLeftovers(): Promise<void> {
    if (!existsSync(this.pidDir)) return;
    await Promise.all(
      readdirSync(this.pidDir).map(async (f) => {
        const file = join(this.pidDir, f);
        const [pidText, started] = readFileSync(file, 'utf8').split('\n');
        const pid = Number(pidText);
        if (Number.isInteger(pid) && pid > 1 && started && processStartTime(pid) === started) {
          this.log(`workloads: stopping container process ${pid} left from the previous run (${f.replace(/\.pid$/, '')})`);
          signalGroup(pid, 'SIGTERM');
          await stopPid(pid, 5000);
          signalGroup(pid, 'SIGKILL');
        }
        rmSync(file, { force: true });
      }),
    );
  }

  logFile(namespace: string, podName: string, container: string): string {
    return containerLogFile(this.paths.logs, namespace, podName, container);
  }

  /** Starts what is new, stops what is gone (containers of pods no longer wanted). */
  async sync(pods: PodToRun[]): Promise<void> {
    const wanted = new Set<string>();
    for (const pod of pods) {
      for (const spec of pod.containers) {
        if (!runsProcess(spec)) continue;
        const key = `${pod.key}/${spec.name}`;
        wanted.add(key);
        if (this.byKey.has(key)) continue;
        const proxyEnv: Record<string, string> = pod.sidecar
          ? {
              http_proxy: pod.sidecar,
              HTTP_PROXY: pod.sidecar,
              https_proxy: pod.sidecar,
              HTTPS_PROXY: pod.sidecar,
              no_proxy: ['localhost', '127.0.0.1', ...pod.noProxy].join(','),
              NO_PROXY: ['localhost', '127.0.0.1', ...pod.noProxy].join(','),
            }
          : {};
        mkdirSync(this.pidDir, { recursive: true });
        const proc = new ContainerProcess({
          spec,
          pidFile: join(this.pidDir, `${key.replace(/[^a-zA-Z0-9_.-]/g, '_')}.pid`),
          netns: pod.netns,
          podIP: pod.podIP,
          ...(pod.captured ? { captured: true } : {}),
          logFile: this.logFile(pod.namespace, pod.podName, spec.name),
          restartPolicy: pod.restartPolicy === 'Never' || pod.restartPolicy === 'OnFailure' ? pod.restartPolicy : 'Always',
          baseEnv: { HOSTNAME: pod.podName, ...proxyEnv },
          onChange: this.onChange,
          log: this.log,
        });
        this.byKey.set(key, proc);
        this.log(`workloads: starting container ${spec.name} of pod ${pod.namespace}/${pod.podName}`);
        proc.start();
      }
    }
    const stops: Promise<void>[] = [];
    for (const [key, proc] of this.byKey) {
      if (wanted.has(key)) continue;
      this.byKey.delete(key);
      stops.push(proc.stop());
    }
    await Promise.all(stops);
  }

  /** A container's state, or undefined when it runs no process here. */
  state(podKey: string, container: string): ContainerState | undefined {
    return this.byKey.get(`${podKey}/${container}`)?.snapshot();
  }

  /** Stops every container of one pod (before its network namespace goes). */
  async stopPod(podKey: string): Promise<void> {
    const stops: Promise<void>[] = [];
    for (const [key, proc] of this.byKey) {
      if (!key.startsWith(`${podKey}/`)) continue;
      this.byKey.delete(key);
      stops.push(proc.stop());
    }
    await Promise.all(stops);
  }

  async stopAll(): Promise<void> {
    const all = [...this.byKey.values()];
    this.byKey.clear();
    await Promise.all(all.map((p) => p.stop()));
  }
}

/** The rest of a container's process group (a shell's children); gone already is fine. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // No such group any more.
  }
}
