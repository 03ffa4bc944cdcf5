// The upstream "external service" and the established proxies outpost is compared with, each
// configured as the same egress hop: Host httpbin.org → the upstream, keep-alive both sides,
// access log to a file (or off).

import { writeFileSync, mkdirSync, openSync, ftruncateSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { startProcess, stopProcess, waitForPort, assertPortFree, processTree } from './procs.mjs';

export const EXTERNAL_HOST = 'httpbin.org';

/** A ~250-byte JSON body, in the spirit of httpbin.org/get; no quotes or `$` that nginx would mangle. */
export const UPSTREAM_BODY =
  '{"args":{},"headers":{"Accept":"*/*","Host":"httpbin.org","User-Agent":"wrk"},' +
  '"origin":"127.0.0.1","url":"http://httpbin.org/get","note":"outpost benchmark upstream, fixed body",' +
  '"padding":"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghij"}\n';

/** nginx's scratch directories, all inside the run directory (never /var/lib/nginx). */
export function nginxTempPaths(dir) {
  return ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `  ${k}_temp_path ${join(dir, `${k}-temp`)};`).join('\n');
}

/**
 * Upstream: nginx, one worker, no access log, a fixed body on `port` and a large sparse file at
 * /big on `bigPort` (the CONNECT tunnel target, a port the sidecar has no listener for).
 */
/**
 * The load side (wrk, curl and the upstream) runs at a higher priority than the proxy under test:
 * when a proxy's worker shares their CPU (--concurrency 2 on both CPUs), the scheduler must not
 * slow the load generator down instead of the proxy. Alone on their CPU it changes nothing.
 */
export const LOAD_NICE = -10;

export function upstreamTarget({ ip, port, bigPort, bigBytes, runDir, cpu }) {
  const dir = join(runDir, 'upstream');
  let proc;
  return {
    id: 'upstream',
    name: 'upstream (nginx)',
    ip,
    port,
    bigPort,
    async start() {
      mkdirSync(dir, { recursive: true });
      const big = join(dir, 'big.bin');
      const fd = openSync(big, 'w');
      ftruncateSync(fd, bigBytes); // sparse: reads come from zero pages, no disk I/O
      closeSync(fd);
      const conf = join(dir, 'nginx.conf');
      writeFileSync(
        conf,
        `worker_processes 1;
daemon off;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
worker_rlimit_nofile 65536;
events { worker_connections 16384; }
http {
  access_log off;
${nginxTempPaths(dir)}
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  default_type application/json;
  sendfile on;
  server {
    listen ${ip}:${port} backlog=4096;
    listen ${ip}:${bigPort} backlog=4096;
    location = /big { default_type application/octet-stream; alias ${big}; }
    location / { return 200 '${UPSTREAM_BODY}'; }
  }
}
`,
      );
      await assertPortFree(ip, port);
      await assertPortFree(ip, bigPort);
      proc = startProcess('upstream', 'nice', ['-n', String(LOAD_NICE), 'taskset', '-c', String(cpu), 'nginx', '-p', dir, '-c', conf], {
        stderrFile: join(dir, 'stderr.log'),
      });
      await waitForPort(ip, port, 10_000, proc);
      await waitForPort(ip, bigPort, 10_000, proc);
    },
    async stop() {
      if (proc) await stopProcess(proc, 3000, 'SIGQUIT');
    },
    pids: () => (proc ? processTree(proc.pid) : []),
  };
}

/** Direct to the upstream: the floor every proxy is measured against. */
export function directTarget(upstream) {
  return {
    id: 'direct',
    name: 'direct (no proxy)',
    kind: 'floor',
    log: false,
    ip: upstream.ip,
    port: upstream.port,
    form: 'origin',
    async start() {},
    async stop() {},
    pids: () => [],
  };
}

/** nginx as the egress hop: proxy_pass to an upstream block with a keepalive pool, 1 worker. */
export function nginxTarget({ ip, port, log, upstream, runDir, cpu }) {
  const id = log ? 'nginx' : 'nginx-nolog';
  const dir = join(runDir, id);
  const logFile = join(dir, 'access.log');
  let proc;
  return {
    id,
    name: `nginx${log ? '' : ' (no log)'}`,
    kind: 'peer',
    log,
    logFile: log ? logFile : undefined,
    ip,
    port,
    form: 'origin',
    async start() {
      mkdirSync(dir, { recursive: true });
      const conf = join(dir, 'nginx.conf');
      writeFileSync(
        conf,
        `worker_processes 1;
daemon off;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
worker_rlimit_nofile 65536;
events { worker_connections 16384; }
http {
  access_log ${log ? logFile : 'off'};
${nginxTempPaths(dir)}
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  upstream httpbin_org {
    server ${upstream.ip}:${upstream.port};
    keepalive 256;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
  }
  server {
    listen ${ip}:${port} default_server backlog=4096;
    server_name _;
    return 404;
  }
  server {
    listen ${ip}:${port};
    server_name ${EXTERNAL_HOST};
    location / {
      proxy_pass http://httpbin_org;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
    }
  }
}
`,
      );
      await assertPortFree(ip, port);
      proc = startProcess(id, 'taskset', ['-c', String(cpu), 'nginx', '-p', dir, '-c', conf], {
        stderrFile: join(dir, 'stderr.log'),
      });
      await waitForPort(ip, port, 10_000, proc);
    },
    async stop() {
      if (proc) await stopProcess(proc, 3000, 'SIGQUIT');
    },
    pids: () => (proc ? processTree(proc.pid) : []),
  };
}

