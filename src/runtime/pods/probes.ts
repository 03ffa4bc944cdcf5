// Readiness probes as the kubelet runs them: httpGet and tcpSocket from the node to the pod's
// address, exec inside the pod's network namespace; each bounded by timeoutSeconds.
import { spawn } from 'node:child_process';
import http from 'node:http';
import { connect } from 'node:net';

export interface Probe {
  httpGet?: { path?: string; port: number | string; host?: string; scheme?: string; httpHeaders?: { name: string; value: string }[] };
  tcpSocket?: { port: number | string; host?: string };
  exec?: { command?: string[] };
  initialDelaySeconds?: number;
  periodSeconds?: number;
  timeoutSeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
}

export interface ProbeTarget {
  podIP: string;
  netns: string;
  /**
   * The pod's inbound traffic is captured by its sidecar: httpGet and tcpSocket probes run inside
   * the pod (as Istio's probe rewrite has the agent probe the app), so a STRICT PeerAuthentication
   * does not fail them and nothing from outside the pod is let past the sidecar for them.
   */
  inPod?: boolean;
  ports: { name?: string; containerPort?: number }[];
}

/** A port number, or a named container port. */
export function probePort(port: number | string, ports: ProbeTarget['ports']): number | undefined {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  return ports.find((p) => p.name === port)?.containerPort;
}

export function runProbe(probe: Probe, target: ProbeTarget): Promise<boolean> {
  const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
  if (target.inPod && (probe.httpGet || probe.tcpSocket)) return runInPod(probe, target, timeoutMs);
  if (probe.httpGet) {
    const g = probe.httpGet;
    const port = probePort(g.port, target.ports);
    if (port === undefined) return Promise.resolve(false);
    return new Promise((resolve) => {
      const headers = Object.fromEntries((g.httpHeaders ?? []).map((h) => [h.name, h.value]));
      const req = http.get(
        { host: g.host ?? target.podIP, port, path: g.path ?? '/', headers: { 'user-agent': 'kube-probe/1.31', ...headers }, timeout: timeoutMs, agent: false },
        (res) => {
          res.resume();
          // The kubelet counts 200–399 as success.
          resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400);
        },
      );
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
    });
  }
  if (probe.tcpSocket) {
    const port = probePort(probe.tcpSocket.port, target.ports);
    if (port === undefined) return Promise.resolve(false);
    return new Promise((resolve) => {
      const sock = connect({ host: probe.tcpSocket!.host ?? target.podIP, port, timeout: timeoutMs });
      sock.on('connect', () => {
        sock.destroy();
        resolve(true);
      });
      sock.on('timeout', () => {
        sock.destroy();
        resolve(false);
      });
      sock.on('error', () => resolve(false));
    });
  }
  return runInNetns(probe.exec?.command ?? [], target.netns, timeoutMs);
}

/** httpGet with curl, tcpSocket with bash's /dev/tcp, inside the pod's network namespace. */
function runInPod(probe: Probe, target: ProbeTarget, timeoutMs: number): Promise<boolean> {
  const secs = String(Math.max(1, Math.ceil(timeoutMs / 1000)));
  if (probe.httpGet) {
    const g = probe.httpGet;
    const port = probePort(g.port, target.ports);
    if (port === undefined) return Promise.resolve(false);
    const host = g.host ?? target.podIP;
    const headers = (g.httpHeaders ?? []).flatMap((h) => ['-H', `${h.name}: ${h.value}`]);
    // 200–399 as the kubelet counts success; no redirects followed, no proxy.
    const url = `${g.scheme === 'HTTPS' ? 'https' : 'http'}://${host}:${port}${g.path ?? '/'}`;
    return runInNetns(
      [
        'sh',
        '-c',
        'c=$(curl -sk --noproxy "*" -o /dev/null -w "%{http_code}" --max-time "$0" -A kube-probe/1.31 "$@") && [ "$c" -ge 200 ] && [ "$c" -lt 400 ]',
        secs,
        ...headers,
        url,
      ],
      target.netns,
      timeoutMs + 1000,
    );
  }
  const port = probePort(probe.tcpSocket!.port, target.ports);
  if (port === undefined || !/^[\w.:-]+$/.test(probe.tcpSocket!.host ?? target.podIP)) return Promise.resolve(false);
  return runInNetns(['bash', '-c', `exec 3<>/dev/tcp/${probe.tcpSocket!.host ?? target.podIP}/${port}`], target.netns, timeoutMs);
}

function runInNetns(cmd: string[], netns: string, timeoutMs: number): Promise<boolean> {
  if (cmd.length === 0) return Promise.resolve(false);
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', netns, ...cmd], {
      stdio: 'ignore',
      env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', () => resolve(false));
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code === 0);
    });
  });
}
