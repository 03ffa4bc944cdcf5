// The `outpost` command: parses arguments and hands each verb to its module in commands/.
import type * as Commander from 'commander';
import { createRequire } from 'node:module';
import { setRawArgv } from './argv.js';
import { loadRegistrations } from './commands/index.js';
import { CliError, failureDetail, failureLine, takeVerbosity, verbosity } from './errors.js';

// commander is CommonJS: an ESM import of it parses it for its export names, then loads it through
// the CommonJS loader anyway; require() alone costs 4–6 ms less CPU in every verb's start-up.
const { Command, CommanderError } = createRequire(import.meta.url)('commander') as typeof Commander;
type Command = Commander.Command;

/**
 * The verb of a command line: its first word that is not a global option (`--state-dir DIR` may come
 * before the verb). Only that verb's module is loaded: `outpost proxy`, which every gateway and
 * sidecar runs, does not load the resource models, YAML and SQLite, and `outpost version` answers
 * at node's start-up cost.
 */
export function verbOf(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--state-dir') i++;
    else if (a.startsWith('--state-dir=')) continue;
    else if (a.startsWith('-'))
      return undefined; // -h, --help, --, an unknown option: every verb
    else return a;
  }
  return undefined;
}

export async function buildProgram(verb?: string): Promise<Command> {
  const program = new Command('outpost')
    .description('Service-mesh egress: route what leaves the mesh through an egress gateway, log and count it')
    .option('--state-dir <dir>', "the local mesh's state directory (default: $OUTPOST_STATE_DIR or ./.outpost)")
    // Taken out of the arguments by run() (any verb, anywhere before `--`); listed here for --help.
    .option('-v, --v <level>', 'verbosity: 1 or more prints the detail (stack, causes) behind a failure')
    .showHelpAfterError()
    .exitOverride();
  // `--state-dir` is accepted before or after the verb; every verb reads it through the environment.
  program.hook('preAction', (cmd) => {
    const dir = (cmd.opts() as { stateDir?: string }).stateDir;
    if (dir) process.env.OUTPOST_STATE_DIR = dir;
  });
  for (const register of await loadRegistrations(verb)) register(program);
  return program;
}

/** Runs the command line; resolves to the process exit code. */
export async function run(rawArgv: string[]): Promise<number> {
  const argv = takeVerbosity(rawArgv);
  setRawArgv(argv);
  const program = await buildProgram(verbOf(argv));
  const detail = (err: unknown): void => {
    if (verbosity() >= 1) process.stderr.write(`${failureDetail(err)}\n`);
  };
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version are "errors" to commander; their exit code is 0.
      return err.exitCode;
    }
    if (err instanceof CliError) {
      if (err.message) process.stderr.write(err.message.endsWith('\n') ? err.message : `${err.message}\n`);
      if (err.cause !== undefined) detail(err.cause);
      return err.exitCode;
    }
    // An operational failure (API gone, connection reset, store unusable): one line; -v shows the rest.
    process.stderr.write(`${failureLine(err)}\n`);
    detail(err);
    return 1;
  }
}
