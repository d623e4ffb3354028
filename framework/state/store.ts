/**
 * The state store seam. Values are JSON documents under string keys; keys are hierarchical
 * (`volumes/<id>`, `claims/<id>`; the layout lives in `keys.ts`), so a prefix scan lists one kind of
 * record. Every key carries a version so callers can compare-and-set. Backends: LevelDB (embedded
 * default) now, ZooKeeper later, behind this same interface; `test/framework/state/store-contract.ts`
 * is the behaviour every backend must show.
 *
 * Versions: a key that does not exist has version 0; the first write makes it 1 and every write adds
 * 1. Deleting a key returns it to 0, so a re-created key starts again at 1 (as ZooKeeper's node
 * versions do); guard against delete-and-recreate with a field in the value if that matters.
 *
 * Key order is Unicode code-point order (= UTF-8 byte order, LevelDB's order; note it differs from
 * JavaScript's `<` for characters outside the BMP).
 */
import { ConflictError } from '../errors/conflict-error';
import { PollyError } from '../errors/polly-error';
import { UnavailableError } from '../errors/unavailable-error';
import { ValidationError } from '../errors/validation-error';

export type StoreValue = unknown;

export interface Versioned<T = StoreValue> {
  value: T;
  /** ≥ 1. */
  version: number;
}

/**
 * One operation of an atomic batch. With `expectVersion` the whole batch fails (StoreConflictError,
 * nothing written) unless the key's version at that point of the batch equals it (0 = must not exist).
 * Several operations on one key in a batch see each other's effect, in order.
 */
export type BatchOperation =
  { type: 'put'; key: string; value: StoreValue; expectVersion?: number } | { type: 'del'; key: string; expectVersion?: number };

export interface StoreChange<T = StoreValue> {
  key: string;
  /** undefined when the key was deleted. */
  value: T | undefined;
  /** The key's version after the change; 0 for a delete. */
  version: number;
}

export type StoreListener<T = StoreValue> = (change: StoreChange<T>) => void;

/** How `open()` treats a store that does not exist yet. */
export interface StoreOpenOptions {
  /**
   * Default true: a missing store is created (empty). False: `open()` fails with StoreMissingError
   * and creates nothing — for an installation that must already exist. (ZooKeeper creates its
   * empty root node either way: an empty root holds no state.)
   */
  createIfMissing?: boolean;
}

export interface Store {
  /** Human-readable backend name, for logs and /health. */
  readonly backend: string;
  /** Where the store lives, for messages (`/var/lib/polly/state`, `zk1:2181,zk2:2181/polly`). */
  readonly location?: string;
  /**
   * Opens the store. A store that exists but cannot be opened as it is (LevelDB files without
   * CURRENT) fails with StoreDamagedError and is left exactly as it was: never repaired over.
   */
  open(options?: StoreOpenOptions): Promise<void>;
  /** Waits for writes in flight, then closes; afterwards every call throws StoreClosedError. */
  close(): Promise<void>;
  readonly isOpen: boolean;

  get<T = StoreValue>(key: string): Promise<T | undefined>;
  getVersioned<T = StoreValue>(key: string): Promise<Versioned<T> | undefined>;
  /** Unconditional write; returns the new version. */
  put(key: string, value: StoreValue): Promise<number>;
  /** Compare-and-set: writes only if the key's version is `expectedVersion` (0 = must not exist); returns the new version. */
  putIfVersion(key: string, value: StoreValue, expectedVersion: number): Promise<number>;
  /** Deleting a missing key is a no-op. */
  delete(key: string): Promise<void>;
  /** Deletes only if the key's version is `expectedVersion` (0 = must not exist, which makes it a no-op). */
  deleteIfVersion(key: string, expectedVersion: number): Promise<void>;
  /** All operations apply, or none do. */
  batch(operations: readonly BatchOperation[]): Promise<void>;

  /** Entries whose key starts with `prefix` (may be empty), in key order. */
  scan<T = StoreValue>(prefix: string): AsyncIterable<[string, T]>;
  /** Number of keys starting with `prefix` (LevelDB: walks the keys, without reading values). */
  count(prefix: string): Promise<number>;

