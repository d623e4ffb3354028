/**
 * The embedded default store: LevelDB through `level`. Each value is stored as the JSON envelope
 * `{"v":<version>,"d":<value>}`. LevelDB is single-process (it holds a lock on its directory), so
 * serialising this instance's writes through one in-process commit loop makes compare-and-set atomic.
 * Reads do not take the mutex: LevelDB reads see a consistent snapshot.
 */
import { WriteBatchStore } from './write-batch-store';
import { Level } from 'level';
import type { PollyError } from '../errors/polly-error';
import { storeWriteFailure } from '../errors/store-write-error';
import { UnavailableError } from '../errors/unavailable-error';
import { ValidationError } from '../errors/validation-error';
import { Logger, silentLogger } from '../shared/logger';
import { inspectLevelDirectory } from './level-directory';
import {
  assertValidExpectedVersion,
  assertValidKey,
  assertValidPrefix,
  BatchOperation,
  Store,
  StoreChange,
  StoreClosedError,
  StoreConflictError,
  StoreDamagedError,
  StoreListener,
  StoreMissingError,
  StoreOpenOptions,
  Versioned,
} from './store';

interface Envelope {
  v: number;
  d: unknown;
}

interface Watcher {
  prefix: string;
  listener: StoreListener<unknown>;
}

/** A committed change, with the value still encoded: listeners get their own parsed copy. */
interface EncodedChange {
  key: string;
  raw: string | undefined;
  version: number;
}

interface PendingWrite {
  operations: readonly BatchOperation[];
  resolve: (version: number) => void;
  reject: (reason: unknown) => void;
}

type LevelOp = { type: 'put'; key: string; value: string } | { type: 'del'; key: string };

/** Writes committed together at most (bounds one LevelDB batch and the latency of its first write). */
const MAX_GROUP = 512;

/** A group of writes checked against the store, ready to be written as one LevelDB batch. */
interface DecidedGroup {
  levelOps: LevelOp[];
  accepted: Array<{ write: PendingWrite; changes: EncodedChange[]; version: number }>;
  /** Each key's version once the batch is written (0 = deleted). */
  written: Map<string, number>;
  /** Decided on versions of the batch that was in flight: fails if that batch fails. */
  onInFlight: boolean;
}

export interface LevelStoreOptions {
  logger?: Logger;
  /**
   * Answer a write only once LevelDB's log is on disk (fdatasync; one per group commit). Default
   * true: an intent must survive a host crash, not only a process crash. False is for throwaway stores.
   */
  sync?: boolean;
}

