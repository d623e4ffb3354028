/**
 * The vfs root's metadata journal: every change is one JSON line appended to
 * `meta/journal-<gen>.log`, and the state is `meta/checkpoint-<gen>.json` (empty for gen 1) plus
 * the lines after it. Appending a line creates no file, so a metadata change costs one write and
 * one fdatasync per batch, where a file per record cost a new inode per change (the dominant cost
 * on ext4 and NFS).
 *
 * Writers hold the root lock; before deciding anything they catch up with what other processes
 * appended, and a torn tail (a crash mid-append) is cut off before the next append. Readers need no
 * lock: they apply only complete, well-formed lines. A line that fails to parse ends the valid part
 * of the journal; one followed by well-formed lines is corruption, never silently cut.
 *
 * Compaction (under the lock, once the journal outgrows its checkpoint): write checkpoint gen+1,
 * create an empty journal gen+1, then append `{"sealedBy": gen+1}` to journal gen — the commit
 * point — and delete generation gen. A reader still at gen follows the seal; one whose journal was
 * deleted reloads from the oldest journal present. A compaction that died before its seal left
 * files of a generation nobody follows; `open()` removes them.
 *
 * A journal is never created over a root that should have one: `open()` makes the first journal
 * only when the driver says the root is new, and refuses a generation whose checkpoint is missing.
 * Every committed entry counts in the state's `sequence` (vfs-state.ts), so an older or truncated
 * journal shows for what it is.
 */
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { DriverLogger } from '../driver-logger';
import { DriverRefusedError, DriverTransientError } from '../errors';
import { TEMP_SUFFIX, fsyncDir, isErrno, writeFileAtomic } from './atomic-json';
import { SerialQueue } from './serial-queue';
import { CHECKPOINT_PATTERN, JOURNAL_PATTERN, VfsLayout } from './vfs-layout';
import { JournalEntry, VfsState, parseJournalEntry } from './vfs-state';

export interface VfsJournalOptions {
  /** fdatasync appends, fsync checkpoints and the meta directory. */
  durable: boolean;
  /** Compact once the journal is larger than this and than its checkpoint, bytes. Default 4 MiB. */
  compactBytes?: number;
  logger: DriverLogger;
}

/** Changes to apply, and what the update returns to its caller. */
export interface JournalUpdate<T> {
  entries: JournalEntry[];
  result: T;
}

/** Seals and reloads followed in one catch-up before giving up (another process compacting in a loop). */
const MAX_HOPS = 16;
const NEWLINE = 0x0a;

export class VfsJournal {
  private current = new VfsState();
  /** The journal generation the state is read up to; 0 = not loaded. */
  private generation = 0;
  /** Bytes of that journal applied to the state (always the end of a complete, valid line). */
  private offset = 0;
  private checkpointBytes = 0;
  private readonly compactBytes: number;
  /** Serialises this object's catch-ups and updates (they move `offset`). */
  private readonly mutex = new SerialQueue();
  /** A lock-free catch-up queued but not started yet: callers arriving now can share it. */
  private queuedRefresh: Promise<VfsState> | undefined;
  /**
   * Caught up under the root lock, which is still held (from an update until `lockReleased`): no
   * other process can append, so the state is current and lock-free reads need not catch up.
   */
  private authoritative = false;
  /** The current journal, open for writing, while `authoritative`. */
  private writer: FileHandle | undefined;

  constructor(
    private readonly layout: VfsLayout,
    private readonly options: VfsJournalOptions,
  ) {
    this.compactBytes = options.compactBytes ?? 4 * 1024 * 1024;
  }

  /** The state as of the last catch-up or update. Read-only to callers. */
  get state(): VfsState {
    return this.current;
  }

  /** Whether the root has a journal at all (any generation). */
  async exists(): Promise<boolean> {
    try {
      return (await fs.readdir(this.layout.metaDir)).some((f) => JOURNAL_PATTERN.test(f));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return false;
      throw err;
    }
  }

