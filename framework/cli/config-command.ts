/**
 * `polly config check` validates a configuration exactly as `polly start` will before it starts
 * anything (schema, auth rules, every referenced file), printing OK or every problem with its key;
 * `polly config show` prints the effective configuration (file ← POLLY_* env) as YAML with secrets
 * masked.
 */
import type { Command } from 'commander';
import YAML from 'yaml';
import { loadConfig } from '../config/config-loader';
import type { PollyConfig } from '../config/config-schema';
import { loadCheckedConfig, reportProblems } from './config-check';

export const MASK = '********';

/** A copy of `config` with tokens and secrets (API, Mesos, libStorage JWT, libStorage services, CSI services) replaced by a mask. */
export function maskSecrets(config: PollyConfig): PollyConfig {
  const copy = structuredClone(config);
  copy.api.tokens = copy.api.tokens.map((t) => ({ ...t, token: MASK }));
  if (copy.mesos.secret) copy.mesos.secret = MASK;
  if (copy.libstorage.jwt?.secret) copy.libstorage.jwt.secret = MASK;
  for (const service of copy.services) {
    if (service.libstorage?.token) service.libstorage.token = MASK;
    if (service.csi) for (const key of Object.keys(service.csi.secrets)) service.csi.secrets[key] = MASK;
  }
  return copy;
}

export function registerConfigCommand(program: Command): void {
  const config = program.command('config').description('check or show the configuration');
  config
    .command('check')
    .description('validate a configuration file (and POLLY_* environment): prints OK or the errors')
    .option('-c, --config <file>', 'YAML configuration file (default /etc/polly/config.yml if present)')
    .action((flags: { config?: string }) => {
      const { problems } = loadCheckedConfig({ file: flags.config });
      if (problems.length === 0) {
        process.stdout.write('OK\n');
        return;
      }
      reportProblems(problems);
      process.exitCode = 1;
    });
  config
    .command('show')
    .description('print the effective configuration as YAML (secrets masked)')
    .option('-c, --config <file>', 'YAML configuration file (default /etc/polly/config.yml if present)')
    .action((flags: { config?: string }) => {
      process.stdout.write(YAML.stringify(maskSecrets(loadConfig({ file: flags.config }))));
    });
}
