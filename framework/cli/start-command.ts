/** `polly start`: run the Polly service until SIGINT/SIGTERM. */
import type { Command } from 'commander';
import { createLogger } from '../logging/winston-logger';
import { PollyService } from '../polly-service';
import { HaPollyService } from '../ha-polly-service';
import { loadCheckedConfig, reportProblems } from './config-check';

interface StartFlags {
  config?: string;
  master?: string;
  home?: string;
  logLevel?: string;
  logFormat?: string;
  apiHost?: string;
  apiPort?: string;
  init?: boolean;
}

export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description('run Polly: subscribe to Mesos and serve its APIs until interrupted')
    .option('-c, --config <file>', 'YAML configuration file (default /etc/polly/config.yml if present)')
    .option('-m, --master <master>', 'local | http://HOST:5050[,http://HOST2:5050] | zk://HOST:2181[,HOST2:2181]/mesos')
    .option('--home <dir>', 'state directory (default ~/.polly, or POLLY_HOME)')
    .option('--log-level <level>', 'error | warn | info | debug')
    .option('--log-format <format>', 'auto | json | pretty')
    .option('--api-host <host>', 'admin/v1 API listen address (default 127.0.0.1)')
    .option('--api-port <port>', 'admin/v1 API port (default 7978; 0 = any free port)')
    .option('--init', "start a new, empty installation knowingly where there is no state (refused over a store that holds state)")
    .action(async (flags: StartFlags) => {
      // `polly config check`, before the home, the store or any listener is touched.
      const { config, problems } = loadCheckedConfig({
        file: flags.config,
        overrides: {
          master: flags.master,
          home: flags.home,
          'log.level': flags.logLevel,
          'log.format': flags.logFormat,
          'api.host': flags.apiHost,
          'api.port': flags.apiPort,
        },
      });
      if (!config) {
        reportProblems(problems);
        process.exitCode = 1;
        return;
      }
      const logger = createLogger({
        level: config.log.level,
        format: config.log.format === 'auto' ? undefined : config.log.format,
      });
      await runUntilSignalled(config, logger, flags.init === true);
    });
}

async function runUntilSignalled(
  config: Parameters<typeof PollyService.start>[0]['config'],
  logger: ReturnType<typeof createLogger>,
  init: boolean,
): Promise<void> {
  let fatal: string | undefined;
  let wake: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (wake = resolve));
  const serviceOptions = {
    config,
    logger,
    init,
    onFatal: (reason: string) => {
      fatal = reason;
      wake();
    },
  };
  // ZooKeeper state: this instance joins the leader election (it may start as a standby).
  const service = config.state.backend === 'zookeeper' ? await HaPollyService.start(serviceOptions) : await PollyService.start(serviceOptions);
  const onSignal = (signal: NodeJS.Signals): void => {
    logger.info('signal received, shutting down', { signal });
    wake();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  await stopped;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  await service.stop();
  if (fatal) {
    process.exitCode = 1;
  }
}