  /**
   * Under the root lock: loads the state, cuts a torn tail and removes the files of generations
   * nobody follows. Creates the first journal only when `create` says so (the driver has checked
   * that the root holds no data a journal should describe); a missing journal is otherwise refused,
   * and so is a journal whose generation needs a checkpoint that is not there.
   */
  open(create: boolean): Promise<void> {
    return this.exclusive(async () => {
      const { metaDir } = this.layout;
      await fs.mkdir(metaDir, { recursive: true });
      const files = await fs.readdir(metaDir);
      const gens = files
        .map((f) => JOURNAL_PATTERN.exec(f))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => Number(m[1]))
        .sort((a, b) => a - b);
      if (gens.length === 0) {
        if (!create) throw missingJournal(this.layout, files);
        await (await fs.open(this.layout.journal(1), 'wx')).close();
        if (this.options.durable) await fsyncDir(metaDir);
      } else if (gens[0] > 1 && !files.includes(path.basename(this.layout.checkpoint(gens[0])))) {
        throw missingCheckpoint(this.layout, gens[0]);
      }
      this.generation = 0;
      await (await this.catchUp(true)).close();
      let removed = 0;
      for (const file of await fs.readdir(metaDir)) {
        const gen = generationOf(file);
        const stale = gen !== undefined && (gen !== this.generation || (CHECKPOINT_PATTERN.test(file) && gen === 1));
        if (stale || file.endsWith(TEMP_SUFFIX)) {
          await fs.rm(`${metaDir}/${file}`, { force: true });
          removed++;
        }
      }
      if (removed > 0) {
        this.options.logger.warn('removed stale vfs journal files', { files: removed, generation: this.generation });
        if (this.options.durable) await fsyncDir(metaDir);
      }
    });
  }

  /**
   * Without the lock: applies what other processes have committed since the last catch-up. Callers
   * that arrive while one is queued share it; while this process holds the lock (after an update),
   * the state is already current.
   */
  refresh(): Promise<VfsState> {
    if (this.authoritative) return Promise.resolve(this.current);
    this.queuedRefresh ??= this.exclusive(async () => {
      this.queuedRefresh = undefined; // from here on, a new caller needs a later catch-up than this one
      await (await this.catchUp(false)).close();
      return this.current;
    });
    return this.queuedRefresh;
  }

  /**
   * Under the root lock: catches up, lets `decide` choose the changes against the current state (it
   * may do filesystem work first), appends them as one write and makes them durable, then applies
   * them. Nothing of a failed append is left to be read back.
   */
  update<T>(decide: (state: VfsState) => Promise<JournalUpdate<T>>): Promise<T> {
    return this.exclusive(async () => {
      // Within one hold of the lock, the first update catches up and later ones reuse its handle.
      let handle = this.authoritative ? this.writer : undefined;
      if (!handle) {
        await this.closeWriter();
        handle = this.writer = await this.catchUp(true);
        this.authoritative = true;
      }
      try {
        const { entries, result } = await decide(this.current);
        if (entries.length > 0) {
          await this.append(handle, entries);
          if (this.offset > Math.max(this.compactBytes, this.checkpointBytes)) await this.compact(handle);
        }
        return result;
      } catch (err) {
        await this.closeWriter(); // the next update starts from the files again
        throw err;
      }
    });
  }

  /**
   * The committed state as the files hold it, read by a fresh reader that writes nothing: a torn
   * tail is left out, a malformed line followed by valid ones is refused as corruption (as writers
   * refuse it). The caller holds the root lock, so no writer moves it meanwhile (a backup).
   */
  static async readCommitted(layout: VfsLayout, options: VfsJournalOptions): Promise<{ state: VfsState; generation: number }> {
    const reader = new VfsJournal(layout, options);
    return reader.exclusive(async () => {
      await (await reader.catchUp(false, true)).close();
      return { state: reader.current, generation: reader.generation };
    });
  }

  /** The metadata files were replaced under the lock (a restore): the next read starts from the files again. */
  forget(): Promise<void> {
    return this.exclusive(async () => {
      this.authoritative = false;
      await this.closeWriter();
      this.current = new VfsState();
      this.generation = 0;
      this.offset = 0;
      this.checkpointBytes = 0;
    });
  }

  /** The root lock is being let go: from now on other processes may append. */
  lockReleased(): void {
    this.authoritative = false;
    void this.exclusive(() => this.closeWriter());
  }

  private async closeWriter(): Promise<void> {
    const writer = this.writer;
    this.writer = undefined;
    await writer?.close().catch(() => undefined);
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.mutex.run(fn);
  }

  /**
   * Brings the state to the end of the current journal and returns that journal open (for writing
   * when `locked`, after cutting a torn tail). Follows seals; reloads when its journal is gone.
   * `strict` (always when locked) refuses a malformed line followed by valid ones as corruption.
   */
  private async catchUp(locked: boolean, strict = locked): Promise<FileHandle> {
    for (let hop = 0; hop < MAX_HOPS; hop++) {
      if (this.generation === 0) {
        try {
          await this.reload();
        } catch (err) {
          await this.reloadIfGone(err); // a checkpoint deleted by a compaction racing this read
          continue;
        }
      }
      let handle: FileHandle;
      try {
        handle = await fs.open(this.layout.journal(this.generation), locked ? 'r+' : 'r');
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err;
        this.generation = 0; // compacted away by another process
        continue;
      }
      let sealedBy: number | undefined;
      try {
        const tail = await this.consume(handle, strict);
        if (tail.reload) {
          this.generation = 0;
        } else if (tail.sealedBy !== undefined) {
          sealedBy = tail.sealedBy;
        } else {
          if (locked && tail.size > this.offset) await this.cutTornTail(handle, tail.size);
          return handle;
        }
      } catch (err) {
        await handle.close();
        throw err;
      }
      await handle.close();
      if (sealedBy !== undefined) await this.loadCheckpoint(sealedBy).catch((err: unknown) => this.reloadIfGone(err));
    }
    throw new DriverTransientError('vfs journal: the root kept changing while being read; try again');
  }

  /** Loads the oldest generation present and follows its seals to the current one. */
  private async reload(): Promise<void> {
    const gens = (await fs.readdir(this.layout.metaDir))
      .map((f) => JOURNAL_PATTERN.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    if (gens.length === 0)
      throw new Error(`vfs root ${this.layout.root} has no journal: it was not initialised, or its meta directory was lost`);
    if (gens[0] === 1) {
      this.current = new VfsState();
      this.generation = 1;
      this.offset = 0;
      this.checkpointBytes = 0;
    } else {
      await this.loadCheckpoint(gens[0]);
    }
  }

  private async reloadIfGone(err: unknown): Promise<void> {
    if (!isErrno(err, 'ENOENT')) throw err;
    this.generation = 0;
  }

  private async loadCheckpoint(generation: number): Promise<void> {
    const file = this.layout.checkpoint(generation);
    const text = await fs.readFile(file, 'utf8');
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new Error(`corrupt vfs checkpoint ${file}: ${(err as Error).message}`);
    }
    this.current = VfsState.fromCheckpoint(raw, file);
    this.generation = generation;
    this.offset = 0;
    this.checkpointBytes = Buffer.byteLength(text);
  }

  /** Applies the complete, valid lines after `offset`. */
  private async consume(handle: FileHandle, strict: boolean): Promise<{ size: number; sealedBy?: number; reload?: boolean }> {
    const { size } = await handle.stat();
    if (size < this.offset) return { size, reload: true }; // cut below what was read: not by Polly; start over
    if (size === this.offset) return { size };
    const buf = Buffer.allocUnsafe(size - this.offset);
    let read = 0;
    while (read < buf.length) {
      const { bytesRead } = await handle.read(buf, read, buf.length - read, this.offset + read);
      if (bytesRead === 0) break;
      read += bytesRead;
    }
    const file = this.layout.journal(this.generation);
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(NEWLINE, start);
      if (nl < 0 || nl >= read) break;
      const entry = parseJournalEntry(buf.toString('utf8', start, nl), file);
      if (!entry) {
        if (strict && hasValidLineAfter(buf.subarray(nl + 1, read), file)) {
          throw new Error(
            `corrupt vfs journal ${file} at byte ${this.offset + start}: a malformed line is followed by valid ones; repair it by hand`,
          );
        }
        break;
      }
      start = nl + 1;
      if ('sealedBy' in entry) {
        this.offset += start;
        return { size, sealedBy: entry.sealedBy };
      }
      this.current.apply(entry);
    }
    this.offset += start;
    return { size };
  }

  /** Under the lock, bytes past the last valid line are what a crash mid-append left: cut them. */
  private async cutTornTail(handle: FileHandle, size: number): Promise<void> {
    this.options.logger.warn('cutting a torn vfs journal tail', { generation: this.generation, bytes: size - this.offset });
    await handle.truncate(this.offset);
    if (this.options.durable) await handle.datasync();
  }

  private async append(handle: FileHandle, entries: JournalEntry[]): Promise<void> {
    const bytes = Buffer.from(entries.map((e) => JSON.stringify(e)).join('\n') + '\n', 'utf8');
    try {
      await writeFully(handle, bytes, this.offset);
      if (this.options.durable) await handle.datasync();
    } catch (err) {
      await handle.truncate(this.offset).catch(() => undefined);
      throw err;
    }
    for (const e of entries) this.current.apply(e);
    this.offset += bytes.length;
  }

  /** See the file comment. A failure before the seal leaves generation `gen` current and is only logged. */
  private async compact(handle: FileHandle): Promise<void> {
    const { metaDir } = this.layout;
    const { durable, logger } = this.options;
    const gen = this.generation;
    const next = gen + 1;
    let text: string;
    try {
      text = JSON.stringify(this.current.toCheckpoint(next));
      await writeFileAtomic(this.layout.checkpoint(next), text, { durable });
      await (await fs.open(this.layout.journal(next), 'w')).close();
      if (durable) await fsyncDir(metaDir);
      await writeFully(handle, Buffer.from(`${JSON.stringify({ sealedBy: next })}\n`), this.offset);
    } catch (err) {
      await handle.truncate(this.offset).catch(() => undefined);
      logger.warn('vfs journal compaction failed; the journal stays as it is', { generation: gen, error: (err as Error).message });
      return;
    }
    if (durable)
      await handle.datasync().catch((err: Error) => logger.error('vfs journal seal not synced', { generation: gen, error: err.message }));
    const journalBytes = this.offset;
    this.authoritative = false; // the next update opens the new journal (this handle is the sealed one)
    this.generation = next;
    this.offset = 0;
    this.checkpointBytes = Buffer.byteLength(text);
    await fs.rm(this.layout.journal(gen), { force: true });
    if (gen > 1) await fs.rm(this.layout.checkpoint(gen), { force: true });
    if (durable) await fsyncDir(metaDir);
    logger.info('vfs journal compacted', { generation: next, journalBytes, checkpointBytes: this.checkpointBytes });
  }
}

