/**
 * The `polly` command line. Parses flags and hands over to the service; no logic lives here.
 * Exit codes: 0 ok, 1 error, 2 usage.
 */
import { Command, CommanderError } from 'commander';
import { registerStartCommand } from './start-command';
import { POLLY_VERSION } from '../version';

export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_USAGE = 2;

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('polly')
    .description('Storage scheduling for Apache Mesos')
    .version(POLLY_VERSION, '-V, --version')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) })
    .showHelpAfterError('(run polly --help for usage)');
  registerStartCommand(program);
  return program;
}

/** Runs the CLI; resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT_OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0) return EXIT_OK;
      return EXIT_USAGE;
    }
    process.stderr.write(`polly: ${(err as Error).message}\n`);
    return EXIT_ERROR;
  }
}
