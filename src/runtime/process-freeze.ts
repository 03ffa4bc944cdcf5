// Holding a process group still for a moment (SIGSTOP … SIGCONT): how log rotation takes the last
// bytes of a log and empties it with no write of its writers in between (./log-rotation.ts).
import { readdirSync, readFileSync } from 'node:fs';

/** What rotation needs of a log's writers: stopped while it copies the tail and truncates. */
export interface WriterFreeze {
  /** Stops the writers; true once none of their threads can be inside a write (false: not in time). */
  stop(): boolean;
  /** Lets them run again (always called after stop, whatever it returned). */
  resume(): void;
}

/** `/proc/<pid>/stat`'s state and process group (fields 3 and 5; the command name may hold spaces). */
function statOf(path: string): { state: string; pgrp: number } | undefined {
  let s: string;
  try {
    s = readFileSync(path, 'latin1');
  } catch {
    return undefined;
  }
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return { state: f[0] ?? '', pgrp: Number(f[2]) };
}

/** Stopped, or gone: no write can be under way in such a thread. */
function quiet(state: string): boolean {
  return state === 'T' || state === 't' || state === 'Z' || state === 'X' || state === '';
}

/** Whether every thread of every process in group `pgid` is stopped. */
function groupStopped(pgid: number): boolean {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((n) => n.charCodeAt(0) >= 48 && n.charCodeAt(0) <= 57);
  } catch {
    return false;
  }
  for (const pid of pids) {
    const st = statOf(`/proc/${pid}/stat`);
    if (st === undefined || st.pgrp !== pgid) continue;
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue; // gone meanwhile
    }
    for (const tid of tids) if (!quiet(statOf(`/proc/${pid}/task/${tid}/stat`)?.state ?? '')) return false;
  }
  return true;
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * The process group `pgid` (a proxy started detached leads its own group, its workers in it). A
 * signal is only acted on when a thread leaves the kernel, so stop() waits (at most `timeoutMs`)
 * until every thread shows as stopped: a write(2) that was running has then finished.
 */
export function processGroupFreeze(pgid: number, timeoutMs = 200): WriterFreeze {
  return {
    stop(): boolean {
      try {
        process.kill(-pgid, 'SIGSTOP');
      } catch {
        return true; // no such group: nobody writes
      }
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (groupStopped(pgid)) return true;
        if (Date.now() > deadline) return false;
        Atomics.wait(pause, 0, 0, 1);
      }
    },
    resume(): void {
      try {
        process.kill(-pgid, 'SIGCONT');
      } catch {
        // Gone.
      }
    },
  };
}