function missingJournal(layout: VfsLayout, files: string[]): DriverRefusedError {
  const found = files.filter((f) => CHECKPOINT_PATTERN.test(f));
  return new DriverRefusedError(
    `vfs root ${layout.root} holds volume data but has no journal in ${layout.metaDir}` +
      (found.length > 0 ? ` (only ${found.join(', ')})` : '') +
      `: its metadata was lost or not restored. Nothing was changed. Restore ${layout.metaDir} from a backup at least as new as the data ` +
      `(or load an export with \`polly state import FILE --force\`: it restores the store and this meta/ together); never start ` +
      `Polly over the data without its journal.`,
    { root: layout.root, missing: layout.journal(1) },
  );
}

function missingCheckpoint(layout: VfsLayout, generation: number): DriverRefusedError {
  return new DriverRefusedError(
    `vfs root ${layout.root}: journal generation ${generation} needs ${layout.checkpoint(generation)}, which is missing: ` +
      `the metadata in ${layout.metaDir} is incomplete. Nothing was changed. Restore ${layout.metaDir} from a backup ` +
      `(the checkpoint and journal of one generation together), or load an export with \`polly state import FILE --force\` ` +
      `(it restores the store and this meta/ together).`,
    { root: layout.root, missing: layout.checkpoint(generation) },
  );
}

function generationOf(file: string): number | undefined {
  const m = JOURNAL_PATTERN.exec(file) ?? CHECKPOINT_PATTERN.exec(file);
  return m ? Number(m[1]) : undefined;
}

function hasValidLineAfter(rest: Buffer, file: string): boolean {
  let start = 0;
  for (;;) {
    const nl = rest.indexOf(NEWLINE, start);
    if (nl < 0) return false;
    if (parseJournalEntry(rest.toString('utf8', start, nl), file)) return true;
    start = nl + 1;
  }
}

async function writeFully(handle: FileHandle, bytes: Buffer, position: number): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, written, bytes.length - written, position + written);
    if (bytesWritten === 0) throw new Error('vfs journal: write made no progress');
    written += bytesWritten;
  }
}
