// The environment variable that tells a proxy (through the parent-watch preload) which fd is its parent's pipe.
export const PARENT_PIPE_ENV = 'OUTPOST_PARENT_PIPE_FD';
