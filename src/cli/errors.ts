// What the CLI prints when a verb fails: one line saying what failed and what to do (never a stack
// trace), and, with `-v N` / `--v=N` as kubectl has it, the detail behind that line.

/** An error meant for the user: printed as is (no stack), with its exit code. `cause` is shown at -v 1 and up. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CliError';
  }
}

let level = 0;

/** The verbosity this run was given (0 when none). */
export function verbosity(): number {
  return level;
}

/**
 * Takes `-v N`, `-vN`, `-v=N`, `--v N`, `--v=N` (and a bare `-v`, meaning 1) out of the arguments
 * before the verb parses them, so every verb accepts it anywhere before `--`.
 */
export function takeVerbosity(argv: readonly string[]): string[] {
  const out: string[] = [];
  level = 0;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const m = /^(?:-v|--v)(?:=?(\d+))?$/.exec(a);
    if (!m) {
      out.push(a);
      continue;
    }
    if (m[1] !== undefined) level = Number(m[1]);
    else if (/^\d+$/.test(argv[i + 1] ?? '')) level = Number(argv[++i]);
    else level = 1;
  }
  return out;
}

interface ServerStatusLike {
  name: 'ApiError';
  status: { reason?: string; message?: string };
  transport?: boolean;
}

function isApiError(err: unknown): err is ServerStatusLike {
  return err instanceof Error && err.name === 'ApiError' && typeof (err as unknown as ServerStatusLike).status === 'object';
}

/**
 * The one line for a failure that is not a CliError: a server's answer as kubectl words it
 * (`Error from server (Reason): message`), a lost connection or a local problem as `outpost: …`.
 */
export function failureLine(err: unknown): string {
  if (isApiError(err)) {
    if (err.transport) return `outpost: ${err.status.message}`;
    const reason = err.status.reason;
    const message = err.status.message ?? (err as unknown as Error).message;
    return reason ? `Error from server (${reason}): ${message}` : `Error from server: ${message}`;
  }
  // A request to the mesh's control endpoint that got no answer (fetch's own errors say only "fetch failed").
  if (err instanceof Error && err.message === 'fetch failed') {
    const code = (err.cause as { code?: unknown } | undefined)?.code;
    return `outpost: lost the connection to the mesh${typeof code === 'string' ? ` (${code})` : ''}: it may have stopped; \`outpost up -d\` starts it, its log is logs/mesh.log in the state dir`;
  }
  if (err instanceof Error && err.name === 'TimeoutError') {
    return 'outpost: the mesh did not answer in time: it may be overloaded or stuck; see logs/mesh.log in the state dir';
  }
  if (err instanceof Error) {
    const message = err.message.split('\n')[0] || err.name;
    return message.startsWith('outpost:') ? message : `outpost: ${message}`;
  }
  return `outpost: ${String(err)}`;
}

/** The detail behind a failure, for -v 1 and up: each error's stack, then its causes. */
export function failureDetail(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e !== undefined && e !== null && depth < 8; depth++) {
    parts.push(`${depth === 0 ? '' : 'caused by: '}${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && !(e instanceof Error && e.stack?.includes(code))) parts.push(`  (code ${code})`);
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join('\n');
}
