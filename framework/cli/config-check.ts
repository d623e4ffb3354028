/**
 * The one check `polly config check` prints and `polly start` runs before it touches the store or
 * opens a listener: the schema, the API and libStorage auth rules, and every file the
 * configuration names. All problems at once, each naming its key.
 */
import fs from 'node:fs';
import { ApiAuth, createApiAuth } from '../api/auth/api-auth';
import { createLibStorageAuth } from '../api/libstorage/libstorage-auth';
import { referencedFileProblems } from '../config/config-files';
import { ConfigError, loadConfig, LoadConfigOptions } from '../config/config-loader';
import type { PollyConfig, ServiceConfig } from '../config/config-schema';
import { csiServiceProblems } from '../storage/service-registry';

export type CheckedConfig = { config: PollyConfig; problems: [] } | { config: undefined; problems: string[] };

/** Problems with a configuration that passed the schema (empty when Polly can start with it). */
export function configProblems(config: PollyConfig): string[] {
  const problems: string[] = [];
  const refused = (check: () => unknown): void => {
    try {
      check();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
    }
  };
  let apiAuth: ApiAuth | undefined;
  refused(() => (apiAuth = createApiAuth(config.api)));
  if (config.libstorage.enabled) {
    // With jwt the rule is met; its secret file is checked with the other files below.
    if (!config.libstorage.jwt) refused(() => createLibStorageAuth(config.libstorage, apiAuth));
    const jwt = config.libstorage.jwt;
    if (jwt && !jwt.secret && !jwt.secretFile) problems.push('libstorage.jwt needs a secret or a secretFile');
  }
  problems.push(...referencedFileProblems(config));
  const names = new Set<string>();
  for (const [i, s] of config.services.entries()) {
    if (names.has(s.name)) problems.push(`services[${i}].name "${s.name}" is used twice`);
    names.add(s.name);
    problems.push(...csiServiceProblems(s, `services[${i}]`).map((p) => `${p.field}: ${p.message}`));
    problems.push(...csiFileProblems(s, `services[${i}]`));
  }
  return problems;
}

/** Loads the configuration (file ← POLLY_* env ← overrides) and checks it. */
export function loadCheckedConfig(options: LoadConfigOptions): CheckedConfig {
  let config: PollyConfig;
  try {
    config = loadConfig(options);
  } catch (err) {
    if (err instanceof ConfigError) return { config: undefined, problems: [...err.problems] };
    throw err;
  }
  const problems = configProblems(config);
  return problems.length === 0 ? { config, problems: [] } : { config: undefined, problems };
}

/** Writes one `polly: <problem>` line per problem to stderr. */
export function reportProblems(problems: readonly string[]): void {
  for (const p of problems) process.stderr.write(`polly: ${p}\n`);
}

/** A csi service's TLS files: each must be a file Polly can read. */
function csiFileProblems(service: ServiceConfig, where: string): string[] {
  const problems: string[] = [];
  for (const [key, file] of Object.entries(service.csi?.tls ?? {})) {
    if (typeof file !== 'string') continue;
    try {
      fs.accessSync(file, fs.constants.R_OK);
      if (!fs.statSync(file).isFile()) problems.push(`${where}.csi.tls.${key}: ${file} is not a file`);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      problems.push(`${where}.csi.tls.${key}: ${code === 'ENOENT' ? `file ${file} does not exist` : `cannot read ${file} (${code})`}`);
    }
  }
  return problems;
}
