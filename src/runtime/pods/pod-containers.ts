// The app containers of every pod (netns model): a container with a `command` runs as a process
// of its pod; one without keeps the old meaning (nothing runs, a pod you exec into).
import { join } from 'node:path';
import type { StatePaths } from '../state-dir.js';
import { ContainerProcess, type ContainerSpec, type ContainerState } from './container-process.js';

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

  constructor(private readonly paths: StatePaths, private readonly onChange: () => void, private readonly log: (line: string) => void) {}

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
          ? { http_proxy: pod.sidecar, HTTP_PROXY: pod.sidecar, https_proxy: pod.sidecar, HTTPS_PROXY: pod.sidecar, no_proxy: ['localhost', '127.0.0.1', ...pod.noProxy].join(','), NO_PROXY: ['localhost', '127.0.0.1', ...pod.noProxy].join(',') }
          : {};
        const proc = new ContainerProcess({
          spec,
          netns: pod.netns,
          podIP: pod.podIP,
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