  /**
   * Calls `listener` after every change to a key starting with `prefix`, in commit order, once per
   * changed key (a batch emits one change per operation that changed something). LevelDB sees only
   * changes made through this store instance; a ZooKeeper backend will also deliver changes made by
   * other Polly processes. Returns the function that stops watching. Listeners must not throw (a
   * throwing listener is logged and ignored) and should not block.
   */
  watch<T = StoreValue>(prefix: string, listener: StoreListener<T>): () => void;
}

/** A compare-and-set lost: someone else changed the key first. Re-read and retry, or give up. */
export class StoreConflictError extends ConflictError {
  override name = 'StoreConflictError';
  override readonly code: string = 'STORE_CONFLICT';

  constructor(
    readonly key: string,
    readonly expectedVersion: number,
    readonly actualVersion: number,
  ) {
    super(`Store key ${JSON.stringify(key)} is at version ${actualVersion}, expected ${expectedVersion}`, {
      key,
      expectedVersion,
      actualVersion,
    });
  }
}

export class StoreClosedError extends UnavailableError {
  override name = 'StoreClosedError';
  override readonly code: string = 'STORE_CLOSED';

  constructor() {
    super('The state store is not open');
  }
}

/** `open({ createIfMissing: false })` found no store at its location; nothing was created. */
export class StoreMissingError extends PollyError {
  override name = 'StoreMissingError';
  override readonly code: string = 'STORE_MISSING';

  constructor(
    readonly location: string,
    readonly state: 'absent' | 'empty',
  ) {
    super(`The state store at ${location} ${state === 'absent' ? 'does not exist' : 'is empty'}`, { location });
  }
}

/**
 * The store exists but cannot be opened as it is (files missing or corrupt). It was left exactly as
 * it was: opening it would make the backend create or repair over it, and lose what is there.
 */
export class StoreDamagedError extends PollyError {
  override name = 'StoreDamagedError';
  override readonly code: string = 'STORE_DAMAGED';

  constructor(
    message: string,
    readonly location: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, { location }, options);
  }
}

export class InvalidStoreKeyError extends ValidationError {
  override name = 'InvalidStoreKeyError';
  override readonly code: string = 'INVALID_STORE_KEY';
}

export const MAX_KEY_LENGTH = 1024;

// Control characters (C0, DEL, C1) and lone surrogates (which UTF-8 cannot encode: two keys would collide).
const BAD_KEY_CHARS = /[\u0000-\u001f\u007f-\u009f]|\p{Cs}/u;

/** Keys are hierarchical and safe: printable, well-formed Unicode, no empty segments, at most 1024 characters. */
export function assertValidKey(key: string): void {
  if (
    typeof key !== 'string' ||
    key.length === 0 ||
    key.length > MAX_KEY_LENGTH ||
    BAD_KEY_CHARS.test(key) ||
    key.startsWith('/') ||
    key.endsWith('/') ||
    key.includes('//')
  ) {
    throw new InvalidStoreKeyError(`Invalid store key: ${JSON.stringify(String(key).slice(0, 100))}`, { key: String(key).slice(0, 100) });
  }
}

/** Prefixes may be empty (everything) and may end with `/`, otherwise they obey the key rules. */
export function assertValidPrefix(prefix: string): void {
  if (prefix === '') return;
  if (
    typeof prefix !== 'string' ||
    prefix.length > MAX_KEY_LENGTH ||
    BAD_KEY_CHARS.test(prefix) ||
    prefix.startsWith('/') ||
    prefix.includes('//')
  ) {
    throw new InvalidStoreKeyError(`Invalid store key prefix: ${JSON.stringify(String(prefix).slice(0, 100))}`, {
      prefix: String(prefix).slice(0, 100),
    });
  }
}

export function assertValidExpectedVersion(version: number): void {
  if (!Number.isSafeInteger(version) || version < 0) {
    throw new ValidationError(`Expected version must be a non-negative integer, got ${String(version)}`, { field: 'expectedVersion' });
  }
}
