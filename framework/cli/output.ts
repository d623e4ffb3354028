/**
 * CLI output: aligned tables (human sizes, `-` for empty cells) by default, or the API's JSON/YAML
 * as-is with `--format json|yaml`, so scripts never parse tables.
 */
import YAML from 'yaml';
import { UsageError } from './cli-errors';

export type OutputFormat = 'table' | 'json' | 'yaml';

export function parseFormat(value: string | undefined): OutputFormat {
  const f = value ?? 'table';
  if (f !== 'table' && f !== 'json' && f !== 'yaml') throw new UsageError(`--format must be table, json or yaml, got ${JSON.stringify(f)}`);
  return f;
}

/** 1 → `1 GiB`, 1536 → `1.5 TiB`. */
export function humanSize(gib: unknown): string {
  if (typeof gib !== 'number' || !Number.isFinite(gib)) return '-';
  if (gib >= 1024 * 1024) return `${trim(gib / (1024 * 1024))} PiB`;
  if (gib >= 1024) return `${trim(gib / 1024)} TiB`;
  return `${trim(gib)} GiB`;
}

function trim(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1).replace(/\.0$/, '');
}

export interface Column<T> {
  header: string;
  value: (row: T) => unknown;
}

function cell(value: unknown): string {
  if (value === undefined || value === null || value === '') return '-';
  if (Array.isArray(value)) return value.length === 0 ? '-' : value.map(String).join(',');
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    return entries.length === 0 ? '-' : entries.map(([k, v]) => `${k}=${String(v)}`).join(',');
  }
  return String(value).replace(/[\r\n\t]/g, ' ');
}

/** Left-aligned columns separated by two spaces; no trailing spaces. */
export function table<T>(rows: readonly T[], columns: ReadonlyArray<Column<T>>): string {
  const cells = rows.map((r) => columns.map((c) => cell(c.value(r))));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i].length)));
  const line = (values: string[]): string =>
    values
      .map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n') + '\n';
}

/** Key/value lines for one object (`get` commands). */
export function details(pairs: Array<[string, unknown]>): string {
  const width = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${(k + ':').padEnd(width + 1)}  ${cell(v)}`.trimEnd()).join('\n') + '\n';
}

export function render(format: OutputFormat, data: unknown, asTable: () => string): string {
  if (format === 'json') return JSON.stringify(data, null, 2) + '\n';
  if (format === 'yaml') return YAML.stringify(data);
  return asTable();
}
