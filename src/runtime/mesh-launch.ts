// How `outpost up` runs the mesh as processes: detached (a background `up` that supervises, then
// returns once the API answers), supervised (this process restarts the mesh child when it
// crashes), and held in the foreground (signals stop it; a vanished supervisor makes it leave,
// the proxies stay). What to run (the mesh's own options) and what to print stay with the CLI.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { probeRunningMesh, type RunningMesh } from './mesh.js';
import { ensureStateDir, readEndpoint, upLockHolder, type MeshEndpoint, type StatePaths } from './state-dir.js';
import { superviseMesh } from './supervisor.js';

const OUTPOST_BIN = fileURLToPath(new URL('../../bin/outpost', import.meta.url));

/** Set in a detached `up`'s environment: it prints nothing of its own (its output goes to mesh.log). */
export const DETACHED_CHILD_ENV = 'OUTPOST_UP_DETACHED_CHILD';

export class MeshDidNotStartError extends Error {
  constructor(
    readonly meshLog: string,
    readonly tail: string,
  ) {
    super(`the mesh did not start (see ${meshLog}):\n${tail}`);
  }
}

/**
 * Starts `outpost <upArgs>` detached, its output appended to logs/mesh.log, and resolves to the
 * running mesh's endpoint once its API answers; if it exits or does not answer in time, it is
 * stopped and the rejection carries mesh.log's last lines.
 */
export async function startDetachedMesh(paths: StatePaths, upArgs: readonly string[], timeoutMs: number): Promise<MeshEndpoint> {
  ensureStateDir(paths);
  const meshLog = join(paths.logs, 'mesh.log');
  const fd = openSync(meshLog, 'a');
  const child = spawn(process.execPath, [OUTPOST_BIN, ...upArgs], {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: { ...process.env, [DETACHED_CHILD_ENV]: '1' },
  });
  closeSync(fd);
  let exited: number | null | undefined;
  child.on('exit', (code) => (exited = code));
  child.unref();
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && exited === undefined) {
    const candidate = readEndpoint(paths);
    // The detached child supervises the mesh process that writes api.json.
    if (candidate && (candidate.supervisorPid === child.pid || candidate.pid === child.pid)) {
      const ep = await probeRunningMesh(paths);
      if (ep) return ep;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  if (exited === undefined && child.pid) process.kill(child.pid, 'SIGTERM');
  const tail = readFileSync(meshLog, 'utf8').trim().split('\n').slice(-15).join('\n');
  throw new MeshDidNotStartError(meshLog, tail);
}

/** This process supervises: `outpost <upArgs>` runs the mesh and is restarted when it crashes. Resolves to the exit code. */
export function superviseUp(paths: StatePaths, upArgs: readonly string[], log: (line: string) => void): Promise<number> {
  return superviseMesh({
    argv: [process.execPath, OUTPOST_BIN, ...upArgs],
    env: process.env,
    log,
    otherUp: async () => {
      const live = await probeRunningMesh(paths);
      return live?.pid ?? upLockHolder(paths);
    },
  });
}

/**
 * Holds a mesh in this process until it stops: SIGINT, SIGTERM and SIGHUP stop it; when the
 * supervisor's IPC channel closes (it died), the mesh gives up the state dir and the process
 * exits, leaving the proxies serving. Resolves once the mesh has stopped.
 */
export async function holdMesh(mesh: RunningMesh, log: (line: string) => void): Promise<void> {
  let stopping = false;
  const onSignal = (): void => {
    stopping = true;
    void mesh.stop();
  };
  const supervisor = process.ppid;
  if (process.channel) {
    // The supervisor's end of the channel closes when it dies: leave with it, the proxies stay.
    process.channel.unref();
    process.once('disconnect', () => {
      if (stopping) return;
      log(`the supervisor (pid ${supervisor}) is gone: the control plane exits, the proxies keep serving; \`outpost up\` starts it again and adopts them`);
      mesh.abandon();
      process.exit(1);
    });
  }
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  try {
    await mesh.stopped;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
  }
}
