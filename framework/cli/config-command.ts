/**
 * `polly config check` validates a configuration the way `polly start` will (schema, then the
 * API auth rules and TLS files), printing OK or every problem with its key; `polly config show`
 * prints the effective configuration (file ← POLLY_* env) as YAML with secrets masked.
 */
import fs from 'node:fs';
import type { Command } from 'commander';
import YAML from 'yaml';
import { createApiAuth } from '../api/auth/api-auth';
import { ConfigError, loadConfig } from '../config/config-loader';
import type { PollyConfig } from '../config/config-schema';

export const MASK = '********';

/** A copy of `config` with tokens and the Mesos secret replaced by a mask. */
export function maskSecrets(config: PollyConfig): PollyConfig {
  const copy = structuredClone(config);
  copy.api.tokens = copy.api.tokens.map((t) => ({ ...t, token: MASK }));
  if (copy.mesos.secret) copy.mesos.secret = MASK;
  return copy;
}

/** Every problem `polly start` would refuse this config for (empty when it is fine). */
export function configProblems(file: string | undefined, env: NodeJS.ProcessEnv = process.env): string[] {
  let config: PollyConfig;
  try {
    config = loadConfig({ file, env });
  } catch (err) {
    if (err instanceof ConfigError) return err.message.replace(/^Invalid configuration: /, '').split('; ');
    throw err;
  }
  const problems: string[] = [];
  try {
    createApiAuth(config.api);
  } catch (err) {
    problems.push((err as Error).message);
  }
  const { certFile, keyFile } = config.api.tls;
  if (Boolean(certFile) !== Boolean(keyFile)) problems.push('api.tls needs both certFile and keyFile (or neither)');
  for (const [key, f] of [
    ['api.tls.certFile', certFile],
    ['api.tls.keyFile', keyFile],
    ['mesos.tls.caFile', config.mesos.tls.caFile],
  ] as const) {
    if (f && !fs.existsSync(f)) problems.push(`${key}: file ${f} does not exist`);
  }
  const names = new Set<string>();
  for (const [i, s] of config.services.entries()) {
    if (names.has(s.name)) problems.push(`services[${i}].name "${s.name}" is used twice`);
    names.add(s.name);
  }
  return problems;
}

export function registerConfigCommand(program: Command): void {
  const config = program.command('config').description('check or show the configuration');
  config
    .command('check')
    .description('validate a configuration file (and POLLY_* environment): prints OK or the errors')
    .option('-c, --config <file>', 'YAML configuration file (default /etc/polly/config.yml if present)')
    .action((flags: { config?: string }) => {
      const problems = configProblems(flags.config);
      if (problems.length === 0) {
        process.stdout.write('OK\n');
        return;
      }
      for (const p of problems) process.stderr.write(`polly: ${p}\n`);
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
