// The `outpost` command: parses arguments and hands each verb to its module in commands/.
import { Command, CommanderError } from 'commander';
import { setRawArgv } from './argv.js';
import { CliError } from './errors.js';

/**
 * `outpost proxy` is what every gateway and sidecar process runs: it loads only its own verb, not
 * the whole CLI (resource models, YAML, SQLite), which keeps an idle proxy's memory small.
 */
async function loadRegistrations(verb: string | undefined): Promise<(program: Command) => void> {
  if (verb === 'proxy') return (await import('./commands/proxy.js')).registerProxy;
  return (await import('./commands/index.js')).registerCommands;
}

export async function buildProgram(verb?: string): Promise<Command> {
  const program = new Command('outpost')
    .description('Service-mesh egress: route what leaves the mesh through an egress gateway, log and count it')
    .option('--state-dir <dir>', "the local mesh's state directory (default: $OUTPOST_STATE_DIR or ./.outpost)")
    .showHelpAfterError()
    .exitOverride();
  // `--state-dir` is accepted before or after the verb; every verb reads it through the environment.
  program.hook('preAction', (cmd) => {
    const dir = (cmd.opts() as { stateDir?: string }).stateDir;
    if (dir) process.env.OUTPOST_STATE_DIR = dir;
  });
  (await loadRegistrations(verb))(program);
  return program;
}

/** Runs the command line; resolves to the process exit code. */
export async function run(argv: string[]): Promise<number> {
  setRawArgv(argv);
  const program = await buildProgram(argv[0]);
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
      return err.exitCode;
    }
    process.stderr.write(`outpost: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  }
}
