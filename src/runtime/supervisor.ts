// What restarts a crashed control plane: `outpost up` runs the mesh (store, API, control plane)
// as a child process and starts it again, after a jittered, capped backoff, whenever it dies
// without being asked to stop. The proxies keep serving meanwhile; the new mesh adopts them.
// The mesh process does not outlive its supervisor (it leaves, its proxies stay): whatever
// starts `outpost up` again (the user, systemd) then finds no control plane in its way.
import { spawn, type ChildProcess } from 'node:child_process';
import { Backoff } from '../proxyconfig/distribution/backoff.js';

/** Set in the mesh child's environment: it runs the mesh itself and reports when it is up. */
export const SUPERVISED_ENV = 'OUTPOST_UP_SUPERVISED';

/** The message the mesh child sends over IPC once the mesh is serving. */
export const MESH_UP_MESSAGE = 'outpost-mesh-up';

export interface SuperviseOptions {
  /** The command line of the mesh child (node flags and script included). */
  readonly argv: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly log: (line: string) => void;
  /** Before a restart: the pid of another `up` that serves the state dir now (then we leave it be). */
  readonly otherUp: () => Promise<number | undefined>;
  /** A child that lived this long is healthy: the next crash restarts after the shortest delay again. */
  readonly healthyAfterMs?: number;
}

/**
 * Runs the mesh child until it stops cleanly (exit 0: `outpost down`, Ctrl-C) or we get a stop
 * signal, restarting it after every crash once it has come up (a failing restart, too: the cause
 * may pass, and the delay grows to 30 s). A child that fails before the first start completes is
 * not retried: its own error line says why. Resolves to the exit code.
 */
export function superviseMesh(opts: SuperviseOptions): Promise<number> {
  const backoff = new Backoff({ minMs: 500, maxMs: 30_000 });
  const healthyAfterMs = opts.healthyAfterMs ?? 60_000;
  let child: ChildProcess | undefined;
  let everUp = false;
  let stopping = false;
  let restartTimer: NodeJS.Timeout | undefined;
  return new Promise<number>((resolve) => {
    const finish = (code: number): void => {
      for (const sig of SIGNALS) process.off(sig, onSignal);
      clearTimeout(restartTimer);
      resolve(code);
    };
    const onSignal = (): void => {
      if (stopping) return;
      stopping = true;
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      else finish(0);
    };
    const run = (): void => {
      const startedAt = Date.now();
      const [cmd, ...args] = opts.argv;
      const c = spawn(cmd!, args, { stdio: ['inherit', 'inherit', 'inherit', 'ipc'], env: { ...opts.env, [SUPERVISED_ENV]: '1' } });
      child = c;
      c.on('message', (m) => {
        // The IPC channel stays open: its closing tells the mesh process that we are gone.
        if (m === MESH_UP_MESSAGE) everUp = true;
      });
      c.on('error', (err) => opts.log(`cannot start the mesh: ${err.message}`));
      c.on('exit', (code, signal) => {
        child = undefined;
        if (stopping || code === 0) return finish(stopping ? 0 : (code ?? 0));
        if (!everUp) return finish(code ?? 1);
        if (Date.now() - startedAt >= healthyAfterMs) backoff.reset();
        const delay = Math.round(backoff.next());
        opts.log(
          `the control plane (pid ${c.pid}) died (${signal ? `signal ${signal}` : `exit code ${code}`}); the proxies keep serving; restarting it in ${delay} ms`,
        );
        restartTimer = setTimeout(() => {
          void opts.otherUp().then((other) => {
            if (stopping) return finish(0);
            if (other !== undefined) {
              opts.log(`another outpost up (pid ${other}) serves this state dir now; not restarting`);
              return finish(0);
            }
            run();
          });
        }, delay);
      });
    };
    for (const sig of SIGNALS) process.on(sig, onSignal);
    run();
  });
}

const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
