/** Small helpers for query strings (express gives `string | string[] | ParsedQs`). */
import { ValidationError } from '../../errors/validation-error';

export function queryString(query: Record<string, unknown>, key: string): string | undefined {
  const raw = query[key];
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || raw.length > 1024) throw ValidationError.field(key, `Query parameter ${key} must be given once, as text`);
  return raw;
}

export function queryList(query: Record<string, unknown>, key: string): string[] {
  const raw = query[key];
  if (raw === undefined) return [];
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length > 64 || list.some((v) => typeof v !== 'string')) throw ValidationError.field(key, `Query parameter ${key} must be text`);
  return list as string[];
}

export function queryBoolean(query: Record<string, unknown>, key: string): boolean {
  const raw = queryString(query, key);
  if (raw === undefined || raw === 'false' || raw === '0') return false;
  if (raw === '' || raw === 'true' || raw === '1') return true;
  throw ValidationError.field(key, `Query parameter ${key} must be true or false`);
}

/** `label=k=v` (repeatable) → `{k: v}`. */
export function queryLabels(query: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of queryList(query, 'label')) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw ValidationError.field('label', `label filters are key=value, got ${JSON.stringify(item.slice(0, 100))}`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}