/** HAProxy: one thread, http-reuse always, httplog to stdout redirected to a file. */
export function haproxyTarget({ ip, port, log, upstream, runDir, cpu }) {
  const id = log ? 'haproxy' : 'haproxy-nolog';
  const dir = join(runDir, id);
  const logFile = join(dir, 'access.log');
  let proc;
  return {
    id,
    name: `HAProxy${log ? '' : ' (no log)'}`,
    kind: 'peer',
    log,
    logFile: log ? logFile : undefined,
    ip,
    port,
    form: 'origin',
    async start() {
      mkdirSync(dir, { recursive: true });
      const conf = join(dir, 'haproxy.cfg');
      writeFileSync(
        conf,
        `global
  nbthread 1
  maxconn 8000
${log ? '  log stdout format raw local0\n' : ''}
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 60s
  option http-keep-alive
${log ? '  log global\n  option httplog\n' : ''}
frontend egress
  bind ${ip}:${port}
  use_backend httpbin_org if { hdr(host) -i ${EXTERNAL_HOST} ${EXTERNAL_HOST}:80 }
  default_backend no_route

backend no_route
  http-request return status 404 content-type text/plain string "no route"

backend httpbin_org
  http-reuse always
  server up ${upstream.ip}:${upstream.port}
`,
      );
      await assertPortFree(ip, port);
      proc = startProcess(id, 'taskset', ['-c', String(cpu), 'haproxy', '-db', '-f', conf], {
        stdoutFile: log ? logFile : undefined,
        stderrFile: join(dir, 'stderr.log'),
      });
      await waitForPort(ip, port, 10_000, proc);
    },
    async stop() {
      if (proc) await stopProcess(proc, 3000, 'SIGTERM');
    },
    pids: () => (proc ? processTree(proc.pid) : []),
  };
}

/** Squid as a forward proxy (absolute-form requests), no caching, httpbin.org from a hosts file. */
export function squidTarget({ ip, port, log, upstream, runDir, cpu }) {
  const id = log ? 'squid' : 'squid-nolog';
  const dir = join(runDir, id);
  const logFile = join(dir, 'access.log');
  let proc;
  return {
    id,
    name: `Squid${log ? '' : ' (no log)'}`,
    kind: 'peer',
    log,
    logFile: log ? logFile : undefined,
    ip,
    port,
    form: 'absolute',
    tunnel: true,
    async start() {
      mkdirSync(dir, { recursive: true, mode: 0o777 });
      const hosts = join(dir, 'hosts');
      writeFileSync(hosts, `${upstream.ip} ${EXTERNAL_HOST}\n`);
      const conf = join(dir, 'squid.conf');
      writeFileSync(
        conf,
        `http_port ${ip}:${port}
pid_filename ${join(dir, 'squid.pid')}
cache_log ${join(dir, 'cache.log')}
access_log ${log ? `stdio:${logFile}` : 'none'}
cache_store_log none
netdb_filename none
coredump_dir ${dir}
hosts_file ${hosts}
cache deny all
cache_mem 0 MB
pinger_enable off
shutdown_lifetime 0 seconds
max_filedescriptors 16384
visible_hostname outpost-bench
client_persistent_connections on
server_persistent_connections on
pconn_timeout 300 seconds
http_access allow all
`,
      );
      // Squid drops to its own user after start; it must be able to write its files.
      await import('node:fs').then((fs) => fs.chmodSync(dir, 0o777));
      await assertPortFree(ip, port);
      proc = startProcess(id, 'taskset', ['-c', String(cpu), 'squid', '-N', '-f', conf], {
        stdoutFile: join(dir, 'stdout.log'),
        stderrFile: join(dir, 'stderr.log'),
      });
      await waitForPort(ip, port, 20_000, proc);
    },
    async stop() {
      if (proc) await stopProcess(proc, 3000, 'SIGTERM');
    },
    pids: () => (proc ? processTree(proc.pid) : []),
  };
}

/** A plain node:http + undici Pool hop (bench/baseline-node-proxy.mjs): Node without tuning. */
export function nodeBaselineTarget({ ip, port, log, upstream, runDir, cpu, script }) {
  const id = log ? 'node-baseline' : 'node-baseline-nolog';
  const dir = join(runDir, id);
  const logFile = join(dir, 'access.log');
  let proc;
  return {
    id,
    name: `node:http+undici${log ? '' : ' (no log)'}`,
    kind: 'peer',
    log,
    logFile: log ? logFile : undefined,
    ip,
    port,
    form: 'origin',
    async start() {
      mkdirSync(dir, { recursive: true });
      await assertPortFree(ip, port);
      const args = ['-c', String(cpu), process.execPath, script, `${ip}:${port}`, `${upstream.ip}:${upstream.port}`];
      if (log) args.push(logFile);
      proc = startProcess(id, 'taskset', args, { stdoutFile: join(dir, 'stdout.log'), stderrFile: join(dir, 'stderr.log') });
      await waitForPort(ip, port, 10_000, proc);
    },
    async stop() {
      if (proc) await stopProcess(proc, 3000, 'SIGTERM');
    },
    pids: () => (proc ? processTree(proc.pid) : []),
  };
}
