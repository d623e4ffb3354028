/**
 * The `polly` command line. Parses flags and hands over to the service or the API client; no
 * logic lives here. Exit codes: 0 ok, 1 error (one line `polly: message` on stderr), 2 usage.
 */
import { Command, CommanderError } from 'commander';
import { registerStartCommand } from './start-command';
import { POLLY_VERSION } from '../version';
import { registerAppCommand } from './app-command';
import { addGlobalOptions } from './cli-context';
import { UsageError } from './cli-errors';
import { registerClaimCommand } from './claim-command';
import { registerClusterCommands } from './cluster-commands';
import { registerConfigCommand } from './config-command';
import { registerCsiCommand } from './csi-command';
import { registerEventsCommand } from './events-command';
import { registerVolumeCommand } from './volume-command';
import { registerStateCommand } from './state-command';
import { registerTaskCommand } from './task-command';

export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_USAGE = 2;

/** Every (sub)command reports usage errors by throwing, never by exiting the process. */
function configure(command: Command): void {
  command
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) })
    .showHelpAfterError('(run polly --help for usage)');
  for (const sub of command.commands) configure(sub);
}

export function buildProgram(): Command {
  const program = new Command();
  program.name('polly').description('Storage scheduling for Apache Mesos').version(POLLY_VERSION, '-V, --version');
  addGlobalOptions(program);
  registerStartCommand(program);
  registerConfigCommand(program);
  registerVolumeCommand(program);
  registerClaimCommand(program);
  registerAppCommand(program);
  registerTaskCommand(program);
  registerClusterCommands(program);
  registerEventsCommand(program);
  registerStateCommand(program);
  registerCsiCommand(program);
  configure(program);
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
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help' || err.exitCode === 0)
        return EXIT_OK;
      return EXIT_USAGE;
    }
    process.stderr.write(`polly: ${(err as Error).message}\n`);
    return err instanceof UsageError ? EXIT_USAGE : EXIT_ERROR;
  }
}
