// PM-QoS: while /dev/cpu_dma_latency is held open with the value 0, idle vCPUs do not halt, so a
// request crossing cores does not wait ~30-40 µs for the hypervisor to wake the other vCPU
// (cpuidle driver haltpoll). The kernel drops the request when the file is closed or we exit.

import { openSync, writeSync, closeSync, readFileSync } from 'node:fs';

let fd;

/** Returns a description of what was done, for the record. */
export function holdCpuDmaLatency() {
  let driver = 'unknown';
  try {
    driver = readFileSync('/sys/devices/system/cpu/cpuidle/current_driver', 'utf8').trim();
  } catch {
    /* no cpuidle */
  }
  try {
    fd = openSync('/dev/cpu_dma_latency', 'w');
    const v = Buffer.alloc(4);
    v.writeInt32LE(0);
    writeSync(fd, v);
    return { held: true, value: 0, cpuidleDriver: driver };
  } catch (e) {
    return { held: false, reason: e.message, cpuidleDriver: driver };
  }
}

export function releaseCpuDmaLatency() {
  if (fd !== undefined) {
    closeSync(fd);
    fd = undefined;
  }
}