const ENVELOPE_HEAD = /^\{"v":(\d+),"d":/;
/** The head JSON.stringify writes (no leading zero: `01` is not JSON). */
const CANONICAL_HEAD = /^\{"v":([1-9]\d*),"d":/;

function encode(version: number, value: unknown): string {
  if (value === undefined) throw new ValidationError('Store values must be JSON values, not undefined', { field: 'value' });
  return JSON.stringify({ v: version, d: value } satisfies Envelope);
}

function isEnvelope(parsed: unknown): parsed is Envelope {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return false;
  const v = (parsed as { v?: unknown }).v;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1 || !('d' in parsed)) return false;
  // Exactly the two keys, counted without allocating a key array (this runs once per record loaded).
  let keys = 0;
  for (const _ in parsed) keys++;
  return keys === 2;
}

/** Values written before versioning (schema 0) are bare JSON: they read as version 1. */
function decode(raw: string): Versioned<unknown> {
  const parsed: unknown = JSON.parse(raw);
  return isEnvelope(parsed) ? { value: parsed.d, version: parsed.v } : { value: parsed, version: 1 };
}

/**
 * The value alone, as decode(raw).value, without building the envelope object: the value text is
 * parsed straight out of `{"v":N,"d":<value>}`. Anything else (a bare schema-0 value, an envelope
 * with another layout) falls back to decode(), so the result is always decode's.
 */
function decodeValue(raw: string): unknown {
  const head = CANONICAL_HEAD.exec(raw);
  if (head && raw.charCodeAt(raw.length - 1) === 0x7d /* } */) {
    const v = Number(head[1]);
    if (Number.isSafeInteger(v) && v >= 1) {
      try {
        // Exactly one JSON value must fill the rest; `,"x":…` after it (a third key) does not parse.
        return JSON.parse(raw.slice(head[0].length, -1));
      } catch {
        // Not our layout: the general path decides.
      }
    }
  }
  return decode(raw).value;
}

/** The version alone, without parsing a possibly large value. */
function versionOf(raw: string | undefined): number {
  if (raw === undefined) return 0;
  const head = ENVELOPE_HEAD.exec(raw);
  return head ? Number(head[1]) : decode(raw).version;
}

/** Entries read per iterator call by scan() and count(). */
const SCAN_BATCH = 1000;

/**
 * Bytes one iterator call may read before it stops (classic-level's `highWaterMarkBytes`; the
 * last entry read may go past it). classic-level's default, 16 KiB, cuts a batch of 1,000 volume
 * records (~400 bytes each) to ~40: loading 1,000,000 of them took ~25,000 native calls instead of
 * 1,000, and twice the time. 1 MiB keeps a batch whole and its memory bounded.
 */
const SCAN_BATCH_BYTES = 1 << 20;

/**
 * The key range holding exactly the keys that start with `prefix`: from the prefix up to (excluding)
 * the prefix with its last code point incremented. LevelDB orders UTF-8 bytes, i.e. code points, so
 * every key in between starts with the prefix (and no other key does).
 */
function prefixRange(prefix: string): { gte: string; lt?: string } {
  const points = Array.from(prefix);
  while (points.length > 0) {
    const last = points.pop()!.codePointAt(0)!;
    if (last < 0x10ffff) {
      // Surrogate code points are not characters (and not valid keys): step over them.
      const next = last + 1 === 0xd800 ? 0xe000 : last + 1;
      return { gte: prefix, lt: points.join('') + String.fromCodePoint(next) };
    }
  }
  return { gte: prefix };
}

/** The iterator options of a scan of `prefix`: its range, with whole batches (SCAN_BATCH_BYTES). */
function scanOptions(prefix: string): { gte: string; lt?: string; highWaterMarkBytes: number } {
  return { ...prefixRange(prefix), highWaterMarkBytes: SCAN_BATCH_BYTES };
}

/**
 * LevelDB's own failure to read its files (a truncated or corrupt table, an I/O error), as the
 * binding raises it from a read. Writes never surface this way: LevelStore turns their failures
 * into typed store errors.
 */
export function isLevelReadFailure(err: unknown): err is Error {
  for (let current = err, depth = 0; depth < 3 && typeof current === 'object' && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (code === 'LEVEL_IO_ERROR' || code === 'LEVEL_CORRUPTION') return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

function isLockedError(err: unknown): boolean {
  const cause = (err as { cause?: { code?: unknown } } | undefined)?.cause;
  return cause?.code === 'LEVEL_LOCKED' || (err as { code?: unknown } | undefined)?.code === 'LEVEL_LOCKED';
}

export class LevelStore extends WriteBatchStore implements Store {
  readonly backend = 'leveldb';
  private db: Level<string, string> | undefined;
  private readonly logger: Logger;
  private readonly writeOptions: { sync: boolean };
  private watchers: Watcher[] = [];
  /** Writes waiting for the commit loop, which is the write mutex: one group commits at a time. */
  private pending: PendingWrite[] = [];
  private committing = false;
  private closing = false;
  private idleWaiters: Array<() => void> = [];
  /** Versions of keys in the batch being written, for deciding the next group before it lands. */
  private readonly inFlight = new Map<string, { version: number; group: DecidedGroup }>();
  /**
   * Why the last batch failed to write (a full disk, an I/O error), until the database has been
   * reopened. LevelDB's log may then end in a torn record, and a record appended after it would be
   * read as garbage — lost — at the next open: so nothing more is written until a reopen (LevelDB's
   * recovery, which starts a new log) has succeeded. The next write tries it first.
   */
  private writeFailure: PollyError | undefined;
  /** The reopen in progress (the commit loop and a batch waiting to be written may both need it). */
  private reopening: Promise<boolean> | undefined;

  constructor(
    private readonly path: string,
    options: LevelStoreOptions = {},
  ) {
    super();
    this.logger = options.logger ?? silentLogger;
    this.writeOptions = { sync: options.sync ?? true };
  }

  /** Open, or reopening after a failed write (its writes and reads fail with the cause meanwhile). */
  get isOpen(): boolean {
    return this.db?.status === 'open' || (this.db !== undefined && this.writeFailure !== undefined);
  }

  /** The directory the database lives in. */
  get location(): string {
    return this.path;
  }

  /**
   * Opens the database. The directory is checked first (inspectLevelDirectory): files that are not
   * a whole database are refused before LevelDB sees them, and LevelDB may create a database only
   * where there was none — never over an existing directory whose CURRENT went missing meanwhile.
   */
  async open(options: StoreOpenOptions = {}): Promise<void> {
    if (this.isOpen) return;
    const found = await inspectLevelDirectory(this.path);
    if (found !== 'database' && options.createIfMissing === false) throw new StoreMissingError(this.path, found);
    const db = new Level<string, string>(this.path, { valueEncoding: 'utf8' });
    try {
      await db.open({ createIfMissing: found !== 'database' });
    } catch (err) {
      if (isLockedError(err)) {
        throw new UnavailableError(
          `The state store at ${this.path} is in use by another process`,
          { location: this.path },
          { cause: err },
        );
      }
      const cause = (err as { cause?: Error }).cause ?? (err as Error);
      throw new StoreDamagedError(
        `LevelDB could not open the state store at ${this.path}: ${cause.message}. Its data files were left as they are`,
        this.path,
        { cause: err },
      );
    }
    this.db = db;
  }

  async close(): Promise<void> {
    // Writes already submitted finish first; writes submitted from now on are refused.
    this.closing = true;
    try {
      if (this.committing) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
      const db = this.db;
      this.db = undefined;
      this.writeFailure = undefined;
      if (db) await db.close();
    } finally {
      this.closing = false;
    }
  }

  async get<T>(key: string): Promise<T | undefined> {
    return (await this.getVersioned<T>(key))?.value;
  }

  async getVersioned<T>(key: string): Promise<Versioned<T> | undefined> {
    assertValidKey(key);
    const raw = await this.handle().get(key);
    return raw === undefined ? undefined : (decode(raw) as Versioned<T>);
  }

  async *scan<T>(prefix: string): AsyncIterable<[string, T]> {
    assertValidPrefix(prefix);
    // Entries come in batches (one await per SCAN_BATCH, not per entry); the range ends exactly where
    // the prefix does, so a small scan does not read the neighbouring keys into its batch.
    const iterator = this.handle().iterator(scanOptions(prefix));
    try {
      for (;;) {
        const entries = await iterator.nextv(SCAN_BATCH);
        if (entries.length === 0) return;
        for (const [key, raw] of entries) yield [key, decode(raw).value as T];
      }
    } finally {
      await iterator.close();
    }
  }

  /**
   * Like scan(), a batch at a time: one await per `size` entries instead of one per entry (loading
   * 150,000 records at start-up). Optional for backends; callers use `scanAll` (scan-all.ts).
   */
  async *scanBatches<T>(prefix: string, size: number = SCAN_BATCH): AsyncIterable<Array<[string, T]>> {
    assertValidPrefix(prefix);
    if (!Number.isInteger(size) || size < 1) throw new ValidationError('Batch size must be a positive integer', { field: 'size' });
    const iterator = this.handle().iterator(scanOptions(prefix));
    // One read ahead: LevelDB fetches the next batch (on libuv's pool) while this one is parsed and
    // consumed on the main thread. At most one nextv() is in flight, as the iterator requires.
    let next: Promise<Array<[string, string]>> | undefined = iterator.nextv(size);
    try {
      for (;;) {
        const entries: Array<[string, string]> = await next;
        next = undefined;
        if (entries.length === 0) return;
        next = iterator.nextv(size);
        const batch = new Array<[string, T]>(entries.length);
        for (let i = 0; i < entries.length; i++) {
          const entry = entries[i] as unknown as [string, unknown];
          entry[1] = decodeValue(entry[1] as string);
          batch[i] = entry as [string, T];
        }
        yield batch;
      }
    } finally {
      // The read ahead must settle before the iterator closes (its outcome no longer matters).
      if (next) await next.catch(() => undefined);
      await iterator.close();
    }
  }

  /**
   * Like scanBatches(), values only: loading records needs no keys, and LevelDB then hands out no
   * key strings and no [key, value] pairs (150,000 of each at start-up). Optional, as scanBatches.
   */
  async *scanValueBatches<T>(prefix: string, size: number = SCAN_BATCH): AsyncIterable<T[]> {
    assertValidPrefix(prefix);
    if (!Number.isInteger(size) || size < 1) throw new ValidationError('Batch size must be a positive integer', { field: 'size' });
    const iterator = this.handle().values(scanOptions(prefix));
    // One read ahead, as in scanBatches().
    let next: Promise<string[]> | undefined = iterator.nextv(size);
    try {
      for (;;) {
        const raws: string[] = await next;
        next = undefined;
        if (raws.length === 0) return;
        next = iterator.nextv(size);
        const batch = raws as unknown[];
        for (let i = 0; i < batch.length; i++) batch[i] = decodeValue(raws[i]);
        yield batch as T[];
      }
    } finally {
      if (next) await next.catch(() => undefined);
      await iterator.close();
    }
  }

  async count(prefix: string): Promise<number> {
    assertValidPrefix(prefix);
    const iterator = this.handle().keys(scanOptions(prefix));
    let n = 0;
    try {
      for (let keys = await iterator.nextv(SCAN_BATCH); keys.length > 0; keys = await iterator.nextv(SCAN_BATCH)) n += keys.length;
    } finally {
      await iterator.close();
    }
    return n;
  }

  watch<T>(prefix: string, listener: StoreListener<T>): () => void {
    assertValidPrefix(prefix);
    const watcher: Watcher = { prefix, listener: listener as StoreListener<unknown> };
    this.watchers = [...this.watchers, watcher];
    return () => {
      this.watchers = this.watchers.filter((w) => w !== watcher);
    };
  }

  /**
   * Queues `operations` as one all-or-nothing write; resolves with the version of the last key written.
   * Writes are committed by one loop (the mutex), and writes that queued up while the previous group
   * was committing go together: one read of their keys, one LevelDB batch (group commit). Each write
   * is still checked and applied on its own: a failed compare-and-set rejects only that write.
   */
  protected write(operations: readonly BatchOperation[]): Promise<number> {
    // Validate before queueing: bad input fails fast and writes nothing.
    for (const op of operations) {
      assertValidKey(op.key);
      if (op.expectVersion !== undefined) assertValidExpectedVersion(op.expectVersion);
      if (op.type === 'put' && op.value === undefined) encode(1, op.value);
    }
    if (this.closing || !this.isOpen) return Promise.reject(new StoreClosedError());
    return new Promise<number>((resolve, reject) => {
      this.pending.push({ operations, resolve, reject });
      if (!this.committing) void this.commitLoop();
    });
  }

  /**
   * Pipelined by one group: the next group's keys are read and its writes decided while the
   * previous group's LevelDB batch is still being written (versions of keys in that batch come from
   * `inFlight`). Batches are still issued one after another, in order, so LevelDB applies them in
   * the order they were decided; a group decided on top of a batch that then failed fails too.
   */
  private async commitLoop(): Promise<void> {
    this.committing = true;
    let writing: Promise<boolean> = Promise.resolve(true);
    try {
      do {
        while (this.pending.length > 0) {
          if (this.writeFailure !== undefined && !(await this.reopenAfterFailure())) {
            for (const w of this.pending.splice(0, MAX_GROUP)) w.reject(this.writeFailure);
            continue;
          }
          const group = await this.decideGroup(this.pending.splice(0, MAX_GROUP));
          const previous = writing;
          writing = this.writeGroup(group, previous);
          await previous; // at most one batch in flight while the next group is decided
        }
        await writing;
        // Writes queued while the last batch was written (its callers may already have resumed).
      } while (this.pending.length > 0);
    } finally {
      this.committing = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  /** Reads the versions the group needs and checks each write against them, in order. */
  private async decideGroup(group: PendingWrite[]): Promise<DecidedGroup> {
    const decided: DecidedGroup = { levelOps: [], accepted: [], written: new Map(), onInFlight: false };
    const distinct = [...new Set(group.flatMap((w) => w.operations.map((op) => op.key)))];
    /** Versions as committed (or being committed by the batch in flight) plus this group's accepted writes. */
    const versions = new Map<string, number>();
    const toRead: string[] = [];
    for (const key of distinct) {
      const inFlight = this.inFlight.get(key);
      if (inFlight) {
        versions.set(key, inFlight.version);
        decided.onInFlight = true;
      } else {
        toRead.push(key);
      }
    }
    try {
      const db = this.handle();
      const current = toRead.length > 0 ? await db.getMany(toRead) : [];
      toRead.forEach((key, i) => versions.set(key, versionOf(current[i])));
    } catch (err) {
      for (const w of group) w.reject(storeWriteFailure(err));
      return decided;
    }
    for (const write of group) {
      try {
        const local = new Map<string, number>();
        const ops: LevelOp[] = [];
        const changes: EncodedChange[] = [];
        let lastVersion = 0;
        for (const op of write.operations) {
          const actual = local.get(op.key) ?? versions.get(op.key) ?? 0;
          if (op.expectVersion !== undefined && op.expectVersion !== actual) throw new StoreConflictError(op.key, op.expectVersion, actual);
          if (op.type === 'put') {
            const version = actual + 1;
            const raw = encode(version, op.value);
            ops.push({ type: 'put', key: op.key, value: raw });
            changes.push({ key: op.key, raw, version });
            local.set(op.key, version);
            lastVersion = version;
          } else {
            lastVersion = 0;
            if (actual === 0) continue; // nothing to delete, nothing to tell watchers
            ops.push({ type: 'del', key: op.key });
            changes.push({ key: op.key, raw: undefined, version: 0 });
            local.set(op.key, 0);
          }
        }
        for (const [key, version] of local) {
          versions.set(key, version);
          decided.written.set(key, version);
        }
        // A loop, not push(...ops): spreading a large write's ops as arguments overflows the stack.
        for (const op of ops) decided.levelOps.push(op);
        decided.accepted.push({ write, changes, version: lastVersion });
      } catch (err) {
        write.reject(err);
      }
    }
    // Until its batch is written, the next group reads this group's versions from here.
    for (const [key, version] of decided.written) this.inFlight.set(key, { version, group: decided });
    return decided;
  }

  /** Writes a decided group once the previous batch is written; true when it committed. */
  private async writeGroup(group: DecidedGroup, previous: Promise<boolean>): Promise<boolean> {
    let failure: unknown;
    if (!(await previous) && group.onInFlight) {
      failure = new UnavailableError('A state store write failed; writes decided on top of it were not applied', undefined, {
        cause: this.writeFailure,
      });
    } else if (this.writeFailure !== undefined && !(await this.reopenAfterFailure())) {
      // Nothing is appended to a log that may end in a torn record (see writeFailure).
      failure = this.writeFailure;
    } else {
      try {
        if (group.levelOps.length > 0) await this.handle().batch(group.levelOps, this.writeOptions);
      } catch (err) {
        failure = storeWriteFailure(err);
        this.writeFailure = failure as PollyError;
      }
    }
    for (const key of group.written.keys()) {
      if (this.inFlight.get(key)?.group === group) this.inFlight.delete(key);
    }
    if (failure !== undefined) {
      for (const a of group.accepted) a.write.reject(failure);
      return false;
    }
    for (const a of group.accepted) {
      this.notify(a.changes);
      a.write.resolve(a.version);
    }
    return true;
  }

  private notify(changes: readonly EncodedChange[]): void {
    const watchers = this.watchers;
    if (watchers.length === 0) return;
    for (const change of changes) {
      for (const watcher of watchers) {
        if (!change.key.startsWith(watcher.prefix)) continue;
        // Each listener gets its own copy: a listener that mutates the value cannot affect others.
        const event: StoreChange<unknown> = {
          key: change.key,
          value: change.raw === undefined ? undefined : decode(change.raw).value,
          version: change.version,
        };
        try {
          watcher.listener(event);
        } catch (err) {
          this.logger.warn('state store watcher threw; ignored', { key: change.key, error: (err as Error).message });
        }
      }
    }
  }

  /**
   * Reopens the database after a failed write (LevelDB recovers the log up to its last whole record
   * and starts a new one), once however many callers ask. False while that fails too (e.g. the disk
   * is still full): the writes waiting fail with the cause, and the next write tries again.
   */
  private reopenAfterFailure(): Promise<boolean> {
    this.reopening ??= this.reopen().finally(() => {
      this.reopening = undefined;
    });
    return this.reopening;
  }

  private async reopen(): Promise<boolean> {
    const db = this.db;
    if (!db) return false;
    try {
      if (db.status === 'open') await db.close();
      await db.open();
    } catch (err) {
      this.writeFailure = storeWriteFailure(err);
      return false;
    }
    this.logger.info('state store reopened after a failed write; writing again', { location: this.location, cause: this.writeFailure?.message });
    this.writeFailure = undefined;
    return true;
  }

  private handle(): Level<string, string> {
    if (!this.db || this.db.status !== 'open') throw this.writeFailure ?? new StoreClosedError();
    return this.db;
  }
}
