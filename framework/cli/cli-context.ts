/**
 * What every API command needs: the client (from `--api`/`--token` or POLLY_API/POLLY_TOKEN), the
 * output format, and where to write. Commands get it from `contextOf(command)`.
 */
import type { Command } from 'commander';
import { ApiClient } from './api-client';
import { UsageError } from './cli-errors';
import { OutputFormat, parseFormat } from './output';

export const DEFAULT_API_URL = 'http://127.0.0.1:7978';

export interface CliContext {
  client: ApiClient;
  format: OutputFormat;
  out(text: string): void;
  /** Progress and notes: stderr, so stdout stays parseable. */
  note(text: string): void;
}

interface GlobalFlags {
  api?: string;
  token?: string;
  format?: string;
}

export function addGlobalOptions(program: Command): void {
  program
    .option('--api <url>', `Polly API URL (env POLLY_API, default ${DEFAULT_API_URL})`)
    .option('--token <token>', 'bearer token (env POLLY_TOKEN)')
    .option('-o, --format <format>', 'output: table | json | yaml', 'table');
}

export function contextOf(command: Command, env: NodeJS.ProcessEnv = process.env): CliContext {
  const flags = command.optsWithGlobals<GlobalFlags>();
  const api = flags.api ?? env.POLLY_API ?? DEFAULT_API_URL;
  const token = flags.token ?? (env.POLLY_TOKEN || undefined);
  return {
    client: new ApiClient({ baseUrl: api, token }),
    format: parseFormat(flags.format),
    out: (text) => void process.stdout.write(text),
    note: (text) => void process.stderr.write(text.endsWith('\n') ? text : text + '\n'),
  };
}

/**
 * `k=v` pairs from repeated options. `__proto__` is refused (the API refuses it as a label or field
 * name too): as a plain object key it would set nothing, and the command would seem to have worked.
 */
export function parsePairs(items: readonly string[] | undefined, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UsageError(`${what} must be key=value, got ${JSON.stringify(item)}`);
    const key = item.slice(0, eq);
    if (key === '__proto__') throw new UsageError(`${what}: the key __proto__ is not allowed`);
    out[key] = item.slice(eq + 1);
  }
  return out;
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function positiveInt(value: string, what: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 0 || Number(value) > 1_000_000)
    throw new UsageError(`${what} must be a whole number, got ${JSON.stringify(value)}`);
  return Number(value);
}
