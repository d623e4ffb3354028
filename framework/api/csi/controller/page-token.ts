/**
 * Opaque pagination tokens for ListVolumes and ListSnapshots: "continue after this ID". Entries are
 * listed in ID order, so a token stays valid when entries are added or removed between pages (the
 * spec lets such a listing show duplicates or miss entries, never fail). A token Polly did not make
 * is ABORTED, as the spec says: start again without one.
 */
import { AbortedError } from '../../../errors/aborted-error';
import { ValidationError } from '../../../errors/validation-error';

const PREFIX = 'p1.';
const BASE64URL = /^[A-Za-z0-9_-]+$/;

export function encodePageToken(lastId: string): string {
  return PREFIX + Buffer.from(lastId, 'utf8').toString('base64url');
}

/** The ID to continue after; undefined for no token. */
export function decodePageToken(token: string): string | undefined {
  if (token === '') return undefined;
  const body = token.startsWith(PREFIX) ? token.slice(PREFIX.length) : '';
  const id = BASE64URL.test(body) ? Buffer.from(body, 'base64url').toString('utf8') : '';
  if (id === '' || encodePageToken(id) !== token) {
    throw new AbortedError(`starting_token ${JSON.stringify(token.slice(0, 100))} is not a token Polly gave out; list again without one`);
  }
  return id;
}

/** One page of `sorted` (ascending by `idOf`) after the token, with the next token when more remain. */
export function page<T>(
  sorted: readonly T[],
  idOf: (item: T) => string,
  maxEntries: number,
  startingToken: string,
): { items: T[]; next: string } {
  if (!Number.isInteger(maxEntries) || maxEntries < 0) throw ValidationError.field('max_entries', 'max_entries must not be negative');
  const after = decodePageToken(startingToken);
  let start = 0;
  if (after !== undefined) {
    // Binary search: the first entry whose ID sorts after the token's.
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (idOf(sorted[mid]) <= after) lo = mid + 1;
      else hi = mid;
    }
    start = lo;
  }
  const end = maxEntries === 0 ? sorted.length : Math.min(sorted.length, start + maxEntries);
  const items = sorted.slice(start, end);
  const next = end < sorted.length && items.length > 0 ? encodePageToken(idOf(items[items.length - 1])) : '';
  return { items, next };
}

/** Byte-wise comparison (what `<=` on strings does), for sorting before `page`. */
export function byId<T>(idOf: (item: T) => string): (a: T, b: T) => number {
  return (a, b) => {
    const x = idOf(a);
    const y = idOf(b);
    return x < y ? -1 : x > y ? 1 : 0;
  };
}
