/**
 * Loads configuration: schema defaults ← YAML file ← POLLY_* environment ← CLI overrides.
 * Validation errors name the key, e.g. `mesos.failoverTimeoutSeconds must be <= 31536000`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Ajv, { ErrorObject } from 'ajv';
import { TSchema, Kind } from '@sinclair/typebox';
import YAML from 'yaml';
import { ConfigSchema, PollyConfig } from './config-schema';

export const DEFAULT_CONFIG_FILE = '/etc/polly/config.yml';

export class ConfigError extends Error {
  override name = 'ConfigError';
  /** Each problem on its own, naming its key (the message joins them). */
  readonly problems: readonly string[];

  constructor(message: string, problems?: readonly string[]) {
    super(message);
    this.problems = problems ?? [message];
  }
}

export interface LoadConfigOptions {
  /** Explicit file: must exist. Without it, /etc/polly/config.yml is read if present. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Dotted keys → values, from CLI flags (e.g. { master: 'local' }). */
  overrides?: Record<string, unknown>;
}

type Json = Record<string, unknown>;

/** Every leaf key of the schema as a dotted path with its schema. */
function leaves(schema: TSchema, prefix = ''): Array<[string, TSchema]> {
  if (schema[Kind] === 'Object' && schema.properties) {
    return Object.entries(schema.properties as Record<string, TSchema>).flatMap(([k, s]) => leaves(s, prefix ? `${prefix}.${k}` : k));
  }
  return [[prefix, schema]];
}

/** `mesos.failoverTimeoutSeconds` → `POLLY_MESOS_FAILOVER_TIMEOUT_SECONDS`. */
export function envNameOf(key: string): string {
  return 'POLLY_' + key.split('.').map((part) => part.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_');
}

function setPath(target: Json, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    if (typeof node[part] !== 'object' || node[part] === null || Array.isArray(node[part])) node[part] = {};
    node = node[part] as Json;
  }
  node[parts[parts.length - 1]] = value;
}

function parseEnvValue(raw: string, schema: TSchema): unknown {
  if (schema.type === 'array') {
    const trimmed = raw.trim();
    if (trimmed.startsWith('[')) {
      try {
        return JSON.parse(trimmed);
      } catch {
        return raw;
      }
    }
    return trimmed.split(',').map((s) => s.trim()).filter(Boolean);
  }
  if (schema[Kind] === 'Record') {
    // JSON, or `key=value,key=value`.
    const trimmed = raw.trim();
    if (trimmed.startsWith('{')) {
      try {
        return JSON.parse(trimmed);
      } catch {
        return raw;
      }
    }
    const out: Record<string, string> = {};
    for (const pair of trimmed.split(',').map((s) => s.trim()).filter(Boolean)) {
      const eq = pair.indexOf('=');
      if (eq <= 0) return raw;
      out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
    }
    return out;
  }
  return raw; // ajv coerces strings to numbers/booleans for scalar keys
}

function describe(error: ErrorObject): string {
  const key = error.instancePath.split('/').filter(Boolean).join('.') || '(root)';
  if (error.keyword === 'additionalProperties') {
    const extra = (error.params as { additionalProperty: string }).additionalProperty;
    return `${key === '(root)' ? '' : key + '.'}${extra} is not a known configuration key`;
  }
  if (error.keyword === 'anyOf' || error.keyword === 'union') return `${key} has an unsupported value`;
  return `${key} ${error.message ?? 'is invalid'}`;
}

const ajv = new Ajv({ useDefaults: true, coerceTypes: true, allErrors: true, strict: false });
const validate = ajv.compile<PollyConfig>(ConfigSchema);

export function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1)) : p;
}

export function loadConfig(options: LoadConfigOptions = {}): PollyConfig {
  const env = options.env ?? process.env;
  let doc: Json = {};
  const file = options.file ?? (fs.existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined);
  if (file) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`Cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = YAML.parse(text);
    } catch (err) {
      throw new ConfigError(`Config file ${file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
    }
    if (parsed !== null && parsed !== undefined) {
      if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(`Config file ${file} must hold a mapping of keys`);
      doc = parsed as Json;
    }
  }
  for (const [key, schema] of leaves(ConfigSchema)) {
    const raw = env[envNameOf(key)];
    if (raw !== undefined && raw !== '') setPath(doc, key, parseEnvValue(raw, schema));
  }
  for (const [key, value] of Object.entries(options.overrides ?? {})) {
    if (value !== undefined) setPath(doc, key, value);
  }
  if (!validate(doc)) {
    const messages = [...new Set((validate.errors ?? []).map(describe))];
    throw new ConfigError(`Invalid configuration: ${messages.join('; ')}`, messages);
  }
  const config = doc as PollyConfig;
  const related = relatedProblems(config);
  if (related.length > 0) throw new ConfigError(`Invalid configuration: ${related.join('; ')}`, related);
  config.home = expandHome(config.home);
  return config;
}

/** Keys valid alone but not together. */
function relatedProblems(config: PollyConfig): string[] {
  const problems: string[] = [];
  const { leaderTimeoutMs, leaderHeartbeatMs } = config.state;
  if (leaderTimeoutMs > 0 && leaderTimeoutMs < 3 * leaderHeartbeatMs) {
    problems.push(
      `state.leaderTimeoutMs (${leaderTimeoutMs}) must be 0 or at least 3 times state.leaderHeartbeatMs (${leaderHeartbeatMs}): a live leader would be replaced between two heartbeats`,
    );
  }
  return problems;
}

/** All configuration keys with their environment variable names (for docs and `config show`). */
export function configKeys(): Array<{ key: string; env: string }> {
  return leaves(ConfigSchema).map(([key]) => ({ key, env: envNameOf(key) }));
}
