/**
 * Reads every entry under a prefix a batch at a time. Backends that can hand out whole batches
 * (LevelStore's optional `scanBatches`) do so; any other Store is read through its `scan()` and
 * grouped here, so callers do one await per batch either way. Not part of the Store interface:
 * a backend need not implement it.
 */
import type { Store } from './store';

/** The optional batch scan a backend may offer beside `scan()`. */
export interface BatchScanner {
  scanBatches<T>(prefix: string, size?: number): AsyncIterable<Array<[string, T]>>;
}

/** The optional values-only batch scan a backend may offer (no keys read out). */
export interface ValueBatchScanner {
  scanValueBatches<T>(prefix: string, size?: number): AsyncIterable<T[]>;
}

export const DEFAULT_SCAN_BATCH = 1000;

export function hasBatchScan(store: Store): store is Store & BatchScanner {
  return typeof (store as Partial<BatchScanner>).scanBatches === 'function';
}

export function hasValueBatchScan(store: Store): store is Store & ValueBatchScanner {
  return typeof (store as Partial<ValueBatchScanner>).scanValueBatches === 'function';
}

/** Entries whose key starts with `prefix`, in key order, in batches of at most `size`. */
export async function* scanAll<T>(store: Store, prefix: string, size: number = DEFAULT_SCAN_BATCH): AsyncIterable<Array<[string, T]>> {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`scanAll: size must be a positive integer, got ${size}`);
  if (hasBatchScan(store)) {
    yield* store.scanBatches<T>(prefix, size);
    return;
  }
  let batch: Array<[string, T]> = [];
  for await (const entry of store.scan<T>(prefix)) {
    batch.push(entry);
    if (batch.length >= size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

/** The values of the entries whose key starts with `prefix`, in key order, in batches of at most `size`. */
export async function* scanAllValues<T>(store: Store, prefix: string, size: number = DEFAULT_SCAN_BATCH): AsyncIterable<T[]> {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`scanAllValues: size must be a positive integer, got ${size}`);
  if (hasValueBatchScan(store)) {
    yield* store.scanValueBatches<T>(prefix, size);
    return;
  }
  for await (const batch of scanAll<T>(store, prefix, size)) yield batch.map((entry) => entry[1]);
}

/** An iteration started before its consumer is ready: see `readAhead`. */
export interface ReadAhead<T> extends AsyncIterable<T> {
  /** Ends the iteration unread (its consumer will not come): releases the backend's iterator. */
  close(): Promise<void>;
}

/**
 * Starts reading `source` now, so its first item is fetched while the caller does other work (a
 * ZooKeeper scan fetches everything before its first item: loading claims while the catalog loads
 * halves that part of a failover). Iterate the result once, or close it.
 */
export function readAhead<T>(source: AsyncIterable<T>): ReadAhead<T> {
  const iterator = source[Symbol.asyncIterator]();
  const first = iterator.next();
  // Surfaced when the consumer reads it; not an unhandled rejection meanwhile.
  first.catch(() => undefined);
  return {
    async *[Symbol.asyncIterator]() {
      try {
        for (let next = await first; !next.done; next = await iterator.next()) yield next.value;
      } finally {
        await iterator.return?.();
      }
    },
    async close() {
      await first.catch(() => undefined);
      await iterator.return?.();
    },
  };
}
