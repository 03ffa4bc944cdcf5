// The `outpost` command: parses arguments and hands each verb to its module in commands/.
import { Command, CommanderError } from 'commander';
import { registerCommands } from './commands/index.js';
import { setRawArgv } from './argv.js';
import { CliError } from './errors.js';

export function buildProgram(): Command {
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
  registerCommands(program);
  return program;
}

/** Runs the command line; resolves to the process exit code. */
export async function run(argv: string[]): Promise<number> {
  setRawArgv(argv);
  const program = buildProgram();
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
