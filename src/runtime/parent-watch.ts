// Preloaded (`node --import`) into every proxy the local mesh spawns: the parent `outpost up`
// holds the other end of a pipe on fd OUTPOST_PARENT_PIPE_FD; when that end closes (the parent
// exited, even by SIGKILL) the proxy shuts down as on SIGTERM, so no proxy outlives its mesh.
import { Socket } from 'node:net';
import { PARENT_PIPE_ENV } from './parent-watch-env.js';

const fd = Number(process.env[PARENT_PIPE_ENV]);
// Not inherited further: a process the proxy starts has no such pipe.
delete process.env[PARENT_PIPE_ENV];
if (Number.isInteger(fd) && fd > 2) {
  let fired = false;
  const parentGone = (): void => {
    if (fired) return;
    fired = true;
    process.kill(process.pid, 'SIGTERM');
    // If SIGTERM's graceful stop hangs, do not linger.
    setTimeout(() => process.exit(1), 10_000).unref();
  };
  try {
    const pipe = new Socket({ fd, readable: true, writable: false });
    pipe.on('end', parentGone);
    pipe.on('close', parentGone);
    pipe.on('error', parentGone);
    pipe.resume();
    // The pipe alone must not keep a proxy alive.
    pipe.unref();
  } catch {
    // No usable pipe: run unwatched, as when started by hand.
  }
}
