// The loopback set-up the profiling tools (profile.mjs, ab.mjs) share: a run directory, wrk's
// scripts, /dev/cpu_dma_latency held, the upstream "external service" started on CPU 1 and a
// hosts file that maps httpbin.org to it.

import { mkdtempSync, chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { holdCpuDmaLatency } from './pmqos.mjs';
import { upstreamTarget, EXTERNAL_HOST } from './peers.mjs';
import { writeWrkScripts } from './load.mjs';

/** Resolves { runDir, scripts, pm, hostsFile, upstream }; the caller stops processes and removes runDir. */
export async function startLab(prefix) {
  const runDir = mkdtempSync(`/tmp/${prefix}-`);
  chmodSync(runDir, 0o755);
  const scripts = writeWrkScripts(runDir);
  const pm = holdCpuDmaLatency();
  const hostsFile = join(runDir, 'hosts');
  const upstream = upstreamTarget({ ip: '127.0.98.1', port: 80, bigPort: 9000, bigBytes: 1 << 20, runDir, cpu: 1 });
  writeFileSync(hostsFile, `${upstream.ip} ${EXTERNAL_HOST}\n`);
  await upstream.start();
  return { runDir, scripts, pm, hostsFile, upstream };
}
